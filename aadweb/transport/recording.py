"""A transport wrapper that records every exchange: the hook for the wire transcript.

:class:`RecordingTransport` sends through any transport and keeps, for each call, the request,
the response or the exception, and the elapsed time. The request is recorded as it was given:
its ``client-request-id`` is the one its ``build_*`` function was handed, and the inner
transport sends that same id.

It does no redaction: requests hold secrets as :class:`~aadweb.secret.Secret` (which print as
fingerprints) and responses are kept as they came. The transcript writer, which redacts tokens
in bodies, plugs in as ``on_exchange``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aadweb.protocol.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from aadweb.transport.base import Transport

__all__ = ["Exchange", "ExchangeHook", "RecordingTransport"]

ExchangeHook = Callable[[HttpRequest, HttpResponse | None, BaseException | None, float], None]
"""``on_exchange(request, response, error, elapsed_seconds)``: exactly one of response/error is set."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """One call: the request as sent, and either its response or the exception it raised."""

    request: HttpRequest
    response: HttpResponse | None
    error: BaseException | None
    elapsed: float


class RecordingTransport:
    """Wraps ``inner``; records each exchange in :attr:`exchanges` and calls ``on_exchange``.

    ``keep=False`` keeps nothing (only the hook sees the exchanges): for a long-running app,
    whose wire transcript goes to a file, so memory does not grow with every call.

    Thread-safe: exchanges are appended under a lock, in completion order. The hook runs in
    the calling thread after the exchange is recorded; an exception from the hook propagates
    (a transcript that cannot be written should not fail silently).
    """

    def __init__(
        self,
        inner: Transport,
        *,
        on_exchange: ExchangeHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        keep: bool = True,
    ) -> None:
        self.inner = inner
        self._on_exchange = on_exchange
        self._keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> list[Exchange]:
        """A copy of the exchanges recorded so far, oldest first."""
        with self._lock:
            return list(self._exchanges)

    def clear(self) -> None:
        with self._lock:
            self._exchanges.clear()

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        start = self._clock()
        try:
            response = self.inner.send(request, deadline=deadline)
        except BaseException as exc:
            self._record(request, None, exc, self._clock() - start)
            raise
        self._record(request, response, None, self._clock() - start)
        return response

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def _record(
        self, request: HttpRequest, response: HttpResponse | None, error: BaseException | None, elapsed: float
    ) -> None:
        if self._keep:
            with self._lock:
                self._exchanges.append(Exchange(request=request, response=response, error=error, elapsed=elapsed))
        if self._on_exchange is not None:
            self._on_exchange(request, response, error, elapsed)
