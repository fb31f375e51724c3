"""A tiny scriptable HTTP/1.1 server on 127.0.0.1 for the transport tests.

A test sets ``server.routes[path] = behaviour`` where ``behaviour(handler)`` writes the answer
with the helpers of :class:`Handler`. Every request is recorded in ``server.seen`` (method, raw
path, headers, body, client port). Drip loops wait on ``server.stopping`` so teardown ends them.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Behaviour = Callable[["Handler"], None]

# How far past its deadline a call may end in the deadline tests. Generous but real: the
# watchdog wakes within milliseconds; loaded CI machines are slow.
MARGIN = 0.5


@dataclass(frozen=True)
class Seen:
    method: str
    raw_path: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a stuck client cannot keep a handler thread forever
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        scripted = self.server.scripted
        scripted.record(
            Seen(
                method=self.command,
                raw_path=self.path,
                path=path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                client_port=self.client_address[1],
            )
        )
        behaviour = scripted.routes.get(path, json_ok)
        try:
            behaviour(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- helpers for behaviours ---------------------------------------------------------

    def send_body(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False if it is."""
        return not self.server.scripted.stopping.wait(seconds)


def json_ok(handler: Handler) -> None:
    rid = handler.headers.get("client-request-id", "")
    handler.send_body(200, b'{"ok": true}', {"Content-Type": "application/json", "client-request-id": rid})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up on purpose (deadline, body cap) are the point of these tests


class ScriptedServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.scripted = self
        self.scheme = "http"
        if tls is not None:  # the handshake runs lazily in the handler thread, not in accept()
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


# --- hostile behaviours ---------------------------------------------------------------------


def drip_body(interval: float, size: int = 100, *, close: bool = False) -> Behaviour:
    """Headers at once, then the body one byte every ``interval`` seconds.

    ``close=True`` answers ``Connection: close``: http.client then closes the connection
    object at once and the response reads on from a socket no connection owns any more.
    """

    def behaviour(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(size))
        if close:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        for _ in range(size):
            if not h.wait(interval):
                return
            h.wfile.write(b" ")

    return behaviour


def drip_headers(interval: float) -> Behaviour:
    def behaviour(h: Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(200):
            if not h.wait(interval):
                return
            h.wfile.write(b"a")

    return behaviour


def slow_headers(delay: float) -> Behaviour:
    def behaviour(h: Handler) -> None:
        if h.wait(delay):
            h.send_body(200, b"{}")

    return behaviour
