"""Calling Microsoft Graph ``/me``: the protocol step sent through a transport.

Throttling (429) and "service unavailable" (503) are honoured once when Graph asks for a
short wait (``Retry-After`` at most ``max_wait`` seconds, and the wait still fits the call's
deadline); anything longer is returned to the caller as the :class:`GraphError`, so a page
can say "try again in a moment" instead of holding a worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from aadweb.errors import GraphError
from aadweb.protocol.graph import GraphUser, build_me_request, parse_me_response
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.transport import Transport

__all__ = ["GraphClient"]

RETRYABLE = frozenset({429, 503})


class GraphClient:
    """Graph ``/me`` for one process. Thread-safe (the transport is)."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        max_wait: float = 2.0,
    ) -> None:
        self.url = settings.graph_url
        self.timeout = settings.http_timeout
        self.transport = transport
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.new_id = new_id
        self.max_wait = max_wait

    def me(self, access_token: Secret) -> GraphUser:
        """``GET /me`` with the user's access token; raises :class:`GraphError` on an error answer."""
        deadline = self.monotonic() + self.timeout
        request_id = self.new_id()
        try:
            return self._call(access_token, request_id, deadline)
        except GraphError as exc:
            wait = exc.retry_after
            if exc.http_status not in RETRYABLE or wait is None or wait > self.max_wait:
                raise
            if self.monotonic() + wait >= deadline:
                raise
            self.sleep(wait)
            # The same client-request-id: it is one logical call, retried once.
            return self._call(access_token, request_id, deadline)

    def _call(self, access_token: Secret, request_id: str, deadline: float) -> GraphUser:
        request = build_me_request(graph_url=self.url, access_token=access_token, client_request_id=request_id)
        return parse_me_response(self.transport.send(request, deadline=deadline), now=self.clock())
