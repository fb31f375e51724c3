"""aadweb: sign people in with Azure AD (Entra ID) and call Microsoft Graph, protocol by hand.

Public surface: :class:`Settings`, the error families, and ``create_app`` (the WSGI app, in
``aadweb.web``; imported lazily so the protocol layer can be used without Werkzeug loaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aadweb.errors import (
    AadWebError,
    AuthorityError,
    AuthorizationError,
    ConfigurationError,
    GraphError,
    ProtocolError,
    SessionStoreError,
    TokenValidationError,
    TransportError,
)
from aadweb.settings import Settings

if TYPE_CHECKING:
    from aadweb.web import create_app

__all__ = [
    "AadWebError",
    "AuthorityError",
    "AuthorizationError",
    "ConfigurationError",
    "GraphError",
    "ProtocolError",
    "SessionStoreError",
    "Settings",
    "TokenValidationError",
    "TransportError",
    "__version__",
    "create_app",
]

from aadweb._version import __version__


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from aadweb.web import create_app

        return create_app
    raise AttributeError(f"module 'aadweb' has no attribute {name!r}")
