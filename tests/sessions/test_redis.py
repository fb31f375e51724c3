"""What only the redis store has to prove: bytes at rest, atomicity, leases, outages, URLs.

The whole contract runs against redis in ``test_contract.py``; these tests talk to a real
``redis-server`` (``tests.redisserver``) and read what it holds with a plain redis client.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from aadweb.errors import ConfigurationError, SessionStoreError
from aadweb.sessions import PENDING_TTL, PendingSignIn, RedisSessionStore, TokenCipher, open_store
from aadweb.sessions._redis_layout import GC_MARGIN
from tests.redisserver import RedisServer, running_redis, shared_redis
from tests.sessions.conftest import SECRET_KEY, FakeClock, make_pending, make_record, make_tokens, unique
from tests.sessions.test_sqlite import SENTINELS


@pytest.fixture
def server() -> RedisServer:
    return shared_redis()


@pytest.fixture
def raw(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


def open_redis(url: str, clock: Callable[[], float] | None = None, **kw: Any) -> RedisSessionStore:
    sep = "&" if "?" in url else "?"
    return RedisSessionStore(
        f"{url}{sep}prefix={unique('t')}:", cipher=TokenCipher.from_secret(SECRET_KEY), clock=clock or FakeClock(), **kw
    )


@pytest.fixture
def store(server: RedisServer) -> Iterator[RedisSessionStore]:
    s = open_redis(server.url)
    yield s
    s.close()


def store_keys(raw: redis.Redis, store: RedisSessionStore) -> list[bytes]:
    prefix = store._keys._prefix  # the test looks at everything under the store's prefix
    return sorted(k for k in raw.scan_iter(match=store._keys.pattern) if k.startswith(prefix))


def raw_dump(raw: redis.Redis, store: RedisSessionStore) -> list[bytes]:
    """Every key and every value (each hash field and its value) under the store's prefix."""
    out: list[bytes] = []
    for key in store_keys(raw, store):
        out.append(key)
        if raw.type(key) == b"hash":
            for name, value in raw.hgetall(key).items():
                out += (name, value)
        else:
            out.append(raw.get(key) or b"")
    return out


def b64_decoded(blob: bytes) -> list[bytes]:
    """Whatever base64 runs in ``blob`` decode to: a plain text base64-encoded would show here."""
    found = []
    for run in re.findall(rb"[A-Za-z0-9+/]{16,}={0,2}", blob):
        with contextlib.suppress(binascii.Error, ValueError):
            found.append(base64.b64decode(run, validate=True))
    return found


def chain_text(exc: BaseException | None) -> str:
    """The messages and reprs of an exception and of everything it was raised from."""
    parts = []
    while exc is not None:
        parts += (str(exc), repr(exc), repr(getattr(exc, "args", ())))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def commandstat(raw: redis.Redis, command: str) -> int:
    stats = raw.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


# --- at rest --------------------------------------------------------------------------------


def test_no_secret_appears_in_any_key_or_value(store: RedisSessionStore, raw: redis.Redis) -> None:
    p = make_pending()
    store.put_pending(p, PENDING_TTL)
    assert store.stash_callback(p.state, {"code": "CODE-SENTINEL", "id_token": "POSTED-IDT-SENTINEL"})
    store.put_pending(make_pending("kept-pending"), PENDING_TTL)
    store.create_session(make_record("kept-session"))
    assert store.update_tokens("kept-session", make_tokens("2"), expected_version=0)
    with store.refresh_lock("kept-session", lease=30):
        dump = raw_dump(raw, store)
    everything = b"\n".join(dump)
    assert b"CLAIM-VISIBLE" in everything and b"kept-pending" in everything  # the check sees plain text
    for blob in [everything, *b64_decoded(everything)]:
        for sentinel in SENTINELS:
            assert sentinel.encode() not in blob, sentinel
    got = store.take_pending(p.state, p.browser_id)
    assert got is not None and got.callback == {"code": "CODE-SENTINEL", "id_token": "POSTED-IDT-SENTINEL"}


