"""The transcript page (``/_aadweb/wire``): the signed-in browser's last sign-in as a sequence diagram.

Served only with ``AADWEB_WIRE_VIEW=1`` on a loopback app (the demo). What to draw (lanes,
arrows, labels) is :mod:`aadweb.transcript.diagram`'s; this module draws it: each row an inline
SVG (a lane per lifeline, one arrow or two for an outbound call) inside a ``<summary>``, and the
redacted record in the ``<details>`` it opens. No script, no inline style (the CSP allows
neither): the SVG uses presentation attributes and classes from ``aadweb.css``; every value is
escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Final

from aadweb.transcript.diagram import LANES, Arrow, Row, Status, rows_of
from aadweb.transcript.render import title
from aadweb.transcript.schema import TranscriptRecord
from aadweb.web.pages import document, e

__all__ = ["LIFELINES", "WIRE_PATH", "wire_page"]

#: Where the page is served, under the app's root.
WIRE_PATH: Final = "/_aadweb/wire"
LIFELINES: Final = LANES
_X: Final = {"browser": 90, "app": 290, "authority": 490, "graph": 690}
_CSS: Final[Mapping[Status, str]] = {"ok": "", "failed": "fail", "passed": "pass", "implied": "implied"}
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


def _arrow(arrow: Arrow, y: int) -> str:
    x1, x2, text = _X[arrow.sender], _X[arrow.receiver], arrow.label
    cls = " ".join(c for c in ("arrow", "reply" if arrow.reply else "", _CSS[arrow.status]) if c)
    dash = ' stroke-dasharray="6 4"' if arrow.reply else ""
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


def _drawn(row: Row) -> tuple[int, str]:
    """(height, SVG body) of a row: one arrow, or a request and its answer below it."""
    if len(row.arrows) == 2:
        ask, answer = row.arrows
        return 64, _arrow(ask, 22) + _arrow(answer, 52)
    (arrow,) = row.arrows
    return _ROW, _arrow(arrow, 22 if arrow.sender == arrow.receiver else 26)


_PAIR: Final = re.compile(r'\[\n\s+("(?:[^"\\]|\\.)*"),\n\s+("(?:[^"\\]|\\.)*")\n\s+\]')


def _pretty(record: TranscriptRecord) -> str:
    """The record as indented JSON, each ``[name, value]`` header pair on one line."""
    return _PAIR.sub(r"[\1, \2]", json.dumps(record.to_json(), ensure_ascii=False, indent=2))


def _verdicts(record: TranscriptRecord) -> str:
    """The id_token checks as a table: check, PASS/FAIL, the rule it comes from."""
    rows = "".join(
        f'<tr><th scope="row">{e(v.check)}</th><td class="{"pass" if v.passed else "fail"}">'
        f'{"PASS" if v.passed else "FAIL"}</td><td>{e(v.reference)}'
        f'{_DASH + e(v.detail) if v.detail else ""}</td></tr>'
        for v in record.verdicts or ()
    )
    return f'<table class="fields verdicts"><tbody>{rows}</tbody></table>' if rows else ""


def _row(row: Row) -> str:
    height, body = _drawn(row)
    record = row.record
    if record is None:  # a step the app does not see
        return (f'<details class="leg leg-implied"><summary>{_svg(height, body, label=row.label)}</summary>'
                f'<p class="legname">{e(row.note)}</p></details>')
    leg = record.leg
    return (f'<details class="leg leg-{e(leg)}"><summary>{_svg(height, body, label=row.label)}</summary>'
            f'<p class="legname"><strong>{e(leg)}</strong> \u2014 {e(title(leg))} '
            f'({e(record.sender)} \u2192 {e(record.receiver)}, {e(record.time)}, '
            f'pid {e(record.pid)})</p>{_verdicts(record)}<pre>{e(_pretty(record))}</pre></details>')


def wire_page(*, root: str, flow: str, records: Sequence[TranscriptRecord], css_version: str = "",
              auth: str | None = None) -> str:
    heading = "".join(
        f'<g class="lifeline-label"><rect x="{_X[name] - 60}" y="4" width="120" height="28" rx="4" fill="none" '
        f'stroke="currentColor"/><text x="{_X[name]}" y="23" text-anchor="middle" fill="currentColor">'
        f"{e(name)}</text></g>"
        for name in LIFELINES
    )
    rows = [f'<div class="heads">{_svg(36, heading, label="lifelines: browser, app, authority, Graph")}</div>']
    rows += [_row(row) for row in rows_of(records)]
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
