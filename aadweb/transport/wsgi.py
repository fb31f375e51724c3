"""A transport that calls a WSGI application in-process: no socket, same rules as the real one.

Like httpx's ``WSGITransport``: protocol-level and emulator tests send the same
:class:`~aadweb.protocol.http.HttpRequest` values they would send over the network, with the
same added headers, the same refusal to follow redirects and the same body cap, to a WSGI app
(typically the emulator) running in the calling thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder, run_wsgi_app

from aadweb.errors import DeadlineExceeded
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.transport.common import USER_AGENT, BodyCap, describe, outbound_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["WSGITransport"]


class WSGITransport:
    """Sends each request to ``app`` in-process and returns its complete answer.

    * Never follows a redirect: a 3xx is returned as it is.
    * Adds the same headers as :class:`~aadweb.transport.network.RequestsTransport`
      (``return-client-request-id``, ``x-client-SKU`` ...).
    * Caps the body at ``max_body`` bytes: refused on a larger ``Content-Length`` or as soon
      as the app has produced more; the app's iterator is closed either way.
    * The deadline is checked before the call and between body chunks; an in-process app
      cannot be interrupted while it runs, so this bound is only as good as the app.
    * Exceptions raised by the app propagate unchanged: in tests a crash should be loud.

    ``REMOTE_ADDR`` is ``remote_addr`` (loopback by default), as if the call came over a socket.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        timeout: float = 10.0,
        max_body: int = 1 << 20,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.monotonic,
        remote_addr: str = "127.0.0.1",
    ) -> None:
        self._app = app
        self._timeout = timeout
        self._max_body = max_body
        self._user_agent = user_agent
        self._clock = clock
        self._remote_addr = remote_addr

    def close(self) -> None:
        """Nothing to release; present so both transports can be closed the same way."""

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        where = describe(request)
        start = self._clock()
        end = start + self._timeout if deadline is None else min(start + self._timeout, deadline)
        if end <= start:
            raise DeadlineExceeded(f"{where}: deadline passed before sending")
        body = request.encoded_body()
        headers = outbound_headers(request, user_agent=self._user_agent, has_body=body is not None)
        parts = urlsplit(request.url)
        builder = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            headers=list(headers.items()),
            data=body if body is not None else b"",
            environ_base={"REMOTE_ADDR": self._remote_addr},
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status_line, response_headers = run_wsgi_app(self._app, environ, buffered=False)
        try:
            cap = BodyCap(self._max_body, where)
            cap.check_declared(response_headers.get("Content-Length"))
            for chunk in app_iter:
                cap.add(chunk)
                if self._clock() >= end:
                    raise DeadlineExceeded(f"{where}: body not complete by the deadline")
        finally:
            _close(app_iter)
        return HttpResponse(
            status=int(status_line.split(None, 1)[0]),
            headers=_joined(response_headers.items()),
            body=cap.body(),
            url=request.url,
        )


def _joined(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names; a repeated header joined with ``", "`` as urllib3 does."""
    joined: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _close(app_iter: Iterable[bytes]) -> None:
    close = getattr(app_iter, "close", None)
    if callable(close):
        close()
