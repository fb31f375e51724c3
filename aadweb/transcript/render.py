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
from aadweb.transcript.records import Record

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


def _when(ts: object) -> str:
    if not isinstance(ts, int | float):
        return "?"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def _url_lines(url: str, prefix: str, s: Style) -> list[str]:
    """The URL, then its query parameters one per line (they are what a student reads)."""
    base, _, query = url.partition("?")
    lines = [s.secrets(base + ("?" if query else ""))]
    if query:
        lines += [f"{prefix}    {s.secrets(_short(p))}" for p in query.split("&")]
    return lines


def _headers(headers: object, mark: str, s: Style, *, skip_fixed: bool) -> list[str]:
    lines: list[str] = []
    fixed: list[str] = []
    if not isinstance(headers, list):
        return lines
    for pair in headers:
        if not (isinstance(pair, list) and len(pair) == 2):
            continue
        name, value = str(pair[0]), str(pair[1])
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


def _body(body: object, mark: str, s: Style) -> list[str]:
    if not isinstance(body, dict):
        return []
    pad = f"    {s.dim(mark)} "
    if isinstance(body.get("form"), dict):
        return [f"{pad}{name}={s.secrets(_short(json.dumps(v) if isinstance(v, list) else str(v)))}"
                for name, v in body["form"].items()]
    if "json" in body:
        doc = body["json"]
        if isinstance(doc, dict):
            return [f"{pad}{name}: {s.secrets(_short(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))}"
                    for name, v in doc.items()]
        return [f"{pad}{s.secrets(_short(json.dumps(doc, ensure_ascii=False)))}"]
    if "redacted" in body:
        return [f"{pad}({body.get('mime') or 'body'}, {body.get('size')} bytes) {s.secrets(str(body['redacted']))}"]
    if "omitted" in body:
        return [f"{pad}({body.get('mime') or 'body'}, {body.get('size')} bytes, not recorded: {body['omitted']})"]
    return []


def _jwt_lines(jwts: object, s: Style) -> list[str]:
    lines: list[str] = []
    if not isinstance(jwts, dict):
        return lines
    for where, summary in jwts.items():
        if not isinstance(summary, dict):
            continue
        signed = summary.get("signed")
        kind = "" if signed is None else (" signed" if signed else s.yellow(" unsigned (alg none)"))
        lines.append(f"    {s.bold('id_token')} ({where}) {s.secrets(str(summary.get('fingerprint', '')))}{kind}")
        if summary.get("malformed"):
            lines.append("      not a readable JWT")
            continue
        header = summary.get("header") or {}
        lines.append("      header  " + " ".join(f"{k}={v}" for k, v in header.items()))
        claims = summary.get("claims") or {}
        shown = []
        for k, v in claims.items():
            text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
            if k in ("exp", "nbf", "iat") and isinstance(v, int | float):
                text += f" ({datetime.fromtimestamp(v, UTC).strftime('%Y-%m-%d %H:%M:%SZ')})"
            shown.append(f"{k}={text}")
        lines.append("      claims  " + "  ".join(shown))
        lines.append(f"      nonce {summary.get('nonce')} \u00b7 c_hash {summary.get('c_hash')}"
                     + (f" \u00b7 other claims: {', '.join(summary['other_claims'])}"
                        if summary.get("other_claims") else ""))
    return lines


def _verdict_lines(verdicts: object, s: Style) -> list[str]:
    lines: list[str] = []
    if not isinstance(verdicts, list):
        return lines
    width = max((len(str(v.get("check", ""))) for v in verdicts if isinstance(v, dict)), default=0)
    for v in verdicts:
        if not isinstance(v, dict):
            continue
        mark = s.green("PASS") if v.get("passed") else s.red("FAIL")
        detail = f" \u2014 {v['detail']}" if v.get("detail") else ""
        lines.append(f"    {mark}  {str(v.get('check', '')).ljust(width)}  {v.get('reference', '')}{detail}")
    return lines


def render_record(n: int, record: Record, s: Style, *, previous_ts: float | None = None) -> list[str]:
    """One leg: a heading line, then the request, the response, ids, id_tokens and verdicts."""
    leg = str(record.get("leg", "?"))
    ends = f"{record.get('from', '?')} \u2192 {record.get('to', '?')}"
    ts = record.get("ts")
    when = _when(ts)
    if previous_ts is not None and isinstance(ts, int | float):
        when += s.dim(f" (+{(ts - previous_ts) * 1000:.1f} ms)")
    elapsed = record.get("elapsed_ms")
    took = f"  {elapsed:.1f} ms" if isinstance(elapsed, int | float) else ""
    name = s.red(leg) if leg == "refused" else s.bold(leg)
    lines = [f"{n:>3}  {name}  {s.cyan(ends)}  {s.dim(title(leg))}",
             f"     {when}  pid {record.get('pid', '?')}{took}"]
    method, url = record.get("method"), record.get("url")
    request, response = record.get("request"), record.get("response")
    if isinstance(method, str) and isinstance(url, str):
        first, *rest = _url_lines(url, "    ", s)
        verb = method if isinstance(request, dict) else f"(answering {method})"
        lines.append(f"    {verb} {first}")
        if isinstance(request, dict) or len(rest) <= 3:
            lines += rest
    ids = [f"{k}={record[k]}" for k in ("client_request_id", "trace_id", "correlation_id") if record.get(k)]
    if ids:
        lines.append("    " + s.dim("  ".join(ids)))
    if isinstance(request, dict):
        lines += _headers(request.get("headers"), ">", s, skip_fixed=False)
        lines += _body(request.get("body"), ">", s)
    if isinstance(response, dict):
        status = response.get("status")
        lines.append(f"    {s.dim('<')} {s.status(status) if isinstance(status, int) else '?'}")
        lines += _headers(response.get("headers"), "<", s, skip_fixed=record.get("to") == "browser")
        lines += _body(response.get("body"), "<", s)
    error = record.get("error")
    if isinstance(error, dict):
        lines.append("    " + s.red(f"error: {error.get('type')}: {error.get('message', '')}".rstrip(": ")))
    lines += _jwt_lines(record.get("jwt"), s)
    lines += _verdict_lines(record.get("verdicts"), s)
    return lines


def render_flow(flow: str | None, records: Sequence[Record], s: Style) -> list[str]:
    pids = sorted({int(r["pid"]) for r in records if isinstance(r.get("pid"), int)})
    start = records[0].get("time", "?") if records else "?"
    name = f"flow {flow}" if flow else "outside any sign-in (no flow)"
    lines = [s.bold(f"\u2550\u2550 {name} \u00b7 {len(records)} legs \u00b7 {start} \u00b7 "
                    f"worker{'s' if len(pids) != 1 else ''} {', '.join(map(str, pids))}")]
    previous: float | None = None
    for n, record in enumerate(records, 1):
        lines.append("")
        lines += render_record(n, record, s, previous_ts=previous)
        ts = record.get("ts")
        previous = float(ts) if isinstance(ts, int | float) else previous
    return lines


def render(records: Iterable[Record], *, color: bool = False) -> str:
    """The whole transcript: flows in the order they started, legs in order within each."""
    s = Style(color)
    blocks = [render_flow(flow, recs, s) for flow, recs in group_flows(records).items()]
    return "\n\n".join("\n".join(block) for block in blocks) + ("\n" if blocks else "")

