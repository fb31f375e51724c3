"""The whole transport interface (as in httpx): ``send(request, deadline=...)``.

Implementations: :class:`~aadweb.transport.network.RequestsTransport` (the network, over
``requests``), :class:`~aadweb.transport.wsgi.WSGITransport` (a WSGI app in-process),
:class:`~aadweb.transport.mock.MockTransport` (a function answers), and
:class:`~aadweb.transport.recording.RecordingTransport`, which wraps any of them and records
each exchange.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aadweb.protocol.http import HttpRequest, HttpResponse

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """Sends one request, never follows a redirect, and answers or raises ``TransportError``.

    ``deadline`` is an absolute value of the transport's clock; the call finishes (or raises
    :class:`~aadweb.errors.DeadlineExceeded`) by then or by the transport's own timeout,
    whichever is earlier.
    """

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse: ...
