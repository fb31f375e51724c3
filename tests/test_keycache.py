"""KeyCache: single flight, TTL, last good keys kept, unknown-kid rate limit. No sleeps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from aadweb.errors import TransportError
from aadweb.keycache import KeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fetcher:
    """Counts calls; returns ``keys-N``; can fail, or block until released (for the thread tests)."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail: BaseException | None = None
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            n = self.calls
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "test never released the fetch"
        if self.fail is not None:
            raise self.fail
        return f"keys-{n}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fetch() -> Fetcher:
    return Fetcher()


def start_threads(
    n: int, target: Callable[[], object]
) -> tuple[list[threading.Thread], list[object], list[BaseException]]:
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            value = target()
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, results, errors


def join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)


def test_get_fetches_once_and_caches(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, ttl=100, clock=clock)
    assert cache.get() == "keys-1"
    clock.now += 99
    assert cache.get() == "keys-1"
    assert cache.fetch_count == 1 == fetch.calls


def test_cold_cache_single_flight_under_50_threads(fetch: Fetcher, clock: Clock) -> None:
    fetch.gate = threading.Event()
    cache = KeyCache(fetch, clock=clock)
    threads, results, errors = start_threads(50, cache.get)
    assert fetch.entered.wait(5)
    fetch.gate.set()
    join(threads)
    assert errors == []
    assert results == ["keys-1"] * 50
    assert fetch.calls == 1


def test_cold_cache_failure_reaches_every_waiter_and_a_later_call_retries(fetch: Fetcher, clock: Clock) -> None:
    fetch.gate = threading.Event()
    fetch.fail = TransportError("GET https://login.example:443/t/discovery/keys: connection refused")
    cache = KeyCache(fetch, clock=clock)
    threads, results, errors = start_threads(20, cache.get)
    assert fetch.entered.wait(5)
    fetch.gate.set()
    join(threads)
    assert results == []
    assert len(errors) == 20 and all(e is fetch.fail for e in errors)
    assert fetch.calls == 1
    fetch.fail = None
    assert cache.get() == "keys-2"  # no rate limit on a cold cache: the next sign-in may try


def test_ttl_expiry_refetches(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, ttl=100, min_refresh_interval=10, clock=clock)
    assert cache.get() == "keys-1"
    clock.now += 100
    assert cache.get() == "keys-2"
    assert fetch.calls == 2


