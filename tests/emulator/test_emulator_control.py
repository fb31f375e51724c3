"""The control plane over HTTP, the request log, the CLI in a subprocess, the import rule."""

from __future__ import annotations

import ast
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

import aadweb.emulator
from aadweb.emulator import DEMO_TENANT_ID, Emulator, EmulatorServer, main
from aadweb.emulator._keys import SPARE_KEYS

from .support import TIMEOUT, authorize_params, code_flow, redeem, sign_in, verify_front_channel

CTL = "/_emulator"


def test_faults_over_http(base: str, emu: Emulator) -> None:
    spec = {"kind": "error", "endpoint": "token", "times": 1, "aadsts": 70008}
    added = requests.post(f"{base}{CTL}/faults", json=spec, timeout=TIMEOUT)
    assert added.status_code == 201 and added.json()["added"][0]["aadsts"] == 70008
    listed = requests.get(f"{base}{CTL}/faults", timeout=TIMEOUT).json()["faults"]
    assert listed[0]["kind"] == "error" and listed[0]["remaining"] == 1
    assert redeem(base, "x").json()["error_codes"] == [70008]
    assert requests.get(f"{base}{CTL}/faults", timeout=TIMEOUT).json() == {"faults": []}
    requests.post(f"{base}{CTL}/faults", json=[spec, {**spec, "times": None}], timeout=TIMEOUT)
    cleared = requests.delete(f"{base}{CTL}/faults", timeout=TIMEOUT).json()
    assert cleared == {"cleared": 2} and len(emu.faults) == 0


def test_bad_fault_json_is_400(base: str) -> None:
    for body in (b"{", b'{"kind": "error"}', b'{"kind": "delay", "endpoint": "token", "seconds": "x"}'):
        resp = requests.post(f"{base}{CTL}/faults", data=body, timeout=TIMEOUT)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_fault"


def test_rotate_keys_over_http(base: str, emu: Emulator) -> None:
    old = emu.signing_jwk_public()["kid"]
    kid = requests.post(f"{base}{CTL}/rotate-keys", json={"keep_old": True}, timeout=TIMEOUT).json()["kid"]
    keys = requests.get(f"{base}/common/discovery/keys", timeout=TIMEOUT).json()["keys"]
    assert [k["kid"] for k in keys][:2] == [kid, old] and len(keys) == 2 + SPARE_KEYS
    requests.post(f"{base}{CTL}/rotate-keys", timeout=TIMEOUT)
    assert len(requests.get(f"{base}/common/discovery/keys", timeout=TIMEOUT).json()["keys"]) == 1 + SPARE_KEYS


def test_requests_are_recorded_but_not_control_plane_ones(base: str, emu: Emulator) -> None:
    code = code_flow(base)["code"]
    redeem(base, code, headers={"X-Custom": "Yes"})
    requests.get(f"{base}{CTL}/faults", timeout=TIMEOUT)
    seen = requests.get(f"{base}{CTL}/requests", timeout=TIMEOUT).json()
    assert [(r["method"], r["path"]) for r in seen] == [
        ("POST", f"/{DEMO_TENANT_ID}/oauth2/authorize"), ("POST", f"/{DEMO_TENANT_ID}/oauth2/token")]
    token = seen[1]
    assert token["form"]["code"] == code and token["headers"]["x-custom"] == "Yes"
    assert token["at"] == 1_760_000_000.0 and token["query"] == {}
    assert emu.count("post", "/oauth2/token") == 1 and emu.requests[1].form["code"] == code
    emu.requests.clear()  # a plain list: tests may clear it
    assert requests.delete(f"{base}{CTL}/requests", timeout=TIMEOUT).json() == {"cleared": 0}


def test_control_plane_refuses_non_loopback_peers_and_hosts(base: str) -> None:
    emu = Emulator()
    remote = Client(emu).get(f"{CTL}/requests", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert remote.status_code == 403
    local = Client(emu).get(f"{CTL}/requests", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200
    rebound = requests.get(f"{base}{CTL}/requests", headers={"Host": "evil.example"}, timeout=TIMEOUT)
    assert rebound.status_code == 403


def test_minted_secrets_cover_every_token(base: str, emu: Emulator) -> None:
    fields = sign_in(base, authorize_params())
    body = redeem(base, fields["code"]).json()
    extra = emu.issue_id_token()
    expected = {fields["code"], fields["id_token"], body["access_token"], body["refresh_token"],
                body["id_token"], extra}
    assert emu.minted_secrets() == expected


def test_issue_id_token_for_tests(base: str, emu: Emulator) -> None:
    token = emu.issue_id_token(user="megan.bowen@contoso.example", code="abc", nonce="n",
                               header={"jku": "https://x"}, tid=None)
    claims = verify_front_channel(base, token, audience=aadweb.emulator.DEMO_CLIENT_ID)
    assert claims["upn"] == "megan.bowen@contoso.example" and claims["nonce"] == "n"
    assert claims["c_hash"] and "tid" not in claims


def test_server_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(Emulator(), host="0.0.0.0")
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2


def test_cli_serves_in_a_subprocess() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aadweb.emulator", "--port", "0",
         "--redirect-uri", "http://localhost:8080/cb"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=15)
        assert first.startswith("aadweb emulator listening on http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        meta = requests.get(f"{url}/{DEMO_TENANT_ID}/.well-known/openid-configuration", timeout=TIMEOUT)
        assert meta.json()["issuer"].endswith(f"/{DEMO_TENANT_ID}/")
        spec = {"kind": "error", "endpoint": "graph", "times": 1, "code": "TooManyRequests"}
        assert requests.post(f"{url}{CTL}/faults", json=spec, timeout=TIMEOUT).status_code == 201
        assert requests.get(f"{url}/v1.0/me", timeout=TIMEOUT).status_code == 429
        seen = requests.get(f"{url}{CTL}/requests", timeout=TIMEOUT).json()
        assert [r["path"] for r in seen] == [f"/{DEMO_TENANT_ID}/.well-known/openid-configuration", "/v1.0/me"]
        page = requests.get(f"{url}/", timeout=TIMEOUT).text
        assert "http://localhost:8080/cb" in page
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


FORBIDDEN = ("aadweb.protocol", "aadweb.transport", "aadweb.transcript", "aadweb.keycache", "aadweb.authority",
             "aadweb.graph", "aadweb.signin", "aadweb.web", "aadweb.sessions")


def test_the_emulator_imports_nothing_of_the_client() -> None:
    package = Path(aadweb.emulator.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    assert node.level == 1, f"{path.name} imports outside the emulator"
                    continue
                names = [node.module or ""]
                names += [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
                assert name == "aadweb.emulator" or not name.startswith("aadweb") or \
                    name.startswith("aadweb.emulator."), f"{path.name} imports {name}"
