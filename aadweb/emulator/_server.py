"""Serving an :class:`Emulator` on a real loopback socket, in a daemon thread.

``EmulatorServer`` wraps Werkzeug's ``make_server(threaded=True)``; port 0 picks a free
port, and ``url`` tells which. It refuses a non-loopback host unless ``allow_remote``.

``tls=True`` serves https with a certificate made for the loopback names by a throwaway CA
(see ``_tls.py``); ``ca_file`` is the CA certificate a client must trust. The files live in
``tls_dir`` (kept), or in a new temporary directory removed at shutdown::

    with EmulatorServer(Emulator(), tls=True) as srv:
        msal.ConfidentialClientApplication(..., authority=f"{srv.url}/{DEMO_TENANT_ID}",
                                           verify=str(srv.ca_file))
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ._app import Emulator, _is_loopback
from ._tls import LOOPBACK_NAMES, TlsFiles, make_tls_files

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
        allow_remote: bool = False, quiet: bool = True, tls: bool = False,
        tls_dir: str | Path | None = None,
    ) -> None:
        check_host(host, allow_remote=allow_remote)
        self.emulator = emulator
        self._own_dir: Path | None = None
        #: The TLS material when serving https (``tls.ca_file`` is what clients trust).
        self.tls: TlsFiles | None = None
        if tls:
            if tls_dir is None:
                self._own_dir = Path(tempfile.mkdtemp(prefix="aadweb-emulator-tls-"))
                tls_dir = self._own_dir
            self.tls = make_tls_files(tls_dir, hosts=(host, *LOOPBACK_NAMES))
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, emulator, threaded=True,
                request_handler=_QuietHandler if quiet else None,
                ssl_context=self.tls.server_context() if self.tls else None,
            )
        except BaseException:
            self._remove_own_dir()
            raise
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
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate (PEM) to trust when serving https; None over http."""
        return self.tls.ca_file if self.tls else None

    def _remove_own_dir(self) -> None:
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

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
        self._remove_own_dir()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
