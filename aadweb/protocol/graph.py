"""Microsoft Graph ``GET /v1.0/me``: the request, the answer, and ``Retry-After``.

The answer is kept as the user's id, three display fields, and every top-level field rendered
as a display string in the order Graph sent them (the page shows them as a table and escapes
keys and values). Display fields of the wrong JSON type are not an error: they become None and
still appear, rendered, in ``fields``. Only ``id`` is required.

Errors come as ``{"error": {"code", "message", "innerError": {"request-id",
"client-request-id", "date"}}}``; they become :class:`GraphError` with the HTTP status, the
cleaned code and message, the ids (from the envelope, else the response headers) and the
parsed ``Retry-After``. A non-JSON error body yields a GraphError carrying only what the
headers say. A redirect is never followed and is refused (:class:`InvalidResponse`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from aadweb.errors import GraphError, InvalidResponse
from aadweb.protocol.aadsts import clean_text
from aadweb.protocol.http import (
    B64TOKEN,
    MAX_RETRY_AFTER,
    HttpRequest,
    HttpResponse,
    client_request_id_headers,
    parse_retry_after,
)
from aadweb.protocol.metadata import is_secure_url
from aadweb.secret import Secret

__all__ = [
    "MAX_FIELDS",
    "MAX_RETRY_AFTER",
    "MAX_VALUE",
    "GraphUser",
    "build_bearer_get",
    "build_me_request",
    "parse_me_response",
    "parse_retry_after",
    "raise_for_graph_error",
]

MAX_FIELDS: Final = 200
MAX_VALUE: Final = 2000
MAX_KEY: Final = 200
MAX_MESSAGE: Final = 2000
_WHAT: Final = "Graph /me response"


def build_bearer_get(*, url: str, access_token: Secret, client_request_id: str, leg: str) -> HttpRequest:
    """``GET url`` with the bearer token (RFC 6750 2.1) and a ``client-request-id``: every Graph read."""
    if not is_secure_url(url):
        raise ValueError("a Graph URL must be https (http only on a loopback host)")
    token = access_token.reveal()
    # RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    if not B64TOKEN.fullmatch(token):
        raise ValueError("the access token is not a valid bearer token (RFC 6750 2.1)")
    return HttpRequest(
        method="GET",
        url=url,
        headers={
            "Authorization": Secret("authorization", f"Bearer {token}"),
            "Accept": "application/json",
            **client_request_id_headers(client_request_id),
        },
        leg=leg,
    )


def build_me_request(*, graph_url: str, access_token: Secret, client_request_id: str) -> HttpRequest:
    """``GET {graph_url}`` (``/me``) with the user's access token."""
    return build_bearer_get(url=graph_url, access_token=access_token, client_request_id=client_request_id,
                            leg="graph")


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphUser:
    """The signed-in user as Graph describes them; ``fields`` is for display only."""

    id: str
    display_name: str | None
    user_principal_name: str | None
    mail: str | None
    fields: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id must not be empty")
        if len(self.fields) > MAX_FIELDS:
            raise ValueError(f"at most {MAX_FIELDS} fields")
        for pair in self.fields:
            if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
                raise ValueError("fields must be (str, str) pairs")


def _display(value: Any) -> str:
    """One JSON value as a display string: strings as they are, null as "", the rest as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
        except (ValueError, RecursionError):
            text = "\u2026"
    return clean_text(text, limit=MAX_VALUE)


def _display_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        return None
    return clean_text(value, limit=MAX_VALUE)


def raise_for_graph_error(resp: HttpResponse, *, what: str, now: float) -> None:
    """Nothing for a 200; GraphError for an error answer; InvalidResponse for anything else."""
    if 300 <= resp.status <= 399:
        raise InvalidResponse("Graph answered with a redirect, which is never followed")
    if resp.status != 200:
        if resp.status < 300:
            raise InvalidResponse(f"{what}: HTTP {resp.status} instead of 200")
        raise _graph_error(resp, now=now)


def parse_me_response(resp: HttpResponse, *, now: float) -> GraphUser:
    """The user of a 200 answer; GraphError for an error answer; InvalidResponse otherwise."""
    raise_for_graph_error(resp, what=_WHAT, now=now)
    body = resp.json_object(_WHAT)
    user_id = body.get("id")
    if not isinstance(user_id, str) or not user_id or len(user_id) > 256:
        raise InvalidResponse(f"{_WHAT}: id is missing or not a string")
    fields = tuple(
        (clean_text(str(key), limit=MAX_KEY), _display(value)) for key, value in list(body.items())[:MAX_FIELDS]
    )
    return GraphUser(
        id=user_id,
        display_name=_display_field(body, "displayName"),
        user_principal_name=_display_field(body, "userPrincipalName"),
        mail=_display_field(body, "mail"),
        fields=fields,
    )


def _text(container: dict[str, Any], name: str, limit: int) -> str:
    value = container.get(name)
    return clean_text(value, limit=limit) if isinstance(value, str) else ""


def _graph_error(resp: HttpResponse, *, now: float) -> GraphError:
    retry_after = parse_retry_after(resp.header("retry-after"), now=now)
    request_id = clean_text(resp.header("request-id") or "", limit=128)
    client_request_id = clean_text(resp.header("client-request-id") or "", limit=128)
    code = message = ""
    try:
        body: dict[str, Any] | None = resp.json_object("Graph error")
    except InvalidResponse:
        body = None
    envelope = body.get("error") if body is not None else None
    if isinstance(envelope, dict):
        code = _text(envelope, "code", 200)
        message = _text(envelope, "message", MAX_MESSAGE)
        inner = envelope.get("innerError")
        if isinstance(inner, dict):
            request_id = _text(inner, "request-id", 128) or request_id
            client_request_id = _text(inner, "client-request-id", 128) or client_request_id
    return GraphError(
        resp.status,
        code=code,
        message=message,
        request_id=request_id,
        client_request_id=client_request_id,
        retry_after=retry_after,
    )