def test_every_key_has_a_server_side_ttl_past_its_logical_expiry(store: RedisSessionStore, raw: redis.Redis) -> None:
    p = make_pending()
    store.put_pending(p, PENDING_TTL)
    r = make_record(ttl=3600)
    store.create_session(r)
    key = store._keys.pending(p.state)
    before = raw.pttl(key)
    assert PENDING_TTL * 1000 < before <= (PENDING_TTL + GC_MARGIN) * 1000
    assert store.stash_callback(p.state, {"code": "c"})
    assert 0 <= before - raw.pttl(key) < 5000  # the stash kept the TTL
    assert 3600_000 < raw.pttl(store._keys.session(r.session_id)) <= (3600 + GC_MARGIN) * 1000
    with store.refresh_lock(r.session_id, lease=30):
        assert 30_000 < raw.pttl(store._keys.lock(f"refresh:{r.session_id}")) <= (30 + GC_MARGIN) * 1000
    assert all(raw.pttl(k) > 0 for k in store_keys(raw, store))


def test_a_huge_ttl_is_capped_not_refused(store: RedisSessionStore) -> None:
    p = make_pending()
    store.put_pending(p, 1e300)
    assert store.take_pending(p.state, p.browser_id) == p


def test_a_tampered_session_is_gone_and_its_key_deleted(
    store: RedisSessionStore, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    r = make_record()
    store.create_session(r)
    key = store._keys.session(r.session_id)
    sealed = raw.hget(key, "tokens")
    assert sealed is not None
    raw.hset(key, "tokens", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with caplog.at_level(logging.WARNING, logger="aadweb.sessions"):
        assert store.get_session(r.session_id) is None
    assert "failed authentication" in caplog.text and r.session_id not in caplog.text
    assert raw.exists(key) == 0


def test_a_tampered_or_garbled_pending_sign_in_is_spent(store: RedisSessionStore, raw: redis.Redis) -> None:
    p = make_pending()
    store.put_pending(p, PENDING_TTL)
    key = store._keys.pending(p.state)
    value = raw.get(key)
    assert value is not None
    raw.set(key, value.replace(b'"secrets":"', b'"secrets":"AAAA'))
    assert store.take_pending(p.state, p.browser_id) is None
    raw.set(key, b"not a pending sign-in")
    assert store.take_pending(p.state, p.browser_id) is None
    assert raw.exists(key) == 0


# --- atomicity ------------------------------------------------------------------------------


@pytest.mark.parametrize("use_getdel", [True, False], ids=["getdel", "multi"])
def test_20_threads_take_each_state_exactly_once(server: RedisServer, raw: redis.Redis, use_getdel: bool) -> None:
    store = open_redis(server.url, time.time, use_getdel=use_getdel)
    states = [make_pending(created_at=time.time()) for _ in range(25)]
    for p in states:
        store.put_pending(p, PENDING_TTL)
    barrier = threading.Barrier(20)

    def race(_: int) -> list[str]:
        won = []
        for p in states:
            barrier.wait(timeout=10)
            if store.take_pending(p.state, p.browser_id) is not None:
                won.append(p.state)
        return won

    getdels = commandstat(raw, "getdel")
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(race, range(20)))
    won = [s for r in results for s in r]
    assert sorted(won) == sorted(p.state for p in states)
    assert (commandstat(raw, "getdel") - getdels >= 25 * 20) is use_getdel
    store.close()


def test_getdel_is_chosen_from_the_server_version(store: RedisSessionStore, raw: redis.Redis) -> None:
    version = tuple(int(x) for x in raw.info("server")["redis_version"].split("."))
    store.take_pending("never-issued", "browser-1")
    assert store._use_getdel is (version >= (6, 2))


def test_a_server_that_refuses_info_gets_multi_exec(store: RedisSessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise redis.ResponseError("NOPERM this user has no permissions to run the 'info' command")

    monkeypatch.setattr(store._redis.client, "info", refuse)
    p = make_pending()
    store.put_pending(p, PENDING_TTL)
    assert store.take_pending(p.state, p.browser_id) == p
    assert store._use_getdel is False


def test_scripts_survive_a_flushed_script_cache(store: RedisSessionStore, raw: redis.Redis) -> None:
    p = make_pending()
    store.put_pending(p, PENDING_TTL)
    raw.script_flush()
    assert store.stash_callback(p.state, {"code": "c"}) is True
    assert store.take_pending(p.state, p.browser_id) is not None


# --- the refresh lock, in real time ---------------------------------------------------------


def test_a_block_longer_than_the_lease_keeps_its_lock(server: RedisServer) -> None:
    store = open_redis(server.url, time.time)
    lease, block = 0.3, 1.0
    others: list[bool] = []
    with store.refresh_lock("s1", lease=lease) as mine:
        assert mine
        started = time.monotonic()
        while time.monotonic() - started < block:
            with store.refresh_lock("s1", lease=lease) as other:
                others.append(other)
            time.sleep(0.05)
    assert others and not any(others)  # nobody got it while the block ran, long past the lease
    with store.refresh_lock("s1", lease=lease) as after:
        assert after is True
    assert store.counts()["locks"] == 0
    store.close()


def test_the_lock_of_a_dead_holder_ends_with_its_lease(store: RedisSessionStore) -> None:
    store.clock = time.time
    pid = os.fork()
    if pid == 0:  # the holder takes the lock and dies inside its block: renewal dies with it
        code, held = 1, store.refresh_lock("s1", lease=0.3)  # held: not collected (and released) early
        try:
            code = 0 if held.__enter__() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with store.refresh_lock("s1", lease=0.3) as now:
        assert now is False
    started = time.monotonic()
    with store.refresh_lock("s1", lease=0.3, wait=3) as later:
        assert later is True
    assert time.monotonic() - started < 1


# --- outages --------------------------------------------------------------------------------


def test_redis_down_fails_fast_and_the_same_store_recovers(tmp_path: Path) -> None:
    with running_redis(tmp_path) as server:
        store = open_redis(f"{server.url}?timeout=1", time.time)
        r = make_record(now=time.time())
        store.create_session(r)
        server.stop()
        for call in (
            store.ping,
            lambda: store.get_session(r.session_id),
            lambda: store.put_pending(make_pending(), 60),
        ):
            started = time.monotonic()
            with pytest.raises(SessionStoreError) as caught:
                call()
            assert time.monotonic() - started < 1.5
            assert f"redis at 127.0.0.1:{server.port}/0" in str(caught.value)
            assert caught.value.status == 503
        with pytest.raises(SessionStoreError, match="reading a session failed"):
            store.get_session(r.session_id)
        server.start()  # same port, empty (no persistence)
        store.ping()
        assert store.get_session(r.session_id) is None
        p = make_pending(created_at=time.time())
        store.put_pending(p, 60)
        assert store.take_pending(p.state, p.browser_id) == p
        store.close()


def ping_from_threads(store: RedisSessionStore, n: int) -> None:
    """``n`` concurrent pings: each checks a connection out of the pool at the same time."""
    barrier = threading.Barrier(n)

    def ping(_: int) -> None:
        barrier.wait(timeout=10)
        store.ping()

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(ping, range(n)))


def test_idle_connections_to_a_restarted_redis_are_replaced_without_an_error(tmp_path: Path) -> None:
    with running_redis(tmp_path) as server:
        store = open_redis(f"{server.url}?timeout=1", time.time)
        ping_from_threads(store, 8)  # the pool now holds several idle connections
        assert len(store._redis.pool._available_connections) >= 2
        server.stop()
        server.start()  # nothing called in between: every pooled connection is stale
        ping_from_threads(store, 8)
        store.close()


def test_a_redis_that_does_not_answer_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        store = open_redis(f"redis://127.0.0.1:{port}/0?timeout=0.3")
        started = time.monotonic()
        with pytest.raises(SessionStoreError, match="ping failed"):
            store.ping()
        assert 0.25 <= time.monotonic() - started < 2
        store.close()


def test_the_password_never_reaches_an_error_message(server: RedisServer) -> None:
    refused = open_redis("redis://:hunter2@127.0.0.1:1/0")
    wrong = open_redis(f"redis://nobody:hunter2@127.0.0.1:{server.port}/0")  # no such user: WRONGPASS
    for store in (refused, wrong):
        assert "hunter2" not in repr(store)
        with pytest.raises(SessionStoreError) as caught:
            store.ping()
        assert "hunter2" not in chain_text(caught.value) and "redis at 127.0.0.1:" in str(caught.value)
        store.close()
    with pytest.raises(ConfigurationError) as bad:
        open_store("redis://:hunter2@127.0.0.1:notaport/0", secret_key=SECRET_KEY)
    assert "hunter2" not in chain_text(bad.value)


def test_a_forked_child_uses_its_own_connections(store: RedisSessionStore) -> None:
    store.ping()  # the parent now holds a connection
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            store.put_pending(make_pending("from-child"), 600)
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("forked child did not finish")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    store.ping()  # the parent's connection still works
    assert store.take_pending("from-child", "browser-1") is not None


# --- URLs -----------------------------------------------------------------------------------


def test_rediss_urls_configure_tls_and_the_query_parameters() -> None:
    store = RedisSessionStore(
        "rediss://user:pw@cache.example:6380/3?prefix=app1:&timeout=0.5", cipher=TokenCipher.from_secret(SECRET_KEY)
    )
    pool = store._redis.pool
    assert pool.connection_class is redis.SSLConnection
    kw = pool.connection_kwargs
    assert (kw["host"], kw["port"], kw["db"], kw["username"]) == ("cache.example", 6380, 3, "user")
    assert kw["ssl_cert_reqs"] == "required" and kw["ssl_check_hostname"] is True
    assert kw["socket_timeout"] == kw["socket_connect_timeout"] == 0.5 and kw["retry_on_timeout"] is False
    assert store._keys.session("s") == b"app1:session:s"
    assert store.where == "redis at cache.example:6380/3 over TLS" and "pw" not in repr(store)
    store.close()


def test_defaults_and_a_glob_prefix(server: RedisServer, raw: redis.Redis) -> None:
    plain = RedisSessionStore("redis://127.0.0.1", cipher=TokenCipher.from_secret(SECRET_KEY))
    assert plain._keys.session("s") == b"aadweb:session:s" and plain.where == "redis at 127.0.0.1:6379/0"
    plain.close()
    clock = FakeClock()
    starry = RedisSessionStore(
        f"{server.url}?prefix={unique('a*[b]?')}:", cipher=TokenCipher.from_secret(SECRET_KEY), clock=clock
    )
    neighbour = open_redis(server.url, clock)  # another prefix: another store
    starry.create_session(make_record())
    neighbour.create_session(make_record())
    neighbour.put_pending(make_pending(), 60)
    assert starry.counts() == {"sessions": 1, "pending": 0, "locks": 0, "expired": 0}
    assert neighbour.counts()["pending"] == 1
    starry.close()
    neighbour.close()


def test_without_the_redis_package_opening_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now raises ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'aadweb\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0", secret_key=SECRET_KEY)


def test_taking_from_a_closed_store_raises(store: RedisSessionStore) -> None:
    p: PendingSignIn = make_pending()
    store.put_pending(p, 60)
    store.close()
    with pytest.raises(SessionStoreError, match="closed"):
        store.take_pending(p.state, p.browser_id)
