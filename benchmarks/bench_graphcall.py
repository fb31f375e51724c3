"""``GET /graphcall`` signed in, as a ratio to an app that only makes the same upstream call.

Graph is the emulator, in its own process on loopback. Both apps run under gunicorn (sync,
2 workers) and are driven by ``wrk`` (else a Python client):
- upstream only: :mod:`benchmarks._upstream_only`, one keep-alive ``requests.Session`` per
  worker, ``GET /v1.0/me`` with a valid bearer token (got once through
  :class:`aadweb.authority.Authority`), the answer escaped into a page: the limit the
  upstream sets (the baseline);
- aadweb: session cookie, session read, token decrypt, expiry check, Graph call through the
  transport (deadline, client-request-id), parse, page.
For reference, "emulator direct" is ``wrk`` straight at the emulator's ``/v1.0/me`` (no app).
Rounds are interleaved; the best round of each counts. Target: aadweb >= 0.85x.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from benchmarks import _load
from benchmarks._procs import aadweb_env, emulator, free_port, gunicorn, workdir
from benchmarks._signin import SignInClient, access_token
from benchmarks._timing import interleaved

ROUNDS = 5
WORKERS = 2
UPN = "adele.vance@contoso.example"


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds``: measuring time per contender, split over the rounds (default 15)."""
    per_round = (seconds or 15.0) / ROUNDS
    app_port, base_port = free_port(), free_port()
    redirect_uri = f"http://127.0.0.1:{app_port}/getAToken"
    with workdir() as tmp, contextlib.ExitStack() as stack:
        emu = stack.enter_context(emulator([redirect_uri], tmp / "emulator.log"))
        token = access_token(emu.url, redirect_uri)
        graph = f"{emu.url}/v1.0/me"
        base = stack.enter_context(gunicorn(
            "benchmarks._upstream_only:app", base_port, log=tmp / "upstream.log", workers=WORKERS,
            env={"BENCH_GRAPH_URL": graph, "BENCH_ACCESS_TOKEN": token}))
        app = stack.enter_context(gunicorn(
            "aadweb.wsgi:app", app_port, log=tmp / "aadweb.log", workers=WORKERS, ready_path="/healthz",
            env=aadweb_env(emu.url, app_port, store=f"sqlite:///{tmp / 'sessions.db'}")))
        browser = SignInClient()
        browser.sign_in(app.url)
        targets: dict[str, tuple[str, str, dict[str, str]]] = {
            "upstream only": (base.url + "/", "", {}),
            "aadweb": (app.url + "/graphcall", browser.cookie_header(), {}),
            "emulator direct": (graph, "", {"Authorization": f"Bearer {token}"}),
        }
        for url, cookie, headers in targets.values():
            if not headers:
                _load.check_page(url, cookie, UPN)
            _load.rate(url, seconds=1, cookie=cookie, headers=headers)  # warm-up

        def measure(name: str) -> float:
            url, cookie, headers = targets[name]
            got = _load.rate(url, seconds=per_round, cookie=cookie, headers=headers)
            if not headers:
                _load.check_page(url, cookie, UPN)
            emu.clear()  # the emulator records every request: keep it lean between rounds
            return got

        figures = interleaved({name: functools.partial(measure, name) for name in targets}, rounds=ROUNDS)
    rates = {name: max(values) for name, values in figures.items()}
    return {
        "name": "Graph call (GET /graphcall)",
        "unit": "requests/s",
        "rates": rates,
        "ratios": {k: v / rates["upstream only"] for k, v in rates.items()},
        "target": {"aadweb": 0.85},
        "baseline": "upstream only",
        "rounds": figures,
        "notes": [f"gunicorn sync, {WORKERS} workers; Graph = the emulator in its own process; load by "
                  f"{_load.tool()} ({_load.CONNECTIONS} connections); best of {ROUNDS} interleaved rounds of "
                  f"{per_round:.0f} s; 'emulator direct' is the emulator alone, for reference"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
