"""Serving an :class:`Emulator` on a real loopback socket, in a daemon thread.

``EmulatorServer`` wraps Werkzeug's ``make_server(threaded=True)``; port 0 picks a free
port, and ``url`` tells which. It refuses a non-loopback host unless ``allow_remote``.
"""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ._app import Emulator, _is_loopback

__all__ = ["EmulatorServer", "check_host"]

_POLL = 0.02  # seconds; how long shutdown() may wait for the serving loop to notice


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (tests run many)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def check_host(host: str, *, allow_remote: bool) -> None:
    if not allow_remote and not _is_loopback(host):
        raise ValueError(
            f"refusing to serve the emulator on {host!r}: it is for loopback only "
            "(pass allow_remote / --allow-remote to override)"
        )


class EmulatorServer:
    """``with EmulatorServer(emu) as srv: srv.url`` -> ``http://127.0.0.1:54321``."""

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, *,
        allow_remote: bool = False, quiet: bool = True,
    ) -> None:
        check_host(host, allow_remote=allow_remote)
        self.emulator = emulator
        self._server: BaseWSGIServer = make_server(
            host, port, emulator, threaded=True,
            request_handler=_QuietHandler if quiet else None,
        )
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": _POLL},
                name=f"aadweb-emulator-{self.port}", daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI)."""
        self._server.serve_forever(poll_interval=_POLL)

    def shutdown(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
