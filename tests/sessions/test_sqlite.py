"""What only the sqlite store has to prove: processes, files on disk, locks, and tampering."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from aadweb.errors import SessionStoreError
from aadweb.sessions import SqliteSessionStore, TokenCipher
from aadweb.sessions._sqlite_db import SCHEMA_VERSION
from tests.sessions import _worker
from tests.sessions.conftest import SECRET_KEY, FakeClock, make_pending, make_record

SENTINELS = (
    "ACCESS-SENTINEL",
    "REFRESH-SENTINEL",
    "IDTOKEN-SENTINEL",
    "NONCE-SENTINEL",
    "VERIFIER-SENTINEL",
    "CSRF-SENTINEL",
    "CODE-SENTINEL",
    "POSTED-IDT-SENTINEL",
)


def open_sqlite(path: Path, clock: Callable[[], float] | None = None, **kw: Any) -> SqliteSessionStore:
    return SqliteSessionStore(
        path, cipher=TokenCipher.from_secret(kw.pop("secret", SECRET_KEY)), clock=clock or FakeClock(), **kw
    )


def run_processes(procs: list[Any], timeout: float = 60) -> None:
    """Start, join with a deadline, kill by pid whatever is left, and require exit code 0."""
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
    finally:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGKILL)
                p.join(5)
    assert [p.exitcode for p in procs] == [0] * len(procs)


# --- processes ---------------------------------------------------------------------------


def test_two_processes_take_200_states_each_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = SqliteSessionStore(db, cipher=TokenCipher.from_secret(SECRET_KEY))  # real clock: children use it
    states = [f"state-{i:03d}" for i in range(200)]
    for s in states:
        store.put_pending(make_pending(s, created_at=time.time()), 600)
    store.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    outs = [tmp_path / f"won-{i}.json" for i in range(2)]
    procs = [
        ctx.Process(target=_worker.take_states, args=(str(db), states, "browser-1", str(out), barrier)) for out in outs
    ]
    run_processes(procs)
    won = [set(json.loads(out.read_text())) for out in outs]
    assert won[0] | won[1] == set(states)
    assert won[0] & won[1] == set()


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_worker.open_and_put, args=(str(db), f"state-{i}", barrier)) for i in range(3)]
    run_processes(procs)
    store = open_sqlite(db, time.time)
    assert store.counts()["pending"] == 3
    store.close()


def test_a_forked_child_uses_its_own_connection(tmp_path: Path) -> None:
    store = open_sqlite(tmp_path / "s.db", time.time)
    store.ping()  # the parent now holds a connection
    pid = os.fork()
    if pid == 0:  # child: must work through a fresh connection, and must not close the parent's
        code = 1
        try:
            store.put_pending(make_pending("from-child"), 600)
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("forked child did not finish")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert store.take_pending("from-child", "browser-1") is not None
    store.close()


# --- files on disk -----------------------------------------------------------------------


def raw_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_secrets_are_encrypted_at_rest_in_the_db_and_wal_files(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = open_sqlite(db)
    p = make_pending()
    store.put_pending(p, 600)
    assert store.stash_callback(p.state, {"code": "CODE-SENTINEL", "id_token": "POSTED-IDT-SENTINEL"})
    store.put_pending(make_pending("kept-pending"), 600)
    store.create_session(make_record("kept-session"))
    store.update_tokens("kept-session", make_record().tokens, expected_version=0)
    assert Path(str(db) + "-wal").exists()
    raw = raw_bytes(db)
    assert b"CLAIM-VISIBLE" in raw and b"kept-pending" in raw  # the check can see plain text
    for sentinel in SENTINELS:
        assert sentinel.encode() not in raw, sentinel
    store.close()  # checkpoints the WAL into the main file
    raw = raw_bytes(db)
    assert b"CLAIM-VISIBLE" in raw
    for sentinel in SENTINELS:
        assert sentinel.encode() not in raw, sentinel


def test_a_new_database_file_is_private(tmp_path: Path) -> None:
    open_sqlite(tmp_path / "s.db").close()
    assert stat.S_IMODE((tmp_path / "s.db").stat().st_mode) == 0o600


def test_sessions_survive_reopening_but_not_a_new_secret_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db, clock = tmp_path / "s.db", FakeClock()
    r = make_record()
    store = open_sqlite(db, clock)
    store.create_session(r)
    store.close()
    store = open_sqlite(db, clock)
    assert store.get_session(r.session_id) == r
    store.close()
    store = open_sqlite(db, clock, secret="another secret key of enough length!!")
    with caplog.at_level(logging.WARNING, logger="aadweb.sessions"):
        assert store.get_session(r.session_id) is None
    assert "another key" in caplog.text and r.session_id not in caplog.text
    store.close()


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    path.chmod(0o444)
    immutable = False
    try:
        if os.geteuid() == 0:  # root ignores modes: make the file immutable instead, or give up
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("running as root without chattr: cannot make a file read-only")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o600)


def test_a_read_only_database_file_is_a_session_store_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    open_sqlite(db).close()
    with read_only(db), pytest.raises(SessionStoreError) as caught:
        open_sqlite(db)
    assert "s.db" in str(caught.value)


def test_an_unusable_path_is_a_session_store_error(tmp_path: Path) -> None:
    with pytest.raises(SessionStoreError):
        open_sqlite(tmp_path / "no-such-dir" / "s.db")
    (tmp_path / "garbage.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SessionStoreError):
        open_sqlite(tmp_path / "garbage.db")


def test_a_locked_database_fails_within_the_busy_timeout(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = open_sqlite(db, busy_timeout=0.2)
    r = make_record()
    store.create_session(r)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(SessionStoreError) as caught:
            store.put_pending(make_pending(), 600)
        assert time.monotonic() - started < 3
        message = str(caught.value)
        assert "SQLITE_BUSY" in message and "storing a pending sign-in" in message
        assert not any(s in message for s in SENTINELS)
        assert store.get_session(r.session_id) == r  # WAL: readers still read
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.put_pending(make_pending(), 600)  # and it recovers
    store.close()


def test_a_database_from_a_newer_aadweb_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    open_sqlite(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(SessionStoreError, match="newer"):
        open_sqlite(db)


# --- tampering ---------------------------------------------------------------------------


def tamper(db: Path, sql: str, *params: Any) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.create_function("flip", 1, lambda b: b[:-1] + bytes([b[-1] ^ 1]), deterministic=True)
    assert conn.execute(sql, params).rowcount == 1
    conn.close()


@pytest.mark.parametrize("column", ["tokens", "csrf"])
def test_a_tampered_session_ciphertext_yields_no_token_and_the_session_is_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, column: str
) -> None:
    db = tmp_path / "s.db"
    store = open_sqlite(db)
    r = make_record()
    store.create_session(r)
    tamper(db, f"UPDATE sessions SET {column} = flip({column}) WHERE session_id = ?", r.session_id)
    with caplog.at_level(logging.WARNING, logger="aadweb.sessions"):
        assert store.get_session(r.session_id) is None
    assert "failed authentication" in caplog.text
    assert r.session_id not in caplog.text and not any(s in caplog.text for s in SENTINELS)
    assert store.counts()["sessions"] == 0
    store.close()


def test_a_ciphertext_moved_to_another_session_does_not_decrypt(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = open_sqlite(db)
    victim, attacker = make_record(), make_record()
    store.create_session(victim)
    store.create_session(attacker)
    tamper(
        db,
        "UPDATE sessions SET tokens = (SELECT tokens FROM sessions WHERE session_id = ?) WHERE session_id = ?",
        victim.session_id,
        attacker.session_id,
    )
    assert store.get_session(attacker.session_id) is None
    assert store.get_session(victim.session_id) == victim
    store.close()


@pytest.mark.parametrize("column", ["secrets", "callback"])
def test_a_tampered_pending_sign_in_is_spent_and_returns_nothing(tmp_path: Path, column: str) -> None:
    db = tmp_path / "s.db"
    store = open_sqlite(db)
    p = make_pending()
    store.put_pending(p, 600)
    assert store.stash_callback(p.state, {"code": "CODE-SENTINEL"})
    tamper(db, f"UPDATE pending SET {column} = flip({column}) WHERE state = ?", p.state)
    assert store.take_pending(p.state, p.browser_id) is None
    assert store.counts()["pending"] == 0
    store.close()
