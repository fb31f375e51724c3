"""The wire transcript for people: one block per leg, in order, with the verdicts.

Used by ``aadweb wire FILE`` and by ``examples/walkthrough.py``. Colour (ANSI) only when asked:
the CLI asks when its output is a terminal and ``NO_COLOR`` is not set (https://no-color.org).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Final

from aadweb.transcript.reader import group_flows
from aadweb.transcript.schema import Body, Headers, JwtSummary, TranscriptRecord, VerdictLine

__all__ = ["SECURITY_HEADERS", "Style", "render", "render_flow", "render_record", "status_text", "title"]

#: The app's fixed headers, the same on every answer: shown as one line.
SECURITY_HEADERS: Final = frozenset({
    "content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options",
    "cross-origin-opener-policy", "strict-transport-security", "cache-control",
})
_FINGERPRINT: Final = re.compile("\u00ab[^\u00bb]*\u00bb")
_MAX_VALUE: Final = 200
_TITLES: Final[Mapping[str, str]] = {
    "login": "the browser starts a sign-in",
    "authorize_redirect": "the app sends the browser to the authority",
    "form_post": "the authority's answer, posted by the browser (form_post)",
    "form_post_redirect": "the app comes back same-site, where the cookie is sent",
    "callback": "the browser brings the answer to the app",
    "metadata": "OpenID metadata",
    "jwks": "the tenant's signing keys (JWKS)",
    "token": "redeem the code",
    "validation": "id_token checks",
    "signed_in": "signed in: a new session",
    "graphcall": "the browser asks for Graph /me",
    "refresh": "refresh the access token",
    "graph": "Microsoft Graph",
    "graphcall_page": "the Graph page",
    "logout": "the browser signs out",
    "logout_redirect": "the app sends the browser to the authority's logout",
    "refused": "refused",
}


class Style:
    """ANSI styles, or none."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)

    def secrets(self, text: str) -> str:
        """Fingerprints in magenta, so the eye can follow them."""
        if not self.color:
            return text
        return _FINGERPRINT.sub(lambda m: f"\033[35m{m.group(0)}\033[0m", text)

    def status(self, status: int) -> str:
        text = status_text(status)
        if status < 300:
            return self.green(text)
        if status < 400:
            return self.cyan(text)
        return self.red(text)


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def title(leg: str) -> str:
    return _TITLES.get(leg, leg)


def _short(value: str) -> str:
    return value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE] + "\u2026"


def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def _url_lines(url: str, prefix: str, s: Style) -> list[str]:
    """The URL, then its query parameters one per line (they are what a student reads)."""
    base, _, query = url.partition("?")
    lines = [s.secrets(base + ("?" if query else ""))]
    if query:
        lines += [f"{prefix}    {s.secrets(_short(p))}" for p in query.split("&")]
    return lines


def _headers(headers: Headers, mark: str, s: Style, *, skip_fixed: bool) -> list[str]:
    lines: list[str] = []
    fixed: list[str] = []
    for name, value in headers:
        if skip_fixed and name in SECURITY_HEADERS:
            fixed.append(name)
            continue
        if name == "location" and "?" in value:
            first, *rest = _url_lines(value, f"    {mark}", s)
            lines.append(f"    {s.dim(mark)} {name}: {first}")
            lines += rest
        else:
            lines.append(f"    {s.dim(mark)} {name}: {s.secrets(_short(value))}")
    if fixed:
        lines.append(f"    {s.dim(mark)} {s.dim('(and the fixed headers: ' + ', '.join(fixed) + ')')}")
    return lines


def _body(body: Body | None, mark: str, s: Style) -> list[str]:
    if body is None:
        return []
    pad = f"    {s.dim(mark)} "
    if body.kind == "form":
        return [f"{pad}{name}={s.secrets(_short(json.dumps(list(v)) if isinstance(v, tuple) else v))}"
                for name, v in body.form]
    if body.kind == "json":
        doc = body.json
        if isinstance(doc, dict):
            return [f"{pad}{name}: {s.secrets(_short(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))}"
                    for name, v in doc.items()]
        return [f"{pad}{s.secrets(_short(json.dumps(doc, ensure_ascii=False)))}"]
    if body.kind == "redacted":
        return [f"{pad}({body.mime or 'body'}, {body.size} bytes) {s.secrets(body.text)}"]
    if body.kind == "omitted":
        return [f"{pad}({body.mime or 'body'}, {body.size} bytes, not recorded: {body.text})"]
    return []


