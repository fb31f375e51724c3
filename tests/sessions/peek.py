"""Look under a store: what it holds at rest, as raw as it holds it, and tampering with that.

For the contract tests that must hold for every store (``memory:`` included): secrets are
sealed at rest, and a sealed value that was changed makes its record gone. Each store is
reached the way an attacker with access to its storage would: the sqlite files, the redis
keys, the memory store's objects (walked attribute by attribute, ``Secret`` values included).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import re
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import redis

from aadweb.sessions import MemorySessionStore, RedisSessionStore, SessionStore, SqliteSessionStore
from tests.redisserver import shared_redis

__all__ = ["SENTINELS", "at_rest", "tamper_pending", "tamper_session"]

#: Secret values the fixtures (and tests) put into stores; none may be found at rest.
SENTINELS = (
    "ACCESS-SENTINEL",
    "REFRESH-SENTINEL",
    "IDTOKEN-SENTINEL",
    "NONCE-SENTINEL",
    "VERIFIER-SENTINEL",
    "CSRF-SENTINEL",
    "CODE-SENTINEL",
    "POSTED-IDT-SENTINEL",
)


def flip(blob: bytes) -> bytes:
    """``blob`` with one bit of its last byte changed (inside the AES-GCM tag)."""
    return blob[:-1] + bytes([blob[-1] ^ 1])


def _walk(obj: object, seen: set[int]) -> Iterator[bytes]:
    """Every ``str`` and ``bytes`` reachable from ``obj``, private attributes included."""
    if id(obj) in seen or obj is None or isinstance(obj, bool | int | float):
        return
    seen.add(id(obj))
    if isinstance(obj, bytes | bytearray | memoryview):
        yield bytes(obj)
    elif isinstance(obj, str):
        yield obj.encode("utf-8")
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _walk(key, seen)
            yield from _walk(value, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            yield from _walk(item, seen)
    else:
        names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
        names += list(getattr(obj, "__dict__", {}))
        for name in names:
            with contextlib.suppress(AttributeError):
                yield from _walk(getattr(obj, name), seen)


def _b64_decoded(blob: bytes) -> list[bytes]:
    found = []
    for run in re.findall(rb"[A-Za-z0-9+/]{16,}={0,2}", blob):
        with contextlib.suppress(binascii.Error, ValueError):
            found.append(base64.b64decode(run, validate=True))
    return found


def _redis_client() -> redis.Redis:
    return redis.Redis.from_url(shared_redis().url)


def _redis_keys(raw: redis.Redis, store: RedisSessionStore) -> list[bytes]:
    prefix = store._keys._prefix
    return sorted(k for k in raw.scan_iter(match=store._keys.pattern) if k.startswith(prefix))


def at_rest(store: SessionStore) -> bytes:
    """Everything ``store`` holds, as it holds it (redis: base64 runs decoded as well)."""
    if isinstance(store, MemorySessionStore):
        held = (store._pending, store._sessions, store._locks)
        return b"\n".join(_walk(held, set()))
    if isinstance(store, SqliteSessionStore):
        db = Path(store._path)
        return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))
    if isinstance(store, RedisSessionStore):
        raw, out = _redis_client(), []
        try:
            for key in _redis_keys(raw, store):
                out.append(key)
                if raw.type(key) == b"hash":
                    for name, value in raw.hgetall(key).items():
                        out += (name, value)
                else:
                    out.append(raw.get(key) or b"")
        finally:
            raw.close()
        everything = b"\n".join(out)
        return b"\n".join([everything, *_b64_decoded(everything)])
    raise TypeError(f"no peek for {type(store).__name__}")


def tamper_session(store: SessionStore, session_id: str, field: str = "tokens") -> None:
    """Flip a bit of the session's sealed ``field`` (``tokens`` or ``csrf``) where it is stored."""
    if isinstance(store, MemorySessionStore):
        held = store._sessions[session_id]
        blob = getattr(held, field)
        assert isinstance(blob, bytes), f"the memory store holds {field} as {type(blob).__name__}, not sealed"
        store._sessions[session_id] = dataclasses.replace(held, **{field: flip(blob)})
    elif isinstance(store, SqliteSessionStore):
        conn = sqlite3.connect(store._path, isolation_level=None)
        conn.create_function("flip", 1, flip, deterministic=True)
        sql = f"UPDATE sessions SET {field} = flip({field}) WHERE session_id = ?"
        assert conn.execute(sql, (session_id,)).rowcount == 1
        conn.close()
    elif isinstance(store, RedisSessionStore):
        raw = _redis_client()
        key = store._keys.session(session_id)
        blob = raw.hget(key, field)
        assert isinstance(blob, bytes)
        raw.hset(key, field, flip(blob))
        raw.close()
    else:
        raise TypeError(f"no peek for {type(store).__name__}")


def tamper_pending(store: SessionStore, state: str) -> None:
    """Flip a bit of the pending sign-in's sealed nonce and PKCE verifier where they are stored."""
    if isinstance(store, MemorySessionStore):
        held, expires_at = store._pending[state]
        blob = getattr(held, "secrets", None)
        assert isinstance(blob, bytes), "the memory store does not hold pending secrets sealed"
        store._pending[state] = (dataclasses.replace(held, secrets=flip(blob)), expires_at)
    elif isinstance(store, SqliteSessionStore):
        conn = sqlite3.connect(store._path, isolation_level=None)
        conn.create_function("flip", 1, flip, deterministic=True)
        assert conn.execute("UPDATE pending SET secrets = flip(secrets) WHERE state = ?", (state,)).rowcount == 1
        conn.close()
    elif isinstance(store, RedisSessionStore):
        raw = _redis_client()
        key = store._keys.pending(state)
        value = raw.get(key)
        assert isinstance(value, bytes)
        head, sep, tail = value.partition(b'"secrets":"')
        assert sep
        sealed, quote, rest = tail.partition(b'"')
        raw.set(key, head + sep + base64.b64encode(flip(base64.b64decode(sealed))) + quote + rest, keepttl=True)
        raw.close()
    else:
        raise TypeError(f"no peek for {type(store).__name__}")
