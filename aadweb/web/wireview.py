"""The transcript page (``/_aadweb/wire``): the signed-in browser's last sign-in as a sequence diagram.

Served only with ``AADWEB_WIRE_VIEW=1`` on a loopback app (the demo). Four lifelines (browser,
app, authority, Graph); each leg of the flow is one row: an inline SVG arrow (two for an
outbound call: the request and its answer) inside a ``<summary>``, and the redacted record in
the ``<details>`` it opens. No script, no inline style (the CSP allows neither): the SVG uses
presentation attributes and classes from ``aadweb.css``; every value is escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from aadweb.transcript.records import Record
from aadweb.transcript.render import status_text, title
from aadweb.web.pages import document, e

__all__ = ["LIFELINES", "WIRE_PATH", "wire_page"]

#: Where the page is served, under the app's root.
WIRE_PATH: Final = "/_aadweb/wire"
LIFELINES: Final = ("browser", "app", "authority", "graph")
_X: Final = {"browser": 90, "app": 290, "authority": 490, "graph": 690, "remote": 490}
_WIDTH: Final = 780
_ROW: Final = 40
_DASH: Final = " \u2014 "


def _svg(height: int, body: str, *, label: str) -> str:
    lifelines = "".join(
        f'<line class="life" x1="{_X[name]}" y1="0" x2="{_X[name]}" y2="{height}" stroke="#999" stroke-width="2"/>'
        for name in LIFELINES
    )
    return (f'<svg class="seq" viewBox="0 0 {_WIDTH} {height}" width="100%" role="img" aria-label="{e(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">{lifelines}{body}</svg>')


def _arrow(sender: str, receiver: str, y: int, text: str, *, reply: bool = False, css: str = "") -> str:
    x1, x2 = _X.get(sender, _X["remote"]), _X.get(receiver, _X["remote"])
    cls = " ".join(c for c in ("arrow", "reply" if reply else "", css) if c)
    dash = ' stroke-dasharray="6 4"' if reply else ""
    if x1 == x2:  # a step inside one lifeline: a small loop
        return (f'<g class="{cls}"><path d="M{x1} {y - 8} h40 v16 h-36" fill="none" stroke="currentColor" '
                f'stroke-width="1.5"/><polygon points="{x1 + 4},{y + 8} {x1 + 12},{y + 4} {x1 + 12},{y + 12}" '
                f'fill="currentColor"/><text x="{x1 + 50}" y="{y + 4}" fill="currentColor">{e(text)}</text></g>')
    direction = 1 if x2 > x1 else -1
    tip = x2 - 2 * direction
    head = f"{tip},{y} {tip - 10 * direction},{y - 5} {tip - 10 * direction},{y + 5}"
    return (f'<g class="{cls}"><line x1="{x1}" y1="{y}" x2="{tip - 9 * direction}" y2="{y}" stroke="currentColor" '
            f'stroke-width="1.5"{dash}/><polygon points="{head}" fill="currentColor"/>'
            f'<text x="{(x1 + x2) // 2}" y="{y - 6}" text-anchor="middle" fill="currentColor">{e(text)}</text></g>')


def _short(path: str) -> str:
    """A path short enough for an arrow's label: long ones keep their last two segments."""
    if len(path) <= 32:
        return path
    return "\u2026/" + "/".join(path.rstrip("/").split("/")[-2:])


def _path(url: object) -> str:
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    return _short(parts.path) + ("?\u2026" if parts.query else "")


def _host_path(url: str) -> str:
    return _short(urlsplit(url).path)


def _answer(record: Record) -> str:
    response = record.get("response") or {}
    status = response.get("status") if isinstance(response, dict) else None
    text = status_text(status) if isinstance(status, int) else "no answer"
    for pair in (response.get("headers") or []) if isinstance(response, dict) else []:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == "location":
            text += f" \u2192 {_host_path(str(pair[1]))}"
    return text


def _arrows(n: int, record: Record) -> tuple[int, str, str]:
    """(height, SVG body, accessible label) of one record's row."""
    leg = str(record.get("leg", "?"))
    sender, receiver = str(record.get("from", "app")), str(record.get("to", "app"))
    method = record.get("method")
    failed = record.get("error") is not None or leg == "refused"
    css = "fail" if failed else ""
    if leg == "validation":
        verdicts = [v for v in record.get("verdicts") or [] if isinstance(v, dict)]
        bad = [str(v.get("check")) for v in verdicts if not v.get("passed")]
        text = (f"{n}. id_token: {bad[0]} FAILED" if bad else f"{n}. id_token: {len(verdicts)} checks passed")
        return _ROW, _arrow("app", "app", 22, text, css="fail" if bad else "pass"), text
    has_request = isinstance(record.get("request"), dict)
    has_response = isinstance(record.get("response"), dict) or record.get("error") is not None
    if has_request and has_response:  # an outbound call: the request and its answer
        took = record.get("elapsed_ms")
        answer = _answer(record) + (f" \u00b7 {took:.0f} ms" if isinstance(took, int | float) else "")
        ask = f"{n}. {method} {_path(record.get('url'))}"
        body = _arrow(sender, receiver, 22, ask) + _arrow(receiver, sender, 52, answer, reply=True, css=css)
        return 64, body, f"{ask}; {answer}"
    if has_request:
        text = f"{n}. {method} {_path(record.get('url'))}"
        if leg == "form_post":
            text += " (form_post, via the browser)"
        return _ROW, _arrow(sender, receiver, 26, text, css=css), text
    text = f"{n}. {_answer(record)}"
    return _ROW, _arrow(sender, receiver, 26, text, reply=True, css=css), text


