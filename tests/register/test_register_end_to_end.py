"""End to end, real sockets and real processes: ``aadweb register`` against the emulator, then
``aadweb serve`` with the file it wrote, then a sign-in to ``/graphcall`` with the new app."""

from __future__ import annotations

import os
import stat
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aadweb.emulator import Emulator, EmulatorServer
from tests.browserless import Browser
from tests.test_cli import Running, free_port

from .support import LINE, MEGAN


@pytest.fixture
def live_emulator() -> Iterator[tuple[Emulator, str]]:
    emu = Emulator()  # real time: the app validates its tokens against the real clock
    emu.device_code_interval = 1  # Azure says 5; one second keeps this test quick
    with EmulatorServer(emu, host="127.0.0.1", port=0) as srv:
        yield emu, srv.url


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AADWEB_")}
    env.update(extra)
    return env


def test_register_then_serve_then_sign_in_to_graphcall(live_emulator: tuple[Emulator, str], tmp_path: Path) -> None:
    emu, emulator_url = live_emulator
    port = free_port()
    out = tmp_path / "aadweb.toml"
    env = clean_env(AADWEB_AUTHORITY_HOST=emulator_url, AADWEB_GRAPH_URL=f"{emulator_url}/v1.0/me")
    register = Running(["register", "--name", "e2e app", "--tenant", "contoso.example", "--redirect-uri",
                        f"http://127.0.0.1:{port}/getAToken", "--out", str(out)], env)
    try:
        line = register.wait_for(LINE.pattern)
        page = requests.post(line.group(1), data={"user_code": line.group(2), "login": MEGAN, "action": "continue"},
                             timeout=10)
        assert page.status_code == 200
        register.wait_for(r"Settings written to")
        assert register.proc.wait(timeout=30) == 0
    finally:
        register.stop()
    config = tomllib.loads(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    secret = config["AADWEB_CLIENT_SECRET"]
    assert "".join(register.stdout).count(secret) == 1 and secret not in register.stderr

    serve = Running(["serve", "--port", str(port)], clean_env(AADWEB_CONFIG=str(out), AADWEB_SESSION_STORE="memory:"))
    try:
        app = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{app}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, serve.stderr
            time.sleep(0.1)
        browser = Browser()
        browser.sign_in(app, user=MEGAN)
        graph = browser.get(f"{app}/graphcall")
        assert graph.status_code == 200, graph.text[:500]
        assert "Megan Bowen" in graph.text
    finally:
        serve.stop()
    assert secret not in serve.stderr and secret not in "".join(serve.stdout)
    assert emu.count("POST", "/token") >= 1 and emu.application(config["AADWEB_CLIENT_ID"]) is not None
