"""Mint RS256 id_tokens the way Azure AD v1 does, with every part open to mutation.

Signing is done with raw ``cryptography`` so a test can sign any header and payload bytes,
including ones no JWT library would produce (duplicate keys, non-canonical base64, NaN).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from aadweb.protocol.endpoint import v1_endpoint
from aadweb.protocol.http import HttpResponse
from aadweb.protocol.idtoken import IdTokenExpectations, SingleTenant
from aadweb.protocol.jwks import KeySet, parse_jwks
from aadweb.secret import Secret

TENANT = "6f3c1a52-9b7e-4d2a-8c1f-2a9e5b7d4c10"
OTHER_TENANT = "0b7e9a61-2c4d-4e8f-a1b3-c5d7e9f1a3b5"
CLIENT_ID = "3c9d6b8e-1f2a-4b7c-9d0e-5a6b7c8d9e0f"
ISSUER_PREFIX = "https://sts.windows.net/"
NONCE = "n-0S6_WzA2Mj"
CODE = "OAQABAAIAAAB-code-value-for-tests"
NOW = 1_790_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def c_hash(code: str) -> str:
    return b64(hashlib.sha256(code.encode()).digest()[:16])


@dataclass
class Signer:
    kid: str
    key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls, kid: str) -> Signer:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self, **extra: Any) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "x5t": self.kid, "use": "sig"}, **extra)
        return jwk

    def sign(self, signing_input: bytes) -> bytes:
        return self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def claims(now: float = NOW, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "aud": CLIENT_ID,
        "iss": f"{ISSUER_PREFIX}{TENANT}/",
        "iat": int(now) - 10,
        "nbf": int(now) - 10,
        "exp": int(now) + 3600,
        "amr": ["pwd"],
        "name": "Adele Vance",
        "nonce": NONCE,
        "c_hash": c_hash(CODE),
        "oid": "5f1c6e3a-8d2b-4c7e-9a1f-0e2d3c4b5a69",
        "sub": "pairwise-sub-value",
        "tid": TENANT,
        "unique_name": "adele.vance@contoso.example",
        "upn": "adele.vance@contoso.example",
        "ver": "1.0",
    }
    for k, v in overrides.items():
        if v is _DROP:
            base.pop(k, None)
        else:
            base[k] = v
    return base


_DROP = object()
DROP: Any = _DROP


def header(signer: Signer, **overrides: Any) -> dict[str, Any]:
    h: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "x5t": signer.kid, "kid": signer.kid}
    for k, v in overrides.items():
        if v is _DROP:
            h.pop(k, None)
        else:
            h[k] = v
    return h


def encode(signer: Signer, hdr: dict[str, Any] | bytes, payload: dict[str, Any] | bytes) -> str:
    hb = hdr if isinstance(hdr, bytes) else json.dumps(hdr, separators=(",", ":")).encode()
    pb = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    signing_input = f"{b64(hb)}.{b64(pb)}".encode()
    return f"{signing_input.decode()}.{b64(signer.sign(signing_input))}"


def mint(
    signer: Signer, now: float = NOW, header_overrides: dict[str, Any] | None = None, **claim_overrides: Any
) -> str:
    return encode(signer, header(signer, **(header_overrides or {})), claims(now, **claim_overrides))


def keyset(*signers: Signer, extra: list[dict[str, Any]] | None = None) -> KeySet:
    body = {"keys": [s.jwk() for s in signers] + (extra or [])}
    return parse_jwks(HttpResponse(status=200, body=json.dumps(body).encode()))


def expectations(now: float = NOW, **overrides: Any) -> IdTokenExpectations:
    args: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "endpoint": v1_endpoint(ISSUER_PREFIX),
        "tenants": SingleTenant(tenant_id=TENANT),
        "nonce": Secret("nonce", NONCE),
        "now": now,
        "leeway": 120,
    }
    args.update(overrides)
    return IdTokenExpectations(**args)


@functools.cache
def signers() -> tuple[Signer, Signer, Signer]:
    """(published key one, published key two, a rogue key with key one's kid). Made once."""
    return Signer.generate("kid-one"), Signer.generate("kid-two"), Signer.generate("kid-one")
