"""Fixtures for the wire tests: the scripted loopback server and a transport."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from aadweb.transport.network import RequestsTransport
from tests.transport.scripted import ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    try:
        yield scripted
    finally:
        scripted.close()


@pytest.fixture
def transport() -> Iterator[RequestsTransport]:
    with RequestsTransport(timeout=5.0) as t:
        yield t


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
