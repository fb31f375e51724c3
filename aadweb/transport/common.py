"""What every transport does the same way: the headers it adds, the body cap, safe URL text."""

from __future__ import annotations

from urllib.parse import urlsplit

from aadweb._version import __version__
from aadweb.errors import TransportError
from aadweb.protocol.http import HttpRequest

__all__ = ["FORM_CONTENT_TYPE", "USER_AGENT", "VERSION", "BodyCap", "describe", "outbound_headers", "safe_url"]


VERSION = __version__
USER_AGENT = f"aadweb/{VERSION}"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def safe_url(url: str) -> str:
    """``scheme://host:port/path`` of ``url``: no user info, query string or fragment.

    This is the only form of a URL that goes into an exception message or a log line: the
    query string of a GET may hold a secret, and user info always does.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}{parts.path or '/'}"


def describe(request: HttpRequest) -> str:
    """``METHOD scheme://host:port/path``, safe for messages."""
    return f"{request.method} {safe_url(request.url)}"


def _check_header(name: str, value: str, where: str) -> None:
    # A line break or NUL in a header would let a value inject headers or a second request.
    if not name or any(c in name for c in "\r\n\0:") or any(c in value for c in "\r\n\0"):
        raise TransportError(f"{where}: request header {name!r} holds a line break or NUL; not sent")


def outbound_headers(
    request: HttpRequest,
    *,
    user_agent: str,
    has_body: bool,
) -> dict[str, str]:
    """The headers that go on the wire: aadweb's defaults, overridden by the request's own.

    Adds ``return-client-request-id: true`` (the authority echoes the request's
    ``client-request-id``), ``x-client-SKU``, ``x-client-Ver``, ``Accept: application/json``
    and the ``User-Agent``, as ADAL did. The ``client-request-id`` itself is the request's
    own (its ``build_*`` function takes one): a request without one is sent without one. A
    form body is sent as ``application/x-www-form-urlencoded`` unless the request says otherwise.
    """
    where = describe(request)
    merged: dict[str, tuple[str, str]] = {}
    defaults = {
        "User-Agent": user_agent,
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate",
        "x-client-SKU": "aadweb",
        "x-client-Ver": VERSION,
        "return-client-request-id": "true",
    }
    for name, value in defaults.items():
        merged[name.lower()] = (name, value)
    given = request.revealed_headers()
    for name, value in given.items():
        _check_header(name, value, where)
        merged[name.lower()] = (name, value)
    if has_body and "content-type" not in merged:
        merged["content-type"] = ("Content-Type", FORM_CONTENT_TYPE)
    return dict(merged.values())


class BodyCap:
    """Counts the *decoded* bytes of a body and refuses the first chunk that crosses ``limit``.

    Counting after content-decoding is what stops a gzip bomb: a few kilobytes on the wire
    that would inflate to gigabytes are refused as soon as the inflated size passes the cap,
    and never joined into one buffer.
    """

    __slots__ = ("_chunks", "_limit", "_size", "_where")

    def __init__(self, limit: int, where: str) -> None:
        self._limit = limit
        self._where = where
        self._size = 0
        self._chunks: list[bytes] = []

    def check_declared(self, content_length: str | None) -> None:
        """Refuse before reading when the declared ``Content-Length`` is over the cap."""
        if content_length is None:
            return
        try:
            declared = int(content_length)
        except ValueError:
            return  # the reader counts what actually arrives
        if declared > self._limit:
            raise TransportError(
                f"{self._where}: response body larger than {self._limit} bytes (Content-Length {declared}); refused"
            )

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise TransportError(f"{self._where}: response body larger than {self._limit} bytes; refused")
        if chunk:
            self._chunks.append(chunk)

    def body(self) -> bytes:
        return b"".join(self._chunks)
