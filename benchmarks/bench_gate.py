"""The gate's cost: a tiny app behind :func:`aadweb.protect`, as a ratio to the same app alone.

The app is :mod:`benchmarks._hello_user` (a bare WSGI callable that answers ``hello <REMOTE_USER>``).
Contenders, each under gunicorn (sync, 2 workers) on loopback, driven by ``wrk`` (else a Python
client) with ``GET /``:
- unprotected:        ``gunicorn benchmarks._hello_user:app`` (the baseline);
- protected (sqlite): ``AADWEB_APP=benchmarks._hello_user:app gunicorn aadweb.wsgi:app``, the
                      default sqlite store, sending the session cookie of one sign-in through the
                      emulator (``/.auth/login?next=/`` -> emulator -> ``/.auth/callback`` -> ``/``);
- protected (redis):  the same on a throwaway ``redis-server``.
What the protected contenders add is the gate: cookie check, session read, ``REMOTE_USER`` and
``aadweb.*`` in the environ, client headers stripped, response headers.

Rounds alternate their order (unprotected, sqlite, redis, then redis, sqlite, unprotected, ...);
rates are each contender's median round, a ratio is the median of the rounds' paired ratios
(each round's protected rate over that round's unprotected rate). Targets (issue 12):
sqlite >= 0.8x, redis >= 0.6x. Until ``aadweb.protect`` exists the benchmark says "gate not
available" and measures nothing.

``python -m benchmarks.bench_gate --profile sqlite`` runs the protected app's workers under
cProfile instead and prints where a signed-in request's time goes, per request.
"""

from __future__ import annotations

import argparse
import contextlib
import pstats
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requests

from benchmarks import _load
from benchmarks._procs import (
    BenchError,
    EmulatorProcess,
    Server,
    aadweb_env,
    emulator,
    free_port,
    gunicorn,
    redis_server,
    workdir,
)
from benchmarks._signin import USER, SignInClient
from benchmarks._timing import median

NAME = "gate (hello app behind aadweb.protect)"
APP = "benchmarks._hello_user:app"
BASELINE = "unprotected"
SQLITE = "protected (sqlite)"
REDIS = "protected (redis)"
TARGETS = {SQLITE: 0.8, REDIS: 0.6}
ROUNDS = 8
WORKERS = 2
CALLBACK = "/.auth/callback"
LOGIN = "/.auth/login?next=/"
READY = "/.auth/healthz"
GREETING = f"hello {USER}"
PROFILE_CONF = Path(__file__).with_name("_cprofile_conf.py")


def gate_missing() -> str | None:
    """Why the gate cannot be measured yet, or None when ``aadweb.protect`` exists."""
    import aadweb

    if getattr(aadweb, "protect", None) is None:
        return "gate not available: aadweb.protect is missing"
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _gated_env(emulator_url: str, port: int, store: str) -> dict[str, str]:
    return {**aadweb_env(emulator_url, port, store=store), "AADWEB_APP": APP,
            "AADWEB_REDIRECT_URI": f"http://127.0.0.1:{port}{CALLBACK}"}


def _store_url(store: str, tmp: Path, stack: contextlib.ExitStack) -> str:
    if store == "sqlite":
        return f"sqlite:///{tmp / 'sessions.db'}"
    return stack.enter_context(redis_server(tmp / "redis.log"))


def _protected(stack: contextlib.ExitStack, emu: EmulatorProcess, port: int, store: str, tmp: Path,
               extra_env: dict[str, str] | None = None) -> Server:
    """The hello app behind the gate, ``store`` sessions; refuses to go on unless the gate is
    really in front of it (no session: no greeting)."""
    env = {**_gated_env(emu.url, port, _store_url(store, tmp, stack)), **(extra_env or {})}
    server = stack.enter_context(gunicorn("aadweb.wsgi:app", port, env=env, log=tmp / f"{store}-app.log",
                                          workers=WORKERS, ready_path=READY))
    signed_out = requests.get(server.url + "/", allow_redirects=False, timeout=30)
    if signed_out.status_code not in (302, 303, 401) or GREETING in signed_out.text:
        raise BenchError(f"without a session, GET / answered {signed_out.status_code} {signed_out.text[:200]!r}: "
                         "the gate is not in front of the app (is AADWEB_APP honoured?)")
    return server


def _sign_in(app_url: str) -> str:
    """Sign in once through the emulator; the ``Cookie:`` header value of that session."""
    browser = SignInClient()
    try:
        page = browser.finish(browser.begin(app_url, LOGIN))
        if GREETING not in page.text:
            raise BenchError(f"signed in, but the app does not greet {USER}: {page.text[:200]!r}")
        return browser.cookie_header()
    finally:
        browser.close()


