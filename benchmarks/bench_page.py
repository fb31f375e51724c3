"""A signed-in page with no upstream call, as a ratio to a bare Werkzeug "hello" app.

``GET /`` with a signed-in session cookie, aadweb under gunicorn (sync, 2 workers), driven
by ``wrk`` (else a Python client) on loopback; the baseline is :mod:`benchmarks._hello`
under the same gunicorn settings. Contenders:
- hello:           bare Werkzeug Request/Response, a small HTML page (the baseline);
- aadweb (sqlite): the default store (cookie HMAC, session read, page render, headers);
- aadweb (redis):  ``AADWEB_SESSION_STORE=redis://`` on a throwaway ``redis-server``.
Rounds are interleaved (hello, sqlite, redis, hello, ...); the best round of each counts.
Targets: sqlite >= 0.75x, redis >= 0.5x.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any

from benchmarks import _load
from benchmarks._procs import BenchError, aadweb_env, emulator, free_port, gunicorn, redis_server, workdir
from benchmarks._signin import USER_NAME, SignInClient
from benchmarks._timing import interleaved

ROUNDS = 5
WORKERS = 2


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300]


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds``: measuring time per contender, split over the rounds (default 15)."""
    per_round = (seconds or 15.0) / ROUNDS
    hello_port, sqlite_port, redis_port = free_port(), free_port(), free_port()
    not_measured: dict[str, str] = {}
    with workdir() as tmp, contextlib.ExitStack() as stack:
        emu = stack.enter_context(emulator([f"http://127.0.0.1:{p}/getAToken" for p in (sqlite_port, redis_port)],
                                           tmp / "emulator.log"))
        hello = stack.enter_context(gunicorn("benchmarks._hello:app", hello_port, env={}, log=tmp / "hello.log",
                                             workers=WORKERS))
        sqlite = stack.enter_context(gunicorn(
            "aadweb.wsgi:app", sqlite_port, log=tmp / "sqlite.log", workers=WORKERS, ready_path="/healthz",
            env=aadweb_env(emu.url, sqlite_port, store=f"sqlite:///{tmp / 'sessions.db'}")))
        pages = {"hello": (hello.url + "/", "", "Hello")}
        browser = SignInClient()
        browser.sign_in(sqlite.url)
        pages["aadweb (sqlite)"] = (sqlite.url + "/", browser.cookie_header(), USER_NAME)
        try:
            store = stack.enter_context(redis_server(tmp / "redis.log"))
            served = stack.enter_context(gunicorn(
                "aadweb.wsgi:app", redis_port, log=tmp / "redis-app.log", workers=WORKERS, ready_path="/healthz",
                env=aadweb_env(emu.url, redis_port, store=store)))
            browser = SignInClient()
            browser.sign_in(served.url)
            pages["aadweb (redis)"] = (served.url + "/", browser.cookie_header(), USER_NAME)
        except BenchError as exc:
            not_measured["aadweb (redis)"] = _first_line(exc)
            print(f"  aadweb (redis) not measured: {not_measured['aadweb (redis)']}", file=sys.stderr)

        for url, cookie, text in pages.values():
            _load.check_page(url, cookie, text)
            _load.rate(url, seconds=1, cookie=cookie)  # warm-up: imports, first connections

        def measure(name: str) -> float:
            url, cookie, text = pages[name]
            got = _load.rate(url, seconds=per_round, cookie=cookie)
            _load.check_page(url, cookie, text)  # still signed in: wrk counts a 3xx as a success
            return got

        figures = interleaved({name: functools.partial(measure, name) for name in pages}, rounds=ROUNDS)
    rates = {name: max(values) for name, values in figures.items()}
    return {
        "name": "signed-in page (GET /)",
        "unit": "requests/s",
        "rates": rates,
        "ratios": {k: v / rates["hello"] for k, v in rates.items()},
        "target": {"aadweb (sqlite)": 0.75, "aadweb (redis)": 0.5},
        "baseline": "hello",
        "not_measured": not_measured,
        "rounds": figures,
        "notes": [f"gunicorn sync, {WORKERS} workers; load by {_load.tool()} ({_load.CONNECTIONS} connections); "
                  f"best of {ROUNDS} interleaved rounds of {per_round:.0f} s"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
