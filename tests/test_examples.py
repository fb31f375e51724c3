"""The examples run, keep their promises, and the README agrees with the code."""

from __future__ import annotations

import importlib.util
import io
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from types import ModuleType

import pytest
import requests

from aadweb.emulator import DEMO_CLIENT_SECRET, DEMO_USERS, Emulator, EmulatorServer
from aadweb.protocol import aadsts
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.signin import worst_case_seconds
from aadweb.testing import DEMO_ENV_PASSTHROUGH, DevServer, register_demo_redirect
from tests.browserless import Browser
from tests.conftest import emulator_settings
from tests.test_cli import SECRET_KEY, clean_env, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"aadweb_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- walkthrough.py ---------------------------------------------------------------------------------


def test_walkthrough_runs_as_a_script_and_exits_0() -> None:
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "walkthrough.py")], cwd=ROOT, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Done: the emulator minted" in out
    assert DEMO_CLIENT_SECRET not in out


def test_walkthrough_prints_every_leg_and_no_secret_in_clear() -> None:
    walkthrough = load_example("walkthrough")
    emulator = Emulator()
    out = io.StringIO()

    assert walkthrough.main([], emulator=emulator, out=out) == 0

    text = out.getvalue()
    minted = emulator.minted_secrets()
    assert len(minted) >= 4  # code, access token, refresh token, id_tokens
    for secret in minted:
        assert secret not in text
    # Everything the app sent that is a secret or binds the sign-in: state, nonce, verifier, ...
    sent = [v for r in emulator.requests for k, v in {**r.query, **r.form}.items()
            if k in ("state", "nonce", "code", "code_verifier", "client_secret", "refresh_token")]
    assert len(sent) >= 5
    for value in sent:
        assert value not in text
    assert DEMO_CLIENT_SECRET not in text
    assert "client_secret=\u00abclient_secret:" in text
    for leg in ("oauth2/authorize", "openid-configuration", "discovery/keys", "oauth2/token", "/v1.0/me"):
        assert leg in text, leg
    verdicts = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("PASS", "FAIL"))]
    assert "FAIL" not in text
    for check in ("signature", "iss", "aud", "exp", "nonce", "c_hash", "back-channel"):
        assert check in verdicts, check
    assert f"displayName={DEMO_USERS[0].name!r}" in text


# --- gunicorn.conf.py -------------------------------------------------------------------------------


def gunicorn_config(env: dict[str, str] | None = None) -> dict[str, object]:
    source = (EXAMPLES / "gunicorn.conf.py").read_text(encoding="utf-8")
    code = compile(source, "gunicorn.conf.py", "exec")
    namespace: dict[str, object] = {"__file__": str(EXAMPLES / "gunicorn.conf.py")}
    saved = dict(os.environ)
    try:
        os.environ.update(env or {})
        exec(code, namespace)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return namespace


def test_gunicorn_conf_compiles_with_a_log_format_without_query_strings() -> None:
    conf = gunicorn_config()
    fmt = conf["access_log_format"]
    assert isinstance(fmt, str)
    assert "%(U)s" in fmt
    for leaky in ("%(r)s", "%(q)s", "%(f)s", "{cookie}i", "{authorization}i"):
        assert leaky not in fmt.lower()
    assert conf["worker_class"] == "sync"
    workers = conf["workers"]
    assert isinstance(workers, int) and 1 <= workers <= 12
    assert isinstance(conf["timeout"], int) and conf["timeout"] > 10
    assert "forwarded_allow_ips" in (EXAMPLES / "gunicorn.conf.py").read_text(encoding="utf-8")


def test_gunicorn_timeout_stays_above_the_http_timeout() -> None:
    timeout = gunicorn_config({"AADWEB_HTTP_TIMEOUT": "30"})["timeout"]
    assert isinstance(timeout, int) and timeout > 30


#: "6 × AADWEB_HTTP_TIMEOUT + 2" (README, SECURITY.md) or "6 x AADWEB_HTTP_TIMEOUT + 2" (the conf's comments)
_FORMULA = re.compile(r"(\d+)\s+[×x]\s+AADWEB_HTTP_TIMEOUT\s+\+\s+(\d+)\s+seconds")
#: What examples/gunicorn.conf.py adds to the worst case for the session store and scheduling.
STORE_MARGIN = 10


