"""``open_store``: the store named by ``AADWEB_SESSION_STORE``.

* ``memory:`` — :class:`~aadweb.sessions.memory.MemorySessionStore` (one process only).
* ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` —
  :class:`~aadweb.sessions.sqlite.SqliteSessionStore` (default ``sqlite:///aadweb-sessions.db``);
  the path is percent-decoded, relative paths are relative to the working directory.
* ``redis://host:port/db`` / ``rediss://`` (TLS), optionally ``?prefix=aadweb:&timeout=2`` —
  :class:`~aadweb.sessions.redis.RedisSessionStore` (many hosts; needs ``aadweb[redis]``).

A URL that is malformed or names an unknown scheme is a :class:`ConfigurationError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import unquote

from aadweb.errors import ConfigurationError

from ._base import SessionStore
from ._crypto import TokenCipher
from .memory import MemorySessionStore
from .redis import RedisSessionStore
from .sqlite import SqliteSessionStore

__all__ = ["open_store"]

_HINT = "AADWEB_SESSION_STORE must be 'memory:', 'sqlite:///path' or 'redis://host:port/db'"


def open_store(
    url: str, *, secret_key: str, clock: Callable[[], float] = time.time, idle: float = 0
) -> SessionStore:
    """Open the session store ``url`` names; tokens are encrypted under a key from ``secret_key``;
    sessions end after ``idle`` seconds without a read (``AADWEB_SESSION_IDLE``; 0: never)."""
    if url in ("memory:", "memory://"):
        return MemorySessionStore(cipher=TokenCipher.from_secret(secret_key), clock=clock, idle=idle)
    if url.startswith(("redis://", "rediss://")):
        return RedisSessionStore(url, cipher=TokenCipher.from_secret(secret_key), clock=clock, idle=idle)
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///") or "?" in url or "#" in url:
            raise ConfigurationError([f"{_HINT}: a sqlite URL is sqlite:///path, with no host, query or fragment"])
        path = unquote(url[len("sqlite:///") :])
        if not path or path == ":memory:" or path.endswith("/"):
            raise ConfigurationError([f"{_HINT}: the sqlite URL names no database file"])
        return SqliteSessionStore(path, cipher=TokenCipher.from_secret(secret_key), clock=clock, idle=idle)
    scheme = url.split(":", 1)[0] if ":" in url else ""
    raise ConfigurationError([f"{_HINT}: unknown scheme {scheme!r}" if scheme else _HINT])
