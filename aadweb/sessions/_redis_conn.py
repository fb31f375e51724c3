"""The Redis server under the redis store: its URL, the connection pool, errors, server version.

* URL: ``redis://[[user]:password@]host[:port][/db][?prefix=aadweb:&timeout=2]``; ``rediss://``
  is the same over TLS, the server's certificate and host name verified against the system CAs.
  ``prefix`` starts every key (default ``aadweb:``), ``timeout`` is the socket connect and read
  timeout in seconds (default 2).
* ``redis`` (redis-py) is imported here, and only when a redis store is opened: it is the
  optional ``aadweb[redis]`` extra; without it opening fails with ConfigurationError.
* One ``ConnectionPool`` per store. redis-py's pool compares the pid at every checkout and, in
  a forked child (``gunicorn --preload``), starts over with new connections: a parent's socket
  is never used by a child.
* Fail fast: connect and read timeouts, no retries (``Retry(NoBackoff(), 0)``,
  ``retry_on_timeout=False``), so a request the store cannot serve becomes a 503 at once. Recovery
  takes nothing: when the server comes back, the pool notices at checkout that a connection's
  server has gone (its socket reads EOF) and reconnects; idle connections are PINGed before use
  after ``health_check_interval``.
* Every redis-py error becomes :class:`SessionStoreError` naming the operation, ``redis at
  host:port`` and the error class: never a key, a value or the password.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from aadweb.errors import ConfigurationError, SessionStoreError
from aadweb.secret import Secret

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["DEFAULT_PREFIX", "DEFAULT_TIMEOUT", "MISSING_REDIS", "RedisConnection", "RedisTarget", "parse_redis_url"]

DEFAULT_PREFIX: Final = "aadweb:"
DEFAULT_TIMEOUT: Final = 2.0
#: PING a pooled connection that has been idle this long (seconds) before using it again.
HEALTH_CHECK_INTERVAL: Final = 30
_MAX_TIMEOUT: Final = 300.0
_MAX_PREFIX: Final = 100
MISSING_REDIS: Final = (
    "AADWEB_SESSION_STORE is a redis URL but the redis package is missing: pip install 'aadweb[redis]'"
)
_FORM: Final = "a redis URL is redis[s]://[[user]:password@]host[:port][/db][?prefix=aadweb:&timeout=seconds]"


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisTarget:
    """A parsed redis URL. The password is a :class:`Secret`: it prints as a fingerprint."""

    host: str
    port: int
    db: int
    tls: bool
    username: str | None
    password: Secret | None = field(repr=False)
    prefix: str
    timeout: float

    @property
    def where(self) -> str:
        """``redis at host:port/db``: what error messages call the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis at {host}:{self.port}/{self.db}" + (" over TLS" if self.tls else "")


def _bad(problem: str) -> ConfigurationError:
    return ConfigurationError([f"AADWEB_SESSION_STORE: {problem}; {_FORM}"])


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise _bad(f"the redis URL gives {name!r} more than once")
    return values[0]


def parse_redis_url(url: str) -> RedisTarget:
    """Parse ``redis://`` / ``rediss://``; :class:`ConfigurationError` (never naming the
    password) if it is malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad("the redis URL is malformed (is the port a number from 1 to 65535?)") from None
    if port == 0:
        raise _bad("the redis URL's port must be from 1 to 65535")
    if parts.scheme not in ("redis", "rediss"):
        raise _bad("the URL is not redis:// or rediss://")
    if not parts.hostname:
        raise _bad("the redis URL names no host")
    if parts.fragment:
        raise _bad("the redis URL has a fragment")
    db_text = parts.path[1:] if parts.path.startswith("/") else parts.path
    if db_text and not (db_text.isascii() and db_text.isdigit()):
        raise _bad("the redis URL's path must be a database number, e.g. /0")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _bad("the redis URL's query is malformed") from None
    unknown = sorted(set(query) - {"prefix", "timeout"})
    if unknown:
        raise _bad(f"unknown redis URL parameter {unknown[0]!r} (known: prefix, timeout)")
    prefix = _one(query, "prefix")
    prefix = DEFAULT_PREFIX if prefix is None else prefix
    if not 0 < len(prefix) <= _MAX_PREFIX or not prefix.isprintable():
        raise _bad(f"the redis key prefix must be 1 to {_MAX_PREFIX} printable characters")
    timeout_text = _one(query, "timeout")
    try:
        timeout = DEFAULT_TIMEOUT if timeout_text is None else float(timeout_text)
    except ValueError:
        timeout = math.nan
    if not 0 < timeout <= _MAX_TIMEOUT:
        raise _bad(f"the redis timeout must be a number of seconds above 0 and at most {_MAX_TIMEOUT:g}")
    return RedisTarget(
        host=parts.hostname,
        port=6379 if port is None else port,
        db=int(db_text) if db_text else 0,
        tls=parts.scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=Secret("redis password", unquote(parts.password)) if parts.password else None,
        prefix=prefix,
        timeout=timeout,
    )


def import_redis() -> Any:
    """The ``redis`` module, or ConfigurationError saying how to install it."""
    try:
        import redis
    except ImportError:
        raise ConfigurationError([MISSING_REDIS]) from None
    return redis


class RedisConnection:
    """The pool and client of one store, and the one place redis-py errors are translated."""

    def __init__(self, target: RedisTarget) -> None:
        redis = import_redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.target = target
        options: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "db": target.db,
            "username": target.username,
            "password": None if target.password is None else target.password.reveal(),
            "socket_timeout": target.timeout,
            "socket_connect_timeout": target.timeout,
            "health_check_interval": HEALTH_CHECK_INTERVAL,
            "retry_on_timeout": False,
            "retry": Retry(NoBackoff(), 0),  # fail fast: the caller answers 503, the next request reconnects
        }
        if target.tls:
            options.update(connection_class=redis.SSLConnection, ssl_cert_reqs="required", ssl_check_hostname=True)
        self.pool = redis.ConnectionPool(**options)
        self.client: Redis = redis.Redis(connection_pool=self.pool)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._refused: type[BaseException] = redis.ResponseError
        self.closed = False

    @contextlib.contextmanager
    def run(self, what: str) -> Iterator[Redis]:
        """The client; a redis-py error inside becomes SessionStoreError naming ``what``."""
        if self.closed:
            raise SessionStoreError("redis session store is closed")
        try:
            yield self.client
        except self._errors as exc:
            raise SessionStoreError(
                f"redis session store ({self.target.where}): {what} failed ({type(exc).__name__})"
            ) from exc

    def server_version(self) -> tuple[int, ...]:
        """The server's ``redis_version`` (``INFO server``), e.g. ``(7, 0, 15)``; ``()`` if unknown
        (some managed services refuse ``INFO``: then the store uses what every version has)."""
        with self.run("reading the server version") as r:
            try:
                info: Any = r.info("server")
            except self._refused:
                return ()
        raw = info.get("redis_version") if isinstance(info, dict) else None
        try:
            return tuple(int(p) for p in str(raw).split("."))
        except ValueError:
            return ()

    def close(self) -> None:
        """Disconnect every pooled connection; later calls raise. Idempotent."""
        self.closed = True
        with contextlib.suppress(*self._errors):
            self.pool.disconnect()