def _linear(f: Callable[[float], float]) -> tuple[float, float]:
    """(a, b) of f(t) = a * t + b, checked at a third point."""
    b = f(0.0)
    a = f(1.0) - b
    assert f(7.0) == a * 7 + b
    return a, b


def test_worker_timeout_advice_is_the_code_s_worst_case_in_readme_security_and_gunicorn_conf() -> None:
    """One formula, from the code (aadweb.signin.worst_case_seconds), quoted everywhere: README,
    SECURITY.md and the conf's comments say "6 × AADWEB_HTTP_TIMEOUT + 2 seconds" (worst case)
    and "+ 12 seconds" (the worker timeout); the conf computes the same from the variable."""
    a, b = _linear(worst_case_seconds)
    worst = (int(a), int(b))
    timeout = (int(a), int(b) + STORE_MARGIN)
    texts = {
        "README.md": README,
        "SECURITY.md": (ROOT / "SECURITY.md").read_text(encoding="utf-8"),
        "examples/gunicorn.conf.py": (EXAMPLES / "gunicorn.conf.py").read_text(encoding="utf-8"),
    }
    for name, text in texts.items():
        said = {(int(m.group(1)), int(m.group(2))) for m in _FORMULA.finditer(text)}
        assert said == {worst, timeout}, f"{name} says {sorted(said)}; the code's worst case is {worst}"
    default = worst_case_seconds(10)
    assert f"{default:g} s" in README and f"{default + STORE_MARGIN:g} s" in README
    for http_timeout in ("10", "3", "2.5", "30"):
        conf = gunicorn_config({"AADWEB_HTTP_TIMEOUT": http_timeout})
        expected = math.ceil(worst_case_seconds(float(http_timeout))) + STORE_MARGIN
        assert conf["timeout"] == expected, http_timeout
        assert conf["graceful_timeout"] == expected
    proxy_read = re.search(r"proxy_read_timeout (\d+)s", texts["examples/gunicorn.conf.py"])
    assert proxy_read is not None and int(proxy_read.group(1)) >= worst_case_seconds(10) + STORE_MARGIN


def test_gunicorn_conf_tells_to_put_a_buffering_proxy_in_front() -> None:
    conf = (EXAMPLES / "gunicorn.conf.py").read_text(encoding="utf-8")
    for directive in ("proxy_buffering on", "proxy_request_buffering on", "client_body_buffer_size",
                      "client_body_timeout", "client_header_timeout", "send_timeout", "proxy_read_timeout"):
        assert directive in conf, directive
    for text in (README, (ROOT / "SECURITY.md").read_text(encoding="utf-8")):
        assert "buffering reverse proxy" in text and "slow clients" in text


def _gunicorn_env(emulator_url: str, port: int) -> dict[str, str]:
    return clean_env({
        "AADWEB_TENANT": "6f3c1a52-9b7e-4d2a-8c1f-2a9e5b7d4c10",
        "AADWEB_CLIENT_ID": "3c9d6b8e-1f2a-4b7c-9d0e-5a6b7c8d9e0f",
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_SECRET_KEY": SECRET_KEY,
        "AADWEB_AUTHORITY_HOST": emulator_url,
        "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me",
        "AADWEB_REDIRECT_URI": f"http://localhost:{port}/getAToken",
        "AADWEB_RESPONSE_TYPE": "code",
        "AADWEB_SESSION_STORE": "memory:",
    })