def _jwt_lines(jwts: Sequence[tuple[str, JwtSummary]] | None, s: Style) -> list[str]:
    lines: list[str] = []
    for where, summary in jwts or ():
        signed = summary.signed
        kind = "" if signed is None else (" signed" if signed else s.yellow(" unsigned (alg none)"))
        lines.append(f"    {s.bold('id_token')} ({where}) {s.secrets(summary.fingerprint)}{kind}")
        if summary.malformed:
            lines.append("      not a readable JWT")
            continue
        header = summary.header or {}
        lines.append("      header  " + " ".join(f"{k}={v}" for k, v in header.items()))
        claims = summary.claims or {}
        shown = []
        for k, v in claims.items():
            text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
            if k in ("exp", "nbf", "iat") and isinstance(v, int | float):
                text += f" ({datetime.fromtimestamp(v, UTC).strftime('%Y-%m-%d %H:%M:%SZ')})"
            shown.append(f"{k}={text}")
        lines.append("      claims  " + "  ".join(shown))
        lines.append(f"      nonce {summary.nonce} \u00b7 c_hash {summary.c_hash}"
                     + (f" \u00b7 other claims: {', '.join(summary.other_claims)}"
                        if summary.other_claims else ""))
    return lines


def _verdict_lines(verdicts: Sequence[VerdictLine] | None, s: Style) -> list[str]:
    lines: list[str] = []
    width = max((len(v.check) for v in verdicts or ()), default=0)
    for v in verdicts or ():
        mark = s.green("PASS") if v.passed else s.red("FAIL")
        detail = f" \u2014 {v.detail}" if v.detail else ""
        lines.append(f"    {mark}  {v.check.ljust(width)}  {v.reference}{detail}")
    return lines


def _or(value: object, default: str = "?") -> str:
    return default if value is None else str(value)


def render_record(n: int, record: TranscriptRecord, s: Style, *, previous_ts: float | None = None) -> list[str]:
    """One leg: a heading line, then the request, the response, ids, id_tokens and verdicts."""
    leg = record.leg
    ends = f"{_or(record.sender)} \u2192 {_or(record.receiver)}"
    ts = record.ts
    when = _when(ts)
    if previous_ts is not None and ts is not None:
        when += s.dim(f" (+{(ts - previous_ts) * 1000:.1f} ms)")
    elapsed = record.elapsed_ms
    took = f"  {elapsed:.1f} ms" if elapsed is not None else ""
    name = s.red(leg) if leg == "refused" else s.bold(leg)
    lines = [f"{n:>3}  {name}  {s.cyan(ends)}  {s.dim(title(leg))}",
             f"     {when}  pid {_or(record.pid)}{took}"]
    method, url = record.method, record.url
    request, response = record.request, record.response
    if method is not None and url is not None:
        first, *rest = _url_lines(url, "    ", s)
        verb = method if request is not None else f"(answering {method})"
        lines.append(f"    {verb} {first}")
        if request is not None or len(rest) <= 3:
            lines += rest
    ids = [f"{k}={v}" for k, v in (("client_request_id", record.client_request_id), ("trace_id", record.trace_id),
                                    ("correlation_id", record.correlation_id)) if v]
    if ids:
        lines.append("    " + s.dim("  ".join(ids)))
    if request is not None:
        lines += _headers(request.headers, ">", s, skip_fixed=False)
        lines += _body(request.body, ">", s)
    if response is not None:
        status = response.status
        lines.append(f"    {s.dim('<')} {s.status(status) if status is not None else '?'}")
        lines += _headers(response.headers, "<", s, skip_fixed=record.receiver == "browser")
        lines += _body(response.body, "<", s)
    error = record.error
    if error is not None:
        lines.append("    " + s.red(f"error: {error.type}: {error.message or ''}".rstrip(": ")))
    lines += _jwt_lines(record.jwt, s)
    lines += _verdict_lines(record.verdicts, s)
    return lines


def render_flow(flow: str | None, records: Sequence[TranscriptRecord], s: Style) -> list[str]:
    pids = sorted({r.pid for r in records if r.pid is not None})
    start = _or(records[0].time) if records else "?"
    name = f"flow {flow}" if flow else "outside any sign-in (no flow)"
    lines = [s.bold(f"\u2550\u2550 {name} \u00b7 {len(records)} legs \u00b7 {start} \u00b7 "
                    f"worker{'s' if len(pids) != 1 else ''} {', '.join(map(str, pids))}")]
    previous: float | None = None
    for n, record in enumerate(records, 1):
        lines.append("")
        lines += render_record(n, record, s, previous_ts=previous)
        previous = float(record.ts) if record.ts is not None else previous
    return lines


def render(records: Iterable[TranscriptRecord], *, color: bool = False) -> str:
    """The whole transcript: flows in the order they started, legs in order within each."""
    s = Style(color)
    blocks = [render_flow(flow, recs, s) for flow, recs in group_flows(records).items()]
    return "\n\n".join("\n".join(block) for block in blocks) + ("\n" if blocks else "")

