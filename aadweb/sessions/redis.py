"""``redis://host:port/db`` (``rediss://`` for TLS) — the store for many hosts.

How the contract (``aadweb.sessions._base``) is kept on Redis (the key layout, the value formats
and the Lua scripts are in ``aadweb.sessions._redis_layout``; URL, pool and errors in
``aadweb.sessions._redis_conn``):

* **Dual expiry.** Each value holds its logical expiry on the store's ``clock``, and every
  read or script compares it with ``clock()``: that is the expiry of the contract. Each key
  also has a Redis TTL in real time, ``max(expires_at - clock(), 1 s) + 60 s``, so Redis drops
  it soon after; ``purge_expired`` deletes what is logically expired before that. All hosts
  should keep their clocks in step (NTP), as for any shared expiry.
* ``take_pending`` is ``GETDEL`` (Redis >= 6.2, read from ``INFO server`` at first use), else
  ``MULTI GET DEL EXEC``: atomic single use either way. The expiry and browser checks come after
  the delete, so a mismatched browser still spends the state.
* ``put_pending``, ``stash_callback``, ``create_session``, ``update_tokens`` and the lock are
  Lua scripts: check and write in one atomic step on the server.
* **Refresh lock**: a key holding ``<expires_at>\\n<owner>`` with a random owner; taken by a
  script that treats a logically expired lock as free; released by compare-and-delete, so a late
  release frees nothing. While the block runs, a daemon thread renews the lease every
  ``lease / 3`` seconds (compare-and-set on the owner), so a slow refresh keeps its lock; if the
  process dies, renewal stops and the lease ends by itself.
* Tokens, nonce, PKCE verifier, CSRF token and the stashed callback are stored only as AES-GCM
  ciphertext bound to their record (``aadweb.sessions._codec``, shared with sqlite and memory).
* Every Redis failure is SessionStoreError at once (no retries): the app answers 503, and works
  again as soon as Redis does, with the same store object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from aadweb.errors import SessionStoreError

from ._base import (
    COUNT_KEYS,
    acquire_polling,
    check_idle,
    check_ttl,
    check_wait,
    idle_limit,
    lock_name,
    log,
    touch_interval,
    warn_gone,
)
from ._codec import seal_tokens
from ._crypto import CiphertextInvalid, TokenCipher
from ._model import PendingSignIn, SessionRecord, TokenSet, check_fields, is_key
from ._redis_conn import RedisConnection, parse_redis_url
from ._redis_layout import (
    CREATE_SESSION,
    EXPIRY_SWEEP,
    RELEASE_LOCK,
    RENEW_LOCK,
    SET_UNLESS_LIVE,
    STASH_CALLBACK,
    TOUCH_SESSION,
    UPDATE_TOKENS,
    Keys,
    decode_pending,
    decode_session,
    encode_pending,
    encode_session,
    lock_value,
    seal_callback,
    session_expires_at,
    session_last_seen,
    split_pending,
    ttl_ms,
)

__all__ = ["RedisSessionStore"]

_GETDEL_REDIS: Final = (6, 2)
_SCAN_COUNT: Final = 500
_MIN_RENEW_INTERVAL: Final = 0.01
_Arg = bytes | str | int | float  # what a Lua script's ARGV takes


def _num(value: float) -> str:
    return repr(float(value))


class RedisSessionStore:
    """The :class:`~aadweb.sessions.SessionStore` contract on one Redis database (see module doc).

    ``url`` is ``redis[s]://[[user]:password@]host[:port][/db][?prefix=aadweb:&timeout=2]``.
    ``use_getdel`` forces (``True``) or avoids (``False``) ``GETDEL``; by default the server
    version decides.
    """

    def __init__(
        self,
        url: str,
        *,
        cipher: TokenCipher,
        clock: Callable[[], float] = time.time,
        use_getdel: bool | None = None,
        idle: float = 0,
    ) -> None:
        self.clock = clock
        self._cipher = cipher
        idle = check_idle(idle)
        self._idle_limit = idle_limit(idle)
        self._touch_every = touch_interval(idle)
        self._use_getdel = use_getdel
        self._redis = RedisConnection(parse_redis_url(url))
        self._keys = Keys(self._redis.target.prefix)
        client = self._redis.client
        self._set_unless_live = client.register_script(SET_UNLESS_LIVE)
        self._stash = client.register_script(STASH_CALLBACK)
        self._create = client.register_script(CREATE_SESSION)
        self._touch = client.register_script(TOUCH_SESSION)
        self._update = client.register_script(UPDATE_TOKENS)
        self._release = client.register_script(RELEASE_LOCK)
        self._renew = client.register_script(RENEW_LOCK)
        self._sweep = client.register_script(EXPIRY_SWEEP)

    def __repr__(self) -> str:
        return f"RedisSessionStore({self._redis.target.where!r})"

    @property
    def where(self) -> str:
        """``redis at host:port/db``, as error messages name the server (never the password)."""
        return self._redis.target.where

    def _getdel(self) -> bool:
        if self._use_getdel is None:
            self._use_getdel = self._redis.server_version() >= _GETDEL_REDIS
        return self._use_getdel

    # --- pending sign-ins -------------------------------------------------------------

    def put_pending(self, pending: PendingSignIn, ttl: float) -> None:
        check_ttl(ttl, "ttl")
        now = self.clock()
        value = encode_pending(self._cipher, pending, now + ttl)
        with self._redis.run("storing a pending sign-in"):
            written = self._set_unless_live(
                keys=[self._keys.pending(pending.state)], args=[_num(now), value, ttl_ms(ttl)]
            )
        if written != 1:
            raise SessionStoreError("a live pending sign-in already has this state")

    def take_pending(self, state: str, browser_id: str) -> PendingSignIn | None:
        if not is_key(state):
            return None
        key, getdel = self._keys.pending(state), self._getdel()
        with self._redis.run("taking a pending sign-in") as r:
            if getdel:
                value: Any = r.getdel(key)
            else:
                pipe = r.pipeline(transaction=True)  # MULTI GET DEL EXEC: atomic as well
                pipe.get(key)
                pipe.delete(key)
                value = pipe.execute()[0]
        if value is None:
            return None
        try:
            expires_at, doc, callback = split_pending(value)
        except CiphertextInvalid as exc:
            warn_gone("state", state, str(exc))
            return None
        if self.clock() >= expires_at:
            return None
        bound = doc.get("browser_id")
        if not isinstance(bound, str) or not hmac.compare_digest(bound.encode(), browser_id.encode()):
            return None  # deleted all the same: the state reached a browser that did not start it
        try:
            return decode_pending(self._cipher, state, doc, callback)
        except (CiphertextInvalid, ValueError) as exc:
            warn_gone("state", state, str(exc))
            return None

    def stash_callback(self, state: str, fields: Mapping[str, str]) -> bool:
        copied = check_fields(fields)
        if not is_key(state):
            return False
        line = seal_callback(self._cipher, state, copied)
        with self._redis.run("stashing a sign-in callback"):
            return bool(self._stash(keys=[self._keys.pending(state)], args=[_num(self.clock()), line]) == 1)

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, record: SessionRecord) -> None:
        fields = encode_session(self._cipher, record)
        args: list[_Arg] = [ttl_ms(record.expires_at - self.clock())]
        for name, value in fields.items():
            args += (name, value)
        with self._redis.run("creating a session"):
            created = self._create(keys=[self._keys.session(record.session_id)], args=args)
        if created != 1:
            raise SessionStoreError("a session with this id already exists")

    def get_session(self, session_id: str) -> SessionRecord | None:
        if not is_key(session_id):
            return None
        key, now = self._keys.session(session_id), self.clock()
        with self._redis.run("reading a session") as r:
            fields: Any = r.hgetall(key)
        if not fields:
            return None
        try:
            if now >= session_expires_at(fields):
                return None
            if self._idle_limit and now - session_last_seen(fields) >= self._idle_limit:
                self.delete_session(session_id)  # idle: gone, and deleted
                return None
            record = decode_session(self._cipher, session_id, fields)
        except (CiphertextInvalid, ValueError) as exc:
            warn_gone("session", session_id, str(exc))
            self.delete_session(session_id)
            return None
        if now - record.last_seen < self._touch_every:
            return record
        with self._redis.run("updating last_seen"):
            self._touch(keys=[key], args=[_num(now)])
        return dataclasses.replace(record, last_seen=now)

    def update_tokens(self, session_id: str, tokens: TokenSet | None, *, expected_version: int) -> bool:
        if tokens is not None and not isinstance(tokens, TokenSet):
            raise ValueError("tokens must be a TokenSet or None")
        if not is_key(session_id):
            return False
        args: list[_Arg] = [_num(self.clock()), _num(self._idle_limit), str(int(expected_version))]
        args += [b"0"] if tokens is None else [b"1", seal_tokens(self._cipher, session_id, tokens)]
        with self._redis.run("updating tokens"):
            return bool(self._update(keys=[self._keys.session(session_id)], args=args) == 1)

    def delete_session(self, session_id: str) -> None:
        with self._redis.run("deleting a session") as r:
            r.delete(self._keys.session(session_id), self._keys.lock(lock_name(session_id)))

    # --- housekeeping -----------------------------------------------------------------

    def _sweep_all(self, what: str, at: float, mode: str) -> Iterator[tuple[str, int]]:
        """``(kind, 1 alive / 0 expired / -1 gone)`` for every key of this store (SCAN)."""
        with self._redis.run(what) as r:
            found = {k for k in r.scan_iter(match=self._keys.pattern, count=_SCAN_COUNT) if self._keys.kind(k)}
            keys = sorted(found)
            for start in range(0, len(keys), _SCAN_COUNT):
                batch = keys[start : start + _SCAN_COUNT]
                results = self._sweep(keys=batch, args=[_num(at), mode, _num(self._idle_limit)])
                for key, result in zip(batch, results, strict=True):
                    yield str(self._keys.kind(key)), int(result)

    def purge_expired(self, now: float | None = None) -> int:
        """Delete what is logically expired at ``now``; Redis drops the rest by TTL itself."""
        at = self.clock() if now is None else now
        return sum(result == 0 for _, result in self._sweep_all("purging expired entries", at, "purge"))

    def counts(self, now: float | None = None) -> dict[str, int]:
        at = self.clock() if now is None else now
        tally = dict.fromkeys(COUNT_KEYS, 0)
        for kind, result in self._sweep_all("counting entries", at, "count"):
            if result == 1:
                tally[kind] += 1
            elif result == 0:
                tally["expired"] += 1
        return tally

    def ping(self) -> None:
        with self._redis.run("ping") as r:
            r.ping()

    def close(self) -> None:
        self._redis.close()

    # --- single-flight refresh ------------------------------------------------------

    @contextlib.contextmanager
    def refresh_lock(self, session_id: str, lease: float, *, wait: float = 0.0) -> Iterator[bool]:
        check_ttl(lease, "lease")
        check_wait(wait)
        key, owner = self._keys.lock(lock_name(session_id)), secrets.token_hex(16)

        def take() -> bool:
            now = self.clock()
            with self._redis.run("taking a refresh lock"):
                args: list[_Arg] = [_num(now), lock_value(now + lease, owner), ttl_ms(lease)]
                return bool(self._set_unless_live(keys=[key], args=args) == 1)

        def renew() -> bool:  # compare-and-set on the owner: never revives a lock someone else took
            with self._redis.run("renewing a refresh lock"):
                args: list[_Arg] = [owner, lock_value(self.clock() + lease, owner), ttl_ms(lease)]
                return bool(self._renew(keys=[key], args=args) == 1)

        mine = acquire_polling(take, wait)
        keeper = _LeaseKeeper(renew, lease) if mine else None
        try:
            yield mine
        finally:
            if keeper is not None:
                keeper.stop()
                try:
                    with self._redis.run("releasing a refresh lock"):
                        self._release(keys=[key], args=[owner])
                except SessionStoreError as exc:  # the lease ends it anyway
                    log.warning("session store: %s; the lock ends with its lease", exc)


class _LeaseKeeper:
    """Renews a held lock every ``lease / 3`` seconds (real time) until :meth:`stop`."""

    def __init__(self, renew: Callable[[], bool], lease: float) -> None:
        self._renew = renew
        self._interval = max(lease / 3, _MIN_RENEW_INTERVAL)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aadweb-redis-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                if not self._renew():
                    log.warning("session store: a refresh lock was lost before its block ended")
                    return
            except SessionStoreError as exc:  # Redis away: try again next time, the lease may survive
                log.warning("session store: %s", exc)

    def stop(self) -> None:
        """Stop renewing. A renewal still in flight is harmless: it needs the owner's token."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
