"""Sending described requests: the one place where the network (``requests``) is touched.

:class:`Transport` is the whole interface, ``send(request, deadline=...)`` (as in httpx);
:class:`RequestsTransport` sends over the network with a keep-alive session, a hard overall
deadline and a body cap; :class:`WSGITransport` calls a WSGI app in-process;
:class:`MockTransport` answers from a function; :class:`RecordingTransport` wraps any of them
and records each exchange (the wire transcript's hook). requests/urllib3/socket exceptions
become :class:`~aadweb.errors.TransportError` here and nowhere else.
"""

from __future__ import annotations

from aadweb.transport.base import Transport
from aadweb.transport.mock import MockHandler, MockTransport
from aadweb.transport.network import RequestsTransport
from aadweb.transport.recording import Exchange, ExchangeHook, RecordingTransport
from aadweb.transport.wsgi import WSGITransport

__all__ = [
    "Exchange",
    "ExchangeHook",
    "MockHandler",
    "MockTransport",
    "RecordingTransport",
    "RequestsTransport",
    "Transport",
    "WSGITransport",
]
