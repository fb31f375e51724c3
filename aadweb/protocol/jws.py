"""Compact JWS, parsed strictly and verified with RS256 directly on ``cryptography``.

This is the part of id_token validation where libraries have historically gone wrong
(``alg: none``, HS256 keyed with the RSA public key, keys taken from the token's own ``jwk`` or
``jku`` header), so every step is written out here where a reader can see it:

1. the token is size-capped *before* anything is decoded;
2. it has exactly three segments of the strict base64url alphabet, without padding, each the
   canonical encoding of its bytes (RFC 7515 2, RFC 4648 5);
3. header and payload are JSON objects with no duplicate member names and no NaN/Infinity;
4. ``alg`` is exactly the pinned algorithm and there is no ``crit`` (RFC 7515 4.1.11);
5. the signature is RSASSA-PKCS1-v1_5 with SHA-256 over ``header.payload`` (RFC 7518 3.3),
   under a key chosen by the *caller* from the tenant's JWKS. ``jku``, ``jwk``, ``x5u`` and
   ``x5c`` in the header are never looked at.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

from aadweb.errors import MalformedToken, SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "MAX_TOKEN_BYTES",
    "CompactJWS",
    "b64url_decode",
    "b64url_encode",
    "parse_compact",
    "parse_unsigned",
    "peek_header",
    "verify_rs256",
]

#: Azure AD id_tokens are 1-3 KB; a groups claim can grow one, but never near this.
MAX_TOKEN_BYTES: Final = 16 * 1024

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_PKCS1 = padding.PKCS1v15()
_SHA256 = SHA256()


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url: the URL-safe alphabet only, no padding, canonical trailing bits.

    RFC 4648 3.5 lets decoders reject non-canonical encodings; we do, so one token has one
    spelling and a signature cannot be "moved" onto a re-encoded twin.
    """
    if _SEGMENT.fullmatch(segment) is None or len(segment) % 4 == 1:
        raise MalformedToken("a token segment is not strict base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken("a token segment is not strict base64url") from exc
    if b64url_encode(data) != segment:
        raise MalformedToken("a token segment is not canonical base64url")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            # RFC 7515 5.2 (4): duplicate member names MUST be rejected, or only the last kept;
            # we reject: two readers must never see two different tokens.
            raise ValueError("duplicate member name")
        obj[key] = value
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_refuse_constant)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value, end = _DECODER.raw_decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedToken(f"the token {what} is not a JSON object") from exc
    if not isinstance(value, dict) or raw[end:].strip():
        raise MalformedToken(f"the token {what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A parsed compact JWS. Nothing in it is trusted until :func:`verify_rs256` passes."""

    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


def _split(token: str, max_bytes: int) -> tuple[str, str, str]:
    # Size first: nothing is decoded from an oversized token.
    if not isinstance(token, str) or len(token) > max_bytes:
        raise MalformedToken(f"the token is larger than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        # RFC 7515 7.1: JWS Compact Serialization has exactly three parts.
        raise MalformedToken("the token is not a compact JWS of three segments")
    return parts[0], parts[1], parts[2]


def peek_header(token: str, *, max_bytes: int = MAX_TOKEN_BYTES) -> dict[str, Any]:
    """The decoded JOSE header of a compact token, trusting nothing: only to choose a parser."""
    return _json_object(b64url_decode(_split(token, max_bytes)[0]), "header")


def parse_compact(token: str, *, alg: str = "RS256", max_bytes: int = MAX_TOKEN_BYTES) -> CompactJWS:
    """Parse a signed compact JWS whose ``alg`` must be exactly ``alg``.

    Raises :class:`MalformedToken` or :class:`UnsupportedAlgorithm`; verifies nothing.
    """
    h64, p64, s64 = _split(token, max_bytes)
    header = _json_object(b64url_decode(h64), "header")
    # The algorithm is pinned by us, never chosen by the token (RFC 8725 3.1).
    if header.get("alg") != alg:
        raise UnsupportedAlgorithm(f"the token's alg is {str(header.get('alg'))[:20]!r}, only {alg} is accepted")
    if "crit" in header:
        # RFC 7515 4.1.11: a recipient that does not understand a critical extension MUST reject.
        raise UnsupportedAlgorithm("the token header has a 'crit' extension, which is not supported")
    if not s64:
        raise MalformedToken("the token has no signature")
    payload = _json_object(b64url_decode(p64), "payload")
    signature = b64url_decode(s64)
    return CompactJWS(header, payload, f"{h64}.{p64}".encode("ascii"), signature)


def parse_unsigned(token: str, *, max_bytes: int = MAX_TOKEN_BYTES) -> CompactJWS:
    """Parse an unsecured JWS (``alg: none``, empty signature; RFC 7519 6).

    Azure AD v1 returns such an id_token from the token endpoint. The caller decides whether
    that channel may carry one (OIDC Core 3.1.3.7 (6)); this only parses it.
    """
    h64, p64, s64 = _split(token, max_bytes)
    header = _json_object(b64url_decode(h64), "header")
    if header.get("alg") != "none" or s64:
        raise UnsupportedAlgorithm("expected an unsigned token (alg none, empty signature)")
    if "crit" in header:
        raise UnsupportedAlgorithm("the token header has a 'crit' extension, which is not supported")
    payload = _json_object(b64url_decode(p64), "payload")
    return CompactJWS(header, payload, f"{h64}.{p64}".encode("ascii"), b"")


def verify_rs256(jws: CompactJWS, key: rsa.RSAPublicKey) -> None:
    """RSASSA-PKCS1-v1_5 using SHA-256 (RFC 7518 3.3) or :class:`SignatureInvalid`."""
    try:
        key.verify(jws.signature, jws.signing_input, _PKCS1, _SHA256)
    except InvalidSignature:
        raise SignatureInvalid("the token signature does not verify under the tenant's key") from None
