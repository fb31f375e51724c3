"""The app under gunicorn (sync, 2 workers) in a subprocess, against the emulator in a thread.

Every gunicorn started here is stopped by its pid (SIGTERM, then SIGKILL) in a ``finally``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, Emulator
from tests.appserver import allow_redirect_uri
from tests.browserless import Browser

pytestmark = pytest.mark.timeout(120)

ACCESS_LOG_FORMAT = "%(p)s %(m)s %(U)s %(s)s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(emulator_url: str, db: Path | str, port: int, *, redirect_port: int | None = None, workers: int = 2,
             response_type: str = "code id_token", log: Path, args: tuple[str, ...] = (),
             env: dict[str, str] | None = None) -> Iterator[str]:
    """gunicorn -w N aadweb.wsgi:app on 127.0.0.1:port; yields its base URL once it accepts connections.

    ``db`` is a sqlite path or a whole ``AADWEB_SESSION_STORE`` URL."""
    redirect_port = redirect_port or port
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AADWEB_TENANT": DEMO_TENANT_ID,
        "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_AUTHORITY_HOST": emulator_url,
        "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me",
        "AADWEB_REDIRECT_URI": f"http://127.0.0.1:{redirect_port}/getAToken",
        "AADWEB_SECRET_KEY": "gunicorn-test-secret-key-shared-by-all-workers-0123456789",
        "AADWEB_SESSION_STORE": db if isinstance(db, str) else f"sqlite:///{db}",
        "AADWEB_RESPONSE_TYPE": response_type,
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--access-logfile", "-",
           "--access-logformat", ACCESS_LOG_FORMAT, "--graceful-timeout", "2", *args, "aadweb.wsgi:app"]
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:  # ready when *our* app answers: /healthz's JSON, not just any listener
                if "version" in requests.get(f"{url}/healthz", timeout=2).json():
                    break
            except (requests.RequestException, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gunicorn did not start within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def access_lines(log: Path) -> list[tuple[int, str, str, int]]:
    """(pid, method, path, status) of each access-log line."""
    out = []
    for line in log.read_text().splitlines():
        m = re.fullmatch(r"<?(\d+)>? (GET|POST) (\S+) (\d{3})", line.strip())
        if m:
            out.append((int(m[1]), m[2], m[3], int(m[4])))
    return out


@pytest.mark.parametrize("response_type", ["code id_token", "code"])
def test_sign_in_and_graphcall_under_gunicorn_with_two_workers(emulator: Emulator, emulator_url: str,
                                                              tmp_path: Path, response_type: str) -> None:
    port, log = free_port(), tmp_path / "gunicorn.log"
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port}/getAToken")
    with gunicorn(emulator_url, tmp_path / "sessions.db", port, response_type=response_type, log=log) as url:
        browser = Browser()
        home = browser.sign_in(url)
        assert home.status_code == 200 and "Adele Vance" in home.text
        graph = browser.get(f"{url}/graphcall")
        assert graph.status_code == 200 and "adele.vance@contoso.example" in graph.text
    assert emulator.count("POST", "/oauth2/token") == 1
    text = log.read_text()
    assert "code=" not in text and "state=" not in text  # no query strings in the access log


def test_a_sign_in_crosses_workers_with_the_sqlite_store(emulator: Emulator, emulator_url: str,
                                                        tmp_path: Path) -> None:
    """Deterministic: with worker A held by a slow request, /login lands on worker B; with B then
    held too, the callback waits for A. The access log's pids prove the sign-in crossed."""
    import threading

    from aadweb.emulator import Fault

    port, log = free_port(), tmp_path / "gunicorn.log"
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port}/getAToken")
    with gunicorn(emulator_url, tmp_path / "sessions.db", port, log=log) as url:
        holder = Browser()
        assert holder.sign_in(url).status_code == 200  # a session whose /graphcall we can slow down
        emulator.faults.add(Fault(kind="delay", endpoint="graph", seconds=3, times=2))

        def hold_a_worker() -> None:
            fresh = Browser()
            fresh.http.cookies.update(holder.http.cookies)
            fresh.http.headers["Connection"] = "close"
            fresh.get(f"{url}/graphcall")

        first = threading.Thread(target=hold_a_worker)
        first.start()  # worker A: busy for 3 s
        time.sleep(0.5)
        browser = Browser()
        browser.http.headers["Connection"] = "close"
        page = browser.get(f"{url}/login")  # only worker B is free: /login lands there
        second = threading.Thread(target=hold_a_worker)
        second.start()  # worker B: busy for 3 s, until after A is free again
        time.sleep(0.5)
        home = _finish(browser, page)  # the callback legs wait for worker A
        first.join(timeout=15)
        second.join(timeout=15)
        assert home.status_code == 200 and "Adele Vance" in home.text
    lines = access_lines(log)
    login_pid = [pid for pid, _, path, _ in lines if path == "/login"][-1]
    finish_pid = [pid for pid, method, path, _ in lines if method == "GET" and path == "/getAToken"][-1]
    assert login_pid != finish_pid, "the sign-in did not cross workers"


