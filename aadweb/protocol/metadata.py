"""OpenID Provider metadata: ``{authority}/.well-known/openid-configuration``.

The metadata tells the client where the token endpoint and the signing keys are. A tampered
or spoofed document could point the token POST (with the client secret and the code) or the
JWKS fetch (the keys every id_token is checked against) at another server, so each endpoint
must be on the configured authority host, over https (plain http only on a loopback host, for
the emulator and tests). The ``issuer`` is read, not trusted: on ``common`` it is a template,
and the id_token check compares ``iss`` exactly.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from aadweb.errors import InvalidResponse
from aadweb.protocol.aadsts import error_from_response
from aadweb.protocol.hosts import is_loopback_host
from aadweb.protocol.http import HttpRequest, HttpResponse, client_request_id_headers

__all__ = [
    "AuthorityMetadata",
    "build_metadata_request",
    "check_tenant_issuer",
    "is_secure_url",
    "parse_metadata",
    "same_origin",
    "tenant_id_from_issuer",
]

MAX_URL: Final = 2048
_WHAT: Final = "authority metadata"


_UNSAFE_CHAR: Final = re.compile(r"[\x00-\x20\x7f\s]")
_GUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@functools.lru_cache(maxsize=256)  # pure, and called with the same few configured URLs per sign-in
def is_secure_url(url: str) -> bool:
    """An absolute https URL, or http on a loopback host; no user info, no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        return False
    if len(url) > MAX_URL or _UNSAFE_CHAR.search(url):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host))


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def same_origin(url: str, base: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base``."""
    try:
        return _origin(url) == _origin(base)
    except ValueError:
        return False


def build_metadata_request(
    authority_url: str, *, client_request_id: str, path: str = ".well-known/openid-configuration"
) -> HttpRequest:
    """``GET {authority_url}/.well-known/openid-configuration`` (OpenID Connect Discovery 4);
    v2.0's ``path`` is ``v2.0/.well-known/openid-configuration``."""
    if not is_secure_url(authority_url):
        raise ValueError("the authority URL must be https (http only on a loopback host)")
    return HttpRequest(
        method="GET",
        url=f"{authority_url.rstrip('/')}/{path}",
        headers={"Accept": "application/json", **client_request_id_headers(client_request_id)},
        leg="metadata",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorityMetadata:
    """The endpoints of one authority (tenant), each checked to be secure."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ValueError("issuer must not be empty")
        endpoints = [self.authorization_endpoint, self.token_endpoint, self.jwks_uri]
        if self.end_session_endpoint is not None:
            endpoints.append(self.end_session_endpoint)
        for url in endpoints:
            if not is_secure_url(url):
                raise ValueError("every endpoint must be https (http only on a loopback host)")


def _endpoint(body: dict[str, Any], name: str, authority_host: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidResponse(f"{_WHAT}: {name} is missing or not a string")
    if not is_secure_url(value):
        raise InvalidResponse(f"{_WHAT}: {name} is not an https URL (http is allowed only on loopback)")
    # Pinned to the configured authority: a tampered document must not move the token POST
    # (client secret, code) or the keys that id_tokens are checked against to another server.
    if not same_origin(value, authority_host):
        raise InvalidResponse(f"{_WHAT}: {name} is not on the configured authority host")
    return value


def parse_metadata(resp: HttpResponse, *, authority_host: str) -> AuthorityMetadata:
    """The metadata of a 200 answer; endpoints pinned to ``authority_host`` (``https://host[:port]``)."""
    if not is_secure_url(authority_host):
        raise ValueError("authority_host must be an https URL (http only on a loopback host)")
    if 300 <= resp.status <= 399:
        raise InvalidResponse(f"{_WHAT}: the authority answered with a redirect, which is never followed")
    if resp.status != 200:
        raise error_from_response(resp, what=_WHAT)
    body = resp.json_object(_WHAT)
    issuer = body.get("issuer")
    # OpenID Connect Discovery 3: issuer is REQUIRED
    if not isinstance(issuer, str) or not issuer or len(issuer) > MAX_URL:
        raise InvalidResponse(f"{_WHAT}: issuer is missing or not a string")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in issuer):
        raise InvalidResponse(f"{_WHAT}: issuer contains spaces or control characters")
    # OpenID Connect Discovery 3: authorization_endpoint and jwks_uri are REQUIRED;
    # token_endpoint is REQUIRED unless only the implicit flow is used (not our case)
    return AuthorityMetadata(
        issuer=issuer,
        authorization_endpoint=_endpoint(body, "authorization_endpoint", authority_host),
        token_endpoint=_endpoint(body, "token_endpoint", authority_host),
        jwks_uri=_endpoint(body, "jwks_uri", authority_host),
        end_session_endpoint=(
            None
            if body.get("end_session_endpoint") is None
            else _endpoint(body, "end_session_endpoint", authority_host)
        ),
    )


def check_tenant_issuer(metadata: AuthorityMetadata, *, issuer_prefix: str, tenant_id: str) -> None:
    """A single tenant's metadata must name exactly the issuer expected for it.

    OpenID Connect Discovery 4.3: the ``issuer`` of the metadata MUST be identical to the
    issuer the client expects. On Azure AD v1 that is ``{issuer_prefix}{tenant_id}/`` (e.g.
    ``https://sts.windows.net/{tid}/``), not the authority URL the document was fetched from.
    Raises :class:`~aadweb.errors.InvalidResponse` otherwise.
    """
    if metadata.issuer != f"{issuer_prefix}{tenant_id}/":
        raise InvalidResponse("the authority's metadata names an unexpected issuer for this tenant")


def tenant_id_from_issuer(issuer: str, *, issuer_prefix: str) -> str:
    """The tenant GUID a v1 issuer ``{issuer_prefix}{tid}/`` names (for a tenant configured by domain).

    Azure AD v1 issuers are ``https://sts.windows.net/{tid}/`` (the cloud's own prefix in
    sovereign clouds); the metadata of a verified domain names its tenant's GUID this way.
    Raises :class:`~aadweb.errors.InvalidResponse` when ``issuer`` is not of that form.
    """
    match = re.fullmatch(re.escape(issuer_prefix) + f"({_GUID})/", issuer)
    if match is None:
        raise InvalidResponse("the authority's metadata issuer does not name a tenant GUID")
    return match.group(1)
