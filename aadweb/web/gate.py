"""The gate: what stands between a request and the protected app (DESIGN.md, "Protecting an app").

Pieces the app (:class:`~aadweb.web.app.AadWebApp`) puts together for every request that is
not one of aadweb's own routes:

* :func:`strip_identity` removes what a client could send to pose as a user: ``REMOTE_USER``,
  any ``aadweb.*`` key, and the identity headers of forward-auth proxies and App Service
  (``X-Auth-Request-*``, ``X-MS-CLIENT-PRINCIPAL*``, ``Remote-User`` ...). It runs first, on
  every request, so neither the app nor nginx ever sees one that aadweb did not set.
* :func:`strip_cookies` takes aadweb's own cookies out of ``HTTP_COOKIE``: the app never sees them.
* :func:`is_browser_navigation` tells a browser's page load (redirect it to sign in) from an
  API call (answer 401 JSON, never a redirect a ``fetch`` would follow into a CORS error).
* :class:`AccessTokens` is ``environ["aadweb.access_token"]``: ``access_token(resource=None,
  scopes=None)`` for the signed-in session; what it raises is also noted for the gate, so a
  :class:`~aadweb.errors.ConsentRequired` the app did not handle becomes a consent round trip.
* :func:`forward_auth_headers`: the ``X-Auth-Request-*`` headers of ``/.auth/verify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from werkzeug.wrappers import Response

from aadweb.errors import AadWebError
from aadweb.protocol.endpoint import scope_target, scopes_for_resource
from aadweb.sessions import SessionRecord
from aadweb.signin import SignIn
from aadweb.user import User

__all__ = [
    "AccessTokens",
    "TokenFailure",
    "forward_auth_headers",
    "is_browser_navigation",
    "json_response",
    "missing_access",
    "strip_cookies",
    "strip_identity",
]

#: Environ keys a client must never set: the user as a WSGI server or proxy would say it.
_SPOOFABLE_KEYS: Final = frozenset({
    "REMOTE_USER", "AUTH_TYPE", "HTTP_REMOTE_USER", "HTTP_X_REMOTE_USER", "HTTP_X_FORWARDED_USER",
    "HTTP_X_FORWARDED_EMAIL", "HTTP_X_FORWARDED_PREFERRED_USERNAME", "HTTP_X_FORWARDED_GROUPS",
})
#: ... and key prefixes: aadweb's own keys, oauth2-proxy / nginx forward-auth headers, and Azure
#: App Service's Easy Auth headers (``X-MS-CLIENT-PRINCIPAL``, ``-NAME``, ``-ID``, ``-IDP``,
#: ``X-MS-TOKEN-AAD-*``).
_SPOOFABLE_PREFIXES: Final = ("aadweb.", "HTTP_X_AUTH_REQUEST_", "HTTP_X_MS_CLIENT_PRINCIPAL", "HTTP_X_MS_TOKEN_")


def strip_identity(environ: MutableMapping[str, Any]) -> list[str]:
    """Remove every identity a client could have sent; the names removed (for a log line)."""
    found = [key for key in environ if key in _SPOOFABLE_KEYS or key.startswith(_SPOOFABLE_PREFIXES)]
    for key in found:
        del environ[key]
    return found


def strip_cookies(environ: MutableMapping[str, Any], names: Iterable[str]) -> None:
    """Take the cookies called ``names`` out of ``HTTP_COOKIE`` (the others stay as they were)."""
    header = environ.get("HTTP_COOKIE")
    if not header:
        return
    drop = frozenset(names)
    kept = [part for part in header.split(";") if part.strip() and part.split("=", 1)[0].strip() not in drop]
    if kept:
        environ["HTTP_COOKIE"] = ";".join(kept).strip()
    else:
        del environ["HTTP_COOKIE"]


def is_browser_navigation(environ: Mapping[str, Any]) -> bool:
    """A browser loading a page (DESIGN.md): ``GET``/``HEAD`` that accepts ``text/html``, without
    ``X-Requested-With``, and not a ``fetch`` (``Sec-Fetch-Mode`` other than ``navigate``)."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    if "text/html" not in str(environ.get("HTTP_ACCEPT", "")).lower():
        return False
    if environ.get("HTTP_X_REQUESTED_WITH"):
        return False
    mode = str(environ.get("HTTP_SEC_FETCH_MODE", "navigate")).lower()
    return mode in ("navigate", "nested-navigate")


