"""Bytes for persistent stores (sqlite now, redis later): JSON inside AES-GCM for secrets.

Each sealed value is bound (AES-GCM associated data) to ``kind``, ``field`` and the key of its
record, e.g. ``("session", "tokens", session_id)``, so it cannot be replayed into another
record or another column. Claims are plain JSON: they are display data, not credentials.
Decoding failures raise :class:`~aadweb.sessions._crypto.CiphertextInvalid`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aadweb.errors import SessionStoreError
from aadweb.secret import Secret

from ._crypto import CiphertextInvalid, TokenCipher
from ._model import TokenSet, check_fields

__all__ = [
    "dump_claims",
    "load_claims",
    "open_fields",
    "open_pending_secrets",
    "open_text",
    "open_tokens",
    "seal_fields",
    "seal_pending_secrets",
    "seal_text",
    "seal_tokens",
]


def _bound(kind: str, field: str, key: str) -> str:
    return f"aadweb\x00{kind}\x00{field}\x00{key}"


def _seal(cipher: TokenCipher, value: Any, kind: str, field: str, key: str) -> bytes:
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return cipher.encrypt(raw, bound_to=_bound(kind, field, key))


def _open(cipher: TokenCipher, blob: bytes, kind: str, field: str, key: str) -> Any:
    raw = cipher.decrypt(bytes(blob), bound_to=_bound(kind, field, key))
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CiphertextInvalid(f"decrypted {kind} {field} is not valid JSON") from exc


def _secret(kind: str, value: object) -> Secret:
    if not isinstance(value, str) or not value:
        raise CiphertextInvalid(f"decrypted {kind} is not a non-empty string")
    return Secret(kind, value)


def _maybe_secret(kind: str, value: object) -> Secret | None:
    return None if value is None else _secret(kind, value)


def _reveal(value: Secret | None) -> str | None:
    return None if value is None else value.reveal()


def seal_tokens(cipher: TokenCipher, session_id: str, tokens: TokenSet) -> bytes:
    doc = {
        "access_token": tokens.access_token.reveal(),
        "refresh_token": _reveal(tokens.refresh_token),
        "id_token": _reveal(tokens.id_token),
        "expires_on": tokens.expires_on,
        "resource": tokens.resource,
    }
    return _seal(cipher, doc, "session", "tokens", session_id)


def open_tokens(cipher: TokenCipher, session_id: str, blob: bytes) -> TokenSet:
    doc = _open(cipher, blob, "session", "tokens", session_id)
    try:
        return TokenSet(
            access_token=_secret("access_token", doc["access_token"]),
            refresh_token=_maybe_secret("refresh_token", doc["refresh_token"]),
            id_token=_maybe_secret("id_token", doc["id_token"]),
            expires_on=doc["expires_on"],
            resource=doc["resource"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CiphertextInvalid("decrypted tokens have the wrong shape") from exc


def seal_text(cipher: TokenCipher, kind: str, field: str, key: str, text: str) -> bytes:
    return _seal(cipher, text, kind, field, key)


def open_text(cipher: TokenCipher, kind: str, field: str, key: str, blob: bytes) -> str:
    value = _open(cipher, blob, kind, field, key)
    if not isinstance(value, str):
        raise CiphertextInvalid(f"decrypted {kind} {field} is not a string")
    return value


def seal_pending_secrets(cipher: TokenCipher, state: str, nonce: Secret, code_verifier: Secret) -> bytes:
    doc = {"nonce": nonce.reveal(), "code_verifier": code_verifier.reveal()}
    return _seal(cipher, doc, "pending", "secrets", state)


def open_pending_secrets(cipher: TokenCipher, state: str, blob: bytes) -> tuple[Secret, Secret]:
    doc = _open(cipher, blob, "pending", "secrets", state)
    if not isinstance(doc, dict):
        raise CiphertextInvalid("decrypted pending secrets have the wrong shape")
    return _secret("nonce", doc.get("nonce")), _secret("code_verifier", doc.get("code_verifier"))


def seal_fields(cipher: TokenCipher, state: str, fields: Mapping[str, str]) -> bytes:
    return _seal(cipher, dict(fields), "pending", "callback", state)


def open_fields(cipher: TokenCipher, state: str, blob: bytes) -> dict[str, str]:
    doc = _open(cipher, blob, "pending", "callback", state)
    try:
        return check_fields(doc)
    except ValueError as exc:
        raise CiphertextInvalid("decrypted callback fields have the wrong shape") from exc


def dump_claims(claims: Mapping[str, Any]) -> str:
    """Claims as JSON; :class:`SessionStoreError` (naming no value) if they are not JSON."""
    try:
        return json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SessionStoreError("session claims are not JSON-serialisable") from exc


def load_claims(text: str) -> dict[str, Any]:
    try:
        claims = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise CiphertextInvalid("stored claims are not valid JSON") from exc
    if not isinstance(claims, dict):
        raise CiphertextInvalid("stored claims are not a JSON object")
    return claims