def _finish(browser: Browser, page: requests.Response) -> requests.Response:
    """Complete a sign-in from the emulator's sign-in page: pick Adele, post the form_post."""
    from tests.browserless import parse_form_post

    action, fields = parse_form_post(page.text)
    signed = requests.post(requests.compat.urljoin(page.url, action),
                           data={**fields, "user": "adele.vance@contoso.example"}, allow_redirects=False, timeout=15)
    target, callback = parse_form_post(signed.text)
    posted = requests.post(target, data=callback, allow_redirects=False, timeout=15)  # cross-site: no cookie
    assert posted.status_code == 303, posted.status_code
    return browser.get(requests.compat.urljoin(target, posted.headers["Location"]))


def test_a_sign_in_started_on_one_instance_finishes_on_another(emulator: Emulator, emulator_url: str,
                                                              tmp_path: Path) -> None:
    """Deterministic: instance A starts the sign-in, the authority sends the browser to instance B."""
    port_a, port_b, db = free_port(), free_port(), tmp_path / "sessions.db"
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port_b}/getAToken")
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with gunicorn(emulator_url, db, port_b, log=log_b) as url_b, \
            gunicorn(emulator_url, db, port_a, redirect_port=port_b, log=log_a) as url_a:
        browser = Browser()
        home = browser.sign_in(url_a)  # /login on A; the callback comes back to B
        assert home.url.startswith(url_b) and "Adele Vance" in home.text
        assert browser.get(f"{url_a}/").status_code == 200  # the session is shared: A knows it too
    assert [p for _, _, p, _ in access_lines(log_a)].count("/login") == 1
    assert any(m == "GET" and p == "/getAToken" for _, m, p, _ in access_lines(log_b))


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def test_a_worker_killed_mid_sign_in_leaves_no_half_session(emulator: Emulator, emulator_url: str,
                                                             tmp_path: Path) -> None:
    import threading

    from aadweb.emulator import Fault
    from aadweb.sessions import open_store

    port, db, log = free_port(), tmp_path / "sessions.db", tmp_path / "g.log"
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port}/getAToken")
    with gunicorn(emulator_url, db, port, log=log) as url:
        master = int(re.findall(r"\[(\d+)\] \[INFO\] Listening at", log.read_text())[0])
        emulator.faults.add(Fault(kind="delay", endpoint="token", seconds=8, times=1))
        outcome: list[object] = []
        browser = Browser(timeout=20)
        signing_in = threading.Thread(target=lambda: outcome.append(_attempt(browser, url)))
        signing_in.start()
        deadline = time.monotonic() + 10
        while emulator.count("POST", "/oauth2/token") == 0:  # the worker is inside the token call
            assert time.monotonic() < deadline, "the sign-in never reached the token endpoint"
            time.sleep(0.05)
        for pid in worker_pids(master):
            os.kill(pid, signal.SIGKILL)
        signing_in.join(timeout=20)
        assert outcome and outcome[0] != 200  # the browser saw a broken connection, not a session
        store = open_store(f"sqlite:///{db}", secret_key="gunicorn-test-secret-key-shared-by-all-workers-0123456789")
        try:
            counts = store.counts()
            assert counts["sessions"] == 0 and counts["pending"] == 0, counts  # nothing half-made
        finally:
            store.close()
        deadline = time.monotonic() + 20  # the master starts new workers; they sign people in again
        while len(worker_pids(master)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert Browser().sign_in(url).status_code == 200


def _attempt(browser: Browser, url: str) -> object:
    try:
        return browser.sign_in(url).status_code
    except Exception as exc:  # the connection dies with the worker
        return type(exc).__name__


def _raw_chunked_post(url: str, path: str, body: bytes, cookie: str) -> bytes:
    """POST ``body`` as sent (a hand-made ``Transfer-Encoding: chunked``) over a raw socket."""
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Transfer-Encoding: chunked\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").encode()
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head + body)
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("body", [
    b"zz\r\nstate=x\r\n0\r\n\r\n",            # a chunk size that is not hex: gunicorn's InvalidChunkSize
    b"5\r\nstate=abc\r\n0\r\n\r\n",           # a chunk longer than its size: ChunkMissingTerminator
    b"7\r\nstate=x\r\n-1\r\n\r\n",            # a negative chunk size
], ids=["not-hex", "missing-terminator", "negative"])
def test_a_malformed_chunked_body_is_a_400_page_under_gunicorn(emulator: Emulator, emulator_url: str,
                                                              tmp_path: Path, body: bytes) -> None:
    """gunicorn raises its own exceptions (not OSError) for a body it cannot de-chunk; Werkzeug
    lets them through. POST /getAToken and POST /logout (signed in: the form is read) answer 400."""
    port, log = free_port(), tmp_path / "gunicorn.log"
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port}/getAToken")
    with gunicorn(emulator_url, tmp_path / "sessions.db", port, workers=1, log=log) as url:
        browser = Browser()
        assert browser.sign_in(url).status_code == 200
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.http.cookies)
        for path in ("/getAToken", "/logout"):
            answer = _raw_chunked_post(url, path, body, cookie)
            assert answer.startswith(b"HTTP/1.1 400 "), (path, answer[:300])
            assert b"<h1>This request could not be understood</h1>" in answer, path
        assert browser.get(f"{url}/").status_code == 200  # still signed in: the logout form was never read
    assert "Traceback" not in log.read_text() and "unexpected" not in log.read_text()
