"""50 concurrent first sign-ins on a cold process fetch the tenant's keys once.

A freshly started aadweb (gunicorn, 1 worker, gthread with 50 threads, so the 50 callbacks
really run at the same time in one process) has fetched nothing yet. 50 browsers each start a
sign-in and sign in at the emulator; then, released together by a barrier, all 50 deliver
their callback (form_post, 303, the GET that validates the id_token and redeems the code) and
land on the home page. The emulator counts ``GET .../discovery/keys`` (target: 1, the JWKS
cache's single flight) and ``GET .../openid-configuration``; the burst's sign-ins/s is
reported too (no baseline: the figure is for watching over time).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks._procs import BenchError, aadweb_env, emulator, free_port, gunicorn, workdir
from benchmarks._signin import USER_NAME, Callback, SignInClient

BURST = 50


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds`` is ignored: the work is one burst."""
    port = free_port()
    with workdir() as tmp, emulator([f"http://127.0.0.1:{port}/getAToken"], tmp / "emulator.log") as emu, \
            gunicorn("aadweb.wsgi:app", port, log=tmp / "aadweb.log", workers=1, worker_class="gthread",
                     threads=BURST, ready_path="/healthz",
                     env=aadweb_env(emu.url, port, store=f"sqlite:///{tmp / 'sessions.db'}")) as server:
        browsers = [SignInClient() for _ in range(BURST)]
        callbacks: list[Callback] = [b.begin(server.url) for b in browsers]
        keys_before = emu.count("GET", "/discovery/keys")
        metadata_before = emu.count("GET", "/.well-known/openid-configuration")
        emu.clear()
        barrier = threading.Barrier(BURST + 1)
        errors: list[BaseException] = []

        def deliver(browser: SignInClient, callback: Callback) -> None:
            try:
                barrier.wait(timeout=30)
                page = browser.finish(callback)
                if USER_NAME not in page.text:
                    raise BenchError("the landing page does not greet the user")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=deliver, args=pair, daemon=True)
                   for pair in zip(browsers, callbacks, strict=True)]
        for t in threads:
            t.start()
        barrier.wait(timeout=30)
        start = time.perf_counter()
        for t in threads:
            t.join(timeout=120)
        elapsed = time.perf_counter() - start
        if errors:
            raise BenchError(f"{len(errors)} of {BURST} sign-ins failed; first: {errors[0]}") from errors[0]
        keys = emu.count("GET", "/discovery/keys")
        metadata = emu.count("GET", "/.well-known/openid-configuration")
        tokens = emu.count("POST", "/oauth2/token")
    fetches = {"aadweb": float(keys_before + keys)}
    return {
        "name": f"cold burst of {BURST} sign-ins",
        "unit": "sign-ins/s",
        "rates": {"aadweb": BURST / elapsed},
        "ratios": {"aadweb": 1.0},
        "target": {},
        "baseline": "aadweb",
        "metrics": [{
            "name": "JWKS fetches in the burst",
            "unit": "GETs",
            "values": fetches,
            "ratios": {"aadweb": 1.0},
            "target": {"aadweb": 1},
            "absolute": True,
            "baseline": "aadweb",
            "better": "lower",
        }],
        "counts": {"keys before the burst": keys_before, "keys in the burst": keys,
                   "metadata before the burst": metadata_before, "metadata in the burst": metadata,
                   "token requests": tokens},
        "notes": [f"gunicorn gthread, 1 worker x {BURST} threads, started cold; {BURST} callbacks released "
                  f"together; emulator saw {keys} JWKS GET(s) and {metadata} metadata GET(s) in the burst "
                  f"(before it: {keys_before} and {metadata_before}), {tokens} token POSTs; "
                  f"burst took {elapsed:.2f} s"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
