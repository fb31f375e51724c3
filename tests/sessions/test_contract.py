"""The one contract every session store keeps (aadweb.sessions._base), run against each store."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aadweb.errors import SessionStoreError
from aadweb.secret import Secret
from aadweb.sessions import PENDING_TTL, PendingSignIn, SessionStore
from aadweb.sessions._base import idle_limit, touch_interval
from tests.sessions.conftest import IDLE, FakeClock, make_pending, make_record, make_tokens
from tests.sessions.peek import SENTINELS, at_rest, tamper_pending, tamper_session

TTL = PENDING_TTL

# --- pending sign-ins -------------------------------------------------------------------


def test_take_pending_returns_it_once(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    got = store.take_pending(p.state, p.browser_id)
    assert got == p
    assert got is not None and got.callback is None
    assert store.take_pending(p.state, p.browser_id) is None


def test_take_pending_round_trips_secrets(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    got = store.take_pending(p.state, p.browser_id)
    assert got is not None
    assert isinstance(got.nonce, Secret) and got.nonce.reveal() == p.nonce.reveal()
    assert isinstance(got.code_verifier, Secret) and got.code_verifier.reveal() == p.code_verifier.reveal()
    assert (got.return_path, got.created_at, got.response_type) == (p.return_path, p.created_at, p.response_type)


def test_take_pending_unknown_state_is_none(store: SessionStore) -> None:
    assert store.take_pending("never-issued", "browser-1") is None
    assert store.take_pending("", "browser-1") is None
    assert store.take_pending("bad\x00state", "browser-1") is None


def test_pending_expires_by_the_injected_clock(store: SessionStore, clock: FakeClock) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    clock.advance(TTL - 1)
    assert store.counts()["pending"] == 1
    clock.advance(1)
    assert store.take_pending(p.state, p.browser_id) is None


def test_take_pending_from_another_browser_is_none_and_spends_the_state(store: SessionStore) -> None:
    p = make_pending(browser_id="browser-that-started")
    store.put_pending(p, TTL)
    assert store.take_pending(p.state, "browser-of-someone-else") is None
    assert store.take_pending(p.state, "browser-that-started") is None


def test_put_pending_refuses_a_live_duplicate_state_but_replaces_an_expired_one(
    store: SessionStore, clock: FakeClock
) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    with pytest.raises(SessionStoreError):
        store.put_pending(make_pending(p.state), TTL)
    clock.advance(TTL)
    again = make_pending(p.state, browser_id="browser-2")
    store.put_pending(again, TTL)
    assert store.take_pending(p.state, "browser-2") == again


def test_put_pending_refuses_a_bad_ttl(store: SessionStore) -> None:
    for ttl in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            store.put_pending(make_pending(), ttl)


def test_concurrent_take_has_exactly_one_winner(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    barrier = threading.Barrier(20)

    def take() -> PendingSignIn | None:
        barrier.wait(timeout=10)
        return store.take_pending(p.state, p.browser_id)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: take(), range(20)))
    assert [r for r in results if r is not None] == [p]


def test_stash_callback_once_then_take_returns_the_fields(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    fields = {"code": "CODE-SENTINEL", "id_token": "IDT-SENTINEL", "state": p.state, "session_state": "s"}
    assert store.stash_callback(p.state, fields) is True
    assert store.stash_callback(p.state, {"code": "attacker"}) is False
    got = store.take_pending(p.state, p.browser_id)
    assert got is not None and dict(got.callback or {}) == fields
    assert "CODE-SENTINEL" not in repr(got)


def test_stash_callback_needs_a_live_pending_sign_in(store: SessionStore, clock: FakeClock) -> None:
    assert store.stash_callback("never-issued", {"code": "c"}) is False
    p = make_pending()
    store.put_pending(p, TTL)
    clock.advance(TTL)
    assert store.stash_callback(p.state, {"code": "c"}) is False


def test_concurrent_stash_has_exactly_one_winner(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    with ThreadPoolExecutor(max_workers=10) as pool:
        wins = list(pool.map(lambda i: store.stash_callback(p.state, {"code": f"c{i}"}), range(10)))
    assert wins.count(True) == 1
    got = store.take_pending(p.state, p.browser_id)
    assert got is not None and got.callback == {"code": f"c{wins.index(True)}"}


# --- sessions ---------------------------------------------------------------------------


def test_create_get_delete_session(store: SessionStore) -> None:
    r = make_record()
    store.create_session(r)
    got = store.get_session(r.session_id)
    assert got == r
    store.delete_session(r.session_id)
    assert store.get_session(r.session_id) is None
    store.delete_session(r.session_id)  # unknown: not an error


def test_session_round_trips_secrets_and_claims(store: SessionStore) -> None:
    r = make_record()
    store.create_session(r)
    got = store.get_session(r.session_id)
    assert got is not None and got.tokens is not None and r.tokens is not None
    assert got.tokens.access_token.reveal() == r.tokens.access_token.reveal()
    assert got.tokens.refresh_token is not None and got.tokens.refresh_token.kind == "refresh_token"
    assert got.tokens.id_token == r.tokens.id_token
    assert dict(got.claims) == dict(r.claims) and got.csrf_token == r.csrf_token


def test_session_without_tokens(store: SessionStore) -> None:
    r = dataclasses.replace(make_record(), tokens=None)
    store.create_session(r)
    got = store.get_session(r.session_id)
    assert got is not None and got.tokens is None


def test_create_session_refuses_an_existing_id(store: SessionStore) -> None:
    r = make_record()
    store.create_session(r)
    with pytest.raises(SessionStoreError) as caught:
        store.create_session(make_record(r.session_id))
    assert r.session_id not in str(caught.value)


def test_session_expires_by_the_injected_clock(store: SessionStore, clock: FakeClock) -> None:
    r = make_record(ttl=100)
    store.create_session(r)
    clock.advance(99)
    assert store.get_session(r.session_id) is not None
    clock.advance(1)
    assert store.get_session(r.session_id) is None


def test_get_session_refreshes_last_seen_at_most_once_a_minute(store: SessionStore, clock: FakeClock) -> None:
    r = make_record()
    store.create_session(r)
    clock.advance(30)
    got = store.get_session(r.session_id)
    assert got is not None and got.last_seen == r.last_seen
    clock.advance(31)
    got = store.get_session(r.session_id)
    assert got is not None and got.last_seen == clock.now
    again = store.get_session(r.session_id)
    assert again is not None and again.last_seen == clock.now


# --- idle sessions (AADWEB_SESSION_IDLE) ---------------------------------------------------

TOUCH = touch_interval(IDLE)


def test_an_idle_session_ends_and_is_deleted(idle_store: SessionStore, clock: FakeClock) -> None:
    r = make_record()
    idle_store.create_session(r)
    for _ in range(3):
        clock.advance(IDLE - 1)
        assert idle_store.get_session(r.session_id) is not None
    clock.advance(idle_limit(IDLE))
    assert idle_store.get_session(r.session_id) is None
    assert idle_store.counts() == {"sessions": 0, "pending": 0, "locks": 0, "expired": 0}  # deleted


def test_a_session_used_regularly_never_idles_out(idle_store: SessionStore, clock: FakeClock) -> None:
    """Reads just under the touch interval apart (no write), then a gap just under IDLE: the
    stored last_seen lags the last read, and the session must live all the same."""
    r = make_record(ttl=8 * 3600)
    idle_store.create_session(r)
    for _ in range(20):
        for step in (TOUCH - 0.5, IDLE - 1, 0.25):
            clock.advance(step)
            assert idle_store.get_session(r.session_id) is not None, clock.now - r.created_at


def test_an_idle_session_ends_within_one_touch_interval_of_idle(idle_store: SessionStore, clock: FakeClock) -> None:
    r = make_record()
    idle_store.create_session(r)
    clock.advance(TOUCH - 0.5)
    assert idle_store.get_session(r.session_id) is not None  # no write: last_seen stays at T0
    clock.advance(IDLE + 0.5)
    assert idle_store.get_session(r.session_id) is None  # IDLE + 0.5 s after the last read


def test_get_session_refreshes_last_seen_once_per_touch_interval(idle_store: SessionStore, clock: FakeClock) -> None:
    assert TOUCH < 60  # a short idle limit touches more often than once a minute
    r = make_record()
    idle_store.create_session(r)
    clock.advance(TOUCH - 1)
    got = idle_store.get_session(r.session_id)
    assert got is not None and got.last_seen == r.last_seen
    clock.advance(1)
    got = idle_store.get_session(r.session_id)
    assert got is not None and got.last_seen == clock.now


def test_an_active_session_still_ends_at_its_lifetime(idle_store: SessionStore, clock: FakeClock) -> None:
    r = make_record(ttl=3 * IDLE)
    idle_store.create_session(r)
    while clock.now + 100 < r.expires_at:
        clock.advance(100)
        assert idle_store.get_session(r.session_id) is not None
    clock.now = r.expires_at
    assert idle_store.get_session(r.session_id) is None


def test_an_idle_session_is_expired_for_update_counts_and_purge(idle_store: SessionStore, clock: FakeClock) -> None:
    used, left = make_record(), make_record()
    idle_store.create_session(used)
    idle_store.create_session(left)
    clock.advance(IDLE - 1)
    assert idle_store.get_session(used.session_id) is not None
    clock.advance(TOUCH + 2)  # ``left`` was last seen IDLE + TOUCH + 1 s ago
    assert idle_store.update_tokens(left.session_id, make_tokens("2"), expected_version=0) is False
    assert idle_store.counts() == {"sessions": 1, "pending": 0, "locks": 0, "expired": 1}
    assert idle_store.purge_expired() == 1
    assert idle_store.counts() == {"sessions": 1, "pending": 0, "locks": 0, "expired": 0}
    assert idle_store.update_tokens(used.session_id, make_tokens("2"), expected_version=0) is True


def test_without_an_idle_limit_a_session_lives_until_it_expires(store: SessionStore, clock: FakeClock) -> None:
    r = make_record(ttl=8 * 3600)
    store.create_session(r)
    clock.advance(8 * 3600 - 1)
    assert store.get_session(r.session_id) is not None


def test_update_tokens_is_compare_and_set(store: SessionStore) -> None:
    r = make_record()
    store.create_session(r)
    assert store.update_tokens(r.session_id, make_tokens("2"), expected_version=r.version) is True
    assert store.update_tokens(r.session_id, make_tokens("3"), expected_version=r.version) is False
    got = store.get_session(r.session_id)
    assert got is not None and got.version == r.version + 1
    assert got.tokens is not None and got.tokens.access_token.reveal() == "ACCESS-SENTINEL-2"
    assert store.update_tokens(r.session_id, None, expected_version=got.version) is True
    got = store.get_session(r.session_id)
    assert got is not None and got.tokens is None and got.version == r.version + 2


def test_update_tokens_on_a_missing_or_expired_session_is_false(store: SessionStore, clock: FakeClock) -> None:
    assert store.update_tokens("no-such-session", make_tokens(), expected_version=0) is False
    r = make_record(ttl=10)
    store.create_session(r)
    clock.advance(10)
    assert store.update_tokens(r.session_id, make_tokens(), expected_version=0) is False


def test_concurrent_update_tokens_has_exactly_one_winner(store: SessionStore) -> None:
    r = make_record()
    store.create_session(r)
    with ThreadPoolExecutor(max_workers=10) as pool:
        wins = list(
            pool.map(lambda i: store.update_tokens(r.session_id, make_tokens(str(i)), expected_version=0), range(10))
        )
    assert wins.count(True) == 1


# --- refresh lock -----------------------------------------------------------------------


def test_refresh_lock_is_exclusive_and_released_at_block_end(store: SessionStore) -> None:
    with store.refresh_lock("s1", lease=30) as first:
        assert first is True
        with store.refresh_lock("s1", lease=30) as second:
            assert second is False
        with store.refresh_lock("s2", lease=30) as other:
            assert other is True
        assert store.counts()["locks"] == 1
    with store.refresh_lock("s1", lease=30) as again:
        assert again is True


def test_refresh_lock_exclusive_across_threads(store: SessionStore) -> None:
    inside, most, guard = 0, 0, threading.Lock()
    barrier = threading.Barrier(10)

    def worker() -> bool:
        nonlocal inside, most
        barrier.wait(timeout=10)
        with store.refresh_lock("s1", lease=30) as mine:
            if mine:
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.05)
                with guard:
                    inside -= 1
            return mine

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: worker(), range(10)))
    assert results.count(True) >= 1 and most == 1


def test_refresh_lock_lease_expires_and_a_late_release_frees_nothing(store: SessionStore, clock: FakeClock) -> None:
    first = store.refresh_lock("s1", lease=30)
    assert first.__enter__() is True
    clock.advance(30)  # the holder "died": its lease is over
    second = store.refresh_lock("s1", lease=30)
    assert second.__enter__() is True
    first.__exit__(None, None, None)  # the late release must not free the second holder's lock
    with store.refresh_lock("s1", lease=30) as third:
        assert third is False
    second.__exit__(None, None, None)
    with store.refresh_lock("s1", lease=30) as fourth:
        assert fourth is True


def test_refresh_lock_waits_boundedly_then_gets_it_when_released(store: SessionStore) -> None:
    with store.refresh_lock("s1", lease=30):
        started = time.monotonic()
        with store.refresh_lock("s1", lease=30, wait=0.15) as waited:
            assert waited is False
        assert 0.1 <= time.monotonic() - started < 2

    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.refresh_lock("s2", lease=30) as mine:
            assert mine
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(5)
    threading.Timer(0.1, release.set).start()
    with store.refresh_lock("s2", lease=30, wait=5) as mine:
        assert mine is True
    t.join(5)


def test_delete_session_drops_its_refresh_lock(store: SessionStore) -> None:
    r = make_record()
    store.create_session(r)
    with store.refresh_lock(r.session_id, lease=30) as mine:
        assert mine
        store.delete_session(r.session_id)
        with store.refresh_lock(r.session_id, lease=30) as again:
            assert again is True


# --- secrets at rest (DESIGN.md, Sessions: "in every store, memory: included") -------------


def test_secrets_are_sealed_at_rest(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    assert store.stash_callback(p.state, {"code": "CODE-SENTINEL", "id_token": "POSTED-IDT-SENTINEL"})
    store.put_pending(make_pending("kept-pending"), TTL)
    store.create_session(make_record("kept-session"))
    assert store.update_tokens("kept-session", make_tokens("2"), expected_version=0)
    assert store.get_session("kept-session") is not None
    raw = at_rest(store)
    assert b"CLAIM-VISIBLE" in raw and b"kept-pending" in raw  # the check can see plain text
    for sentinel in SENTINELS:
        assert sentinel.encode() not in raw, sentinel
    got = store.take_pending(p.state, p.browser_id)
    assert got is not None and got.callback == {"code": "CODE-SENTINEL", "id_token": "POSTED-IDT-SENTINEL"}


@pytest.mark.parametrize("field", ["tokens", "csrf"])
def test_a_tampered_session_is_gone(store: SessionStore, caplog: pytest.LogCaptureFixture, field: str) -> None:
    r, other = make_record(), make_record()
    store.create_session(r)
    store.create_session(other)
    tamper_session(store, r.session_id, field)
    with caplog.at_level(logging.WARNING, logger="aadweb.sessions"):
        assert store.get_session(r.session_id) is None
    assert "failed authentication" in caplog.text
    assert r.session_id not in caplog.text and not any(s in caplog.text for s in SENTINELS)
    assert store.counts() == {"sessions": 1, "pending": 0, "locks": 0, "expired": 0}  # deleted, not hidden
    assert store.get_session(other.session_id) == other


def test_a_tampered_pending_sign_in_is_spent(store: SessionStore) -> None:
    p = make_pending()
    store.put_pending(p, TTL)
    tamper_pending(store, p.state)
    assert store.take_pending(p.state, p.browser_id) is None
    assert store.counts()["pending"] == 0


# --- housekeeping ----------------------------------------------------------------------


def test_purge_and_counts(store: SessionStore, clock: FakeClock) -> None:
    store.put_pending(make_pending(), 100)
    store.put_pending(make_pending(), 1000)
    store.create_session(make_record(ttl=100))
    store.create_session(make_record(ttl=1000))
    with store.refresh_lock("s1", lease=100):
        assert store.counts() == {"sessions": 2, "pending": 2, "locks": 1, "expired": 0}
        later = clock.now + 100
        assert store.counts(later) == {"sessions": 1, "pending": 1, "locks": 0, "expired": 3}
        assert store.purge_expired(later) == 3
        assert store.counts(later) == {"sessions": 1, "pending": 1, "locks": 0, "expired": 0}
        assert store.purge_expired(later) == 0


def test_ping_and_close(store: SessionStore) -> None:
    store.ping()
    store.close()
    store.close()  # idempotent
    with pytest.raises(SessionStoreError):
        store.ping()
    with pytest.raises(SessionStoreError):
        store.get_session("s1")


def test_satisfies_the_protocol(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)
