"""The seed's sample pages, as a small app behind the gate: ``/`` and ``/graphcall``.

Without ``AADWEB_APP``, aadweb protects this app, with its own routes at the root (``/login``,
``/getAToken``, ``/logout``, ...), which is the original sample's shape. It gets what any
protected app gets: ``environ["aadweb.user"]`` (the home page's name and tenant) and
``environ["aadweb.access_token"]``; ``/graphcall`` calls Graph ``/me`` through
:meth:`~aadweb.signin.SignIn.graph_me` with the session the gate resumed (one refresh and a
retry on a 401, then "sign in again"; Graph's id must be the signed-in user's), so the seed's
Graph rules are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, ClassVar, Protocol

from werkzeug.wrappers import Response

from aadweb.sessions import SessionRecord
from aadweb.signin import SignIn
from aadweb.user import User
from aadweb.web import pages

if TYPE_CHECKING:
    from aadweb.web.app import AppRequest

__all__ = ["SampleApp", "current_session"]

#: The session the gate resumed for the request being answered (set only around the call).
current_session: ContextVar[SessionRecord | None] = ContextVar("aadweb_current_session", default=None)


class PageMaker(Protocol):
    def __call__(self, request: AppRequest, render: Callable[..., str], status: int = 200,
                 **values: object) -> Response: ...


class SampleApp:
    """``/`` (who is signed in) and ``/graphcall`` (Graph ``/me``); anything else is not here."""

    ENDPOINTS: ClassVar[Mapping[str, str]] = {"/": "index", "/graphcall": "graphcall"}

    def __init__(self, signin: SignIn, *, page: PageMaker, wire_view: bool) -> None:
        self.signin = signin
        self.page = page
        self.wire_view = wire_view

    def endpoint(self, request: AppRequest) -> str | None:
        """The page ``request`` asks for (GET, or HEAD for the home page), or ``None``."""
        endpoint = self.ENDPOINTS.get(request.path)
        if endpoint is None or request.method not in ("GET", "HEAD"):
            return None
        if endpoint == "graphcall" and request.method == "HEAD":
            return None  # calling Graph is a side effect: GET only
        return endpoint

    def respond(self, request: AppRequest, endpoint: str) -> Response:
        user: User = request.environ["aadweb.user"]
        if endpoint == "index":
            return self.page(request, pages.home_page, name=user.name or user.username or "you", tenant=user.tid,
                             wire_view=self.wire_view)
        session = current_session.get()
        assert session is not None  # the gate resumed it before calling this app
        return self.page(request, pages.graph_page, user=self.signin.graph_me(session))
