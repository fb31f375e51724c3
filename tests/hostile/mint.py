"""Minting compact JWS by hand, including the ones no honest library would make.

Nothing here validates anything: the point is to produce exactly the bytes a test asks for
(``alg: none``, HS256 keyed with the RSA public key, RS512, raw payload text such as
``{"exp": 1e400}``, duplicate members, extra segments).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.hostile.keys import RsaKey, b64url

#: Marks a claim or header member to delete in an override dict.
DELETE: Any = object()


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in overrides.items():
        if value is DELETE:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def segment(value: dict[str, Any] | str | bytes) -> str:
    """A base64url segment of a JSON object, of raw JSON text, or of raw bytes."""
    if isinstance(value, dict):
        raw = json.dumps(value, separators=(",", ":")).encode()
    elif isinstance(value, str):
        raw = value.encode()
    else:
        raw = value
    return b64url(raw)


def sign(header: dict[str, Any] | str, payload: dict[str, Any] | str, *, key: RsaKey | None = None,
         alg: str | None = None, hmac_key: bytes | None = None) -> str:
    """``header.payload.signature`` signed per ``alg`` (default: the header's own ``alg``).

    RS256/RS384/RS512 use ``key``; HS256 uses ``hmac_key``; ``none`` leaves the signature empty.
    """
    if alg is None:
        alg = header.get("alg", "none") if isinstance(header, dict) else "none"
    signing_input = f"{segment(header)}.{segment(payload)}"
    if alg.lower() == "none":
        return signing_input + "."
    if alg.startswith("HS"):
        assert hmac_key is not None, "HS* needs hmac_key"
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return f"{signing_input}.{b64url(hmac.new(hmac_key, signing_input.encode(), digest).digest())}"
    assert key is not None, "RS* needs key"
    hash_alg = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}[alg]
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hash_alg)
    return f"{signing_input}.{b64url(signature)}"


def c_hash(code: str) -> str:
    """OIDC Core 3.3.2.11, computed independently of aadweb: left half of SHA-256, base64url."""
    return b64url(hashlib.sha256(code.encode("ascii")).digest()[:16])


def pkce_s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())