_PAIR: Final = re.compile(r'\[\n\s+("(?:[^"\\]|\\.)*"),\n\s+("(?:[^"\\]|\\.)*")\n\s+\]')


def _pretty(record: Record) -> str:
    """The record as indented JSON, each ``[name, value]`` header pair on one line."""
    return _PAIR.sub(r"[\1, \2]", json.dumps(record, ensure_ascii=False, indent=2))


def _verdicts(record: Record) -> str:
    """The id_token checks as a table: check, PASS/FAIL, the rule it comes from."""
    rows = "".join(
        f'<tr><th scope="row">{e(v.get("check"))}</th><td class="{"pass" if v.get("passed") else "fail"}">'
        f'{"PASS" if v.get("passed") else "FAIL"}</td><td>{e(v.get("reference"))}'
        f'{_DASH + e(v["detail"]) if v.get("detail") else ""}</td></tr>'
        for v in record.get("verdicts") or [] if isinstance(v, dict)
    )
    return f'<table class="fields verdicts"><tbody>{rows}</tbody></table>' if rows else ""


def _row(n: int, record: Record) -> str:
    height, body, label = _arrows(n, record)
    leg = str(record.get("leg", "?"))
    detail = _pretty(record)
    return (f'<details class="leg leg-{e(leg)}"><summary>{_svg(height, body, label=label)}</summary>'
            f'<p class="legname"><strong>{e(leg)}</strong> \u2014 {e(title(leg))} '
            f'({e(record.get("from"))} \u2192 {e(record.get("to"))}, {e(record.get("time"))}, '
            f'pid {e(record.get("pid"))})</p>{_verdicts(record)}<pre>{e(detail)}</pre></details>')


def _implied(record: Record) -> str:
    """The browser's visit to the authority, which the app never sees: drawn from the redirect."""
    location = ""
    response = record.get("response")
    for pair in (response.get("headers") or []) if isinstance(response, dict) else []:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == "location":
            location = str(pair[1])
    text = "the browser opens the authorize URL; the person signs in"
    body = _arrow("browser", "authority", 26, text, css="implied")
    note = f"Not recorded (the app does not see it): GET {location}" if location else "Not recorded."
    return (f'<details class="leg leg-implied"><summary>{_svg(_ROW, body, label=text)}</summary>'
            f'<p class="legname">{e(note)}</p></details>')


def wire_page(*, root: str, flow: str, records: Sequence[Record], css_version: str = "",
              auth: str | None = None) -> str:
    heading = "".join(
        f'<g class="lifeline-label"><rect x="{_X[name] - 60}" y="4" width="120" height="28" rx="4" fill="none" '
        f'stroke="currentColor"/><text x="{_X[name]}" y="23" text-anchor="middle" fill="currentColor">'
        f"{e(name)}</text></g>"
        for name in LIFELINES
    )
    rows = [f'<div class="heads">{_svg(36, heading, label="lifelines: browser, app, authority, Graph")}</div>']
    for n, record in enumerate(records, 1):
        rows.append(_row(n, record))
        if record.get("leg") == "authorize_redirect":
            rows.append(_implied(record))
    if records:
        intro = (f"<p>Your last sign-in, flow <code>{e(flow)}</code>: {len(records)} legs, oldest first. "
                 "Open an arrow to see its record. Secrets appear only as fingerprints "
                 "<code>\u00abkind:sha256-prefix len=N\u00bb</code>: the same value has the same "
                 "fingerprint on every leg.</p>")
        diagram = f'<div class="wire">{"".join(rows)}</div>'
    else:
        intro = (f"<p>The wire transcript holds no legs of your last sign-in (flow <code>{e(flow)}</code>) yet: "
                 "sign in again while the transcript is on.</p>")
        diagram = ""
    main = (f"<h1>What went over the wire</h1>\n{intro}\n{diagram}\n"
            f'<ul class="actions"><li><a href="{e(root)}/">Home</a></li>'
            f'<li><a href="{e(root)}/graphcall">Call Microsoft Graph</a></li></ul>')
    return document(root=root, title="Wire transcript", main=main, css_version=css_version, auth=auth)
