"""A real ``redis-server`` for tests: on a free loopback port, in a temporary directory.

``running_redis(directory)`` starts one, waits (bounded) until it answers ``PING``, and yields a
:class:`RedisServer` whose ``stop()`` and ``start()`` take it down and bring it back on the same
port (to test what a store does while Redis is away); in ``finally`` it is killed by pid,
SIGTERM then SIGKILL. ``shared_redis()`` is one such server for a whole test session, started
on first use; ``stop_shared_redis()`` ends it (a session fixture calls it).

Without ``redis-server`` the tests that need it are skipped, unless ``CI`` is set: there they
fail, because ``make test`` installs it (``scripts/ensure-debian-packages.sh``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_server_binary", "running_redis", "shared_redis", "stop_shared_redis"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


def redis_server_binary() -> str:
    """The ``redis-server`` executable, or skip (fail under ``CI``) when it is missing."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if found:
        return found
    message = "redis-server is not installed: `make test` installs it (scripts/ensure-debian-packages.sh)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``; ``url`` names its database 0."""

    def __init__(self, binary: str, directory: Path, port: int, *, persistent: bool = False) -> None:
        self.persistent = persistent
        self.binary = binary
        self.directory = directory
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers PING."""
        if self.running:
            return
        log = self.directory / "redis.log"
        options = {
            "--port": str(self.port),
            "--bind": "127.0.0.1",
            "--save": "",
            # persistent: an append-only file synced on every write, so a restart loses nothing
            "--appendonly": "yes" if self.persistent else "no",
            "--appendfsync": "always",
            "--protected-mode": "yes",
            "--dir": str(self.directory),
            "--logfile": str(log),
        }
        self._proc = subprocess.Popen(
            [self.binary, *(part for pair in options.items() for part in pair)],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers_ping(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{tail}")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not gone after a few seconds; always reaped."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(_STOP_TIMEOUT)


@contextlib.contextmanager
def running_redis(directory: Path, *, persistent: bool = False) -> Iterator[RedisServer]:
    """A started :class:`RedisServer` in ``directory``; killed by pid when the block ends."""
    binary = redis_server_binary()
    server: RedisServer | None = None
    try:
        for attempt in range(3):  # a free port may be taken between probing and binding
            server = RedisServer(binary, directory, _free_port(), persistent=persistent)
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        assert server is not None
        yield server
    finally:
        if server is not None:
            server.stop()


_shared: tuple[RedisServer, contextlib.ExitStack] | None = None


def shared_redis() -> RedisServer:
    """One server for the whole test session (per process), started on first use."""
    global _shared
    if _shared is None:
        stack = contextlib.ExitStack()
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aadweb-redis-")))
        try:
            server = stack.enter_context(running_redis(tmp))
        except BaseException:
            stack.close()
            raise
        _shared = (server, stack)
        atexit.register(stop_shared_redis)  # a second line of defence; the fixture comes first
    elif not _shared[0].running:  # killed from outside: bring it back on its port
        _shared[0].start()
    return _shared[0]


def stop_shared_redis() -> None:
    global _shared
    if _shared is not None:
        shared, _shared = _shared, None
        shared[1].close()
