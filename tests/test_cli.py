"""aadweb.cli: check-config, serve's refusals, and an access log that never carries a secret."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import requests

from aadweb._devserver import access_line, safe_path
from aadweb.cli import main, settings_summary
from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from aadweb.errors import ConfigurationError
from aadweb.secret import Secret, fingerprint
from aadweb.settings import Settings
from aadweb.web import app_settings

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "k" * 20 + "-test-secret-key-not-for-production"


# --- running aadweb in a subprocess -------------------------------------------------------------


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """PATH and nothing else (no stray AADWEB_* from the developer's shell), plus ``extra``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """A ``python -m aadweb ...`` child in its own process group; stdout lines readable with a
    bounded wait; stderr collected. ``stop()`` sends SIGTERM to the pid, then SIGKILL to the group."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aadweb", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr = ""
        self._err: list[str] = []
        threading.Thread(target=self._pump_out, daemon=True).start()
        self._err_thread = threading.Thread(target=self._pump_err, daemon=True)
        self._err_thread.start()

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line)
            self.lines.put(line)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout}s; exit={self.proc.poll()}\n"
                    f"stdout: {''.join(self.stdout)}\nstderr: {''.join(self._err)}"
                )
            try:
                line = self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM by pid; SIGKILL its whole group only if it does not exit in time. The exit status."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own group: start_new_session=True
            self.proc.wait(timeout=10)
            self._err_thread.join(timeout=5)
            self.stderr = "".join(self._err)
        return self.proc.returncode


