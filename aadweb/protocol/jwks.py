"""The tenant's signing keys: the JWKS request and a strict parse of its answer.

Azure AD publishes its keys at the metadata's ``jwks_uri`` (``{host}/{tenant}/discovery/keys``;
apps with their own signing keys add ``?appid={client_id}``). Only RSA keys meant for
signatures are kept: a key without ``use: sig``, an ``alg`` other than RS256, or a
modulus under 2048 bits is ignored, as is a key that does not parse. Keys are chosen by
``kid``, then by ``x5t`` (Azure sets both to the certificate thumbprint).
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

from aadweb.errors import InvalidResponse
from aadweb.protocol.http import HttpRequest, HttpResponse

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


def build_jwks_request(jwks_uri: str, *, app_id: str | None = None) -> HttpRequest:
    """``GET jwks_uri`` (``?appid=`` for apps with their own signing keys)."""
    url = jwks_uri
    if app_id is not None:
        url += ("&" if urlsplit(jwks_uri).query else "?") + urlencode({"appid": app_id})
    return HttpRequest(method="GET", url=url, headers={"Accept": "application/json"}, leg="jwks")


def _signing_key(jwk: Any) -> SigningKey | None:
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    # RFC 7517 4.2 / DESIGN.md: only keys published for signatures ("use": "sig", as Azure AD
    # always marks them); RFC 7517 4.4: an "alg", if present, must be ours.
    if jwk.get("use") != "sig" or jwk.get("alg", "RS256") != "RS256":
        return None
    kid, x5t = jwk.get("kid"), jwk.get("x5t")
    if not isinstance(kid, str | None) or not isinstance(x5t, str | None) or not (kid or x5t):
        return None
    try:
        key = RSAAlgorithm.from_jwk(json.dumps({"kty": "RSA", "n": jwk.get("n"), "e": jwk.get("e")}))
    except (InvalidKeyError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return SigningKey(kid=kid, x5t=x5t, key=key)


def parse_jwks(resp: HttpResponse) -> KeySet:
    """Parse a JWKS answer (RFC 7517 5) into the usable RSA signing keys."""
    if resp.status != 200:
        raise InvalidResponse(f"the key set endpoint answered HTTP {resp.status}")
    body = resp.json_object("key set")
    jwks = body.get("keys")
    if not isinstance(jwks, list):
        raise InvalidResponse("the key set has no 'keys' list")
    keys = [k for k in (_signing_key(jwk) for jwk in jwks[:MAX_KEYS]) if k is not None]
    if not keys:
        raise InvalidResponse("the key set holds no usable RSA signing key")
    return KeySet(keys=tuple(keys), ignored=len(jwks) - len(keys))
