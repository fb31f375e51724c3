"""Grants (codes, refresh tokens) and the claims of the tokens the emulator mints.

Azure AD v1 facts kept here:
- codes are single-use and live about 10 minutes; a second redemption is AADSTS54005;
- a refresh token is multi-resource, and redeeming it mints a *new* refresh token while
  the old one stays valid;
- id_token claims: ``aud`` = client id, ``iss`` = ``https://sts.windows.net/{tid}/``,
  ``ver`` "1.0", pairwise ``sub``, and on the front channel ``nonce`` and ``c_hash``;
- access tokens for Graph carry a ``nonce`` in their JOSE header.

v2.0 id_tokens (Microsoft identity platform "ID token claims reference"): ``iss`` =
``https://login.microsoftonline.com/{tid}/v2.0``, ``ver`` "2.0", ``tid``, pairwise ``sub``,
``uti``; ``name``, ``preferred_username`` and ``oid`` only with the ``profile`` scope, ``email``
only with ``email``; no ``upn``, ``unique_name``, ``amr`` or given/family names. Access tokens
stay v1.0-shaped whichever endpoint issued them (Graph, and apps whose manifest leaves
``accessTokenAcceptedVersion`` unset, accept v1.0 tokens).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ._jws import b64url, left_half_hash
from ._model import DemoUser

__all__ = [
    "CODE_LIFETIME",
    "ID_TOKEN_LIFETIME",
    "REFRESH_LIFETIME",
    "CodeGrant",
    "GrantStore",
    "RefreshGrant",
    "access_token_claims",
    "apply_overrides",
    "id_token_claims",
    "id_token_claims_v2",
    "issuer",
    "issuer_v2",
]

CODE_LIFETIME = 600.0
ID_TOKEN_LIFETIME = 3600
ACCESS_TOKEN_LIFETIME = 3599
REFRESH_LIFETIME = 90 * 24 * 3600.0


def issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def issuer_v2(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def pairwise_sub(client_id: str, user: DemoUser) -> str:
    """v1 ``sub`` is pairwise: the same user has a different subject in each app."""
    seed = f"{client_id}|{user.tenant_id}|{user.oid}".encode()
    return b64url(hashlib.sha256(seed).digest())[:43]


def apply_overrides(
    claims: dict[str, object], overrides: Mapping[str, object] | None
) -> dict[str, object]:
    """Set each override; a None value removes the claim."""
    for name, value in (overrides or {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _user_claims(user: DemoUser, client_id: str, ipaddr: str) -> dict[str, object]:
    return {
        "amr": ["pwd"],
        "family_name": user.family_name,
        "given_name": user.given_name,
        "ipaddr": ipaddr,
        "name": user.name,
        "oid": user.oid,
        "sub": pairwise_sub(client_id, user),
        "tid": user.tenant_id,
        "unique_name": user.upn,
        "upn": user.upn,
    }


def id_token_claims(
    user: DemoUser, client_id: str, now: float, *, ipaddr: str,
    nonce: str | None = None, code: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Claims of a v1 id_token, in Azure's order; ``nonce``/``c_hash`` on the front channel;
    ``extra``: the authorization claims (``roles``, ``groups`` or an overage indication)."""
    iat = int(now)
    claims: dict[str, object] = {
        "aud": client_id,
        "iss": issuer(user.tenant_id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + ID_TOKEN_LIFETIME,
    }
    rest = _user_claims(user, client_id, ipaddr)
    if nonce is not None:
        rest["nonce"] = nonce
    if code is not None:
        rest["c_hash"] = left_half_hash(code)
    rest.update(extra or {})
    rest["ver"] = "1.0"
    claims.update(sorted(rest.items()))
    return claims


def id_token_claims_v2(
    user: DemoUser, client_id: str, now: float, *, scopes: tuple[str, ...],
    nonce: str | None = None, code: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Claims of a v2.0 id_token; ``scopes``: the OpenID Connect scopes granted."""
    iat = int(now)
    claims: dict[str, object] = {
        "aud": client_id,
        "iss": issuer_v2(user.tenant_id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + ID_TOKEN_LIFETIME,
    }
    rest: dict[str, object] = {
        "sub": pairwise_sub(client_id, user),
        "tid": user.tenant_id,
        "uti": secrets.token_urlsafe(16),
    }
    if "profile" in scopes:
        rest.update({"name": user.name, "oid": user.oid, "preferred_username": user.upn})
    if "email" in scopes and user.mail:
        rest["email"] = user.mail
    if nonce is not None:
        rest["nonce"] = nonce
    if code is not None:
        rest["c_hash"] = left_half_hash(code)
    rest.update(extra or {})
    rest["ver"] = "2.0"
    claims.update(sorted(rest.items()))
    return claims


def access_token_claims(
    user: DemoUser, client_id: str, resource: str, scope: str, now: float, *,
    lifetime: int, ipaddr: str, extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    iat = int(now)
    claims: dict[str, object] = {
        "aud": resource,
        "iss": issuer(user.tenant_id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "acr": "1",
        "app_displayname": "aadweb",
        "appid": client_id,
        "appidacr": "1",
        "scp": scope,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    claims.update(_user_claims(user, client_id, ipaddr))
    claims.update(extra or {})
    return claims


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeGrant:
    """What an authorization code is bound to (RFC 6749 4.1.3, RFC 7636 4.6); ``version``:
    the endpoint that issued it ("1.0" or "2.0"), ``scope``: the v2.0 request's scopes."""

    client_id: str
    redirect_uri: str
    resource: str | None
    user: DemoUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    ipaddr: str
    version: str = "1.0"
    scope: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshGrant:
    """A refresh token: multi-resource on both endpoints. ``resource``: the audience of the
    grant it came with (a v2.0 refresh without ``scope`` asks for ``scope`` again)."""

    client_id: str
    user: DemoUser
    resource: str
    expires_at: float
    ipaddr: str
    scope: str | None = None


class GrantStore:
    """Server-side records of codes and refresh tokens, and of every secret minted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, CodeGrant] = {}
        self._redeemed: set[str] = set()
        self._refresh: dict[str, RefreshGrant] = {}
        self._minted: set[str] = set()

    def remember(self, secret: str) -> str:
        with self._lock:
            self._minted.add(secret)
        return secret

    def minted(self) -> set[str]:
        with self._lock:
            return set(self._minted)

    def new_code(self, grant: CodeGrant) -> str:
        # Azure's codes are long opaque strings starting "AQABAAIAAA".
        code = "AQABAAIAAA" + secrets.token_urlsafe(96)
        with self._lock:
            self._codes[code] = grant
            self._minted.add(code)
        return code

    def code(self, code: str) -> tuple[CodeGrant | None, bool]:
        """(grant or None, already redeemed)."""
        with self._lock:
            return self._codes.get(code), code in self._redeemed

    def redeem(self, code: str) -> bool:
        """Mark ``code`` used; False if it already was (two racing redemptions: one wins)."""
        with self._lock:
            if code in self._redeemed:
                return False
            self._redeemed.add(code)
            return True

    def new_refresh(self, grant: RefreshGrant) -> str:
        token = "AQABAAAAAAD" + secrets.token_urlsafe(128)
        with self._lock:
            self._refresh[token] = grant
            self._minted.add(token)
        return token

    def refresh(self, token: str) -> RefreshGrant | None:
        with self._lock:
            return self._refresh.get(token)