def test_failed_ttl_refresh_keeps_last_good_keys_and_is_rate_limited(
    fetch: Fetcher, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = KeyCache(fetch, ttl=100, min_refresh_interval=300, clock=clock)
    assert cache.get() == "keys-1"
    clock.now += 500
    fetch.fail = TransportError("GET https://login.example:443/t/discovery/keys: timed out")
    with caplog.at_level(logging.WARNING, logger="aadweb.keycache"):
        assert cache.get() == "keys-1"
    assert "JWKS refresh failed" in caplog.text and "keeping the last good keys" in caplog.text
    assert fetch.calls == 2
    for _ in range(100):  # a dead endpoint is not hammered
        clock.now += 1
        assert cache.get() == "keys-1"
    assert fetch.calls == 2
    clock.now += 300
    fetch.fail = None
    assert cache.get() == "keys-3"


def test_failure_log_names_foreign_exceptions_by_class_only(
    fetch: Fetcher, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = KeyCache(fetch, ttl=100, clock=clock)
    cache.get()
    clock.now += 1000
    fetch.fail = ValueError("https://x/?client_secret=hunter2")
    with caplog.at_level(logging.WARNING, logger="aadweb.keycache"):
        assert cache.get() == "keys-1"
    assert "ValueError" in caplog.text and "hunter2" not in caplog.text


def test_ttl_never_refetches_more_often_than_the_min_refresh_interval(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, ttl=100, min_refresh_interval=300, clock=clock)
    cache.get()
    clock.now += 299
    assert cache.get() == "keys-1"
    clock.now += 1
    assert cache.get() == "keys-2"


def test_stale_keys_served_while_another_thread_refreshes(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, ttl=100, min_refresh_interval=10, clock=clock)
    cache.get()
    clock.now += 200
    fetch.gate = threading.Event()
    fetch.entered.clear()
    refresher, results, _ = start_threads(1, cache.get)
    assert fetch.entered.wait(5)
    assert cache.get() == "keys-1"  # does not queue behind the network
    fetch.gate.set()
    join(refresher)
    assert results == ["keys-2"]
    assert cache.get() == "keys-2"


def test_unknown_kid_right_after_the_cold_fetch_refetches_at_once_then_is_rate_limited(
    fetch: Fetcher, clock: Clock
) -> None:
    """DESIGN.md: the cold first fetch does not count against the unknown-kid limit (a key
    rotated just after start-up is picked up at once); the unknown-kid refetch does."""
    cache = KeyCache(fetch, min_refresh_interval=300, clock=clock)
    assert cache.get() == "keys-1"
    clock.now += 1
    assert cache.refresh_for_unknown_kid() == "keys-2"
    assert cache.get() == "keys-2"
    clock.now += 299
    assert cache.refresh_for_unknown_kid() is None  # answered from the cache
    assert fetch.calls == 2
    clock.now += 1
    assert cache.refresh_for_unknown_kid() == "keys-3"
    assert fetch.calls == 3


def test_the_ttl_refresh_does_not_count_against_the_unknown_kid_limit(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, ttl=3600, min_refresh_interval=300, clock=clock)
    cache.get()
    clock.now += 3600
    assert cache.get() == "keys-2"  # the daily (here: hourly) refresh
    assert cache.refresh_for_unknown_kid() == "keys-3"
    assert cache.refresh_for_unknown_kid() is None
    assert fetch.calls == 3


def test_an_unknown_kid_refetch_still_limits_the_ttl_path(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, ttl=100, min_refresh_interval=300, clock=clock)
    cache.get()
    clock.now += 250
    assert cache.refresh_for_unknown_kid() == "keys-2"
    clock.now += 299  # the keys are past their TTL, but a fetch was attempted 299 s ago
    assert cache.get() == "keys-2" and fetch.calls == 2


@pytest.mark.parametrize("after_cold_fetch", [0, 301])
def test_flood_of_1000_unknown_kid_calls_fetches_once(fetch: Fetcher, clock: Clock, after_cold_fetch: int) -> None:
    cache = KeyCache(fetch, min_refresh_interval=300, clock=clock)
    cache.get()
    clock.now += after_cold_fetch
    outcomes = [cache.refresh_for_unknown_kid() for _ in range(1000)]
    assert outcomes[0] == "keys-2"
    assert outcomes[1:] == [None] * 999
    assert fetch.calls == 2


def test_concurrent_unknown_kid_flood_fetches_once_and_waiters_get_the_new_keys(fetch: Fetcher, clock: Clock) -> None:
    cache = KeyCache(fetch, min_refresh_interval=300, clock=clock)
    cache.get()
    clock.now += 301
    fetch.gate = threading.Event()
    fetch.entered.clear()
    first, first_result, _ = start_threads(1, cache.refresh_for_unknown_kid)
    assert fetch.entered.wait(5)
    threads, results, errors = start_threads(50, cache.refresh_for_unknown_kid)
    fetch.gate.set()
    join(first + threads)
    assert errors == []
    assert first_result == ["keys-2"]
    assert all(r in ("keys-2", None) for r in results)  # waited for the fetch, or came after it
    assert fetch.calls == 2
    late = [cache.refresh_for_unknown_kid() for _ in range(1000)]
    assert late == [None] * 1000
    assert fetch.calls == 2


def test_failed_unknown_kid_refresh_keeps_keys_and_counts_for_the_rate_limit(
    fetch: Fetcher, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = KeyCache(fetch, min_refresh_interval=300, clock=clock)
    cache.get()
    clock.now += 301
    fetch.fail = TransportError("GET https://login.example:443/t/discovery/keys: connection reset")
    with caplog.at_level(logging.WARNING, logger="aadweb.keycache"):
        assert cache.refresh_for_unknown_kid() is None
    assert "JWKS refresh failed" in caplog.text
    assert cache.get() == "keys-1"
    fetch.fail = None
    assert [cache.refresh_for_unknown_kid() for _ in range(100)] == [None] * 100
    assert fetch.calls == 2


def test_unknown_kid_on_a_cold_cache_raises_the_fetch_error(fetch: Fetcher, clock: Clock) -> None:
    fetch.fail = TransportError("down")
    cache = KeyCache(fetch, clock=clock)
    with pytest.raises(TransportError):
        cache.refresh_for_unknown_kid()


def test_invalid_parameters_refused(fetch: Fetcher) -> None:
    with pytest.raises(ValueError):
        KeyCache(fetch, ttl=0)
    with pytest.raises(ValueError):
        KeyCache(fetch, min_refresh_interval=-1)
