"""Pieces of a wire transcript record: times, ids, bodies, error summaries, the line itself."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

from aadweb.errors import AadWebError, AuthorityError, GraphError
from aadweb.transcript.redact import Redactor, fp
from aadweb.transport.common import FORM_CONTENT_TYPE

__all__ = [
    "Record",
    "diagnostic_id",
    "diagnostics",
    "error_summary",
    "is_json",
    "iso",
    "line",
    "parse_json",
    "record_body",
]

#: A record as the writer builds it: plain JSON, schema in :mod:`aadweb.transcript.schema`
#: (readers get a :class:`~aadweb.transcript.schema.TranscriptRecord` from ``parse_record``).
Record = dict[str, Any]

_MAX_LINE: Final = 256 * 1024
_ID_CHARS: Final = frozenset(map(chr, range(0x21, 0x7F)))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def diagnostic_id(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 128 and set(value) <= _ID_CHARS:
        return value
    return None


def is_json(mime: str) -> bool:
    mime = mime.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def error_summary(error: BaseException) -> dict[str, Any]:
    """What a record says about an exception: its class, and for aadweb's own errors (whose
    messages are safe by construction) the message and the authority's or Graph's ids."""
    out: dict[str, Any] = {"type": type(error).__name__}
    if isinstance(error, AadWebError):
        out["message"] = str(error)[:1000]
        out["status"] = error.status
    if isinstance(error, AuthorityError):
        out.update(error=error.error, error_codes=list(error.error_codes), trace_id=error.trace_id,
                   correlation_id=error.correlation_id)
    if isinstance(error, GraphError):
        out.update(http_status=error.http_status, code=error.code, request_id=error.request_id)
    return out


def line(record: Record) -> bytes:
    data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    if len(data) <= _MAX_LINE:
        return data
    # Too large for one line: keep the record, drop the bodies (their sizes stay).
    for section in ("request", "response"):
        part = record.get(section)
        if isinstance(part, dict) and isinstance(part.get("body"), dict):
            body = part["body"]
            part["body"] = {"mime": body.get("mime"), "size": body.get("size"), "omitted": "record too large"}
    record["jwt"] = None
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def record_body(red: Redactor, mime: str, raw: bytes, *, schema: str | None = None, parsed: object = None,
          where: str) -> dict[str, Any] | None:
    """A body as a record shows it: a redacted form, a redacted JSON document, or one fingerprint."""
    if not raw:
        return None
    out: dict[str, Any] = {"mime": mime, "size": len(raw)}
    if mime.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE:
        text = raw.decode("utf-8", "replace")
        out["form"] = red.fields(parse_qsl(text, keep_blank_values=True), where=where.replace("json", "form"))
    elif schema is not None and parsed is not None:
        out["json"] = red.json(schema, parsed, where=where)
    else:
        out["redacted"] = fp("body", raw)
    return out


def diagnostics(parsed: object, headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(trace_id, correlation_id): from an AADSTS or Graph error body, else the response headers."""
    trace: object = None
    correlation: object = None
    if isinstance(parsed, dict):
        trace, correlation = parsed.get("trace_id"), parsed.get("correlation_id")
        envelope = parsed.get("error")
        if isinstance(envelope, dict):
            inner = envelope.get("innerError") or envelope.get("innererror")
            if isinstance(inner, dict):
                trace, correlation = inner.get("request-id"), inner.get("client-request-id")
    return (
        diagnostic_id(trace) or diagnostic_id(headers.get("x-ms-request-id")) or diagnostic_id(
            headers.get("request-id")),
        diagnostic_id(correlation) or diagnostic_id(headers.get("client-request-id")),
    )


def parse_json(raw: bytes) -> object:
    """A JSON body, or None when it is not JSON."""
    with contextlib.suppress(UnicodeDecodeError, ValueError, RecursionError):
        return json.loads(raw.decode("utf-8"))
    return None
