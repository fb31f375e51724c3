"""The overall deadline of one outbound call, enforced by shutting its socket down.

Why this exists: requests/urllib3 timeouts bound *each* ``recv()``, not the call. A server that
drips one byte a second never trips a one-second read timeout, and ``iter_content(8192)`` blocks
until 8,192 bytes have arrived, so checking the clock between chunks alone bounds nothing. The
only way to take a blocked ``recv()`` back is to shut the socket down from another thread:
``shutdown(SHUT_RDWR)`` makes the blocked call return end-of-file at once (``close()`` would not).

How it works:

* :class:`Watchdog` is one daemon thread per transport holding a heap of deadlines. When a call
  overruns, it marks the call ``expired`` and shuts down the socket the call is using.
* The transport sets the current call in a thread-local (:func:`running`); the connection classes
  below :func:`_attach` themselves to it whenever they are used for that call (right after the
  TCP connect, before the TLS handshake; before sending; before reading the status line).
  Attaching to an already expired call shuts the socket down at once.
* Each connection keeps a ``dup()`` of its TCP socket: ``shutdown`` acts on the socket, not on the
  descriptor, so the duplicate reaches the socket even while TLS wraps it or during the handshake.
  When http.client closes the connection object but the response still reads its socket (an
  answer with ``Connection: close``), the duplicate passes to the call, which closes it when done.
* The pool's ``_put_conn`` detaches a connection before it goes back to the pool, under the same
  lock as the kill, so the watchdog can never shut down a connection another call has taken.

Covered, to within the watchdog's wake-up latency (milliseconds): the TLS handshake, the
request, the status line and headers, and the body. Not covered: DNS resolution (the system
resolver's own timeouts) and the TCP connect, where each resolved address is tried with the
remaining time as its connect timeout (so a name with N unreachable addresses can take up to N
times that).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import HTTPResponse

__all__ = ["Call", "GuardedAdapter", "Watchdog", "running"]

# One lock for every call <-> connection link in the process: the kill, the attach and the
# return to the pool are mutually exclusive, which is what makes the kill safe.
_LINK_LOCK = threading.Lock()
_CURRENT = threading.local()


class Call:
    """One outbound call's deadline and the connection it is using right now."""

    __slots__ = ("conn", "deadline", "done", "expired", "orphans")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conn: _GuardedHTTPConnection | None = None
        # Duplicates of sockets whose connection object was closed while the call still reads
        # from them: http.client closes the connection when the answer says "Connection:
        # close" and the response goes on reading the socket. The call keeps the duplicate,
        # so the watchdog can still shut that socket down, and closes it when the call ends.
        self.orphans: list[socket.socket] = []
        self.done = False
        self.expired = False


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _expire(call: Call) -> None:
    with _LINK_LOCK:
        if call.done:
            return
        call.expired = True
        if call.conn is not None:
            _shutdown(call.conn._aadweb_dup)
        for sock in call.orphans:
            _shutdown(sock)


def _attach(conn: _GuardedHTTPConnection) -> None:
    call: Call | None = getattr(_CURRENT, "call", None)
    if call is None:
        return
    with _LINK_LOCK:
        if call.done:
            return
        call.conn = conn
        conn._aadweb_call = call
        if call.expired:
            _shutdown(conn._aadweb_dup)


def _detach(conn: object) -> None:
    if not isinstance(conn, _GuardedHTTPConnection):
        return
    with _LINK_LOCK:
        call = conn._aadweb_call
        if call is not None and call.conn is conn:
            call.conn = None
        conn._aadweb_call = None


@contextlib.contextmanager
def running(call: Call) -> Iterator[None]:
    """Make ``call`` the current call of this thread while the block runs."""
    previous = getattr(_CURRENT, "call", None)
    _CURRENT.call = call
    try:
        yield
    finally:
        _CURRENT.call = previous


class Watchdog:
    """A daemon thread that expires calls at their deadline (values of ``clock``)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Call]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self, deadline: float) -> Call:
        call = Call(deadline)
        with self._cond:
            if self._closed:
                raise RuntimeError("transport is closed")
            heapq.heappush(self._heap, (deadline, next(self._seq), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aadweb-wire-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is call:
                # Wake the watchdog only when this deadline comes first: otherwise it is already
                # sleeping until an earlier one and will see this call then (one wake per call,
                # with its context switch, was a measurable share of every outbound call).
                self._cond.notify()
        return call

    @staticmethod
    def finish(call: Call) -> None:
        """The call is over: from now on the watchdog leaves its connection alone."""
        with _LINK_LOCK:
            call.done = True
            call.conn = None
            orphans, call.orphans = call.orphans, []
        for sock in orphans:
            sock.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    while self._heap and self._heap[0][2].done:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - self._clock()
                    if wait <= 0:
                        call = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(wait)
            _expire(call)


# --- urllib3 classes that attach themselves to the current call ----------------------------


class _GuardedHTTPConnection(HTTPConnection):
    """An urllib3 connection that registers with the current :class:`Call` whenever it is used."""

    _aadweb_call: Call | None = None
    _aadweb_dup: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._release_dup()
        self._aadweb_dup = sock.dup()
        _attach(self)
        return sock

    def connect(self) -> None:
        super().connect()
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        _attach(self)
        return super().getresponse()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release_dup()

    def _release_dup(self) -> None:
        """Close the duplicate, or hand it to the running call that may still read the socket."""
        with _LINK_LOCK:
            dup, self._aadweb_dup = self._aadweb_dup, None
            call = self._aadweb_call
            if dup is not None and call is not None and call.conn is self and not call.done:
                call.orphans.append(dup)
                return
        if dup is not None:
            dup.close()


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _detach(conn)
        super()._put_conn(conn)


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _detach(conn)
        super()._put_conn(conn)


def _install(manager: PoolManager) -> PoolManager:
    manager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
    return manager


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose pools (direct and through a proxy) use the guarded connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _install(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _install(super().proxy_manager_for(proxy, **proxy_kwargs))
