"""The development server behind ``aadweb serve`` and ``aadweb demo``: Werkzeug, minus the leaks.

Werkzeug's own request handler logs the whole request line, query string included, and on a
malformed request it echoes that line in the error message. aadweb's callback carries the
authorization code, the id_token and the state in exactly those places (``/getAToken?code=...``
in the code flow), so this handler logs only what is safe (DESIGN.md, "Wire transcript": no
query string or form body of ``/getAToken`` ever reaches a log):

    127.0.0.1 "GET /getAToken" 303 12.4ms

method, path without query or fragment, status and duration; never a query string, a form
body, a header or a cookie. It is a development server (one process, threads, no debugger,
no reloader); production runs under gunicorn (``gunicorn aadweb.wsgi:app``).
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["DevServer", "SafeRequestHandler", "access_line", "safe_path"]

log = logging.getLogger("aadweb.access")

MAX_PATH: Final = 200
_POLL: Final = 0.1  # seconds: how soon the serving loop notices shutdown()
_CONTROL: Final = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {ord("\\"): "\\\\"}


def safe_path(raw: object) -> str:
    """The request target without query string or fragment, control characters escaped, capped.

    Also handles the absolute form (``http://host/path?query``) and garbage: the query is cut
    at the first ``?`` or ``#`` before anything else looks at the text.
    """
    if not isinstance(raw, str) or not raw:
        return "-"
    path = raw.split("?", 1)[0].split("#", 1)[0]
    path = path.translate(_CONTROL)
    if len(path) > MAX_PATH:
        path = path[: MAX_PATH - 1] + "\u2026"
    return path or "-"


def _safe_method(raw: object) -> str:
    if isinstance(raw, str) and raw.isascii() and raw.isalpha() and len(raw) <= 16:
        return raw
    return "-"


def access_line(client: str, method: object, raw_path: object, status: object, duration: float | None) -> str:
    """One access-log line: ``client "METHOD /path" status 12.3ms`` (no query, no headers)."""
    took = "-" if duration is None else f"{duration * 1000:.1f}ms"
    code = str(status) if isinstance(status, int) or (isinstance(status, str) and status.isdigit()) else "-"
    return f'{safe_path(client)} "{_safe_method(method)} {safe_path(raw_path)}" {code} {took}'


def _safe_arg(value: object) -> object:
    """What of a log argument may be printed: numbers, and an exception's class name."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, BaseException):
            return type(value).__name__
        return "[not logged]"
    return value


class SafeRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with an access log that cannot leak a query string, a body or a cookie."""

    _started: float | None = None
    _status: str | None = None

    def run_wsgi(self) -> None:
        self._started = time.monotonic()
        self._status = None
        try:
            super().run_wsgi()
        finally:
            started, self._started = self._started, None
            self._emit(self._status or "-", time.monotonic() - started)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self._started is not None:
            # Inside run_wsgi: the line is written when the response is complete, with its duration.
            self._status = str(int(code)) if isinstance(code, int) else str(code)
            return
        # Answered by http.server itself (a malformed request): no duration to give.
        self._emit(str(int(code)) if isinstance(code, int) else str(code), None)

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("code %d") and args and isinstance(args[0], int):
            # http.server's "code 400, message Bad request syntax ('GET /...?code=...')": the
            # message echoes the request line, so only the status goes to the log.
            try:
                phrase = HTTPStatus(args[0]).phrase
            except ValueError:
                phrase = "error"
            self._write(logging.WARNING, f"malformed request answered with {args[0]} {phrase}")
            return
        self._write(logging.ERROR, self._format(format, args))

    def log_message(self, format: str, *args: Any) -> None:
        self._write(logging.INFO, self._format(format, args))

    def log(self, type: str, message: str, *args: Any) -> None:
        level = logging.ERROR if type == "error" else logging.WARNING if type == "warning" else logging.INFO
        self._write(level, self._format(message, args))

    # --- helpers ------------------------------------------------------------------------

    def _client(self) -> str:
        address = getattr(self, "client_address", None)
        if isinstance(address, tuple) and address:
            return str(address[0])
        return "-"

    def _emit(self, status: str, duration: float | None) -> None:
        line = access_line(self._client(), getattr(self, "command", None), getattr(self, "path", None), status,
                           duration)
        log.info("%s", line)

    def _write(self, level: int, text: str) -> None:
        log.log(level, "%s %s", safe_path(self._client()), text.translate(_CONTROL))

    @staticmethod
    def _format(message: str, args: tuple[Any, ...]) -> str:
        if not args:
            return message
        try:
            return message % tuple(_safe_arg(a) for a in args)
        except (TypeError, ValueError):
            return message


class _Deferred:
    """The app slot of a server bound before its app exists (``--port 0``: the redirect URI
    needs the real port, and the app needs the redirect URI)."""

    def __init__(self) -> None:
        self.app: WSGIApplication | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"starting\n"]
        return self.app(environ, start_response)


class DevServer:
    """A threaded Werkzeug server on ``host:port`` (0 picks a free port), served in a thread.

    Never the debugger, never the reloader. Binding happens in the constructor (``OSError`` if
    the port is taken), so :attr:`port` is known before :meth:`set_app`.
    """

    def __init__(self, host: str, port: int, app: WSGIApplication | None = None) -> None:
        self._slot = _Deferred()
        self._slot.app = app
        try:
            self._server: BaseWSGIServer = make_server(host, port, self._slot, threaded=True,
                                                       request_handler=SafeRequestHandler)
        except SystemExit as exc:  # Werkzeug prints why and exits on a bind error
            raise OSError(f"cannot listen on {host}:{port}") from exc
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    def set_app(self, app: WSGIApplication) -> None:
        self._slot.app = app

    def start(self) -> DevServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": _POLL},
                                            name=f"aadweb-dev-{self.port}", daemon=True)
            self._thread.start()
        return self

    def shutdown(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
