"""The SQLite file under the sqlite store: connections, pragmas, schema, errors, transactions.

* One connection per thread and per process: a connection made before a fork (e.g. by
  ``gunicorn --preload``) is never used, nor closed, in the child. Connections run in
  autocommit mode; :meth:`Database.transaction` is ``BEGIN IMMEDIATE`` (take the write lock first, so
  no transaction ever has to upgrade a read lock: the classic "database is locked" deadlock).
* ``journal_mode=WAL`` (readers never block the writer), ``synchronous=NORMAL`` (safe across
  application crashes; a power cut may lose the last commits, which costs a sign-in, not
  integrity), ``busy_timeout``: a writer waits that long for another, then fails with
  SessionStoreError; it never hangs.
* A new file is created ``0600``; SQLite gives the WAL and shm files the same mode.
* The schema is created idempotently when the file is opened (several processes may open a
  new file at once) and carries a ``schema_version``; a newer schema is refused, not misread.
  Opening also writes once, so a read-only file fails at start-up, not at the first sign-in.
* Every ``sqlite3`` error becomes SessionStoreError naming the operation, the file and the
  SQLite error code (``SQLITE_BUSY``, ``SQLITE_READONLY``...): never a value from the database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Final

from aadweb.errors import SessionStoreError

__all__ = ["SCHEMA_VERSION", "Database"]

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS pending (
        state TEXT PRIMARY KEY, browser_id TEXT NOT NULL, return_path TEXT NOT NULL,
        response_type TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
        secrets BLOB NOT NULL, callback BLOB) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS pending_expires_at ON pending (expires_at)",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY, created_at REAL NOT NULL, expires_at REAL NOT NULL,
        last_seen REAL NOT NULL, claims TEXT NOT NULL, tokens BLOB, csrf BLOB NOT NULL,
        flow_id TEXT NOT NULL, version INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at)",
    """CREATE TABLE IF NOT EXISTS locks (
        name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID""",
)
_MIN_SQLITE: Final = (3, 24, 0)  # upsert
_OPEN_RETRY_INTERVAL: Final = 0.02


class Database:
    """One SQLite file shared by every thread of this process (see module doc)."""

    def __init__(self, path: str, *, busy_timeout: float) -> None:
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise SessionStoreError(f"the sqlite session store needs SQLite >= 3.24, found {sqlite3.sqlite_version}")
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._registry = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._inherited: list[sqlite3.Connection] = []  # a parent's connections: kept, never used
        self._pid = os.getpid()
        self._closed = False
        try:  # owner-only, before SQLite creates it with the umask's mode
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise SessionStoreError(f"sqlite session store {path!r}: cannot create the file ({exc.strerror})") from exc
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SessionStoreError(f"sqlite session store {self.path!r}: cannot use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise SessionStoreError("sqlite session store is closed")
        if os.getpid() != self._pid:  # forked: the parent's connections must not be used here
            with self._registry:
                if os.getpid() != self._pid:
                    self._inherited.extend(self._conns)
                    self._conns, self._local, self._pid = [], threading.local(), os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            with self._registry:
                self._conns.append(conn)
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def run(self, what: str) -> Iterator[sqlite3.Connection]:
        """This thread's connection; a sqlite3 error inside becomes SessionStoreError naming ``what``."""
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
            raise SessionStoreError(f"sqlite session store {self.path!r}: {what} failed ({code})") from exc

    @contextlib.contextmanager
    def transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed at the end, rolled back on any error."""
        with self.run(what) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close every connection of this process. Idempotent; later calls raise."""
        with self._registry:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _open(self) -> None:
        """Connect and create the schema, retried while other processes do the same.

        SQLite answers SQLITE_BUSY at once, without waiting, to a connection that meets a file
        being switched to WAL or recovered by another process: only opening can meet that.
        """
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                with self.transaction("opening the database") as conn:
                    self._create_schema(conn)
                return
            except SessionStoreError as exc:
                cause = exc.__cause__
                busy = isinstance(cause, sqlite3.OperationalError) and (
                    getattr(cause, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                )
                if not busy or time.monotonic() >= deadline:
                    raise
            self._drop_thread_connection()
            time.sleep(_OPEN_RETRY_INTERVAL)

    def _drop_thread_connection(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._registry:
                self._conns.remove(conn)
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        for statement in _SCHEMA:
            conn.execute(statement)
        found = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if found is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif found > SCHEMA_VERSION:
            raise SessionStoreError(
                f"sqlite session store {self.path!r} has schema version {found}, newer than this "
                f"aadweb understands ({SCHEMA_VERSION})"
            )
        else:  # a real write: a read-only file fails here, at start-up, not at the first sign-in
            conn.execute("UPDATE schema_version SET version = version")
