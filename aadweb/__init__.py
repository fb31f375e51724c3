"""aadweb: sign people in with Azure AD (Entra ID) and call Microsoft Graph, protocol by hand.

Public surface: :class:`Settings`; the error families; :class:`Secret`; the protocol's
:class:`HttpRequest` / :class:`HttpResponse`; :class:`SignIn` and :func:`build_signin` (the
sign-in without the web layer); ``create_app`` (the WSGI app). ``SignIn``, ``build_signin`` and
``create_app`` are imported on first use, so ``import aadweb`` loads neither requests nor
Werkzeug. Test helpers (the emulator, demo settings, the development server, ``MockTransport``)
are in :mod:`aadweb.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aadweb._version import __version__
from aadweb.errors import (
    AadWebError,
    AuthorityError,
    AuthorizationError,
    ConfigurationError,
    ConsentRequired,
    GraphError,
    ProtocolError,
    ReauthenticationRequired,
    SessionStoreError,
    TokenValidationError,
    TransportError,
)
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.user import User

if TYPE_CHECKING:
    from aadweb.compose import build_signin
    from aadweb.signin import SignIn
    from aadweb.web import create_app, protect

__all__ = [
    "AadWebError",
    "AuthorityError",
    "AuthorizationError",
    "ConfigurationError",
    "ConsentRequired",
    "GraphError",
    "HttpRequest",
    "HttpResponse",
    "ProtocolError",
    "ReauthenticationRequired",
    "Secret",
    "SessionStoreError",
    "Settings",
    "SignIn",
    "TokenValidationError",
    "TransportError",
    "User",
    "__version__",
    "build_signin",
    "create_app",
    "protect",
]

#: Names imported on first use: module that defines each.
_LAZY = {"SignIn": "aadweb.signin", "build_signin": "aadweb.compose", "create_app": "aadweb.web",
         "protect": "aadweb.web"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aadweb' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
