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
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

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
    if not segment.isascii() or "+" in segment or "/" in segment or "=" in segment:
        raise MalformedToken("a token segment is not strict base64url")
    tail = len(segment) % 4
    # The last character of a 2- or 3-character tail carries 4 or 2 unused bits: they must be 0.
    if tail == 1 or (tail and _B64_VALUE.get(segment[-1], 0) & _UNUSED_BITS[tail]):
        raise MalformedToken("a token segment is not canonical base64url")
    try:
        return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STANDARD) + _PADDING[tail], strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken("a token segment is not strict base64url") from exc


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUE = {c: i for i, c in enumerate(_B64_ALPHABET)}
_UNUSED_BITS = {2: 0b1111, 3: 0b11}
_PADDING = (b"", b"", b"==", b"=")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # RFC 7515 5.2 (4): duplicate member names MUST be rejected, or only the last kept;
        # we reject: two readers must never see two different tokens.
        raise ValueError("duplicate member name")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_refuse_constant)
# The C scanner behind JSONDecoder.decode, without its wrapper (this is on the sign-in path).
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8").strip(" \t\n\r")
        value, end = _SCAN(text, 0)
    except (UnicodeDecodeError, ValueError, RecursionError, StopIteration) as exc:
        raise MalformedToken(f"the token {what} is not a JSON object") from exc
    if end != len(text) or not isinstance(value, dict):
        raise MalformedToken(f"the token {what} is not a JSON object")
    return value


#: Parsed headers by their exact base64url text. Azure AD signs every token of a key with the
#: same header, so this saves a decode per validation; bounded, and read-only once stored.
_HEADERS: dict[str, Mapping[str, Any]] = {}
_HEADERS_MAX: Final = 64


def _header(h64: str) -> Mapping[str, Any]:
    header = _HEADERS.get(h64)
    if header is None:
        header = MappingProxyType(_json_object(b64url_decode(h64), "header"))
        if len(_HEADERS) >= _HEADERS_MAX:
            _HEADERS.clear()
        _HEADERS[h64] = header
    return header


class CompactJWS(NamedTuple):
    """A parsed compact JWS. Nothing in it is trusted until :func:`verify_rs256` passes.

    A NamedTuple rather than a dataclass: it is built once per validation on the sign-in path.
    """

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


def peek_header(token: str, *, max_bytes: int = MAX_TOKEN_BYTES) -> Mapping[str, Any]:
    """The decoded JOSE header of a compact token, trusting nothing: only to choose a parser."""
    return _header(_split(token, max_bytes)[0])


def parse_compact(token: str, *, alg: str = "RS256", max_bytes: int = MAX_TOKEN_BYTES) -> CompactJWS:
    """Parse a signed compact JWS whose ``alg`` must be exactly ``alg``.

    Raises :class:`MalformedToken` or :class:`UnsupportedAlgorithm`; verifies nothing.
    """
    h64, p64, s64 = _split(token, max_bytes)
    header = _header(h64)
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
    return CompactJWS(header, payload, token[: len(token) - len(s64) - 1].encode("ascii"), signature)


def parse_unsigned(token: str, *, max_bytes: int = MAX_TOKEN_BYTES) -> CompactJWS:
    """Parse an unsecured JWS (``alg: none``, empty signature; RFC 7519 6).

    Azure AD v1 returns such an id_token from the token endpoint. The caller decides whether
    that channel may carry one (OIDC Core 3.1.3.7 (6)); this only parses it.
    """
    h64, p64, s64 = _split(token, max_bytes)
    header = _header(h64)
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