def _gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed (the test extra has it)")
    return subprocess.Popen(
        [str(gunicorn), "-c", str(EXAMPLES / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}", "-w", "2",
         "aadweb.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        return proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)


def _raw_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """One raw HTTP/1.1 GET (requests would not send a header name with an underscore as is)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split()[1]), head


def test_gunicorn_serves_aadweb_wsgi_with_the_example_config(emulator_url: str) -> None:
    port = free_port()
    proc = _gunicorn(_gunicorn_env(emulator_url, port), port)
    try:
        health = None
        for _ in range(100):
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # booting (a busy machine is slow)
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert health is not None and health.status_code == 200
        answer = requests.get(f"http://127.0.0.1:{port}/getAToken?code=SECRETCODE&state=SECRETSTATE",
                              allow_redirects=False, timeout=10)
        assert answer.status_code == 400
        # A client's SCRIPT_NAME header (gunicorn honours it from "trusted" forwarders, loopback by
        # default) must not become the mount point: the example config sets forwarder_headers.
        for path, script_name in (("//evil.example/", "//evil.example"), ("/auth/", "/auth")):
            status, head = _raw_get(port, path, {"SCRIPT_NAME": script_name})
            assert status == 404, (path, head)  # the path as sent, at the site root: no such page
            assert "location:" not in head.lower()
    finally:
        out, err = _stop(proc)
    logs = out + err  # accesslog "-" is stdout, errorlog "-" is stderr
    assert '"GET /getAToken" 400' in logs
    assert "SECRETCODE" not in logs and "SECRETSTATE" not in logs


def test_gunicorn_refuses_to_boot_with_an_invalid_configuration() -> None:
    port = free_port()
    proc = _gunicorn(clean_env({"AADWEB_TENANT": "not a tenant!"}), port)
    try:
        proc.wait(timeout=60)
    finally:
        _, err = _stop(proc)
    assert proc.returncode != 0
    assert "aadweb cannot start: the configuration is not valid" in err
    assert "AADWEB_CLIENT_ID is required" in err


# --- subpath.py -------------------------------------------------------------------------------------


@pytest.fixture
def subpath_server() -> Iterator[tuple[DevServer, str]]:
    subpath = load_example("subpath")
    emulator = Emulator()
    with EmulatorServer(emulator) as emu_server:
        server = DevServer("127.0.0.1", 0)
        try:
            redirect_uri = f"http://localhost:{server.port}/auth/getAToken"
            register_demo_redirect(emulator, redirect_uri)
            settings = emulator_settings(emu_server.url, redirect_uri=redirect_uri,
                                         secret_key=Secret("secret_key", SECRET_KEY))
            server.set_app(subpath.build_app(settings))
            server.start()
            yield server, f"http://localhost:{server.port}"
        finally:
            server.shutdown()


def test_subpath_builds_and_signs_in_under_auth(subpath_server: tuple[DevServer, str]) -> None:
    _, base = subpath_server
    browser = Browser(timeout=20)
    main = browser.get(f"{base}/")
    assert main.status_code == 200 and "The main site" in main.text

    home = browser.sign_in(f"{base}/auth")
    assert home.status_code == 200
    assert home.url == f"{base}/auth/"
    assert DEMO_USERS[0].name in home.text
    assert 'href="/auth/graphcall"' in home.text
    graph = browser.get(f"{base}/auth/graphcall")
    assert graph.status_code == 200 and DEMO_USERS[0].upn in graph.text
    assert any(url.startswith(f"{base}/auth/getAToken") for _, url, _ in browser.hops)


# --- the README agrees with the code ----------------------------------------------------------------


def test_readme_starts_with_make_run_and_make_test() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    assert README.index("```sh") < README.index("\n## ")
    assert first_block.group(1).split() == ["make", "run", "make", "test"]


def test_readme_aadsts_table_is_the_one_in_aadsts() -> None:
    expected = ["| AADSTS | what happened | what to do |", "|---|---|---|"] + [
        f"| {code} | {e.title} | {e.what_to_do} |" for code, e in aadsts._EXPLANATIONS.items()
    ]
    section = re.search(r"<!-- aadsts-table -->\n(.*?)\n<!-- /aadsts-table -->", README, re.S)
    assert section is not None
    assert section.group(1).splitlines() == expected, "regenerate the README table:\n" + "\n".join(expected)


def test_every_aadsts_code_in_the_readme_is_explained_by_aadsts() -> None:
    for code in {int(c) for c in re.findall(r"^\| (\d{4,8}) \|", README, re.M)}:
        assert aadsts.explain(code) is not None, code


def test_readme_documents_every_setting_and_the_demo_passthrough() -> None:
    table = {m for m in re.findall(r"^\| `(AADWEB_[A-Z_]+)` \|", README, re.M)}
    settings = {f"AADWEB_{f.name.upper()}" for f in fields(Settings)}
    assert settings <= table, settings - table
    assert table - settings <= {"AADWEB_CONFIG"}
    for name in DEMO_ENV_PASSTHROUGH:
        assert name in README
    assert "<!-- bench-table -->" in README
    assert "gunicorn -c examples/gunicorn.conf.py aadweb.wsgi:app" in README
