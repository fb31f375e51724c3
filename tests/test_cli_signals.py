"""``aadweb serve`` and ``aadweb demo`` stop cleanly however many SIGINT/SIGTERM arrive at once.

A signal handler that takes a lock (``threading.Event.set``) deadlocks when a second signal
arrives while the first handler holds it: the process then hangs until SIGKILL. Each run here
starts a real child, waits for its banner, sends a burst of alternating SIGINT and SIGTERM, and
requires a clean exit (status 0, "stopped", no traceback) within a few seconds, also when the
signals keep coming during shutdown. Children run a few at a time to keep the test short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from tests.test_cli import SECRET_KEY, Running, clean_env

RUNS = 20  # per command
AT_ONCE = 5  # children alive at the same time
BURST = 40  # signals per burst, alternating SIGINT / SIGTERM
EXIT_WITHIN = 5.0  # seconds from the first signal

SERVE_ENV = {
    "AADWEB_TENANT": DEMO_TENANT_ID,
    "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
    "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
    "AADWEB_SECRET_KEY": SECRET_KEY,
    "AADWEB_SESSION_STORE": "memory:",
}
COMMANDS = {
    "serve": (["serve", "--host", "127.0.0.1", "--port", "0"], SERVE_ENV),
    "demo": (["demo", "--host", "127.0.0.1", "--port", "0", "--emulator-port", "0"], {}),
}


def _one_run(command: str, run: int) -> tuple[int | None, float, str, str]:
    """Start, wait for the banner, burst, wait. (exit status, seconds to exit, stdout, stderr)."""
    args, extra = COMMANDS[command]
    child = Running(args, clean_env(extra))
    try:
        child.wait_for(r"Press Ctrl-C to stop", timeout=60)
        started = time.monotonic()
        # Even runs: back to back (signals land inside the handler); odd runs: spread over
        # ~100 ms, so they also land during shutdown and just after it.
        gap = 0.0025 * (run % 2)
        for i in range(BURST):
            with contextlib.suppress(ProcessLookupError):  # already gone: fine
                os.kill(child.proc.pid, signal.SIGINT if (i + run) % 2 == 0 else signal.SIGTERM)
            time.sleep(gap)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a hang: reported below, status None
            child.proc.wait(timeout=EXIT_WITHIN)
        took = time.monotonic() - started
        status = child.proc.poll()
    finally:
        child.stop(timeout=1)  # SIGKILLs the group if it still hangs
    return status, took, "".join(child.stdout), child.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_burst_of_stop_signals_always_ends_the_process_cleanly(command: str) -> None:
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        results = list(pool.map(lambda run: _one_run(command, run), range(RUNS)))
    failures = [
        f"run {i}: exit {status} after {took:.1f}s\nstdout: {out}\nstderr: {err}"
        for i, (status, took, out, err) in enumerate(results)
        if status != 0 or took > EXIT_WITHIN or "Traceback" in err or f"aadweb {command}: stopped" not in out
    ]
    assert not failures, f"{len(failures)} of {RUNS} runs did not stop cleanly:\n" + "\n".join(failures[:3])