def run_aadweb(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run to completion (bounded); the child is killed by pid if it overruns."""
    proc = subprocess.Popen([sys.executable, "-m", "aadweb", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- check-config ---------------------------------------------------------------------------------


@pytest.fixture
def aadweb_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in list(os.environ):
        if name.startswith("AADWEB_"):
            monkeypatch.delenv(name)
    yield monkeypatch


def test_check_config_ok_prints_a_summary_with_fingerprints_only(
    aadweb_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aadweb_env.setenv("AADWEB_TENANT", DEMO_TENANT_ID)
    aadweb_env.setenv("AADWEB_CLIENT_ID", DEMO_CLIENT_ID)
    aadweb_env.setenv("AADWEB_CLIENT_SECRET", DEMO_CLIENT_SECRET)
    aadweb_env.setenv("AADWEB_SECRET_KEY", SECRET_KEY)

    assert main(["check-config"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("configuration OK")
    assert DEMO_CLIENT_SECRET not in out
    assert SECRET_KEY not in out
    assert fingerprint("client_secret", DEMO_CLIENT_SECRET) in out
    assert fingerprint("secret_key", SECRET_KEY) in out
    assert f"AADWEB_TENANT: {DEMO_TENANT_ID}" in out
    assert "AADWEB_AUTHORITY_HOST: https://login.microsoftonline.com" in out
    assert "AADWEB_SESSION_LIFETIME: 28800" in out and "AADWEB_SESSION_IDLE: 0" in out


def test_check_config_prints_every_problem_once_and_exits_1(
    aadweb_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aadweb_env.setenv("AADWEB_TENANT", "not a tenant!")
    aadweb_env.setenv("AADWEB_CLIENT_ID", "not-a-guid")
    aadweb_env.setenv("AADWEB_HTTP_TIMEOUT", "soon")
    aadweb_env.setenv("AADWEB_AUTHORITY_HOST", "http://login.example.com")
    aadweb_env.setenv("AADWEB_FOO", "1")
    with pytest.raises(ConfigurationError) as expected:
        app_settings()  # the settings' own problems and what serving needs (the secret key)
    problems = expected.value.problems
    assert len(problems) >= 6

    assert main(["check-config"]) == 1

    out = capsys.readouterr().out
    assert "configuration OK" not in out
    for problem in problems:
        assert out.count(problem) == 1, problem
    assert "AADWEB_FOO is not an aadweb setting" in out
    assert "AADWEB_SECRET_KEY is required" in out
    assert len([line for line in out.splitlines() if line.startswith("  - ")]) == len(problems)


def test_settings_summary_names_every_setting_and_shows_no_secret() -> None:
    settings = Settings(tenant=DEMO_TENANT_ID, client_id=DEMO_CLIENT_ID,
                        client_secret=Secret("client_secret", "s3cr3t"))
    lines = settings_summary(settings)
    text = "\n".join(lines)
    assert "s3cr3t" not in text
    assert "AADWEB_SECRET_KEY: (not set)" in text
    assert len(lines) == len(Settings.__dataclass_fields__)


def test_check_config_does_not_print_the_redis_password(
    aadweb_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aadweb_env.setenv("AADWEB_TENANT", DEMO_TENANT_ID)
    aadweb_env.setenv("AADWEB_CLIENT_ID", DEMO_CLIENT_ID)
    aadweb_env.setenv("AADWEB_CLIENT_SECRET", DEMO_CLIENT_SECRET)
    aadweb_env.setenv("AADWEB_SECRET_KEY", SECRET_KEY)
    aadweb_env.setenv("AADWEB_SESSION_STORE", "redis://app:hunter2%40pw@redis.example:6380/3")

    assert main(["check-config"]) == 0

    out = capsys.readouterr().out
    store_line = next(line for line in out.splitlines() if "AADWEB_SESSION_STORE" in line)
    assert "hunter2" not in out
    assert "redis.example:6380/3" in store_line


# --- serve refuses a bad configuration ------------------------------------------------------------


def test_serve_with_bad_config_exits_2_listing_problems_without_traceback() -> None:
    result = run_aadweb(["serve", "--port", str(free_port())], clean_env({"AADWEB_FOO": "x"}), timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "AADWEB_TENANT is required" in result.stderr
    assert "AADWEB_CLIENT_ID is required" in result.stderr
    assert "AADWEB_SECRET_KEY is required" in result.stderr
    assert "AADWEB_FOO is not an aadweb setting" in result.stderr


def test_wsgi_import_fails_with_every_problem_listed() -> None:
    proc = subprocess.run([sys.executable, "-c", "import aadweb.wsgi"], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "aadweb cannot start: the configuration is not valid" in proc.stderr
    for needle in ("AADWEB_TENANT is required", "AADWEB_CLIENT_ID is required", "AADWEB_SECRET_KEY is required"):
        assert needle in proc.stderr


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["wire"])
    assert exc.value.code == 2


def test_emulator_subcommand_delegates_to_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--help"])
    assert exc.value.code == 0
    assert "--redirect-uri" in capsys.readouterr().out


# --- the access log -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("/getAToken?code=SECRETCODE&state=x", "/getAToken"),
        ("/getAToken#id_token=SECRET", "/getAToken"),
        ("http://localhost:5000/getAToken?code=SECRET", "http://localhost:5000/getAToken"),
        ("/a\x1b[31m?x=SECRET", "/a\\x1b[31m"),
        ("?code=SECRET", "-"),
        ("", "-"),
        (None, "-"),
        ("/" + "a" * 500 + "?code=SECRET", "/" + "a" * 198 + "\u2026"),
    ],
)
def test_safe_path_drops_the_query_string(raw: object, shown: str) -> None:
    assert safe_path(raw) == shown


def test_access_line_has_method_path_status_duration_only() -> None:
    line = access_line("127.0.0.1", "GET", "/getAToken?code=SECRETCODE&state=x", "303", 0.0123)
    assert line == '127.0.0.1 "GET /getAToken" 303 12.3ms'
    assert access_line("127.0.0.1", "G\nET", "/x", "abc", None) == '127.0.0.1 "- /x" - -'


def test_serve_access_log_never_shows_query_strings_bodies_or_cookies(emulator_url: str) -> None:
    env = clean_env({
        "AADWEB_TENANT": DEMO_TENANT_ID,
        "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_SECRET_KEY": SECRET_KEY,
        "AADWEB_SESSION_STORE": "memory:",
        "AADWEB_AUTHORITY_HOST": emulator_url,
        "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me",
        "AADWEB_RESPONSE_TYPE": "code",
    })
    child = Running(["serve", "--host", "127.0.0.1", "--port", "0"], env)
    try:
        port = int(child.wait_for(r"serving on http://localhost:(\d+)").group(1))
        child.wait_for(r"gunicorn aadweb\.wsgi:app")
        base = f"http://127.0.0.1:{port}"
        cookies = {"aadweb_session": "SECRETCOOKIE", "other": "SECRETCOOKIE2"}
        r1 = requests.get(f"{base}/getAToken?code=SECRETCODE&state=SECRETSTATE", cookies=cookies,
                          allow_redirects=False, timeout=10)
        r2 = requests.post(f"{base}/getAToken?x=SECRETQUERY", data={"code": "SECRETFORM", "state": "SECRETSTATE2"},
                           cookies=cookies, allow_redirects=False, timeout=10)
        r3 = requests.get(f"{base}/healthz", timeout=10)
        assert r1.status_code >= 300 and r2.status_code >= 300 and r3.status_code == 200
        # A malformed request line: http.server itself answers 400 and would echo the line.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /getAToken?code=SECRETBAD HTTP/1.1 extra\r\n\r\n")
            assert b"400" in sock.recv(4096)
        time.sleep(0.2)  # let the last access-log lines reach stderr
    finally:
        code = child.stop()
    assert code == 0, child.stderr
    log = child.stderr
    for secret in ("SECRETCODE", "SECRETSTATE", "SECRETCOOKIE", "SECRETQUERY", "SECRETFORM", "SECRETBAD",
                   "code=", "state=", SECRET_KEY, DEMO_CLIENT_SECRET):
        assert secret not in log, secret
    assert '"GET /getAToken" ' in log
    assert '"POST /getAToken" ' in log
    assert '"GET /healthz" 200 ' in log
    assert "malformed request answered with 400" in log
