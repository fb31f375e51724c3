"""RSS of one aadweb worker across many sign-ins: no growth beyond noise.

gunicorn (sync, 1 worker), sqlite store, the emulator in its own process; a few client threads
sign in, a new browser each time. The worker's VmRSS (/proc/<pid>/status) is read at start
(booted, nothing served), after the first sign-in (warm: metadata, keys, first connections),
after 1,000 and after 5,000 sign-ins. The figure that matters is the growth from 1,000 to
5,000: target <= 1.05x (5 %). The emulator forgets its request log every 500 sign-ins.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks._procs import BenchError, aadweb_env, emulator, free_port, gunicorn, rss_kib, workdir
from benchmarks._signin import SignInClient

CHECKPOINTS = (1_000, 5_000)
CLIENTS = 3
BATCH = 500


def _sign_in_batch(url: str, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> None:
        browser = SignInClient()
        try:
            browser.sign_in(url, start="/")
        finally:
            browser.close()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        for _ in pool.map(one, range(count)):
            pass


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds`` is ignored: the work is a fixed number of sign-ins (its time is reported)."""
    port = free_port()
    with workdir() as tmp, emulator([f"http://127.0.0.1:{port}/getAToken"], tmp / "emulator.log") as emu, \
            gunicorn("aadweb.wsgi:app", port, log=tmp / "aadweb.log", workers=1, ready_path="/healthz",
                     env=aadweb_env(emu.url, port, store=f"sqlite:///{tmp / 'sessions.db'}")) as server:
        workers = server.workers()
        if len(workers) != 1:
            raise BenchError(f"expected one gunicorn worker, found {workers}")
        worker = workers[0]
        mib: dict[str, float] = {"at start": rss_kib(worker) / 1024}
        _sign_in_batch(server.url, 1)
        mib["after 1 sign-in"] = rss_kib(worker) / 1024
        done, start = 1, time.perf_counter()
        for checkpoint in CHECKPOINTS:
            while done < checkpoint:
                batch = min(BATCH, checkpoint - done)
                _sign_in_batch(server.url, batch)
                done += batch
                emu.clear()
            if server.workers() != [worker]:
                raise BenchError("the worker was replaced during the run (crashed or timed out)")
            mib[f"after {checkpoint:,} sign-ins"] = rss_kib(worker) / 1024
        elapsed = time.perf_counter() - start
    first, last = (f"after {c:,} sign-ins" for c in CHECKPOINTS)
    return {
        "name": "worker memory",
        "unit": "sign-ins/s",
        "rates": {"aadweb": done / elapsed},
        "ratios": {"aadweb": 1.0},
        "target": {},
        "baseline": "aadweb",
        "metrics": [{
            "name": "worker RSS",
            "unit": "MiB",
            "values": mib,
            "ratios": {k: v / mib[first] for k, v in mib.items()},
            "target": {last: 1.05},
            "baseline": first,
            "better": "lower",
        }],
        "seconds_for_sign_ins": round(elapsed, 1),
        "notes": [f"gunicorn sync, 1 worker, sqlite store; {done:,} sign-ins by {CLIENTS} client threads in "
                  f"{elapsed:.0f} s; RSS ratios are to the RSS after {CHECKPOINTS[0]:,} sign-ins"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
