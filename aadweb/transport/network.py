"""The real transport: :class:`RequestsTransport`, over a keep-alive ``requests.Session``.

This module is the one boundary where requests/urllib3/socket exceptions become
:class:`~aadweb.errors.TransportError` (``ConnectionFailed`` when the upstream could not be
reached, ``DeadlineExceeded`` for time), ``raise ... from exc``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType

import requests
import urllib3.exceptions

from aadweb.errors import AadWebError, ConnectionFailed, DeadlineExceeded, InvalidResponse, TransportError
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.transport import _watchdog
from aadweb.transport.common import USER_AGENT, BodyCap, describe, outbound_headers

__all__ = ["RequestsTransport"]

CHUNK_SIZE = 8192

# Everything the foreign stack may raise while sending or reading. Anything else is a bug.
_FOREIGN: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class RequestsTransport:
    """The production transport: one keep-alive ``requests.Session`` per transport.

    Guarantees, each for a reason:

    * **No redirects** (``allow_redirects=False``): a 3xx comes back as an ``HttpResponse`` for
      the caller to refuse; a token POST is never re-posted to wherever a server points.
    * **No ambient configuration** (``trust_env = False``): ``HTTP(S)_PROXY``, ``NO_PROXY``,
      ``.netrc`` credentials and ``REQUESTS_CA_BUNDLE`` are ignored; ``proxies`` (if given)
      are exactly the proxies used. Certificates are always verified (against ``ca_bundle``
      if given, else the ``certifi`` roots); there is no switch to turn verification off.
    * **No cookies kept**: the session's jar refuses every cookie, so nothing one user's call
      receives is sent on another user's call.
    * **No retries** (``max_retries=0``): a retried token POST could spend a one-time code.
    * **Overall deadline**: connect, send, headers and body together finish within
      ``timeout`` seconds (or by ``deadline``, if earlier). Each socket operation times out
      after at most the remaining time, and a watchdog thread shuts the socket down at the
      deadline (see :mod:`aadweb.transport._watchdog`), so a server that drips bytes (TLS
      handshake, headers or body) is cut off within milliseconds of the deadline once the TCP
      connection is up. DNS resolution is bounded by the system resolver only, and the TCP
      connect by the remaining time per resolved address.
      An overrun raises :class:`DeadlineExceeded` and the connection is closed, never reused.
    * **Body cap**: at most ``max_body`` bytes *after* content-decoding; a larger
      ``Content-Length`` is refused before reading, and a stream (chunked, or a gzip bomb)
      is refused as soon as its decoded size crosses the cap.
    * **Safe errors**: messages name ``METHOD scheme://host:port/path`` and what failed,
      never a query string, a header or the form body.

    Thread safety: one instance is meant to be shared by every thread of a process. The
    session is configured once and never mutated afterwards (its cookie jar refuses all
    cookies); urllib3's pool hands each connection to one thread at a time; the current
    call's deadline is thread-local. Per process: a transport used in a forked child
    (gunicorn ``--preload``) starts a fresh session and watchdog there on its first call.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_body: int = 1 << 20,
        proxies: Mapping[str, str] | None = None,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.monotonic,
        pool_maxsize: int = 16,
        ca_bundle: str | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        if max_body < 0:
            raise ValueError("max_body must not be negative")
        if ca_bundle is not None and not os.path.isfile(ca_bundle):
            raise ValueError(f"CA bundle {ca_bundle!r} is not a file")
        self._timeout = float(timeout)
        self._max_body = max_body
        self._user_agent = user_agent
        self._clock = clock
        self._proxies = dict(proxies) if proxies else {}
        self._pool_maxsize = pool_maxsize
        # Certificates are always verified; ca_bundle only says against which roots.
        self._verify: str | bool = ca_bundle if ca_bundle is not None else True
        self._fork_lock = threading.Lock()
        self._pid = os.getpid()
        self._session, self._watchdog = self._new_session()
        self._finalizer = weakref.finalize(self, _close_session, self._session, self._watchdog)

    def _new_session(self) -> tuple[requests.Session, _watchdog.Watchdog]:
        session = requests.Session()
        session.trust_env = False
        session.headers.clear()  # every header is set per request (outbound_headers)
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = _watchdog.GuardedAdapter(pool_connections=4, pool_maxsize=self._pool_maxsize, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session, _watchdog.Watchdog(self._clock)

    def _after_fork(self) -> None:
        """In a forked child (gunicorn ``--preload``), start afresh.

        The parent's pooled sockets are shared with the parent and its watchdog thread does
        not exist here; they are dropped (not closed: closing could disturb the parent).
        """
        with self._fork_lock:
            if self._pid != os.getpid():
                self._finalizer.detach()
                self._session, self._watchdog = self._new_session()
                self._finalizer = weakref.finalize(self, _close_session, self._session, self._watchdog)
                self._pid = os.getpid()

    def __enter__(self) -> RequestsTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections and stop the watchdog thread (also done at garbage collection)."""
        self._finalizer()

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        """Send ``request`` once and return the complete response (see the class guarantees)."""
        where = describe(request)
        start = self._clock()
        end = start + self._timeout if deadline is None else min(start + self._timeout, deadline)
        budget = end - start
        if budget <= 0:
            raise DeadlineExceeded(f"{where}: deadline passed before sending")
        body = request.encoded_body()
        headers = outbound_headers(request, user_agent=self._user_agent, has_body=body is not None)
        if self._pid != os.getpid():
            self._after_fork()
        call = self._watchdog.start(end)
        response: requests.Response | None = None
        try:
            with _watchdog.running(call):
                try:
                    response = self._session.request(
                        request.method,
                        request.url,
                        headers=headers,
                        data=body,
                        allow_redirects=False,
                        stream=True,
                        timeout=(budget, budget),
                        proxies=self._proxies,
                        verify=self._verify,
                    )
                    content = self._read_body(response, end, where)
                except AadWebError:
                    raise
                except _FOREIGN as exc:
                    raise self._translate(exc, where, call, end, budget) from exc
            if call.expired:  # the watchdog fired between the last byte and here
                raise DeadlineExceeded(f"{where}: no complete answer within {budget:.1f} s")
        finally:
            self._watchdog.finish(call)
            if response is not None:
                _close_quietly(response)
        status = response.status_code
        try:
            return HttpResponse(
                status=status,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=content,
                url=request.url,
            )
        except ValueError as exc:
            raise InvalidResponse(f"{where}: impossible HTTP status {status}") from exc

    def _read_body(self, response: requests.Response, end: float, where: str) -> bytes:
        cap = BodyCap(self._max_body, where)
        cap.check_declared(response.headers.get("content-length"))
        for chunk in response.iter_content(CHUNK_SIZE):  # decodes gzip/deflate chunk by chunk
            cap.add(chunk)
            if self._clock() >= end:
                raise DeadlineExceeded(f"{where}: body not complete by the deadline")
        return cap.body()

    def _translate(
        self, exc: BaseException, where: str, call: _watchdog.Call, end: float, budget: float
    ) -> TransportError:
        # After the watchdog's shutdown the stack reports end-of-file; say what really happened.
        reason = "cut off at the deadline" if call.expired else _reason(exc)
        if call.expired or self._clock() >= end or _is_timeout(exc):
            return DeadlineExceeded(f"{where}: no complete answer within {budget:.1f} s ({reason})")
        if reason in _UNREACHABLE:
            return ConnectionFailed(f"{where}: {reason}")
        return TransportError(f"{where}: {reason}")


def _close_session(session: requests.Session, watchdog: _watchdog.Watchdog) -> None:
    session.close()
    watchdog.close()


def _close_quietly(response: requests.Response) -> None:
    """Give the connection back, or close it.

    A fully read response has already been handed back to the pool by urllib3 (and detached
    from the watchdog first). A partly read one (error, overrun, body cap) is closed, socket
    and all, so the connection is never reused with unread bytes on it.
    """
    with contextlib.suppress(*_FOREIGN):
        response.close()


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (cause, context, urllib3's ``reason``, args)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nxt in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return seen


def _is_timeout(exc: BaseException) -> bool:
    for e in _chain(exc):
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            continue  # a subclass of ConnectTimeoutError for history's sake, but a refusal
        if isinstance(e, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
            return True
    return False


# What failed, in words, by exception class: checked in order over the whole chain. The
# foreign exceptions' own messages are never used: requests puts the path and query in them.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (ssl.SSLCertVerificationError, "TLS certificate verification failed"),
    (requests.exceptions.SSLError, "TLS failed"),
    (ssl.SSLError, "TLS failed"),
    (requests.exceptions.ProxyError, "the proxy failed"),
    (socket.gaierror, "the host name could not be resolved"),
    (urllib3.exceptions.NameResolutionError, "the host name could not be resolved"),
    (requests.exceptions.InvalidURL, "the URL is not valid"),
    (requests.exceptions.InvalidHeader, "a request header is not valid"),
    (requests.exceptions.ContentDecodingError, "the body could not be decoded (Content-Encoding)"),
    (requests.exceptions.ChunkedEncodingError, "the connection broke while reading the body"),
    (http.client.RemoteDisconnected, "the server closed the connection without answering"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (TimeoutError, "timed out"),
    (requests.Timeout, "timed out"),
    (requests.ConnectionError, "connection failed"),
)


#: The reasons that mean the upstream could not be reached (503: try again). A certificate that
#: fails verification, an invalid URL or header, an undecodable body are not: trying again
#: cannot help (502).
_UNREACHABLE: frozenset[str] = frozenset({
    "TLS failed", "the proxy failed", "the host name could not be resolved",
    "the connection broke while reading the body", "the server closed the connection without answering",
    "connection refused", "connection reset", "connection failed",
})


def _reason(exc: BaseException) -> str:
    chain = _chain(exc)
    for cls, text in _REASONS:
        if any(isinstance(e, cls) for e in chain):
            return text
    return f"request failed ({type(exc).__name__})"
