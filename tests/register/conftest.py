"""An emulator on a loopback socket whose clock the registrar's fake sleep moves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aadweb.emulator import Emulator, EmulatorServer

from .support import OffsetClock


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def emu(clock: OffsetClock) -> Emulator:
    return Emulator(clock=clock)


@pytest.fixture
def emulator_url(emu: Emulator) -> Iterator[str]:
    with EmulatorServer(emu, host="127.0.0.1", port=0) as srv:
        yield srv.url
