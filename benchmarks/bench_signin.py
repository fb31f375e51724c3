"""Whole sign-ins per second, and the app process's own CPU time per sign-in, next to the same
sample built the way Microsoft recommends today (Flask + ``identity``/MSAL).

One sign-in, for both apps, by the same client (:mod:`benchmarks._signin`), a new browser each
time: ``GET /`` (not signed in) -> the app sends the browser to the authority -> sign-in at
the emulator -> callback -> code redeemed at the token endpoint -> session -> ``GET /`` greets
the user. aadweb runs its default hybrid flow (form_post, then a same-site 303: one leg more);
the baseline (:mod:`benchmarks.baseline_flask_msal`) runs MSAL's code flow (query).
Both run under gunicorn (sync, 1 worker); the emulator runs in its own process. CPU is the
app's master + worker utime + stime from /proc, before and after each round.

Rounds are interleaved; sign-ins/s: the best round; CPU per sign-in: the median round.
Target: aadweb's CPU per sign-in <= 0.5x the baseline's, while it checks more: aadweb
validates the front-channel id_token (RS256 signature against the tenant's keys, issuer,
audience, times, nonce, c_hash) and the token endpoint's id_token; MSAL (>= 1.38) validates no
id_token at all - no signature, no issuer - it only decodes the claims and compares the nonce.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import Any

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from benchmarks._procs import BenchError, Server, aadweb_env, emulator, free_port, gunicorn, workdir
from benchmarks._signin import SignInClient
from benchmarks._timing import interleaved, median

ROUNDS = 5
CLIENTS = 2  # concurrent browsers: keeps the one sync worker busy while a client parses


def sign_ins(url: str, *, seconds: float, clients: int = CLIENTS) -> int:
    """Whole sign-ins against ``url`` by ``clients`` threads for ``seconds``; how many finished."""
    done = [0] * clients
    errors: list[BaseException] = []
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        try:
            while time.perf_counter() < deadline:
                browser = SignInClient()
                browser.sign_in(url, start="/")
                browser.close()
                done[i] += 1
        except BaseException as exc:  # reported below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    if errors:
        raise BenchError(f"a sign-in failed: {errors[0]}") from errors[0]
    return sum(done)


def baseline_env(emulator_url: str, port: int, session_dir: str) -> dict[str, str]:
    return {
        "BENCH_EMULATOR": emulator_url, "BENCH_TENANT": DEMO_TENANT_ID, "BENCH_CLIENT_ID": DEMO_CLIENT_ID,
        "BENCH_CLIENT_SECRET": DEMO_CLIENT_SECRET, "BENCH_REDIRECT_URI": f"http://127.0.0.1:{port}/getAToken",
        "BENCH_SESSION_DIR": session_dir,
    }


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds``: measuring time per contender, split over the rounds (default 20)."""
    per_round = (seconds or 20.0) / ROUNDS
    app_port, base_port = free_port(), free_port()
    cpu: dict[str, list[float]] = {"aadweb": [], "flask + msal": []}
    with workdir() as tmp, contextlib.ExitStack() as stack:
        emu = stack.enter_context(emulator([f"http://127.0.0.1:{p}/getAToken" for p in (app_port, base_port)],
                                           tmp / "emulator.log"))
        servers: dict[str, Server] = {
            "aadweb": stack.enter_context(gunicorn(
                "aadweb.wsgi:app", app_port, log=tmp / "aadweb.log", workers=1, ready_path="/healthz",
                env=aadweb_env(emu.url, app_port, store=f"sqlite:///{tmp / 'sessions.db'}"))),
            "flask + msal": stack.enter_context(gunicorn(
                "benchmarks.baseline_flask_msal.app:app", base_port, log=tmp / "baseline.log", workers=1,
                ready_path="/getAToken", env=baseline_env(emu.url, base_port, str(tmp / "flask_session")))),
        }
        for server in servers.values():  # warm-up: metadata, keys, imports, first connections
            sign_ins(server.url, seconds=1.0)

        def measure(name: str) -> float:
            server = servers[name]
            before, start = server.cpu_seconds(), time.perf_counter()
            count = sign_ins(server.url, seconds=per_round)
            elapsed, used = time.perf_counter() - start, server.cpu_seconds() - before
            emu.clear()
            if count == 0:
                raise BenchError(f"no sign-in finished against {name} in {per_round:.0f} s")
            cpu[name].append(used / count)
            return count / elapsed

        figures = interleaved({name: functools.partial(measure, name) for name in servers}, rounds=ROUNDS)
    rates = {name: max(values) for name, values in figures.items()}
    cpu_ms = {name: median(values) * 1000 for name, values in cpu.items()}
    return {
        "name": "whole sign-in",
        "unit": "sign-ins/s",
        "rates": rates,
        "ratios": {k: v / rates["flask + msal"] for k, v in rates.items()},
        "target": {},
        "baseline": "flask + msal",
        "metrics": [{
            "name": "app CPU per sign-in",
            "unit": "ms",
            "values": cpu_ms,
            "ratios": {k: v / cpu_ms["flask + msal"] for k, v in cpu_ms.items()},
            "target": {"aadweb": 0.5},
            "baseline": "flask + msal",
            "better": "lower",
        }],
        "rounds": figures,
        "cpu_rounds_ms": {k: [v * 1000 for v in vs] for k, vs in cpu.items()},
        "notes": [
            f"gunicorn sync, 1 worker each; {CLIENTS} client threads, a new browser per sign-in; "
            f"sign-ins/s: best of {ROUNDS} interleaved rounds of {per_round:.0f} s; CPU: median round "
            "(master + worker utime+stime)",
            "aadweb verifies the id_token's RS256 signature, issuer, audience, times, nonce and c_hash; "
            "MSAL Python (>= 1.38) does not validate the id_token at all: no signature, no issuer check",
            "baseline: Flask + identity 0.11 (MSAL) + Flask-Session filesystem; its HTTP client maps the "
            "https:// authority MSAL insists on to the http:// emulator and adds the v1 'resource'",
        ],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
