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

from aadweb.errors import GraphError, InvalidResponse
from aadweb.protocol.graph import GraphUser, build_me_request, parse_me_response
from aadweb.protocol.graph_groups import MAX_GROUP_PAGES, build_groups_request, groups_url, parse_groups_page
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

    def member_groups(self, access_token: Secret) -> tuple[str, ...]:
        """The signed-in user's group object ids (transitive), page by page, all within one
        deadline and at most :data:`~aadweb.protocol.graph_groups.MAX_GROUP_PAGES` pages (for
        Azure AD's groups overage: the token said it had too many to carry)."""
        deadline = self.monotonic() + self.timeout
        url: str | None = groups_url(self.url)
        groups: list[str] = []
        for _ in range(MAX_GROUP_PAGES):
            if url is None:
                return tuple(dict.fromkeys(groups))
            request = build_groups_request(url=url, graph_url=self.url, access_token=access_token,
                                           client_request_id=self.new_id())
            page = parse_groups_page(self.transport.send(request, deadline=deadline), now=self.clock())
            groups.extend(page.group_ids)
            url = page.next_link
        if url is None:
            return tuple(dict.fromkeys(groups))
        raise InvalidResponse(f"Graph listed more than {MAX_GROUP_PAGES} pages of groups; not followed further")

    def _call(self, access_token: Secret, request_id: str, deadline: float) -> GraphUser:
        request = build_me_request(graph_url=self.url, access_token=access_token, client_request_id=request_id)
        return parse_me_response(self.transport.send(request, deadline=deadline), now=self.clock())
