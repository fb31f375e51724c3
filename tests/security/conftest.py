"""Fixtures of the security suite: one hostile provider per session, a fresh app per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.harness import Rig, RigFactory
from tests.hostile.server import HostileIdP


@pytest.fixture(scope="session")
def hostile_idp() -> Iterator[HostileIdP]:
    idp = HostileIdP().start()
    yield idp
    idp.stop()


@pytest.fixture
def rigs(hostile_idp: HostileIdP, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> Iterator[RigFactory]:
    """``rigs.make(**settings)`` starts the real app against the hostile provider."""
    caplog.set_level(logging.DEBUG, logger="aadweb")
    hostile_idp.reset()
    factory = RigFactory(idp=hostile_idp, caplog=caplog, tmp_path=tmp_path)
    hostile_idp.clock = factory.clock
    yield factory
    factory.close()
    hostile_idp.reset()


@pytest.fixture
def rig(rigs: RigFactory) -> Rig:
    """The default app: hybrid flow (code id_token, form_post)."""
    return rigs.make()


@pytest.fixture
def code_rig(rigs: RigFactory) -> Rig:
    """The seed-compatible code flow (response_mode=query, id_token from the token endpoint)."""
    return rigs.make(response_type="code")