def _alternating(names: Sequence[str], measure: Callable[[str], float], rounds: int) -> dict[str, list[float]]:
    """``rounds`` rounds of every contender, in forward then reverse order (A B C, C B A, ...), so no
    contender always follows the same neighbour; every round's figure, per contender."""
    figures: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else list(reversed(names)):
            figures[name].append(measure(name))
        shown = ", ".join(f"{n} {figures[n][-1]:,.0f}" for n in names)
        print(f"  round {i + 1}/{rounds}: {shown} requests/s", file=sys.stderr, flush=True)
    return figures


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds``: measuring time per contender, split over the rounds (default 16)."""
    missing = gate_missing()
    if missing is not None:
        print(f"  {missing}", file=sys.stderr, flush=True)
        return {"name": NAME, "not_measured": {SQLITE: missing, REDIS: missing}}
    per_round = (seconds or 16.0) / ROUNDS
    plain_port, sqlite_port, redis_port = free_port(), free_port(), free_port()
    not_measured: dict[str, str] = {}
    with workdir() as tmp, contextlib.ExitStack() as stack:
        emu = stack.enter_context(emulator([f"http://127.0.0.1:{p}{CALLBACK}" for p in (sqlite_port, redis_port)],
                                           tmp / "emulator.log"))
        plain = stack.enter_context(gunicorn(APP, plain_port, env={}, log=tmp / "plain.log", workers=WORKERS))
        pages = {BASELINE: (plain.url + "/", "", "hello anonymous")}
        served = _protected(stack, emu, sqlite_port, "sqlite", tmp)
        pages[SQLITE] = (served.url + "/", _sign_in(served.url), GREETING)
        try:
            served = _protected(stack, emu, redis_port, "redis", tmp)
            pages[REDIS] = (served.url + "/", _sign_in(served.url), GREETING)
        except BenchError as exc:
            not_measured[REDIS] = _first_line(exc)
            print(f"  {REDIS} not measured: {not_measured[REDIS]}", file=sys.stderr)

        for url, cookie, text in pages.values():
            _load.check_page(url, cookie, text)
            _load.rate(url, seconds=1, cookie=cookie)  # warm-up: first connections, caches

        def measure(name: str) -> float:
            url, cookie, text = pages[name]
            got = _load.rate(url, seconds=per_round, cookie=cookie)
            _load.check_page(url, cookie, text)  # still signed in: wrk counts a 3xx as a success
            return got

        figures = _alternating(list(pages), measure, ROUNDS)
    paired = {name: [p / b for p, b in zip(values, figures[BASELINE], strict=True)]
              for name, values in figures.items() if name != BASELINE}
    rates = {name: median(values) for name, values in figures.items()}
    best = {name: max(values) / max(figures[BASELINE]) for name, values in figures.items() if name != BASELINE}
    spread = "; ".join(f"{name} {min(v):.2f}-{max(v):.2f}x, best-of {best[name]:.2f}x" for name, v in paired.items())
    return {
        "name": NAME,
        "unit": "requests/s",
        "rates": rates,
        "ratios": {BASELINE: 1.0, **{name: median(v) for name, v in paired.items()}},
        "target": {name: t for name, t in TARGETS.items() if name in rates},
        "baseline": BASELINE,
        "not_measured": not_measured,
        "rounds": figures,
        "paired_ratios": paired,
        "notes": [f"gunicorn sync, {WORKERS} workers each; the app is a bare WSGI callable ({APP}); load by "
                  f"{_load.tool()} ({_load.CONNECTIONS} connections) with one sign-in's session cookie; "
                  f"{ROUNDS} rounds of {per_round:.0f} s in alternating order; rates: median round; ratios: median "
                  f"of the rounds' paired ratios (range per round: {spread})"],
    }


# --- where the time goes ---------------------------------------------------------------------


def profile(store: str = "sqlite", seconds: float = 10.0, top: int = 20) -> str:
    """Serve the protected hello app with every worker under cProfile, drive it with the signed-in
    cookie for ``seconds``, and report per signed-in request: the whole request, the gate, the app,
    the aadweb functions by cumulative time, and every function by own time."""
    missing = gate_missing()
    if missing is not None:
        return missing
    port = free_port()
    with workdir() as tmp:
        profiles = tmp / "profiles"
        profiles.mkdir()
        extra = {"GUNICORN_CMD_ARGS": f"--config {PROFILE_CONF}", "BENCH_PROFILE_DIR": str(profiles)}
        with contextlib.ExitStack() as stack:
            emu = stack.enter_context(emulator([f"http://127.0.0.1:{port}{CALLBACK}"], tmp / "emulator.log"))
            served = _protected(stack, emu, port, store, tmp, extra)
            cookie = _sign_in(served.url)
            _load.check_page(served.url + "/", cookie, GREETING)
            got = _load.rate(served.url + "/", seconds=seconds, cookie=cookie)
            _load.check_page(served.url + "/", cookie, GREETING)
        deadline = time.monotonic() + 10  # the workers write their profiles as they exit
        while len(list(profiles.glob("*.prof"))) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)
        files = sorted(str(p) for p in profiles.glob("*.prof"))
        if not files:
            raise BenchError("the workers wrote no profile")
        stats = pstats.Stats(*files)
    return _report(stats, store=store, rate=got, seconds=seconds, top=top)


def _where(key: tuple[str, int, str]) -> str:
    """``aadweb/web/gate.py:42(__call__)``: a profile key, its path from the package on."""
    filename, line, func = key
    filename = re.sub(r"^.*/lib/python3\.\d+/(site-packages/)?", "", filename)
    filename = re.sub(r"^.*/(aadweb|benchmarks)/", r"\1/", filename)
    return f"{filename}:{line}({func})" if line else func


def _report(stats: pstats.Stats, *, store: str, rate: float, seconds: float, top: int) -> str:
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]

    def find(suffix: str, func: str) -> tuple[int, float]:
        for (filename, _, name), (cc, _, _, ct, _) in table.items():
            if filename.endswith(suffix) and name == func:
                return cc, ct
        return 0, 0.0

    served, app_time = find("benchmarks/_hello_user.py", "app")
    if served == 0:
        return "the profile holds no request to the app"
    _, handled = find("gunicorn/workers/sync.py", "handle_request")
    ours = sorted(((key, v) for key, v in table.items() if "/aadweb/" in key[0]), key=lambda kv: -kv[1][3])
    gate_calls, gate_time = (ours[0][1][0], ours[0][1][3]) if ours else (0, 0.0)

    def us(t: float) -> str:
        return f"{t / served * 1e6:8.1f}"

    share = f" ({(gate_time - app_time) / handled:.0%} of the request)" if handled else ""
    lines = [
        f"cProfile of the protected hello app ({store} sessions), gunicorn sync x {WORKERS}: {served:,} signed-in "
        f"requests in {seconds:.0f} s ({rate:,.0f} requests/s under the profiler)",
        "",
        "per signed-in request, microseconds (cumulative, profiler overhead included):",
        f"  {us(handled)}  gunicorn handle_request (the whole request)",
        f"  {us(gate_time)}  {_where(ours[0][0]) if ours else 'aadweb'} (the gate, app included)",
        f"  {us(app_time)}  the app itself",
        f"  {us(gate_time - app_time)}  the gate's own work{share}",
        "",
        f"aadweb functions by cumulative time (top {top}):",
        "  us/req  calls/req  function",
    ]
    lines += [f"  {us(ct)}  {cc / served:9.2f}  {_where(key)}" for key, (cc, _, _, ct, _) in ours[:top]]
    if ours:
        lines += ["", "the gate's call tree (callees costing >= 3% of it; cumulative through each call):",
                  "  us/req  calls/req  function"]
        lines += _tree(stats, ours[0][0], served)
    lines += ["", f"all functions by own time (top {top}):", "  us/req  calls/req  function"]
    by_own = sorted(table.items(), key=lambda kv: -kv[1][2])
    lines += [f"  {us(tt)}  {cc / served:9.2f}  {_where(key)}" for key, (cc, _, tt, _, _) in by_own[:top]]
    if gate_calls and gate_calls != served:
        lines.append(f"\n(note: the top aadweb function ran {gate_calls:,} times for {served:,} app calls)")
    return "\n".join(lines)


def _tree(stats: pstats.Stats, root: tuple[str, int, str], served: int, *, depth: int = 14,
          floor: float = 0.03) -> list[str]:
    """``root`` and its callees, depth first, each with the time spent through that one call edge."""
    stats.calc_callees()
    callees: dict[Any, dict[Any, tuple[int, int, float, float]]] = stats.all_callees  # type: ignore[attr-defined]
    total: float = stats.stats[root][3]  # type: ignore[attr-defined]
    lines: list[str] = []

    def walk(func: tuple[str, int, str], calls: int, cumulative: float, level: int, path: frozenset[Any]) -> None:
        lines.append(f"  {cumulative / served * 1e6:8.1f}  {calls / served:9.2f}  {'  ' * level}{_where(func)}")
        if level >= depth:
            return
        for kid, (cc, _, _, ct) in sorted(callees.get(func, {}).items(), key=lambda kv: -kv[1][3]):
            if ct >= floor * total and kid not in path:
                walk(kid, cc, ct, level + 1, path | {kid})

    walk(root, stats.stats[root][0], total, 0, frozenset({root}))  # type: ignore[attr-defined]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("sqlite", "redis"), help="profile the protected workers instead")
    parser.add_argument("--seconds", type=float, help="measuring time (default: 16 per contender, 10 to profile)")
    parser.add_argument("--top", type=int, default=20, help="rows per profile table")
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.profile, seconds=args.seconds or 10.0, top=args.top))
    else:
        import json

        print(json.dumps(run(args.seconds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
