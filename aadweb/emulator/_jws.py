"""Compact JWS / JWT encoding and checking, written out for the emulator's own tokens.

The emulator signs by hand (RFC 7515 section 7.1 compact serialization, RS256 = RSASSA-
PKCS1-v1_5 with SHA-256, RFC 7518 section 3.3) rather than through pyjwt so that a fault
can put any header label on a token, including one that does not describe how it was
signed. Verification here is only for tokens the emulator minted itself (Graph access
tokens); it shares nothing with the client's validation code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

__all__ = [
    "BadToken",
    "b64url",
    "b64url_decode",
    "left_half_hash",
    "sign_rs256",
    "unsigned_jwt",
    "verify_rs256",
]


class BadToken(ValueError):
    """A token the emulator cannot accept; the message says why (Graph-style)."""


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if any(c not in _ALPHABET for c in text):
        raise BadToken("token segment is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadToken("token segment is not base64url") from exc


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _segment(obj: Mapping[str, object]) -> str:
    return b64url(json.dumps(dict(obj), separators=(",", ":")).encode("utf-8"))


def sign_rs256(
    key: RSAPrivateKey, header: Mapping[str, object], claims: Mapping[str, object]
) -> str:
    """``header.claims.signature`` signed with RS256 whatever ``header["alg"]`` says."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def unsigned_jwt(claims: Mapping[str, object]) -> str:
    """An Unsecured JWS (RFC 7515 appendix A.5): ``alg: none`` and an empty signature,
    which is what the Azure AD v1 token endpoint returns as ``id_token``."""
    return f"{_segment({'typ': 'JWT', 'alg': 'none'})}.{_segment(claims)}."


def left_half_hash(value: str) -> str:
    """OIDC Core 3.3.2.11: c_hash = base64url(left half of SHA-256(ASCII(code)))."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def _json_object(segment: str) -> dict[str, object]:
    try:
        value = json.loads(b64url_decode(segment))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadToken("token segment is not JSON") from exc
    if not isinstance(value, dict):
        raise BadToken("token segment is not a JSON object")
    return value


def verify_rs256(
    token: str, keys: Mapping[str, RSAPublicKey]
) -> tuple[dict[str, object], dict[str, object]]:
    """(header, claims) of an RS256 token signed by one of ``keys`` (by ``kid``)."""
    if len(token) > 16_384:
        raise BadToken("token is too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise BadToken("CompactToken parsing failed: not a compact JWS")
    header = _json_object(parts[0])
    claims = _json_object(parts[1])
    if header.get("alg") != "RS256":
        raise BadToken("token is not signed with RS256")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise BadToken("signing key not found")
    try:
        key.verify(
            b64url_decode(parts[2]),
            f"{parts[0]}.{parts[1]}".encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature as exc:
        raise BadToken("signature is invalid") from exc
    return header, claims
