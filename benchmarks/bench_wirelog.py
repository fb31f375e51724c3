"""Sign-ins per second with the wire transcript on, as a ratio to the same app with it off.

Two apps, identical but for ``AADWEB_WIRE_LOG``, run in this process (Werkzeug's threaded
server on loopback, memory session store), against one emulator (its own thread and socket).
One browser per contender (:class:`benchmarks._signin.SignInClient`) signs in again and again
through the default hybrid flow: ``GET /login`` -> the emulator's sign-in -> form_post -> 303 ->
callback (id_token validated, code redeemed) -> ``GET /``. With the log on, each sign-in
writes eight records (six inbound legs, the token call, the verdicts), each redacted and
appended under ``flock``.

Rounds alternate off/on (then on/off); rates are each contender's median round, the ratio is
the median of the rounds' on/off ratios. Target: on >= 0.9x off. Bounded to about 30 s.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from aadweb.emulator import DEMO_TENANT_ID, ClientRegistration, Emulator, EmulatorServer
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.web import create_app
from benchmarks._signin import SignInClient
from benchmarks._timing import median

ROUNDS = 16
ROUND_SECONDS = 0.8
WARMUP = 5


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextlib.contextmanager
def _app(emulator: Emulator, emulator_url: str, **changes: Any) -> Iterator[str]:
    """An aadweb app on a loopback port with its own app registration; yields its URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True, request_handler=_Quiet)
    base = f"http://127.0.0.1:{server.server_port}"
    client_id, client_secret = str(uuid.uuid4()), f"bench-{uuid.uuid4()}"
    emulator.register_client(ClientRegistration(
        client_id=client_id, client_secret=client_secret, redirect_uris=(f"{base}/getAToken",),
        allow_id_tokens=True, home_tenant_id=DEMO_TENANT_ID,
    ))
    settings = Settings(
        tenant=DEMO_TENANT_ID, client_id=client_id, client_secret=Secret("client_secret", client_secret),
        authority_host=emulator_url, graph_url=f"{emulator_url}/v1.0/me", redirect_uri=f"{base}/getAToken",
        secret_key=Secret("secret_key", "bench-wirelog-secret-key-0123456789abcdef"), session_store="memory:",
        **changes,
    )
    app = create_app(settings)
    server.app = app  # type: ignore[assignment]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        app.close()


def run(seconds: float | None = None) -> dict[str, Any]:
    """``seconds``: measuring time per contender (default ``ROUNDS * ROUND_SECONDS``)."""
    per_round = (seconds / ROUNDS) if seconds else ROUND_SECONDS
    emulator = Emulator()
    with tempfile.TemporaryDirectory(prefix="aadweb-bench-wire-") as tmp, \
            EmulatorServer(emulator, host="127.0.0.1", port=0) as emu_server, \
            _app(emulator, emu_server.url) as off_url, \
            _app(emulator, emu_server.url, wire_log=os.path.join(tmp, "wire.jsonl")) as on_url:
        browsers = {"off": (SignInClient(), off_url), "on": (SignInClient(), on_url)}
        for browser, url in browsers.values():
            for _ in range(WARMUP):  # metadata, keys, connections
                browser.sign_in(url)

        def measure(name: str) -> float:
            browser, url = browsers[name]
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < per_round:
                browser.sign_in(url)
                count += 1
            return count / elapsed

        figures: dict[str, list[float]] = {"off": [], "on": []}
        for n in range(ROUNDS):  # off/on, then on/off: neither always goes first
            for name in ("off", "on") if n % 2 == 0 else ("on", "off"):
                figures[name].append(measure(name))
        for browser, _ in browsers.values():
            browser.close()
        log_path = os.path.join(tmp, "wire.jsonl")
        size = os.path.getsize(log_path)
        with open(log_path, "rb") as fh:
            lines = sum(1 for _ in fh)
    rates = {name: median(values) for name, values in figures.items()}
    # Each round's on/off pair ran back to back: the median of their ratios resists the drift
    # of a shared machine better than a ratio of medians.
    paired = median([on / off for on, off in zip(figures["on"], figures["off"], strict=True)])
    signed_in = sum(rates["on"] * per_round for _ in range(ROUNDS)) + WARMUP
    return {
        "name": "sign-in with the wire transcript",
        "unit": "sign-ins/s",
        "rates": rates,
        "ratios": {"off": 1.0, "on": paired},
        "target": {"on": 0.9},
        "baseline": "off",
        "rounds": {name: [round(v, 1) for v in values] for name, values in figures.items()},
        "notes": [f"log on: {lines} records, {size / max(signed_in, 1) / 1024:.1f} KiB per sign-in "
                  f"({lines / max(signed_in, 1):.1f} records); in-process app + emulator, one browser each, "
                  f"median of {ROUNDS} paired rounds"],
    }


if __name__ == "__main__":
    result = run()
    for name, rate in result["rates"].items():
        print(f"{name:4s} {rate:8.1f} sign-ins/s  {result['ratios'][name]:.2f}x  rounds {result['rounds'][name]}")
    print(result["notes"][0])
