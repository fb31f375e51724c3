"""The sequence diagram's data: who each leg goes from and to, its arrows' labels and status, and
the browser's unrecorded visit to the authority; nothing drawn (``web/wireview.py`` draws it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aadweb.transcript.diagram import LANES, Arrow, lane, rows_of
from aadweb.transcript.reader import read_file
from aadweb.transcript.schema import parse_record

RENDERED = Path(__file__).parent / "rendered"


def test_the_hybrid_visit_is_a_row_per_leg_plus_the_unseen_visit_to_the_authority() -> None:
    records = read_file(RENDERED / "hybrid.jsonl").records
    rows = rows_of(records)
    assert LANES == ("browser", "app", "authority", "graph")
    assert len(rows) == len(records) + 1
    assert [r.number for r in rows if r.record is not None] == list(range(1, len(records) + 1))
    (implied,) = [r for r in rows if r.record is None]
    assert rows[rows.index(implied) - 1].record is not None
    assert rows[rows.index(implied) - 1].record.leg == "authorize_redirect"  # type: ignore[union-attr]
    assert implied.arrows == (Arrow(sender="browser", receiver="authority", status="implied",
                                    label="the browser opens the authorize URL; the person signs in"),)
    assert implied.note.startswith("Not recorded (the app does not see it): GET http://127.0.0.1:")
    assert "/oauth2/authorize?" in implied.note
    by_leg = {r.record.leg: r for r in rows if r.record is not None}
    login = by_leg["login"].arrows
    assert login == (Arrow(sender="browser", receiver="app", label="1. GET /login"),)
    redirect = by_leg["authorize_redirect"].arrows[0]
    assert (redirect.sender, redirect.receiver, redirect.reply) == ("app", "browser", True)
    assert redirect.label == "2. 302 Found \u2192 \u2026/oauth2/authorize"  # a long path: its last two segments
    assert by_leg["form_post"].arrows[0].label == "3. POST /getAToken (form_post, via the browser)"
    assert (by_leg["form_post"].arrows[0].sender, by_leg["form_post"].arrows[0].receiver) == ("authority", "app")
    token = by_leg["token"]
    ask, answer = token.arrows
    assert (ask.sender, ask.receiver, ask.reply) == ("app", "authority", False)
    assert (answer.sender, answer.receiver, answer.reply, answer.status) == ("authority", "app", True, "ok")
    assert answer.label.startswith("200 OK \u00b7 ") and answer.label.endswith(" ms")
    assert token.label == f"{ask.label}; {answer.label}"
    graph = by_leg["graph"].arrows
    assert (graph[0].receiver, graph[1].sender) == ("graph", "graph")
    (checks,) = by_leg["validation"].arrows
    assert (checks.sender, checks.receiver, checks.status) == ("app", "app", "passed")
    assert checks.label.endswith("checks passed")


def test_a_failed_check_a_refusal_and_a_failed_call_are_marked() -> None:
    failed_check = parse_record({"leg": "validation", "verdicts": [
        {"check": "alg", "passed": True}, {"check": "nonce", "passed": False}]})
    refused = parse_record({"leg": "refused", "from": "app", "to": "browser", "method": "POST", "url": "/getAToken",
                            "response": {"status": 400, "headers": []}})
    unreachable = parse_record({"leg": "token", "from": "app", "to": "remote", "method": "POST",
                                "url": "https://login.example/t/oauth2/token?x=1", "request": {"headers": []},
                                "error": {"type": "TransportError"}})
    checks, no, call = rows_of([failed_check, refused, unreachable])
    assert checks.arrows[0].status == "failed" and checks.label == "1. id_token: nonce FAILED"
    assert no.arrows == (Arrow(sender="app", receiver="browser", label="2. 400 Bad Request", reply=True,
                               status="failed"),)
    ask, answer = call.arrows
    assert ask.status == "ok" and ask.label == "3. POST /t/oauth2/token?\u2026"
    assert (answer.sender, answer.label, answer.status) == ("authority", "no answer", "failed")  # remote: drawn there


def test_an_end_without_a_lane_is_drawn_on_the_authoritys_and_arrows_stay_between_lanes() -> None:
    assert lane("remote", "app") == "authority" and lane(None, "app") == "app" and lane("graph", "app") == "graph"
    with pytest.raises(ValueError, match="between lanes"):
        Arrow(sender="app", receiver="remote", label="x")


def test_a_long_path_keeps_its_last_two_segments() -> None:
    record = parse_record(json.loads(json.dumps({
        "leg": "call", "method": "GET", "url": "https://x.example/a/very/long/path/that/goes/on/and/on/me",
        "request": {"headers": []}})))
    (row,) = rows_of([record])
    assert row.arrows[0].label == "1. GET \u2026/on/me"
