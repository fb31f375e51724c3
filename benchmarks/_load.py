"""The load generator for the page and Graph benchmarks: ``wrk`` when installed (C, cheap on a
2-core machine), else a bounded Python client (threads x keep-alive ``requests.Session``).

Both hammer one URL on loopback for a fixed time with a fixed ``Cookie:`` header, and return
requests per second. ``wrk`` counts a 3xx as a success, so callers check the page once with
:func:`check_page` before and after a run: a lost session would show as a redirect there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time

import requests

from benchmarks._procs import BenchError

CONNECTIONS = 4  # sync gunicorn workers take one request at a time; 4 keeps both of 2 busy


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def check_page(url: str, cookie: str, must_contain: str) -> None:
    resp = requests.get(url, headers={"Cookie": cookie} if cookie else {}, allow_redirects=False, timeout=30)
    if resp.status_code != 200 or must_contain not in resp.text:
        raise BenchError(f"GET {url} answered {resp.status_code} without {must_contain!r}: {resp.text[:300]}")


def rate(url: str, *, seconds: float, cookie: str = "", connections: int = CONNECTIONS,
         headers: dict[str, str] | None = None) -> float:
    """Requests per second against ``url`` for ``seconds`` (wrk, else Python)."""
    sent = dict(headers or {})
    if cookie:
        sent["Cookie"] = cookie
    if tool() == "wrk":
        return _wrk(url, seconds=seconds, headers=sent, connections=connections)
    return _python(url, seconds=seconds, headers=sent, connections=connections)


def _wrk(url: str, *, seconds: float, headers: dict[str, str], connections: int) -> float:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    out = done.stdout
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if done.returncode != 0 or found is None:
        raise BenchError(f"wrk failed ({done.returncode}): {out[-500:]} {done.stderr[-500:]}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if bad:
        raise BenchError(f"wrk saw {bad.group(1)} error responses from {url}")
    return float(found.group(1))


def _python(url: str, *, seconds: float, headers: dict[str, str], connections: int) -> float:
    counts = [0] * connections
    errors: list[str] = []
    start = time.perf_counter()
    deadline = start + seconds

    def worker(i: int) -> None:
        with requests.Session() as http:
            while time.perf_counter() < deadline:
                resp = http.get(url, headers=headers, allow_redirects=False, timeout=10)
                if resp.status_code >= 400:
                    errors.append(f"{resp.status_code}")
                    return
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    if errors:
        raise BenchError(f"error responses from {url}: {errors[:5]}")
    return sum(counts) / (time.perf_counter() - start)
