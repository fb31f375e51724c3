"""Shared fixtures: the real emulator on a loopback socket, and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aadweb.emulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    Emulator,
    EmulatorServer,
)
from aadweb.secret import Secret
from aadweb.settings import Settings

REDIRECT_URI = "http://localhost:5000/getAToken"


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[tuple[Emulator, EmulatorServer]]:
    """One emulator per test module (RSA key generation is not free); faults cleared per test."""
    emu = Emulator()
    with EmulatorServer(emu, host="127.0.0.1", port=0) as server:
        yield emu, server


@pytest.fixture
def emulator(emulator_server: tuple[Emulator, EmulatorServer]) -> Iterator[Emulator]:
    emu, _ = emulator_server
    emu.faults.clear()
    emu.requests.clear()
    yield emu
    emu.faults.clear()


@pytest.fixture
def emulator_url(emulator_server: tuple[Emulator, EmulatorServer]) -> str:
    return emulator_server[1].url


def emulator_settings(url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "tenant": DEMO_TENANT_ID,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": Secret("client_secret", DEMO_CLIENT_SECRET),
        "authority_host": url,
        "graph_url": f"{url}/v1.0/me",
        "redirect_uri": REDIRECT_URI,
        "session_store": "memory:",
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def settings(emulator_url: str) -> Settings:
    return emulator_settings(emulator_url)