def json_response(body: Mapping[str, Any], status: int) -> Response:
    """A small JSON answer (the app's security headers, ``no-store`` and ``Vary: Cookie`` among
    them, are added to every answer of aadweb's own)."""
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def missing_access(user: User, session: SessionRecord, *, roles: tuple[str, ...],
                   groups: tuple[str, ...]) -> str | None:
    """What the user lacks (a sentence's end), or ``None``: one of ``roles`` (app roles) and one
    of ``groups`` (object ids) when they are required (DESIGN.md: checked before the app runs)."""
    if roles and not set(roles).intersection(user.roles):
        return "one of the app roles " + ", ".join(roles)
    if groups:
        if session.claims.get("groups_unresolved"):
            return "membership of one of its groups, and your groups could not be read from Microsoft Graph"
        if not set(groups).intersection(user.groups):
            return "membership of one of the groups " + ", ".join(groups)
    return None


def _header_value(value: str) -> str:
    """A header value that is printable ASCII: anything else (and ``%`` itself, so an encoded
    value cannot pass for another) is percent-encoded (UTF-8)."""
    if value.isascii() and value.isprintable() and "%" not in value:
        return value
    return quote(value, safe="@._-+ ,")


def forward_auth_headers(user: User) -> list[tuple[str, str]]:
    """DESIGN.md, forward auth: who is signed in, for nginx ``auth_request_set``."""
    return [
        ("X-Auth-Request-User", _header_value(user.remote_user)),
        ("X-Auth-Request-Email", _header_value(user.email or "")),
        ("X-Auth-Request-Oid", _header_value(user.oid)),
        ("X-Auth-Request-Tid", _header_value(user.tid)),
        ("X-Auth-Request-Roles", _header_value(",".join(user.roles))),
        ("X-Auth-Request-Groups", _header_value(",".join(user.groups))),
    ]


@dataclass(slots=True)
class TokenFailure:
    """What ``access_token()`` raised during one request (``None``: nothing)."""

    error: AadWebError | None = None


class AccessTokens:
    """``environ["aadweb.access_token"]``: a valid access token for the signed-in user.

    ``access_token()`` is the sign-in's resource (v2: ``AADWEB_SCOPES``);
    ``access_token(resource=...)`` another one (v1 refresh tokens are multi-resource; on v2 it
    means the scopes ``{resource}/.default``); ``access_token(scopes=[...])`` (v2 only) a token
    for those scopes, which must be of one resource; each scope set's token is kept in the
    session under its sorted scope string. Refreshed single-flight across workers and hosts,
    kept in the session encrypted.
    Raises :class:`~aadweb.errors.ConsentRequired` (the gate turns it into a consent round trip
    for a browser, a 401 for an API call) and :class:`~aadweb.errors.ReauthenticationRequired`
    (the session is over).
    """

    __slots__ = ("_failure", "_session", "_signin")

    def __init__(self, signin: SignIn, session: SessionRecord, failure: TokenFailure) -> None:
        self._signin = signin
        self._session = session
        self._failure = failure

    def __repr__(self) -> str:
        return "<aadweb.access_token>"

    def __call__(self, resource: str | None = None, scopes: Iterable[str] | None = None, *,
                 force_refresh: bool = False) -> str:
        v2 = self._signin.settings.is_v2
        if scopes is not None and not v2:
            raise ValueError("scopes are for the v2.0 endpoint (AADWEB_ENDPOINT=v2); on v1 ask by resource")
        if resource is not None and (not isinstance(resource, str) or not resource.strip()):
            raise ValueError("resource must be a non-empty App ID URI or application id")
        if scopes is not None and resource is not None:
            raise ValueError("ask by resource or by scopes, not both")
        target = resource
        if scopes is not None:
            if isinstance(scopes, str):
                raise ValueError("scopes must be a list of scopes, not one string")
            target = scope_target(list(scopes))  # ValueError for a malformed or empty list
        elif resource is not None and v2:
            target = scopes_for_resource(resource.strip())
        try:
            token = self._signin.access_token(self._session, resource=target, force_refresh=force_refresh)
        except AadWebError as exc:  # noted for the gate: it answers for it if the app does not
            self._failure.error = exc
            raise
        return token.reveal()
