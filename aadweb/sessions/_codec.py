"""What every store keeps (memory, sqlite, redis): JSON inside AES-GCM for secrets.

:func:`seal_session` / :func:`open_session` and :func:`seal_pending` / :func:`open_pending` are
the one code path between the model (``aadweb.sessions._model``) and what a store holds: a
:class:`SealedSession` or :class:`SealedPending`, whose plain fields are display or lookup data
and whose ``bytes`` fields are ciphertext. The memory store keeps these objects as they are;
sqlite maps their fields to columns, redis to hash fields or a value's lines.

Each sealed value is bound (AES-GCM associated data) to ``kind``, ``field`` and the key of its
record, e.g. ``("session", "tokens", session_id)``, so it cannot be replayed into another
record or another column. Claims are plain JSON: they are display data, not credentials.
Decoding failures raise :class:`~aadweb.sessions._crypto.CiphertextInvalid`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aadweb.errors import SessionStoreError
from aadweb.secret import Secret

from ._crypto import CiphertextInvalid, TokenCipher
from ._model import PendingSignIn, ResourceToken, SessionRecord, TokenSet, check_fields

__all__ = [
    "SealedPending",
    "SealedSession",
    "dump_claims",
    "load_claims",
    "open_fields",
    "open_pending",
    "open_session",
    "open_tokens",
    "seal_fields",
    "seal_pending",
    "seal_session",
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
    doc: dict[str, Any] = {
        "access_token": tokens.access_token.reveal(),
        "refresh_token": _reveal(tokens.refresh_token),
        "id_token": _reveal(tokens.id_token),
        "expires_on": tokens.expires_on,
        "resource": tokens.resource,
    }
    if tokens.others:
        doc["others"] = {r: {"access_token": t.access_token.reveal(), "expires_on": t.expires_on}
                         for r, t in tokens.others.items()}
    return _seal(cipher, doc, "session", "tokens", session_id)


def open_tokens(cipher: TokenCipher, session_id: str, blob: bytes) -> TokenSet:
    key = ("tokens", session_id, bytes(blob))
    cached = cipher.opened.get(key)
    if isinstance(cached, TokenSet):
        return cached
    tokens = _open_tokens(cipher, session_id, blob)
    cipher.opened.put(key, tokens)
    return tokens


def _open_tokens(cipher: TokenCipher, session_id: str, blob: bytes) -> TokenSet:
    doc = _open(cipher, blob, "session", "tokens", session_id)
    try:
        return TokenSet(
            access_token=_secret("access_token", doc["access_token"]),
            refresh_token=_maybe_secret("refresh_token", doc["refresh_token"]),
            id_token=_maybe_secret("id_token", doc["id_token"]),
            expires_on=doc["expires_on"],
            resource=doc["resource"],
            others={r: ResourceToken(access_token=_secret("access_token", t["access_token"]),
                                     expires_on=t["expires_on"])
                    for r, t in doc.get("others", {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CiphertextInvalid("decrypted tokens have the wrong shape") from exc


def seal_text(cipher: TokenCipher, kind: str, field: str, key: str, text: str) -> bytes:
    return _seal(cipher, text, kind, field, key)


def open_text(cipher: TokenCipher, kind: str, field: str, key: str, blob: bytes) -> str:
    cache_key = (f"{kind}\x00{field}", key, bytes(blob))
    cached = cipher.opened.get(cache_key)
    if isinstance(cached, str):
        return cached
    value = _open(cipher, blob, kind, field, key)
    if not isinstance(value, str):
        raise CiphertextInvalid(f"decrypted {kind} {field} is not a string")
    cipher.opened.put(cache_key, value)
    return value


def seal_pending_secrets(cipher: TokenCipher, state: str, nonce: Secret, code_verifier: Secret,
                         resource: str | None = None) -> bytes:
    doc = {"nonce": nonce.reveal(), "code_verifier": code_verifier.reveal()}
    if resource is not None:
        doc["resource"] = resource  # not a secret; kept here so no store needs a new column
    return _seal(cipher, doc, "pending", "secrets", state)


def open_pending_secrets(cipher: TokenCipher, state: str, blob: bytes) -> tuple[Secret, Secret, str | None]:
    doc = _open(cipher, blob, "pending", "secrets", state)
    if not isinstance(doc, dict):
        raise CiphertextInvalid("decrypted pending secrets have the wrong shape")
    resource = doc.get("resource")
    if resource is not None and (not isinstance(resource, str) or not resource):
        raise CiphertextInvalid("decrypted pending resource has the wrong shape")
    return _secret("nonce", doc.get("nonce")), _secret("code_verifier", doc.get("code_verifier")), resource


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


# --- whole records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedSession:
    """A session as a store holds it: ``claims`` as JSON text, ``tokens`` and ``csrf`` sealed
    to ``session_id`` (``tokens`` is ``None`` when the session has none)."""

    session_id: str
    created_at: float
    expires_at: float
    last_seen: float
    claims: str
    tokens: bytes | None
    csrf: bytes
    flow_id: str
    version: int


def seal_session(cipher: TokenCipher, r: SessionRecord) -> SealedSession:
    sid = r.session_id
    return SealedSession(
        session_id=sid,
        created_at=r.created_at,
        expires_at=r.expires_at,
        last_seen=r.last_seen,
        claims=dump_claims(r.claims),
        tokens=None if r.tokens is None else seal_tokens(cipher, sid, r.tokens),
        csrf=seal_text(cipher, "session", "csrf", sid, r.csrf_token),
        flow_id=r.flow_id,
        version=r.version,
    )


def open_session(cipher: TokenCipher, s: SealedSession) -> SessionRecord:
    """The session back; :class:`CiphertextInvalid` or ``ValueError`` if it is not one any more."""
    sid = s.session_id
    return SessionRecord(  # every field is checked by SessionRecord itself
        session_id=sid,
        created_at=s.created_at,
        expires_at=s.expires_at,
        last_seen=s.last_seen,
        claims=load_claims(s.claims),
        tokens=None if s.tokens is None else open_tokens(cipher, sid, s.tokens),
        csrf_token=open_text(cipher, "session", "csrf", sid, s.csrf),
        flow_id=s.flow_id,
        version=s.version,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedPending:
    """A pending sign-in as a store holds it: nonce and PKCE verifier sealed together in
    ``secrets``, the stashed callback fields sealed in ``callback``; both bound to ``state``."""

    state: str
    browser_id: str
    return_path: str
    response_type: str
    created_at: float
    secrets: bytes
    callback: bytes | None


def seal_pending(cipher: TokenCipher, p: PendingSignIn) -> SealedPending:
    return SealedPending(
        state=p.state,
        browser_id=p.browser_id,
        return_path=p.return_path,
        response_type=p.response_type,
        created_at=p.created_at,
        secrets=seal_pending_secrets(cipher, p.state, p.nonce, p.code_verifier, p.resource),
        callback=None if p.callback is None else seal_fields(cipher, p.state, p.callback),
    )


def open_pending(cipher: TokenCipher, s: SealedPending) -> PendingSignIn:
    """The pending sign-in back; :class:`CiphertextInvalid` or ``ValueError`` if it is not one."""
    nonce, verifier, resource = open_pending_secrets(cipher, s.state, s.secrets)
    return PendingSignIn(  # every field is checked by PendingSignIn itself
        state=s.state,
        browser_id=s.browser_id,
        nonce=nonce,
        code_verifier=verifier,
        return_path=s.return_path,
        created_at=s.created_at,
        response_type=s.response_type,
        callback=None if s.callback is None else open_fields(cipher, s.state, s.callback),
        resource=resource,
    )
