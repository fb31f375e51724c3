"""Encryption at rest for what a session store keeps: AES-256-GCM under a key from HKDF.

Keys: :func:`derive_key` turns ``AADWEB_SECRET_KEY`` into one 256-bit key per purpose with
HKDF-SHA256 (RFC 5869); the purpose is HKDF's ``info``, so the token key and, say, the cookie
signing key are independent even though they come from one secret.

Ciphertext format (version 1)::

    0x01 | key id (4 bytes) | nonce (12 random bytes) | AES-GCM ciphertext and 16-byte tag

* A fresh random 96-bit nonce per encryption (NIST SP 800-38D 8.2.2).
* The associated data is the header plus ``bound_to`` (the session id or state and the field
  name), so a ciphertext copied to another session, another pending sign-in or another column
  fails authentication instead of decrypting.
* The version byte lets the format change; the key id (a hash prefix of the key, not the key)
  lets a :class:`TokenCipher` built with ``previous`` keys read what older keys wrote (the
  mechanism for rotating ``AADWEB_SECRET_KEY``; no setting passes previous keys yet, so today a
  new key signs everybody out), and lets a failure say "another key" instead of "tampered".

Any failure to decrypt raises :class:`CiphertextInvalid`, whose message says only which of
those cases it was: never the ciphertext, the plaintext or the key.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aadweb.errors import SessionStoreError

__all__ = ["TOKENS_PURPOSE", "CiphertextInvalid", "OpenedCache", "TokenCipher", "derive_key"]

#: HKDF ``info`` of the key that encrypts tokens and other secrets in the session store.
TOKENS_PURPOSE: Final = b"aadweb session tokens v1"

_VERSION: Final = 1
_KEY_ID_LEN: Final = 4
_NONCE_LEN: Final = 12
_TAG_LEN: Final = 16
_HEADER_LEN: Final = 1 + _KEY_ID_LEN


class CiphertextInvalid(SessionStoreError):
    """Stored data failed to decrypt or decode: tampered, corrupted, moved, or under an unknown key.

    Stores catch it and treat the entry as gone (see ``aadweb.sessions._base``).
    """


def derive_key(secret_key: str, purpose: bytes) -> bytes:
    """A 256-bit key for ``purpose`` from the application secret, by HKDF-SHA256 (RFC 5869).

    Deterministic: every worker given the same ``AADWEB_SECRET_KEY`` derives the same key.
    Distinct ``purpose`` values give independent keys.
    """
    if not isinstance(secret_key, str) or not secret_key:
        raise ValueError("secret_key must be a non-empty str")
    if not isinstance(purpose, bytes) or not purpose:
        raise ValueError("purpose must be non-empty bytes")
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret_key.encode("utf-8"))


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"aadweb key id\x00" + key).digest()[:_KEY_ID_LEN]


class OpenedCache:
    """The values a cipher opened lately, by (what, record key, ciphertext): a signed-in page view
    reads the same sealed tokens on every request, and AES-GCM plus JSON plus the value objects
    cost more than the store read. Keyed by the ciphertext *and* the record it is bound to, so a
    hit is exactly what decrypting would give (a blob replayed into another record still misses
    and fails to open). Bounded (least recently used goes first), per process; the values are the
    frozen objects the store would have built anyway.
    """

    __slots__ = ("_entries", "_limit", "_lock")

    def __init__(self, limit: int = 1024) -> None:
        self._entries: OrderedDict[tuple[str, str, bytes], object] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, bytes]) -> object | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: tuple[str, str, bytes], value: object) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)


class TokenCipher:
    """AES-256-GCM with random nonces and ciphertexts bound to their place (``bound_to``).

    ``key`` encrypts; ``key`` and every key in ``previous`` decrypt (for key rotation).
    """

    __slots__ = ("_key_id", "_keys", "opened")

    def __init__(self, key: bytes, *, previous: Sequence[bytes] = ()) -> None:
        for k in (key, *previous):
            if not isinstance(k, bytes) or len(k) != 32:
                raise ValueError("TokenCipher keys must be 32 bytes (AES-256)")
        self._key_id = _key_id(key)
        self._keys: dict[bytes, AESGCM] = {_key_id(k): AESGCM(k) for k in reversed((key, *previous))}
        #: What this cipher opened lately (see :class:`OpenedCache`).
        self.opened = OpenedCache()

    @classmethod
    def from_secret(cls, secret_key: str, *, purpose: bytes = TOKENS_PURPOSE) -> TokenCipher:
        """The cipher for ``purpose`` derived from ``AADWEB_SECRET_KEY``."""
        return cls(derive_key(secret_key, purpose))

    def __repr__(self) -> str:
        return f"TokenCipher(key_id={self._key_id.hex()})"

    def encrypt(self, plaintext: bytes, *, bound_to: str) -> bytes:
        """Seal ``plaintext`` so that it opens only with the same ``bound_to``."""
        header = bytes([_VERSION]) + self._key_id
        nonce = os.urandom(_NONCE_LEN)
        sealed = self._keys[self._key_id].encrypt(nonce, plaintext, header + bound_to.encode("utf-8"))
        return header + nonce + sealed

    def decrypt(self, blob: bytes, *, bound_to: str) -> bytes:
        """Open a ciphertext of :meth:`encrypt`, or raise :class:`CiphertextInvalid`."""
        if not isinstance(blob, bytes) or len(blob) < _HEADER_LEN + _NONCE_LEN + _TAG_LEN:
            raise CiphertextInvalid("stored ciphertext is truncated or not bytes")
        if blob[0] != _VERSION:
            raise CiphertextInvalid(f"stored ciphertext has unknown format version {blob[0]}")
        header = blob[:_HEADER_LEN]
        nonce = blob[_HEADER_LEN : _HEADER_LEN + _NONCE_LEN]
        sealed = blob[_HEADER_LEN + _NONCE_LEN :]
        aead = self._keys.get(header[1:])
        if aead is None:
            raise CiphertextInvalid("stored ciphertext was written under another key (was AADWEB_SECRET_KEY changed?)")
        try:
            return aead.decrypt(nonce, sealed, header + bound_to.encode("utf-8"))
        except InvalidTag as exc:
            raise CiphertextInvalid("stored ciphertext failed authentication (tampered, corrupted or moved)") from exc
