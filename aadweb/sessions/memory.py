"""``memory:`` — the session store of one process (development, tests, a single worker).

Dicts behind one lock; every operation is atomic because it runs entirely under that lock.
It holds what sqlite and redis hold, through the same code (``aadweb.sessions._codec``):
tokens, nonce, PKCE verifier, CSRF token and the stashed callback only as AES-GCM ciphertext
bound to their record, decrypted only for the call that reads them. The key lives in the same
process, so this keeps tokens out of what a dump or a debugger lists in passing, not away from
someone who owns the process; what it buys most is one behaviour: the one contract test
(tampering included) covers this store exactly like the others. With several
worker processes each has its own store and sign-ins fail at random: use ``sqlite:///...`` there.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from aadweb.errors import SessionStoreError

from ._base import (
    acquire_polling,
    check_idle,
    check_ttl,
    check_wait,
    idle_cutoff,
    lock_name,
    touch_interval,
    warn_gone,
)
from ._codec import (
    SealedPending,
    SealedSession,
    open_pending,
    open_session,
    seal_fields,
    seal_pending,
    seal_session,
    seal_tokens,
)
from ._crypto import CiphertextInvalid, TokenCipher
from ._model import PendingSignIn, SessionRecord, TokenSet, check_fields

__all__ = ["MemorySessionStore"]


class MemorySessionStore:
    """The :class:`~aadweb.sessions.SessionStore` contract in one process's memory."""

    def __init__(self, *, cipher: TokenCipher, clock: Callable[[], float] = time.time, idle: float = 0) -> None:
        self.clock = clock
        self._cipher = cipher
        self._idle = check_idle(idle)
        self._touch_every = touch_interval(self._idle)
        self._lock = threading.Lock()
        self._closed = False
        self._pending: dict[str, tuple[SealedPending, float]] = {}
        self._sessions: dict[str, SealedSession] = {}
        self._locks: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"MemorySessionStore(idle={self._idle:g})" if self._idle else "MemorySessionStore()"

    def _check_open(self) -> None:
        if self._closed:
            raise SessionStoreError("memory session store is closed")

    def _alive(self, sealed: SealedSession, at: float) -> bool:
        return at < sealed.expires_at and sealed.last_seen > idle_cutoff(self._idle, at)

    # --- pending sign-ins -------------------------------------------------------------

    def put_pending(self, pending: PendingSignIn, ttl: float) -> None:
        check_ttl(ttl, "ttl")
        sealed = seal_pending(self._cipher, pending)
        with self._lock:
            self._check_open()
            now = self.clock()
            held = self._pending.get(pending.state)
            if held is not None and now < held[1]:
                raise SessionStoreError("a live pending sign-in already has this state")
            self._pending[pending.state] = (sealed, now + ttl)

    def take_pending(self, state: str, browser_id: str) -> PendingSignIn | None:
        with self._lock:
            self._check_open()
            held = self._pending.pop(state, None)  # removed whatever happens next
            now = self.clock()
        if held is None or now >= held[1]:
            return None
        sealed = held[0]
        if not hmac.compare_digest(sealed.browser_id.encode(), browser_id.encode()):
            return None  # deleted all the same: the state reached a browser that did not start it
        try:
            return open_pending(self._cipher, sealed)
        except (CiphertextInvalid, ValueError) as exc:
            warn_gone("state", state, str(exc))
            return None

    def stash_callback(self, state: str, fields: Mapping[str, str]) -> bool:
        copied = check_fields(fields)
        sealed = seal_fields(self._cipher, state, copied)
        with self._lock:
            self._check_open()
            held = self._pending.get(state)
            if held is None or self.clock() >= held[1] or held[0].callback is not None:
                return False
            self._pending[state] = (dataclasses.replace(held[0], callback=sealed), held[1])
            return True

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, record: SessionRecord) -> None:
        sealed = seal_session(self._cipher, record)
        with self._lock:
            self._check_open()
            if record.session_id in self._sessions:
                raise SessionStoreError("a session with this id already exists")
            self._sessions[record.session_id] = sealed

    def get_session(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            self._check_open()
            sealed = self._sessions.get(session_id)
            now = self.clock()
            if sealed is None or now >= sealed.expires_at:
                return None
            if not self._alive(sealed, now):  # idle: gone, and deleted
                del self._sessions[session_id]
                self._locks.pop(lock_name(session_id), None)
                return None
            if now - sealed.last_seen >= self._touch_every:
                sealed = dataclasses.replace(sealed, last_seen=now)
                self._sessions[session_id] = sealed
        try:
            return open_session(self._cipher, sealed)
        except (CiphertextInvalid, ValueError) as exc:
            warn_gone("session", session_id, str(exc))
            self.delete_session(session_id)
            return None

    def update_tokens(self, session_id: str, tokens: TokenSet | None, *, expected_version: int) -> bool:
        if tokens is not None and not isinstance(tokens, TokenSet):
            raise ValueError("tokens must be a TokenSet or None")
        sealed = None if tokens is None else seal_tokens(self._cipher, session_id, tokens)
        with self._lock:
            self._check_open()
            held = self._sessions.get(session_id)
            if held is None or not self._alive(held, self.clock()) or held.version != expected_version:
                return False
            self._sessions[session_id] = dataclasses.replace(held, tokens=sealed, version=held.version + 1)
            return True

    def delete_session(self, session_id: str) -> None:
        with self._lock:
            self._check_open()
            self._sessions.pop(session_id, None)
            self._locks.pop(lock_name(session_id), None)

    # --- housekeeping -----------------------------------------------------------------

    def purge_expired(self, now: float | None = None) -> int:
        with self._lock:
            self._check_open()
            at = self.clock() if now is None else now
            dead_p = [k for k, (_, exp) in self._pending.items() if at >= exp]
            dead_s = [k for k, r in self._sessions.items() if not self._alive(r, at)]
            dead_l = [k for k, (_, exp) in self._locks.items() if at >= exp]
            for key in dead_p:
                del self._pending[key]
            for key in dead_s:
                del self._sessions[key]
            for key in dead_l:
                del self._locks[key]
            return len(dead_p) + len(dead_s) + len(dead_l)

    def counts(self, now: float | None = None) -> dict[str, int]:
        with self._lock:
            self._check_open()
            at = self.clock() if now is None else now
            pending = sum(at < exp for _, exp in self._pending.values())
            sessions = sum(self._alive(r, at) for r in self._sessions.values())
            locks = sum(at < exp for _, exp in self._locks.values())
            total = len(self._pending) + len(self._sessions) + len(self._locks)
            expired = total - sessions - pending - locks
            return {"sessions": sessions, "pending": pending, "locks": locks, "expired": expired}

    def ping(self) -> None:
        with self._lock:
            self._check_open()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._sessions.clear()
            self._locks.clear()

    # --- single-flight refresh ------------------------------------------------------

    @contextmanager
    def refresh_lock(self, session_id: str, lease: float, *, wait: float = 0.0) -> Iterator[bool]:
        check_ttl(lease, "lease")
        check_wait(wait)
        name, owner = lock_name(session_id), secrets.token_hex(16)

        def try_acquire() -> bool:
            with self._lock:
                self._check_open()
                now = self.clock()
                held = self._locks.get(name)
                if held is not None and now < held[1]:
                    return False
                self._locks[name] = (owner, now + lease)
                return True

        mine = acquire_polling(try_acquire, wait)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    held = self._locks.get(name)
                    if held is not None and held[0] == owner:
                        del self._locks[name]
