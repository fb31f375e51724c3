"""The one contract every session store keeps (memory, sqlite, and later redis).

Guarantees, each checked by ``tests/sessions/test_contract.py`` against every store:

* **Expiry is the store's job.** Pending sign-ins and sessions are alive while
  ``clock() < expires_at``; an expired one is never returned, whether or not it was purged.
  ``clock`` is injected (``time.time`` by default) so tests move time without sleeping.
* **Idle sessions end** (``AADWEB_SESSION_IDLE``; a store opened with ``idle=0`` has no idle
  limit). :meth:`SessionStore.get_session` moves ``last_seen`` forward, but writes it only when
  the stored value is :func:`touch_interval` old or more (``min(idle / 10, 60 s)``), so page views
  stay reads. A session is idle-gone once ``clock() - last_seen >= idle + touch_interval(idle)``
  (:func:`idle_limit`): the stored ``last_seen`` may lag the last request by less than one
  interval, so this is never sooner than ``idle`` seconds after the last request, and at most
  one interval later. An idle-gone session is expired for every method (never returned, not
  updated, deleted on read, counted and purged as expired).
* **A state works once.** :meth:`SessionStore.take_pending` returns the pending sign-in and
  deletes it in one atomic step: of any number of concurrent takers, in any number of threads
  or processes, exactly one gets it.
* **A state is bound to its browser.** ``take_pending`` with another ``browser_id`` returns
  ``None`` *and still deletes it*: the state has leaked to a browser that did not start the
  sign-in (login CSRF, RFC 6749 10.12), so it is spent; the real user simply signs in again.
* **The callback is stashed once.** :meth:`SessionStore.stash_callback` attaches posted fields
  to a live pending sign-in only if none are attached yet; an attacker who races the real
  callback can at worst make the sign-in fail, never replace what was stored.
* **No session fixation.** :meth:`SessionStore.create_session` refuses an id that exists.
* **Compare-and-set tokens.** :meth:`SessionStore.update_tokens` writes only if ``version``
  is still ``expected_version`` and bumps it, so two workers that refresh at once cannot
  overwrite each other silently.
* **Single-flight refresh.** :meth:`SessionStore.refresh_lock` is a lease lock shared by every
  worker using the store: one holder at a time; the lease ends by itself when the holder dies.
* **Secrets encrypted at rest** in every store, ``memory:`` included, through one code path
  (``aadweb.sessions._codec``, ``aadweb.sessions._crypto``), and never
  in a log line or exception message. A stored secret that fails to decrypt (tampered,
  corrupted, or written under another ``AADWEB_SECRET_KEY``) makes its session or pending
  sign-in *gone*: it is deleted, a warning names only its fingerprint, and ``None`` is
  returned, so the user signs in again rather than seeing an error page.
* **Failures are** :class:`~aadweb.errors.SessionStoreError`; nothing else escapes a store
  except ``ValueError`` for arguments that break this contract (e.g. a negative ttl).

The refresh pattern for callers (``signin.py``)::

    with store.refresh_lock(session_id, lease=30, wait=10) as mine:
        record = store.get_session(session_id)   # re-read: another worker may have refreshed
        if record and needs_refresh(record) and mine:
            store.update_tokens(session_id, refreshed, expected_version=record.version)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Final, Protocol, runtime_checkable

from aadweb.secret import fingerprint

from ._model import PendingSignIn, SessionRecord, TokenSet

__all__ = [
    "COUNT_KEYS",
    "LAST_SEEN_RESOLUTION",
    "PENDING_TTL",
    "SessionStore",
    "check_idle",
    "idle_cutoff",
    "idle_limit",
    "touch_interval",
]

log = logging.getLogger("aadweb.sessions")

#: How long a pending sign-in lives (DESIGN.md, Sessions: "pending sign-ins expire in 10 minutes").
PENDING_TTL: Final = 600.0
#: ``get_session`` writes ``last_seen`` only when it is older than this (seconds; shorter with
#: a short idle limit, see :func:`touch_interval`), so that ordinary page views stay reads.
LAST_SEEN_RESOLUTION: Final = 60.0
#: The keys of :meth:`SessionStore.counts`.
COUNT_KEYS: Final = ("sessions", "pending", "locks", "expired")
_POLL_INTERVAL: Final = 0.025


@runtime_checkable
class SessionStore(Protocol):
    """Server-side storage of pending sign-ins, sessions and refresh locks (see module doc)."""

    clock: Callable[[], float]

    def put_pending(self, pending: PendingSignIn, ttl: float) -> None:
        """Keep ``pending`` for ``ttl`` seconds. A live pending sign-in with the same state is
        an error (states are random: a collision is a bug); an expired one is replaced."""

    def take_pending(self, state: str, browser_id: str) -> PendingSignIn | None:
        """Atomically remove and return the pending sign-in, with any stashed ``callback``.
        ``None`` if unknown, expired, undecryptable, or bound to another browser (it is
        deleted in every case)."""

    def stash_callback(self, state: str, fields: Mapping[str, str]) -> bool:
        """Attach posted callback fields to the live pending sign-in ``state``, once.
        ``False`` if unknown, expired or already stashed."""

    def create_session(self, record: SessionRecord) -> None:
        """Store a new session; :class:`SessionStoreError` if the id exists (even expired)."""

    def get_session(self, session_id: str) -> SessionRecord | None:
        """The live session, or ``None`` (an idle-gone one is deleted). Refreshes ``last_seen``
        at most once per :func:`touch_interval`."""

    def update_tokens(self, session_id: str, tokens: TokenSet | None, *, expected_version: int) -> bool:
        """Replace the tokens and bump ``version`` iff the session is live and its version is
        ``expected_version``; else ``False`` (another worker got there first: re-read)."""

    def delete_session(self, session_id: str) -> None:
        """Forget the session (and its refresh lock). Deleting an unknown id is not an error."""

    def purge_expired(self, now: float | None = None) -> int:
        """Delete everything expired at ``now`` (default: ``clock()``); return how many."""

    def counts(self, now: float | None = None) -> dict[str, int]:
        """Live ``sessions``, ``pending`` sign-ins, held ``locks``, and ``expired`` entries
        not purged yet (stores with server-side expiry report 0)."""

    def ping(self) -> None:
        """Return if the store answers; raise :class:`SessionStoreError` if it does not."""

    def refresh_lock(self, session_id: str, lease: float, *, wait: float = 0.0) -> AbstractContextManager[bool]:
        """Try to become the one refresher of ``session_id``; yields ``True`` if this caller
        holds the lock. Waits up to ``wait`` seconds (real time) for a holder to let go. The
        lock ends at the block's end, or ``lease`` seconds (store clock) after it was taken or
        last renewed, whichever comes first. A store may renew the lease while the block runs
        (the Redis store does, so a slow refresh on one host keeps its lock); a holder that dies
        stops renewing and its lease runs out. A late release never frees a lock someone else
        took since."""

    def close(self) -> None:
        """Release connections. Idempotent; afterwards every call raises SessionStoreError."""


def check_idle(idle: float) -> float:
    """``idle`` if it is 0 (off) or a positive, finite number of seconds; else ValueError."""
    if isinstance(idle, bool) or not isinstance(idle, int | float) or not 0 <= idle < float("inf"):
        raise ValueError("idle must be 0 (no idle limit) or a positive number of seconds")
    return float(idle)


def touch_interval(idle: float) -> float:
    """How old the stored ``last_seen`` may get before a read writes it (see module doc)."""
    return min(idle / 10, LAST_SEEN_RESOLUTION) if idle > 0 else LAST_SEEN_RESOLUTION


def idle_limit(idle: float) -> float:
    """Seconds after the stored ``last_seen`` at which a session is idle-gone; 0: never."""
    return idle + touch_interval(idle) if idle > 0 else 0.0


def idle_cutoff(idle: float, now: float) -> float:
    """A session whose stored ``last_seen`` is at or before this is idle-gone at ``now``
    (``-inf`` without an idle limit)."""
    return now - idle_limit(idle) if idle > 0 else float("-inf")


def check_ttl(value: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise ValueError(f"{what} must be a positive number of seconds")


def check_wait(wait: float) -> None:
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait < float("inf"):
        raise ValueError("wait must be a number of seconds >= 0")


def acquire_polling(try_acquire: Callable[[], bool], wait: float) -> bool:
    """Call ``try_acquire`` until it succeeds or ``wait`` seconds (monotonic) have passed."""
    deadline = time.monotonic() + wait
    while True:
        if try_acquire():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(_POLL_INTERVAL, remaining))


def lock_name(session_id: str) -> str:
    return f"refresh:{session_id}"


def warn_gone(kind: str, key: str, reason: str) -> None:
    """Log that a stored entry was dropped, naming it only by fingerprint."""
    log.warning("session store: dropped %s %s: %s", kind, fingerprint(kind, key), reason)
