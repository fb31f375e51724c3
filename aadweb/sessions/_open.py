"""``open_store``: the store named by ``AADWEB_SESSION_STORE``.

* ``memory:`` — :class:`~aadweb.sessions.memory.MemorySessionStore` (one process only).
* ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` —
  :class:`~aadweb.sessions.sqlite.SqliteSessionStore` (default ``sqlite:///aadweb-sessions.db``);
  the path is percent-decoded, relative paths are relative to the working directory.
* ``redis://host:port/db`` / ``rediss://`` (TLS), optionally ``?prefix=aadweb:&timeout=2`` —
  :class:`~aadweb.sessions.redis.RedisSessionStore` (many hosts; needs ``aadweb[redis]``).

A URL that is malformed or names an unknown scheme is a :class:`ConfigurationError`.
:func:`store_problems` finds the same problems without opening anything (no file created, no
connection made), plus what would make opening fail at start-up (a sqlite file that cannot be
created, the redis package missing): ``aadweb check-config`` and ``create_app`` both use it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from urllib.parse import unquote

from aadweb._fs import why_not_writable
from aadweb.errors import ConfigurationError

from ._base import SessionStore
from ._crypto import TokenCipher
from ._redis_conn import MISSING_REDIS, parse_redis_url
from .memory import MemorySessionStore
from .redis import RedisSessionStore
from .sqlite import SqliteSessionStore

__all__ = ["open_store", "store_problems"]

_HINT = "AADWEB_SESSION_STORE must be 'memory:', 'sqlite:///path' or 'redis://host:port/db'"


def _sqlite_path(url: str) -> str:
    """The database path of a ``sqlite:///`` URL, or ConfigurationError."""
    if not url.startswith("sqlite:///") or "?" in url or "#" in url:
        raise ConfigurationError([f"{_HINT}: a sqlite URL is sqlite:///path, with no host, query or fragment"])
    path = unquote(url[len("sqlite:///") :])
    if not path or path == ":memory:" or path.endswith("/"):
        raise ConfigurationError([f"{_HINT}: the sqlite URL names no database file"])
    return path


def _unknown_scheme(url: str) -> ConfigurationError:
    scheme = url.split(":", 1)[0] if ":" in url else ""
    return ConfigurationError([f"{_HINT}: unknown scheme {scheme!r}" if scheme else _HINT])


def store_problems(url: str) -> list[str]:
    """What would stop :func:`open_store` from opening ``url``, found without opening it."""
    try:
        if url in ("memory:", "memory://"):
            return []
        if url.startswith(("redis://", "rediss://")):
            parse_redis_url(url)
            if importlib.util.find_spec("redis") is None:
                return [MISSING_REDIS]
            return []
        if url.startswith("sqlite:"):
            path = _sqlite_path(url)
            why = why_not_writable(path)
            return [] if why is None else [f"AADWEB_SESSION_STORE: the sqlite database {path!r} cannot be "
                                           f"created or written ({why})."]
        raise _unknown_scheme(url)
    except ConfigurationError as exc:
        return list(exc.problems)


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
        path = _sqlite_path(url)
        return SqliteSessionStore(path, cipher=TokenCipher.from_secret(secret_key), clock=clock, idle=idle)
    raise _unknown_scheme(url)
