"""Fixtures for the session store tests: a hand-moved clock and every store behind one fixture.

To run the contract against another store, add a factory to ``STORE_FACTORIES``. The redis
factories share one ``redis-server`` per test session (``tests.redisserver``), each store under
a fresh key prefix.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aadweb.secret import Secret
from aadweb.sessions import (
    MemorySessionStore,
    PendingSignIn,
    RedisSessionStore,
    SessionRecord,
    SessionStore,
    SqliteSessionStore,
    TokenCipher,
    TokenSet,
)
from tests.redisserver import shared_redis, stop_shared_redis

SECRET_KEY = "k" * 40
T0 = 1_800_000_000.0


class FakeClock:
    """``time.time`` that moves only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: ``factory(tmp_path, clock, idle=0)``: a store; ``idle`` is its idle limit (0: none).
StoreFactory = Callable[..., SessionStore]
#: The idle limit of the ``idle_store`` fixture (AADWEB_SESSION_IDLE), in seconds.
IDLE = 300.0


def _memory(tmp: Path, clock: FakeClock, idle: float = 0) -> SessionStore:
    return MemorySessionStore(cipher=TokenCipher.from_secret(SECRET_KEY), clock=clock, idle=idle)


def _sqlite(tmp: Path, clock: FakeClock, idle: float = 0) -> SessionStore:
    cipher = TokenCipher.from_secret(SECRET_KEY)
    return SqliteSessionStore(tmp / "sessions.db", cipher=cipher, clock=clock, idle=idle)


def _sqlite_without_returning(tmp: Path, clock: FakeClock, idle: float = 0) -> SessionStore:
    """The BEGIN IMMEDIATE + SELECT + DELETE path used on SQLite < 3.35."""
    cipher = TokenCipher.from_secret(SECRET_KEY)
    return SqliteSessionStore(tmp / "sessions.db", cipher=cipher, clock=clock, use_returning=False, idle=idle)


def _redis(tmp: Path, clock: FakeClock, idle: float = 0, use_getdel: bool | None = None) -> SessionStore:
    url = f"{shared_redis().url}?prefix={unique('test')}:"
    cipher = TokenCipher.from_secret(SECRET_KEY)
    return RedisSessionStore(url, cipher=cipher, clock=clock, use_getdel=use_getdel, idle=idle)


def _redis_without_getdel(tmp: Path, clock: FakeClock, idle: float = 0) -> SessionStore:
    """The MULTI GET DEL EXEC path used on Redis < 6.2."""
    return _redis(tmp, clock, idle, use_getdel=False)


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "sqlite-no-returning": _sqlite_without_returning,
    "redis": _redis,
    "redis-no-getdel": _redis_without_getdel,
}


@pytest.fixture(scope="session", autouse=True)
def _stop_the_shared_redis_server() -> Iterator[None]:
    """The redis factories start a server on first use; it ends with the test session."""
    try:
        yield
    finally:
        stop_shared_redis()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    s = STORE_FACTORIES[request.param](tmp_path, clock)
    yield s
    s.close()


@pytest.fixture(params=sorted(STORE_FACTORIES))
def idle_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[SessionStore]:
    """Each store with an idle limit of :data:`IDLE` seconds."""
    s = STORE_FACTORIES[request.param](tmp_path, clock, idle=IDLE)
    yield s
    s.close()


_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):06d}"


def make_pending(state: str | None = None, *, browser_id: str = "browser-1", created_at: float = T0) -> PendingSignIn:
    n = next(_counter)
    return PendingSignIn(
        state=state or unique("state"),
        browser_id=browser_id,
        nonce=Secret("nonce", f"NONCE-SENTINEL-{n}"),
        code_verifier=Secret("code_verifier", f"VERIFIER-SENTINEL-{n}"),
        return_path="/graphcall",
        created_at=created_at,
        response_type="code id_token",
    )


def make_tokens(tag: str = "1", *, expires_on: float = T0 + 3600) -> TokenSet:
    return TokenSet(
        access_token=Secret("access_token", f"ACCESS-SENTINEL-{tag}"),
        refresh_token=Secret("refresh_token", f"REFRESH-SENTINEL-{tag}"),
        expires_on=expires_on,
        resource="https://graph.microsoft.com",
        id_token=Secret("id_token", f"IDTOKEN-SENTINEL-{tag}"),
    )


def make_record(session_id: str | None = None, *, now: float = T0, ttl: float = 8 * 3600) -> SessionRecord:
    return SessionRecord(
        session_id=session_id or unique("session"),
        created_at=now,
        expires_at=now + ttl,
        last_seen=now,
        claims={"tid": "tenant-guid", "oid": "object-guid", "name": "Ada CLAIM-VISIBLE", "upn": "ada@example.com"},
        tokens=make_tokens(),
        csrf_token="CSRF-SENTINEL",
        flow_id="flow-1",
    )
