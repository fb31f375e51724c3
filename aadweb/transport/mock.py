"""A transport whose answers come from a function, for tests (httpx's ``MockTransport``).

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/discovery/keys"):
            return HttpResponse(status=200, body=b'{"keys": []}')
        return HttpResponse(status=404)

    transport = MockTransport(handler)

The handler sees the request as the network would: with the headers every transport adds
(``User-Agent``, ``return-client-request-id``, ...) merged in. It may raise an
:class:`~aadweb.errors.AadWebError` (a :class:`~aadweb.errors.TransportError` stands for a
network failure); anything else it raises is a bug in the test and propagates. Redirects are
never followed, as with every transport.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from aadweb.errors import DeadlineExceeded
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.transport.common import USER_AGENT, describe, outbound_headers

__all__ = ["MockHandler", "MockTransport"]

MockHandler = Callable[[HttpRequest], HttpResponse]


class MockTransport:
    """Answers each request with ``handler(request)``; records nothing (wrap it in a
    :class:`~aadweb.transport.recording.RecordingTransport` for that). Thread-safe when the
    handler is."""

    def __init__(
        self,
        handler: MockHandler,
        *,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handler = handler
        self._user_agent = user_agent
        self._clock = clock

    def close(self) -> None:
        """Nothing to release; present so every transport can be closed the same way."""

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        if deadline is not None and self._clock() >= deadline:
            raise DeadlineExceeded(f"{describe(request)}: deadline passed before sending")
        headers = outbound_headers(request, user_agent=self._user_agent, has_body=request.form is not None)
        response = self._handler(dataclasses.replace(request, headers=headers))
        if not isinstance(response, HttpResponse):
            raise TypeError(f"the mock handler answered {type(response).__name__}, not an HttpResponse")
        return response if response.url else dataclasses.replace(response, url=request.url)
