"""Processes for the server benchmarks: the emulator, gunicorn, redis-server; CPU and RSS from /proc.

Every process is started in its own session (``start_new_session=True``: its own process group)
and stopped by that group's id in a ``finally``: SIGTERM, then SIGKILL. Loopback only.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-secret-key-shared-by-all-workers-0123456789abcdef"
_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A benchmark could not be measured (a process did not start, a sign-in failed)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` and its process group (it was started with ``start_new_session``)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aadweb-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tail(log: Path, n: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _reason(log: Path) -> str:
    """The line of a process log that says best why it stopped (the exception's, if any)."""
    lines = [ln.strip() for ln in _tail(log, 20_000).splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception|Exit)\b.*:", line):
            return line[:300]
    plain = [ln for ln in lines if not ln.startswith("[")]
    return (plain or lines or ["(no output)"])[-1][:300]


def _spawn(cmd: Sequence[str], *, env: Mapping[str, str] | None, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=ROOT)


def _base_env() -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    for name in ("HOME", "LANG", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


# --- the emulator ---------------------------------------------------------------------------


@dataclass
class EmulatorProcess:
    url: str
    proc: subprocess.Popen[bytes]
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def authority(self) -> str:
        return f"{self.url}/{DEMO_TENANT_ID}"

    def requests_seen(self) -> list[dict[str, object]]:
        resp = self.http.get(f"{self.url}/_emulator/requests", timeout=30)
        resp.raise_for_status()
        seen: list[dict[str, object]] = resp.json()
        return seen

    def count(self, method: str, path_suffix: str) -> int:
        return sum(1 for r in self.requests_seen()
                   if r["method"] == method and str(r["path"]).endswith(path_suffix))

    def clear(self) -> None:
        """Forget the recorded requests (keeps a long run's emulator lean)."""
        self.http.delete(f"{self.url}/_emulator/requests", timeout=30).raise_for_status()


@contextmanager
def emulator(redirect_uris: Sequence[str], log: Path) -> Iterator[EmulatorProcess]:
    """``python -m aadweb.emulator --port 0`` in its own process, so it never competes for the
    benchmark's GIL; the demo client registered with ``redirect_uris``."""
    cmd = [sys.executable, "-m", "aadweb.emulator", "--port", "0"]
    for uri in redirect_uris:
        cmd += ["--redirect-uri", uri]
    proc = _spawn(cmd, env={**_base_env(), "PYTHONUNBUFFERED": "1"}, log=log)
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            for line in _tail(log, 10_000).splitlines():
                if line.startswith("aadweb emulator listening on "):
                    url = line.rsplit(" ", 1)[1].strip()
            if url is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"the emulator did not start: {_reason(log)}\n{_tail(log)}")
                time.sleep(0.05)
        emu = EmulatorProcess(url=url, proc=proc)
        emu.requests_seen()
        yield emu
    finally:
        stop(proc)


# --- gunicorn -------------------------------------------------------------------------------


def aadweb_env(emulator_url: str, port: int, *, store: str, response_type: str = "code id_token") -> dict[str, str]:
    return {
        "AADWEB_TENANT": DEMO_TENANT_ID,
        "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "AADWEB_AUTHORITY_HOST": emulator_url,
        "AADWEB_GRAPH_URL": f"{emulator_url}/v1.0/me",
        "AADWEB_REDIRECT_URI": f"http://127.0.0.1:{port}/getAToken",
        "AADWEB_SECRET_KEY": SECRET_KEY,
        "AADWEB_SESSION_STORE": store,
        "AADWEB_RESPONSE_TYPE": response_type,
    }


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers (live ones), in seconds."""
        return sum(cpu_seconds(pid) for pid in [self.proc.pid, *self.workers()])


@contextmanager
def gunicorn(app: str, port: int, *, env: Mapping[str, str], log: Path, workers: int = 2,
             worker_class: str = "sync", threads: int = 1, ready_path: str = "/") -> Iterator[Server]:
    """``gunicorn -w N -k CLASS APP`` on 127.0.0.1:port; yields once every worker is up and
    ``ready_path`` answers (any status)."""
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", worker_class, "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--log-level", "warning",
           "--graceful-timeout", "2", "--timeout", "60", app]
    proc = _spawn(cmd, env={**_base_env(), **env}, log=log)
    server = Server(url=f"http://127.0.0.1:{port}", proc=proc, log=log)
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                raise BenchError(f"gunicorn {app} exited with {proc.returncode}: {_reason(log)}\n{_tail(log)}")
            try:
                requests.get(server.url + ready_path, timeout=2, allow_redirects=False)
                if len(server.workers()) >= workers:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn {app} did not answer within 40 s: {_reason(log)}\n{_tail(log)}")
            time.sleep(0.1)
        yield server
    finally:
        stop(proc)


@contextmanager
def redis_server(log: Path) -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port, no persistence; yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        raise BenchError("redis-server is not installed")
    port = free_port()
    proc = _spawn([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                   "--protected-mode", "yes"], env=_base_env(), log=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"redis-server did not start: {_reason(log)}\n{_tail(log)}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


# --- /proc ----------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # fields from #3 (state) on; comm may hold spaces


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of /proc/<pid>/stat), in seconds."""
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children(pid: int) -> list[int]:
    """Live child pids of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return sorted(found)


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (/proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


__all__ = ["BenchError", "EmulatorProcess", "Server", "aadweb_env", "children", "cpu_seconds",
           "emulator", "free_port", "gunicorn", "redis_server", "rss_kib", "stop", "workdir"]
