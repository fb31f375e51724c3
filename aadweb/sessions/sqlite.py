"""``sqlite:///path`` — the default store: many worker processes on one host share one file.

How the contract (``aadweb.sessions._base``) is kept on SQLite (connections, WAL, busy
timeout, schema and error translation are in ``aadweb.sessions._sqlite_db``):

* ``take_pending`` is ``DELETE ... RETURNING`` (SQLite >= 3.35), else ``BEGIN IMMEDIATE``,
  ``SELECT``, ``DELETE``: atomic single use either way, across threads and processes.
* ``put_pending``, ``create_session``, ``stash_callback``, ``update_tokens`` and taking the
  refresh lock are one conditional statement each (upsert ``... WHERE``, ``ON CONFLICT DO
  NOTHING``, ``UPDATE ... WHERE``): compare-and-set by construction.
* Tokens, nonce, PKCE verifier, CSRF token and the stashed callback are stored only as
  AES-GCM ciphertext bound to their row (``aadweb.sessions._codec``); claims are JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from aadweb.errors import SessionStoreError

from ._base import (
    acquire_polling,
    check_idle,
    check_ttl,
    check_wait,
    idle_cutoff,
    lock_name,
    log,
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
from ._model import PendingSignIn, SessionRecord, TokenSet, check_fields, is_key
from ._sqlite_db import Database

__all__ = ["SqliteSessionStore"]

_RETURNING_SQLITE: Final = (3, 35, 0)

_PUT_PENDING: Final = """INSERT INTO pending (state, browser_id, return_path, response_type, created_at,
    expires_at, secrets, callback) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (state) DO UPDATE SET browser_id = excluded.browser_id, return_path = excluded.return_path,
    response_type = excluded.response_type, created_at = excluded.created_at, expires_at = excluded.expires_at,
    secrets = excluded.secrets, callback = excluded.callback WHERE pending.expires_at <= ?"""
_TAKE_RETURNING: Final = """DELETE FROM pending WHERE state = ?
    RETURNING browser_id, return_path, response_type, created_at, expires_at, secrets, callback"""
_SELECT_PENDING: Final = """SELECT browser_id, return_path, response_type, created_at, expires_at, secrets,
    callback FROM pending WHERE state = ?"""
_CREATE_SESSION: Final = """INSERT INTO sessions (session_id, created_at, expires_at, last_seen, claims, tokens,
    csrf, flow_id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING"""
_GET_SESSION: Final = """SELECT created_at, expires_at, last_seen, claims, tokens, csrf, flow_id, version
    FROM sessions WHERE session_id = ? AND expires_at > ?"""
# A session is alive while expires_at > :now AND last_seen > :cutoff (the idle cutoff; -inf
# without an idle limit), and dead (expires_at <= :now OR last_seen <= :cutoff) otherwise.
_UPDATE_TOKENS: Final = """UPDATE sessions SET tokens = :tokens, version = version + 1
    WHERE session_id = :sid AND version = :version AND expires_at > :now AND last_seen > :cutoff"""
_PURGE: Final = (
    "DELETE FROM pending WHERE expires_at <= :now",
    "DELETE FROM sessions WHERE expires_at <= :now OR last_seen <= :cutoff",
    "DELETE FROM locks WHERE expires_at <= :now",
)
_TAKE_LOCK: Final = """INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
    WHERE locks.expires_at <= ?"""
_COUNTS: Final = """SELECT
    (SELECT count(*) FROM sessions WHERE expires_at > :now AND last_seen > :cutoff),
    (SELECT count(*) FROM pending WHERE expires_at > :now),
    (SELECT count(*) FROM locks WHERE expires_at > :now),
    (SELECT count(*) FROM sessions WHERE expires_at <= :now OR last_seen <= :cutoff)
    + (SELECT count(*) FROM pending WHERE expires_at <= :now)
    + (SELECT count(*) FROM locks WHERE expires_at <= :now)"""


class SqliteSessionStore:
    """The :class:`~aadweb.sessions.SessionStore` contract on one SQLite file (see module doc)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        cipher: TokenCipher,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
        use_returning: bool | None = None,
        idle: float = 0,
    ) -> None:
        self.clock = clock
        self._idle = check_idle(idle)
        self._touch_every = touch_interval(self._idle)
        self._path = os.fspath(path)
        if not self._path or self._path == ":memory:" or self._path.startswith("file:"):
            raise ValueError("the sqlite store needs a file path (use memory: for an in-process store)")
        check_ttl(busy_timeout, "busy_timeout")
        self._cipher = cipher
        self._returning = sqlite3.sqlite_version_info >= _RETURNING_SQLITE if use_returning is None else use_returning
        self._sql = Database(self._path, busy_timeout=busy_timeout)

    def __repr__(self) -> str:
        return f"SqliteSessionStore({self._path!r})"

    # --- pending sign-ins -------------------------------------------------------------

    def put_pending(self, pending: PendingSignIn, ttl: float) -> None:
        check_ttl(ttl, "ttl")
        p = seal_pending(self._cipher, pending)
        now = self.clock()
        row = (p.state, p.browser_id, p.return_path, p.response_type, p.created_at, now + ttl, p.secrets, p.callback)
        with self._sql.run("storing a pending sign-in") as conn:
            cur = conn.execute(_PUT_PENDING, (*row, now))
        if cur.rowcount != 1:
            raise SessionStoreError("a live pending sign-in already has this state")

    def take_pending(self, state: str, browser_id: str) -> PendingSignIn | None:
        if not is_key(state):
            return None
        if self._returning:
            with self._sql.run("taking a pending sign-in") as conn:
                rows = conn.execute(_TAKE_RETURNING, (state,)).fetchall()
        else:
            with self._sql.transaction("taking a pending sign-in") as conn:
                rows = conn.execute(_SELECT_PENDING, (state,)).fetchall()
                if rows:
                    conn.execute("DELETE FROM pending WHERE state = ?", (state,))
        if not rows:
            return None
        bound, return_path, response_type, created_at, expires_at, sealed, posted = rows[0]
        if self.clock() >= expires_at:
            return None
        if not hmac.compare_digest(str(bound).encode(), browser_id.encode()):
            return None  # deleted all the same: the state reached a browser that did not start it
        try:
            return open_pending(self._cipher, SealedPending(
                state=state, browser_id=bound, return_path=return_path, response_type=response_type,
                created_at=created_at, secrets=sealed, callback=posted,
            ))
        except (CiphertextInvalid, ValueError) as exc:
            warn_gone("state", state, str(exc))
            return None

    def stash_callback(self, state: str, fields: Mapping[str, str]) -> bool:
        copied = check_fields(fields)
        if not is_key(state):
            return False
        sealed = seal_fields(self._cipher, state, copied)
        with self._sql.run("stashing a sign-in callback") as conn:
            cur = conn.execute(
                "UPDATE pending SET callback = ? WHERE state = ? AND callback IS NULL AND expires_at > ?",
                (sealed, state, self.clock()),
            )
        return cur.rowcount == 1

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, r: SessionRecord) -> None:
        s = seal_session(self._cipher, r)
        row = (s.session_id, s.created_at, s.expires_at, s.last_seen, s.claims, s.tokens, s.csrf, s.flow_id, s.version)
        with self._sql.run("creating a session") as conn:
            cur = conn.execute(_CREATE_SESSION, row)
        if cur.rowcount != 1:
            raise SessionStoreError("a session with this id already exists")

    def get_session(self, session_id: str) -> SessionRecord | None:
        if not is_key(session_id):
            return None
        now = self.clock()
        with self._sql.run("reading a session") as conn:
            row = conn.execute(_GET_SESSION, (session_id, now)).fetchone()
        if row is None:
            return None
        last_seen = row[2]
        if last_seen <= (cutoff := idle_cutoff(self._idle, now)):  # idle: gone, and deleted
            with self._sql.transaction("deleting an idle session") as conn:
                deleted = conn.execute(
                    "DELETE FROM sessions WHERE session_id = ? AND last_seen <= ?", (session_id, cutoff)
                ).rowcount
                if deleted:
                    conn.execute("DELETE FROM locks WHERE name = ?", (lock_name(session_id),))
            return None
        try:
            record = self._record(session_id, row)
        except (CiphertextInvalid, ValueError) as exc:
            warn_gone("session", session_id, str(exc))
            self.delete_session(session_id)
            return None
        if now - last_seen < self._touch_every:
            return record
        with self._sql.run("updating last_seen") as conn:  # only forward: never undo a later touch
            conn.execute("UPDATE sessions SET last_seen = ? WHERE session_id = ? AND last_seen < ?",
                         (now, session_id, now))
        return dataclasses.replace(record, last_seen=now)

    def _record(self, session_id: str, row: tuple[Any, ...]) -> SessionRecord:
        created_at, expires_at, last_seen, claims, tokens, csrf, flow_id, version = row
        return open_session(self._cipher, SealedSession(
            session_id=session_id, created_at=created_at, expires_at=expires_at, last_seen=last_seen,
            claims=claims, tokens=tokens, csrf=csrf, flow_id=flow_id, version=version,
        ))

    def update_tokens(self, session_id: str, tokens: TokenSet | None, *, expected_version: int) -> bool:
        if tokens is not None and not isinstance(tokens, TokenSet):
            raise ValueError("tokens must be a TokenSet or None")
        if not is_key(session_id):
            return False
        sealed = None if tokens is None else seal_tokens(self._cipher, session_id, tokens)
        now = self.clock()
        with self._sql.run("updating tokens") as conn:
            cur = conn.execute(
                _UPDATE_TOKENS,
                {"tokens": sealed, "sid": session_id, "version": expected_version, "now": now,
                 "cutoff": idle_cutoff(self._idle, now)},
            )
        return cur.rowcount == 1

    def delete_session(self, session_id: str) -> None:
        with self._sql.transaction("deleting a session") as conn:
            conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM locks WHERE name = ?", (lock_name(session_id),))

    # --- housekeeping -----------------------------------------------------------------

    def purge_expired(self, now: float | None = None) -> int:
        at = self.clock() if now is None else now
        times = {"now": at, "cutoff": idle_cutoff(self._idle, at)}
        with self._sql.transaction("purging expired entries") as conn:
            return sum(conn.execute(statement, times).rowcount for statement in _PURGE)

    def counts(self, now: float | None = None) -> dict[str, int]:
        at = self.clock() if now is None else now
        with self._sql.run("counting entries") as conn:
            times = {"now": at, "cutoff": idle_cutoff(self._idle, at)}
            sessions, pending, locks, expired = conn.execute(_COUNTS, times).fetchone()
        return {"sessions": sessions, "pending": pending, "locks": locks, "expired": expired}

    def ping(self) -> None:
        with self._sql.run("ping") as conn:
            conn.execute("SELECT version FROM schema_version").fetchall()

    def close(self) -> None:
        self._sql.close()

    # --- single-flight refresh ------------------------------------------------------

    @contextlib.contextmanager
    def refresh_lock(self, session_id: str, lease: float, *, wait: float = 0.0) -> Iterator[bool]:
        check_ttl(lease, "lease")
        check_wait(wait)
        name, owner = lock_name(session_id), secrets.token_hex(16)

        def try_acquire() -> bool:
            now = self.clock()
            with self._sql.run("taking a refresh lock") as conn:
                return conn.execute(_TAKE_LOCK, (name, owner, now + lease, now)).rowcount == 1

        mine = acquire_polling(try_acquire, wait)
        try:
            yield mine
        finally:
            if mine:
                try:
                    with self._sql.run("releasing a refresh lock") as conn:
                        conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
                except SessionStoreError as exc:  # the lease ends it anyway
                    log.warning("session store: %s; the lock ends with its lease", exc)
