"""Fixtures: a fresh emulator (fake clock) on a real loopback socket for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aadweb.emulator import Emulator, EmulatorServer

from .support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock)


@pytest.fixture
def server(emu: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emu, host="127.0.0.1", port=0) as srv:
        yield srv


@pytest.fixture
def base(server: EmulatorServer) -> str:
    return server.url
