"""A sign-in as a sequence diagram, as data: lanes, and one row of arrows per leg.

Pure: records in, rows out, nothing drawn. ``aadweb.web.wireview`` draws the rows as SVG for
the ``/_aadweb/wire`` page. Four lanes (browser, app, authority, Graph); a leg goes from its
record's ``from`` to its ``to`` (an end the diagram has no lane for, such as ``remote``, is drawn
on the authority's). An outbound call is two arrows, the request and its answer; an inbound
request or the app's answer one; the id_token checks a loop on the app. The browser's visit to
the authority, which the app never sees, is a row of its own after the redirect that sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from aadweb.transcript.render import status_text
from aadweb.transcript.schema import TranscriptRecord

__all__ = ["LANES", "Arrow", "Row", "lane", "rows_of"]

#: The lifelines, left to right.
LANES: Final = ("browser", "app", "authority", "graph")
_ELSEWHERE: Final = "authority"

#: ``ok``: nothing to say; ``failed``: an error or a refusal; ``passed``: all id_token checks held;
#: ``implied``: a step the app does not see, drawn from what it does see.
Status = Literal["ok", "failed", "passed", "implied"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrow:
    """One arrow: from a lane to a lane (the same lane: a step inside it), its label, whether it is
    an answer (``reply``), and its status."""

    sender: str
    receiver: str
    label: str
    reply: bool = False
    status: Status = "ok"

    def __post_init__(self) -> None:
        if self.sender not in LANES or self.receiver not in LANES:
            raise ValueError(f"an arrow goes between lanes, not {self.sender!r} -> {self.receiver!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One row: a recorded leg (``number``, ``record``) or a step the app never sees (both None,
    and ``note`` says what is known of it). ``label`` names the whole row for a screen reader."""

    arrows: tuple[Arrow, ...]
    label: str
    number: int | None = None
    record: TranscriptRecord | None = None
    note: str = ""


def lane(end: str | None, default: str) -> str:
    """The lane a record's ``from``/``to`` is drawn on."""
    if end is None:
        return default
    return end if end in LANES else _ELSEWHERE


def rows_of(records: Sequence[TranscriptRecord]) -> tuple[Row, ...]:
    """The rows of ``records`` (in their order), numbered from 1."""
    rows: list[Row] = []
    for n, record in enumerate(records, 1):
        rows.append(_row(n, record))
        if record.leg == "authorize_redirect":
            rows.append(_implied(record))
    return tuple(rows)


def _short(path: str) -> str:
    """A path short enough for an arrow's label: long ones keep their last two segments."""
    if len(path) <= 32:
        return path
    return "\u2026/" + "/".join(path.rstrip("/").split("/")[-2:])


def _path(url: str | None) -> str:
    if url is None:
        return ""
    parts = urlsplit(url)
    return _short(parts.path) + ("?\u2026" if parts.query else "")


def _answer(record: TranscriptRecord) -> str:
    """An answer's label: its status, and where a redirect sends the browser."""
    response = record.response
    status = None if response is None else response.status
    text = status_text(status) if status is not None else "no answer"
    for name, value in () if response is None else response.headers:
        if name == "location":
            text += f" \u2192 {_short(urlsplit(value).path)}"
    return text


def _row(n: int, record: TranscriptRecord) -> Row:
    sender, receiver = lane(record.sender, "app"), lane(record.receiver, "app")
    failed: Status = "failed" if record.error is not None or record.leg == "refused" else "ok"
    if record.leg == "validation":
        verdicts = record.verdicts or ()
        bad = [v.check for v in verdicts if not v.passed]
        text = f"{n}. id_token: {bad[0]} FAILED" if bad else f"{n}. id_token: {len(verdicts)} checks passed"
        loop = Arrow(sender="app", receiver="app", label=text, status="failed" if bad else "passed")
        return Row(arrows=(loop,), label=text, number=n, record=record)
    asked = f"{n}. {record.method} {_path(record.url)}"
    if record.request is not None and (record.response is not None or record.error is not None):
        # An outbound call: the request, and its answer (or the failure to get one).
        took = record.elapsed_ms
        answer = _answer(record) + (f" \u00b7 {took:.0f} ms" if took is not None else "")
        arrows = (Arrow(sender=sender, receiver=receiver, label=asked),
                  Arrow(sender=receiver, receiver=sender, label=answer, reply=True, status=failed))
        return Row(arrows=arrows, label=f"{asked}; {answer}", number=n, record=record)
    if record.request is not None:
        text = asked + (" (form_post, via the browser)" if record.leg == "form_post" else "")
        return Row(arrows=(Arrow(sender=sender, receiver=receiver, label=text, status=failed),), label=text,
                   number=n, record=record)
    text = f"{n}. {_answer(record)}"
    return Row(arrows=(Arrow(sender=sender, receiver=receiver, label=text, reply=True, status=failed),), label=text,
               number=n, record=record)


def _implied(redirect: TranscriptRecord) -> Row:
    """The browser's visit to the authority, drawn from the redirect that sends it there."""
    location = None if redirect.response is None else redirect.response.header("location")
    text = "the browser opens the authorize URL; the person signs in"
    note = f"Not recorded (the app does not see it): GET {location}" if location else "Not recorded."
    arrow = Arrow(sender="browser", receiver="authority", label=text, status="implied")
    return Row(arrows=(arrow,), label=text, note=note)
