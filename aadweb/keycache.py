"""The per-process cache of the tenant's signing keys (JWKS), as DESIGN.md asks for it.

Generic over the key-set type ``K``: the cache only calls ``fetch()`` and hands back what it
returned, so it knows nothing of JWKS parsing (that lives in ``aadweb.protocol``).

Guarantees, and the trap each avoids (PyJWT's ``PyJWKClient`` falls into several):

* **Single flight**: however many threads ask a cold cache at once, ``fetch`` runs once; the
  others wait for it and get its keys, or its exception.
* **TTL**: keys older than ``ttl`` are refetched. While one thread refreshes stale keys, the
  others keep using the stale ones instead of queueing behind the network.
* **Last good keys kept**: a refresh that fails is logged (a warning on ``aadweb.keycache``) and the
  previous keys stay in use; a failure never empties the cache. Only a *cold* cache whose
  fetch fails raises, because there is nothing to fall back on.
* **Rate limits** (DESIGN.md, the JWKS paragraph):

  - An unknown ``kid`` (a token signed with a key we do not have: a rotation, or a forgery)
    refetches at once unless an *unknown-kid* refetch was attempted (failed or not) in the
    last ``min_refresh_interval``; within that window repeated unknown kids are answered from
    the cache. Only unknown-kid refetches open the window: the cold first fetch and the TTL
    refresh do not, so a key rotated just after start-up is picked up at once. A flood of
    such tokens costs one fetch per window, process-wide.
  - The TTL path: no refresh within ``min_refresh_interval`` of *any* attempt (so the
    effective TTL is at least that, and a dead endpoint is not hammered).
  - The cold-cache fetch is not rate-limited: without keys no sign-in can work, so every
    sign-in attempt may try once (still single flight).

The clock is injected; nothing here sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from aadweb.errors import AadWebError

__all__ = ["KeyCache"]

K = TypeVar("K")

_log = logging.getLogger("aadweb.keycache")


class KeyCache(Generic[K]):
    """Cached result of ``fetch()``; see the module docstring for the guarantees."""

    def __init__(
        self,
        fetch: Callable[[], K],
        *,
        ttl: float = 24 * 3600,
        min_refresh_interval: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or min_refresh_interval < 0:
            raise ValueError("ttl must be positive and min_refresh_interval not negative")
        self._fetch = fetch
        self._ttl = ttl
        self._min_interval = min_refresh_interval
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._keys: K | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None  # any fetch: limits the TTL path
        self._last_unknown_kid: float | None = None  # unknown-kid refetches only: limits them
        self._fetching = False
        self._generation = 0  # completed fetch attempts
        self._last_error: BaseException | None = None  # of the latest attempt, None on success
        self._fetch_count = 0

    @property
    def fetch_count(self) -> int:
        """How many times ``fetch`` has been called (successful or not)."""
        with self._cond:
            return self._fetch_count

    def get(self) -> K:
        """The cached keys; fetched when the cache is cold or older than ``ttl``.

        Raises the fetch's exception only when there are no keys at all to fall back on.
        """
        with self._cond:
            while True:
                now = self._clock()
                if self._keys is not None:
                    if now - self._fetched_at < self._ttl or self._fetching or self._recent(self._last_attempt, now):
                        return self._keys  # fresh, or stale while a refresh is running / not yet allowed
                    break
                if not self._fetching:
                    break
                self._wait_for_fetch()
                if self._keys is None and self._last_error is not None:
                    raise self._last_error  # the fetch we waited on failed: same exception
            self._begin(now)
        return self._run_fetch()[0]

    def refresh_for_unknown_kid(self) -> K | None:
        """Refetch because a token names a ``kid`` we do not have, if the rate limit allows.

        Allowed unless another unknown-kid refetch was attempted within ``min_refresh_interval``
        (the cold fetch and TTL refreshes do not count). Returns the freshly fetched keys, or
        ``None`` when no refetch is allowed yet (the caller then fails with
        :class:`~aadweb.errors.KeyNotFound`) or when it failed (logged; the last good keys stay
        cached). If a fetch is already running, waits for it and returns its keys. Raises only
        if the cache is cold and the fetch fails.
        """
        with self._cond:
            if self._fetching:
                started = self._generation
                self._wait_for_fetch()
                if self._generation > started and self._last_error is None:
                    return self._keys
                return None
            now = self._clock()
            if self._recent(self._last_unknown_kid, now):
                return None  # DESIGN.md: repeated unknown kids are answered from the cache
            self._last_unknown_kid = now
            self._begin(now)
        keys, fresh = self._run_fetch()
        return keys if fresh else None

    # --- internals (call with the lock held unless said otherwise) -----------------------

    def _recent(self, attempt: float | None, now: float) -> bool:
        """Whether ``attempt`` lies within ``min_refresh_interval`` before ``now``."""
        return attempt is not None and now - attempt < self._min_interval

    def _wait_for_fetch(self) -> None:
        while self._fetching:
            self._cond.wait()

    def _begin(self, now: float) -> None:
        self._fetching = True
        self._last_attempt = now
        self._fetch_count += 1

    def _run_fetch(self) -> tuple[K, bool]:
        """Run ``fetch`` without the lock; publish the outcome and wake the waiters.

        Returns ``(keys, True)`` on success, ``(last good keys, False)`` on a failure that
        has keys to fall back on; otherwise raises the fetch's exception.
        """
        try:
            keys = self._fetch()
        except BaseException as exc:
            with self._cond:
                self._fetching = False
                self._generation += 1
                self._last_error = exc
                previous = self._keys
                age = self._clock() - self._fetched_at
                self._cond.notify_all()
            if previous is None or not isinstance(exc, Exception):
                raise
            _log.warning(
                "JWKS refresh failed (%s); keeping the last good keys, fetched %.0f s ago",
                _describe(exc),
                age,
            )
            return previous, False
        with self._cond:
            self._keys = keys
            self._fetched_at = self._clock()
            self._fetching = False
            self._generation += 1
            self._last_error = None
            self._cond.notify_all()
        return keys, True


def _describe(exc: BaseException) -> str:
    """The class, and the message only for aadweb's own errors (which never hold secrets)."""
    if isinstance(exc, AadWebError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__
