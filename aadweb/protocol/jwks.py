"""The tenant's signing keys: the JWKS request and a strict parse of its answer.

Azure AD publishes its keys at the metadata's ``jwks_uri`` (``{host}/{tenant}/discovery/keys``;
apps with their own signing keys add ``?appid={client_id}``). Only RSA keys meant for
signatures are kept (DESIGN.md): ``use: sig`` or no ``use`` at all (RFC 7517 4.2 makes it
OPTIONAL); a key with another ``use``, an ``alg`` other than RS256, a modulus under 2048 bits,
or one that does not parse is ignored. Keys are chosen by ``kid``, then by ``x5t`` (Azure sets
both to the certificate thumbprint); a token that names neither may use the set's only key
(OIDC Core 10.1, see :mod:`aadweb.protocol.idtoken`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from aadweb.errors import InvalidResponse, KeyNotFound
from aadweb.protocol.aadsts import error_from_response
from aadweb.protocol.http import HttpRequest, HttpResponse, client_request_id_headers

__all__ = ["MIN_RSA_BITS", "KeySet", "SigningKey", "build_jwks_request", "parse_jwks"]

MIN_RSA_BITS: Final = 2048
MAX_KEYS: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKey:
    """One RSA signature key of the tenant."""

    kid: str | None
    x5t: str | None
    key: rsa.RSAPublicKey = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySet:
    """The usable keys of one JWKS, indexed by ``kid`` and ``x5t``. ``ignored`` counts the rest."""

    keys: tuple[SigningKey, ...]
    ignored: int = 0
    _by_kid: Mapping[str, SigningKey] = field(default_factory=dict, repr=False)
    _by_x5t: Mapping[str, SigningKey] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_kid", {k.kid: k for k in self.keys if k.kid})
        object.__setattr__(self, "_by_x5t", {k.x5t: k for k in self.keys if k.x5t})

    @property
    def only_key(self) -> SigningKey | None:
        """The set's one signing key, or None when it holds several (or none)."""
        return self.keys[0] if len(self.keys) == 1 else None

    def find(self, header: Mapping[str, Any]) -> SigningKey | None:
        """The key named by a JWS header's ``kid``, else by its ``x5t``; None when unknown."""
        kid = header.get("kid")
        if isinstance(kid, str):
            return self._by_kid.get(kid)
        x5t = header.get("x5t")
        if isinstance(x5t, str):
            return self._by_x5t.get(x5t)
        return None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid)


def build_jwks_request(jwks_uri: str, *, client_request_id: str, app_id: str | None = None) -> HttpRequest:
    """``GET jwks_uri`` (``?appid=`` for apps with their own signing keys)."""
    url = jwks_uri
    if app_id is not None:
        url += ("&" if urlsplit(jwks_uri).query else "?") + urlencode({"appid": app_id})
    return HttpRequest(method="GET", url=url,
                       headers={"Accept": "application/json", **client_request_id_headers(client_request_id)},
                       leg="jwks")


def _signing_key(jwk: Any) -> SigningKey | None:
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    # RFC 7517 4.2 / DESIGN.md: keys published for signatures ("use": "sig", as Azure AD marks
    # them) or for no stated use (the member is OPTIONAL); RFC 7517 4.4: an "alg", if present,
    # must be ours.
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
        return None
    kid, x5t = jwk.get("kid"), jwk.get("x5t")
    # RFC 7517 4.5: kid is OPTIONAL; a key without kid or x5t can only serve a token that names
    # no key either, and only as the set's one signing key (OIDC Core 10.1).
    if not isinstance(kid, str | None) or not isinstance(x5t, str | None):
        return None
    try:
        key = RSAAlgorithm.from_jwk(json.dumps({"kty": "RSA", "n": jwk.get("n"), "e": jwk.get("e")}))
    except (InvalidKeyError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return SigningKey(kid=kid, x5t=x5t, key=key)


def parse_jwks(resp: HttpResponse) -> KeySet:
    """Parse a JWKS answer (RFC 7517 5) into the usable RSA signing keys.

    A key set that is not a JWKS is :class:`InvalidResponse` (502); a 5xx is the authority's
    (busy or failing: 503/502, see :func:`~aadweb.protocol.aadsts.error_from_response`); a
    well-formed key set without one usable signing key leaves every id_token without a key to
    check it with: :class:`KeyNotFound` (401, DESIGN.md "no usable key"). Either way a cache
    keeps its last good keys (``aadweb.keycache.KeyCache``).
    """
    if 500 <= resp.status <= 599:
        raise error_from_response(resp, what="key set")
    if resp.status != 200:
        raise InvalidResponse(f"the key set endpoint answered HTTP {resp.status}")
    body = resp.json_object("key set")
    jwks = body.get("keys")
    if not isinstance(jwks, list):
        raise InvalidResponse("the key set has no 'keys' list")
    keys = [k for k in (_signing_key(jwk) for jwk in jwks[:MAX_KEYS]) if k is not None]
    if not keys:
        raise KeyNotFound("the key set holds no usable RSA signing key")
    return KeySet(keys=tuple(keys), ignored=len(jwks) - len(keys))
