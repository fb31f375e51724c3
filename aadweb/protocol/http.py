"""HTTP messages as values: a request is *described, not sent* (as in h11).

``build_*`` functions return an :class:`HttpRequest`; a transport sends it and hands back an
:class:`HttpResponse`, which ``parse_*`` functions turn into values. Form fields and headers may
hold :class:`~aadweb.secret.Secret` values, so a request can be printed or recorded safely;
the transport calls :meth:`HttpRequest.revealed_form` at the moment of sending.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Final, Literal
from urllib.parse import urlencode

from aadweb.errors import InvalidResponse
from aadweb.secret import Secret

__all__ = [
    "B64TOKEN",
    "DELAY_SECONDS",
    "HEADER_SAFE",
    "MAX_RETRY_AFTER",
    "VSCHAR",
    "FormValue",
    "HttpRequest",
    "HttpResponse",
    "Method",
    "client_request_id_headers",
    "parse_retry_after",
]

#: A header value we generate (e.g. client-request-id): 1 to 128 visible ASCII characters.
HEADER_SAFE: Final = re.compile(r"[!-~]{1,128}")
#: RFC 6750 2.1 b64token: what a Bearer access token may look like.
B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: RFC 6749 Appendix A VSCHAR: visible ASCII and space.
VSCHAR: Final = re.compile(r"[\x20-\x7e]+")
#: A Retry-After longer than this is treated as this long (the page just says "try later").
MAX_RETRY_AFTER: Final = 3600.0
# RFC 9110 10.2.3: delay-seconds = 1*DIGIT; Graph also sends fractions ("1.5")
DELAY_SECONDS: Final = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
#: A leg label: a short lower-case name ("metadata", "jwks", "token", "refresh", "graph").
_LEG: Final = re.compile(r"[a-z][a-z_]{0,31}")

Method = Literal["GET", "POST"]
FormValue = str | Secret


def _reveal(value: FormValue) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def client_request_id_headers(client_request_id: str) -> dict[str, str]:
    """``client-request-id`` and ``return-client-request-id: true``, so the answer echoes the id.

    The id is the caller's random value (a UUID; this layer never draws one): Microsoft support
    finds a call by it, and the wire transcript pairs it with the answer's ids.
    """
    if not HEADER_SAFE.fullmatch(client_request_id):
        raise ValueError("client_request_id must be 1 to 128 visible ASCII characters")
    return {"client-request-id": client_request_id, "return-client-request-id": "true"}


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """An outbound request. ``form`` is sent as ``application/x-www-form-urlencoded``.

    ``leg`` names which leg of the protocol this request is, set by the ``build_*`` function
    that describes it (``metadata``, ``jwks``, ``token``, ``refresh``, ``graph``); it is never
    sent, and the wire transcript records it as it is instead of guessing from the URL.
    """

    method: Method
    url: str
    headers: Mapping[str, FormValue] = field(default_factory=dict)
    form: Mapping[str, FormValue] | None = None
    leg: str | None = None

    def __post_init__(self) -> None:
        if self.method not in ("GET", "POST"):
            raise ValueError(f"unsupported method {self.method!r}")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("request URL must be absolute http(s)")
        if self.form is not None and self.method != "POST":
            raise ValueError("a form body needs POST")
        if self.leg is not None and not _LEG.fullmatch(self.leg):
            raise ValueError("leg must be a short lower-case name")

    def revealed_headers(self) -> dict[str, str]:
        return {k: _reveal(v) for k, v in self.headers.items()}

    def revealed_form(self) -> dict[str, str] | None:
        if self.form is None:
            return None
        return {k: _reveal(v) for k, v in self.form.items()}

    def encoded_body(self) -> bytes | None:
        form = self.revealed_form()
        return None if form is None else urlencode(form).encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    """An inbound response. ``headers`` keys are lower-case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str = ""

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"impossible HTTP status {self.status}")
        lowered = {k.lower(): v for k, v in self.headers.items()}
        object.__setattr__(self, "headers", lowered)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object, or :class:`InvalidResponse` naming ``what`` it was."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise InvalidResponse(f"{what}: body is not JSON (HTTP {self.status})") from exc
        if not isinstance(value, dict):
            raise InvalidResponse(f"{what}: body is JSON but not an object (HTTP {self.status})")
        return value


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (RFC 9110 10.2.3), capped; None when unusable.

    Delay-seconds (fractions allowed, as Graph sends them) or an HTTP-date converted with
    ``now``; a date in the past means "now" (0.0). Never raises: a garbage header is ignored.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if DELAY_SECONDS.fullmatch(text):
        delay = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            delay = max(0.0, when.timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError, OSError):
            return None
    if not math.isfinite(delay) or delay < 0:
        return None
    return min(delay, MAX_RETRY_AFTER)
