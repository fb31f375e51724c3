"""Two gunicorn workers writing one transcript at once: only whole, parseable lines, every
sign-in complete and in order, no secret. The app runs under gunicorn in a subprocess (stopped
by its pid), the emulator in a thread of this process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, Emulator
from aadweb.transcript.reader import group_flows, read_file
from tests.appserver import allow_redirect_uri
from tests.browserless import Browser
from tests.test_gunicorn import free_port, stop
from tests.transcript.transcript_helpers import assert_no_secrets

pytestmark = pytest.mark.timeout(180)

SIGN_INS = 20
SIGN_IN_LEGS = ["login", "authorize_redirect", "form_post", "form_post_redirect", "callback", "token",
                "validation", "signed_in"]


@contextmanager
def gunicorn(emulator_url: str, tmp: Path, port: int, wire_log: Path, *, preload: bool) -> Iterator[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AADWEB_TENANT": DEMO_TENANT_ID,
        "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_AUTHORITY_HOST": emulator_url,
        "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me",
        "AADWEB_REDIRECT_URI": f"http://127.0.0.1:{port}/getAToken",
        "AADWEB_SECRET_KEY": "gunicorn-wire-test-secret-key-shared-by-all-workers-0123",
        "AADWEB_SESSION_STORE": f"sqlite:///{tmp / 'sessions.db'}",
        "AADWEB_WIRE_LOG": str(wire_log),
    }
    cmd = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}",
           "--graceful-timeout", "2", *(["--preload"] if preload else []), "aadweb.wsgi:app"]
    log = tmp / "gunicorn.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        import requests

        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gunicorn did not answer within 30 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.mark.parametrize("preload", [False, True], ids=["workers-open", "preload-then-fork"])
def test_two_workers_write_only_whole_lines(emulator: Emulator, emulator_url: str, tmp_path: Path,
                                            preload: bool) -> None:
    port, wire_log = free_port(), tmp_path / "wire.jsonl"
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port}/getAToken")
    errors: list[BaseException] = []
    with gunicorn(emulator_url, tmp_path, port, wire_log, preload=preload) as url:

        def sign_in() -> None:
            try:
                browser = Browser()
                browser.http.headers["Connection"] = "close"  # a new connection per leg: either worker
                assert "Adele Vance" in browser.sign_in(url).text
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sign_in) for _ in range(SIGN_INS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors[0]

    raw = wire_log.read_bytes()
    assert raw.endswith(b"\n")
    loaded = read_file(wire_log)
    assert loaded.skipped == 0 and len(loaded.records) == len(raw.splitlines())  # every line parses
    pids = Counter(r.pid for r in loaded.records)
    assert len(pids) == 2, pids  # both workers wrote
    flows = {flow: recs for flow, recs in group_flows(loaded.records).items() if flow is not None}
    assert len(flows) == SIGN_INS
    crossed = 0
    for recs in flows.values():
        legs = [r.leg for r in recs if r.leg not in ("metadata", "jwks")]
        assert legs == SIGN_IN_LEGS, legs
        assert all(v.passed for v in next(r for r in recs if r.leg == "validation").verdicts or ())
        crossed += len({r.pid for r in recs}) > 1
    assert crossed > 0, "no sign-in crossed workers"
    # Each worker fetched metadata and keys once for itself (per-process cache).
    assert sum(r.leg == "jwks" for r in loaded.records) <= 2
    secrets = set(emulator.minted_secrets()) | {DEMO_CLIENT_SECRET}
    secrets |= {v for r in emulator.requests for k, v in {**r.query, **r.form}.items()
                if k in ("state", "nonce", "code_verifier", "code") and v}
    assert_no_secrets(raw.decode("utf-8"), secrets)
