"""The wire layer: sending described requests, recording them, and caching the tenant's keys.

Everything that touches the network (through ``requests``) lives here, and so does the one
place where its exceptions become :class:`~aadweb.errors.TransportError`.
"""

from __future__ import annotations

from aadweb.wire.keycache import KeyCache
from aadweb.wire.recording import Exchange, ExchangeHook, RecordingTransport
from aadweb.wire.transport import RequestsTransport, Transport
from aadweb.wire.wsgi import WSGITransport

__all__ = [
    "Exchange",
    "ExchangeHook",
    "KeyCache",
    "RecordingTransport",
    "RequestsTransport",
    "Transport",
    "WSGITransport",
]
