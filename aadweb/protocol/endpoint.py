"""Which Azure AD endpoint a sign-in speaks: v1 (``resource=``) or v2.0 (``scope=``).

One value object holds everything that differs between the two (DESIGN.md, "The v2.0
endpoint"), so the protocol steps take an :class:`Endpoint` instead of branching on a version:

=================  =====================================  ==============================================
                   v1                                     v2.0
=================  =====================================  ==============================================
authorize          ``{tenant}/oauth2/authorize``          ``{tenant}/oauth2/v2.0/authorize``
token              ``{tenant}/oauth2/token``              ``{tenant}/oauth2/v2.0/token``
logout             ``{tenant}/oauth2/logout``             ``{tenant}/oauth2/v2.0/logout``
metadata           ``{tenant}/.well-known/openid-...``    ``{tenant}/v2.0/.well-known/openid-...``
issuer             ``https://sts.windows.net/{tid}/``     ``https://login.microsoftonline.com/{tid}/v2.0``
what a token is    ``resource`` (an App ID URI)           ``scope`` (space-separated scopes of ONE resource)
id_token ``ver``   ``1.0`` (or absent)                    ``2.0``
unsigned id_token  from the token endpoint (OIDC 3.1.3.7  never: v2.0 signs every id_token
                   (6), over TLS or loopback)
=================  =====================================  ==============================================

The *target* of a token request is the v1 resource, or on v2.0 the scopes (sorted, joined by
one space: the same scopes give the same string, which keys the session's tokens). The OpenID
Connect scopes ``openid profile offline_access`` are added on v2.0, never part of a target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "OIDC_SCOPES",
    "SCOPE_TOKEN",
    "Endpoint",
    "scope_target",
    "scopes_for_resource",
    "v1_endpoint",
    "v2_endpoint",
]

#: The scopes a v2.0 sign-in always asks for: an id_token (OIDC Core 3.1.2.1: ``openid``),
#: the user's name and ``oid`` in it (``profile``), a refresh token (``offline_access``).
OIDC_SCOPES: Final = ("openid", "profile", "offline_access")
#: RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")
_GUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TEMPLATE: Final = "{tenantid}"


def scope_target(scopes: tuple[str, ...] | list[str] | frozenset[str]) -> str:
    """The v2.0 target of ``scopes``: sorted, without duplicates or OIDC scopes, one space apart.

    Raises ``ValueError`` when a scope is not an RFC 6749 3.3 scope-token or none is left.
    """
    for scope in scopes:
        if not isinstance(scope, str) or not SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(f"{scope!r} is not a scope (RFC 6749 3.3: printable ASCII, no space, quote or backslash)")
    wanted = sorted(set(scopes) - set(OIDC_SCOPES))
    if not wanted:
        raise ValueError("at least one scope besides openid, profile and offline_access is needed")
    return " ".join(wanted)


def scopes_for_resource(resource: str) -> str:
    """v2.0: a v1 resource (App ID URI or application id) asked as scopes: ``{resource}/.default``."""
    return f"{resource.rstrip('/')}/.default"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """The paths, issuer and token rules of one endpoint version in one cloud."""

    version: Literal["1.0", "2.0"]
    authorize_path: str
    token_path: str
    logout_path: str
    metadata_path: str
    #: The issuer with ``{tenantid}`` where the tenant GUID goes (Azure's metadata on ``common``
    #: publishes exactly this template).
    issuer_template: str

    def __post_init__(self) -> None:
        if self.issuer_template.count(_TEMPLATE) != 1 or not self.issuer_template.startswith("https://"):
            raise ValueError("issuer_template must be an https URL with one {tenantid}")

    @property
    def is_v2(self) -> bool:
        return self.version == "2.0"

    @property
    def allows_unsigned_id_token(self) -> bool:
        """v1's token endpoint sends ``alg: none`` id_tokens; v2.0 signs every one, so an
        unsigned token there is refused whatever the channel."""
        return self.version == "1.0"

    def url(self, authority_url: str, path: str) -> str:
        return f"{authority_url.rstrip('/')}/{path}"

    def issuer(self, tenant_id: str) -> str:
        """OIDC Core 3.1.3.7 (2): the exact issuer of ``tenant_id``'s tokens."""
        return self.issuer_template.replace(_TEMPLATE, tenant_id)

    def tenant_from_issuer(self, issuer: str) -> str | None:
        """The tenant GUID an issuer of this endpoint names, or None when it is not of that form."""
        head, tail = self.issuer_template.split(_TEMPLATE)
        match = re.fullmatch(re.escape(head) + f"({_GUID})" + re.escape(tail), issuer)
        return None if match is None else match.group(1)

    def target_params(self, target: str) -> list[tuple[str, str]]:
        """What names the token wanted, in an authorize or token request.

        v1: ``scope=openid`` (v1 ignores other scopes) and ``resource``; v2.0: one ``scope``,
        the OIDC scopes then the target's.
        """
        if not target:
            raise ValueError("the resource (v1) or scopes (v2.0) must not be empty")
        if self.is_v2:
            return [("scope", " ".join((*OIDC_SCOPES, target)))]
        return [("scope", "openid"), ("resource", target)]

    def token_params(self, target: str) -> dict[str, str]:
        """What names the token wanted in a token request: v1 ``resource`` (its ``scope=openid``
        is an authorize parameter only); v2.0 ``scope`` (RFC 6749 4.1.3 / 6)."""
        return {name: value for name, value in self.target_params(target) if self.is_v2 or name == "resource"}


def v1_endpoint(issuer_prefix: str) -> Endpoint:
    """Azure AD v1 of a cloud whose issuers are ``{issuer_prefix}{tid}/``."""
    return Endpoint(
        version="1.0", authorize_path="oauth2/authorize", token_path="oauth2/token", logout_path="oauth2/logout",
        metadata_path=".well-known/openid-configuration", issuer_template=f"{issuer_prefix}{_TEMPLATE}/",
    )


def v2_endpoint(issuer_host: str) -> Endpoint:
    """The v2.0 endpoint of a cloud whose issuers are ``{issuer_host}/{tid}/v2.0``."""
    return Endpoint(
        version="2.0", authorize_path="oauth2/v2.0/authorize", token_path="oauth2/v2.0/token",
        logout_path="oauth2/v2.0/logout", metadata_path="v2.0/.well-known/openid-configuration",
        issuer_template=f"{issuer_host.rstrip('/')}/{_TEMPLATE}/v2.0",
    )


#: The public cloud's v1: what the protocol builders use when no endpoint is named.
V1_PUBLIC: Final = v1_endpoint("https://sts.windows.net/")
