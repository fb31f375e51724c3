"""The transcript writer: flow ids, outbound records, whole lines across threads and processes,
failures that never reach the caller, and reading a transcript back."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from aadweb.errors import TransportError, Verdict
from aadweb.flow import current_flow, flow_id_for
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.secret import Secret
from aadweb.transcript.reader import group_flows, pick_flow, read_file, read_records, tail_flow
from aadweb.transcript.writer import Transcript
from aadweb.transport import RecordingTransport

TOKEN_URL = "https://login.example/tenant/oauth2/token"
GRAPH_URL = "https://graph.example/v1.0/me"


class Answering:
    """A transport that answers every request with ``response`` (or raises ``error``)."""

    def __init__(self, response: HttpResponse | None = None, error: BaseException | None = None) -> None:
        self.response = response or HttpResponse(status=200, body=b"{}")
        self.error = error

    def send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        if self.error is not None:
            raise self.error
        return self.response


def _json(status: int, body: dict[str, Any], **headers: str) -> HttpResponse:
    return HttpResponse(status=status, body=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json", **headers})


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_flow_id_is_one_way_from_the_state() -> None:
    flow = flow_id_for("some-state")
    assert flow == flow_id_for("some-state") and len(flow) == 16 and int(flow, 16) >= 0
    assert flow != flow_id_for("some-state2") and "some-state" not in flow


def test_outbound_calls_are_the_leg_their_request_names_and_carry_the_current_flow(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    transcript = Transcript(path)
    wrapped = RecordingTransport(Answering(), on_exchange=transcript.on_exchange, keep=False)
    token = current_flow.set("f" * 16)
    try:
        wrapped.send(HttpRequest(method="GET", url="https://login.example/t/x",
                                 headers={"client-request-id": "crid-1"}, leg="metadata"))
        wrapped.send(HttpRequest(method="GET", url="https://login.example/t/y", leg="jwks"))
        wrapped.send(HttpRequest(method="POST", url=TOKEN_URL, form={"grant_type": "authorization_code",
                                                                     "code": Secret("code", "the-code-1234")},
                                 leg="token"))
        wrapped.send(HttpRequest(method="POST", url=TOKEN_URL, form={"grant_type": "refresh_token"}, leg="refresh"))
        wrapped.send(HttpRequest(method="GET", url="https://elsewhere.example/me", leg="graph"))
        wrapped.send(HttpRequest(method="GET", url=GRAPH_URL))  # no label: a plain call, whatever its URL
    finally:
        current_flow.reset(token)
    outside = current_flow.set(None)
    try:
        wrapped.send(HttpRequest(method="GET", url=GRAPH_URL, leg="graph"))
    finally:
        current_flow.reset(outside)
    records = _lines(path)
    assert [r["leg"] for r in records] == ["metadata", "jwks", "token", "refresh", "graph", "call", "graph"]
    assert [r["flow"] for r in records] == ["f" * 16] * 6 + [None]
    assert [r["to"] for r in records] == ["authority"] * 4 + ["graph", "remote", "graph"]
    assert wrapped.exchanges == []  # keep=False: nothing kept in memory
    # What went on the wire: the transport's default headers too, and the request's own id.
    first = records[0]
    sent = dict(first["request"]["headers"])
    assert sent["user-agent"].startswith("aadweb/") and sent["x-client-sku"] == "aadweb"
    assert sent["client-request-id"] == first["client_request_id"] == "crid-1"
    assert "client-request-id" not in dict(records[1]["request"]["headers"]) and records[1]["client_request_id"] is None
    assert records[2]["request"]["body"]["form"]["code"].startswith("\u00abcode:")
    assert "the-code-1234" not in path.read_text()


def test_an_outbound_error_is_recorded_with_its_safe_message(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    transcript = Transcript(path)
    failing = RecordingTransport(Answering(error=TransportError("POST https://login.example:443/t: refused")),
                                 on_exchange=transcript.on_exchange)
    with pytest.raises(TransportError):
        failing.send(HttpRequest(method="POST", url=TOKEN_URL, form={"grant_type": "authorization_code"}))
    crashing = RecordingTransport(Answering(error=ValueError("secret-in-a-foreign-message")),
                                  on_exchange=transcript.on_exchange)
    with pytest.raises(ValueError):
        crashing.send(HttpRequest(method="GET", url=GRAPH_URL))
    first, second = _lines(path)
    assert first["response"] is None and first["error"]["type"] == "TransportError"
    assert first["error"]["message"] == "POST https://login.example:443/t: refused"
    assert second["error"] == {"type": "ValueError"}  # a foreign message may hold anything: not written
    assert "secret-in-a-foreign-message" not in path.read_text()


def test_authority_and_graph_ids_come_from_the_body_or_the_headers(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    transcript = Transcript(path)
    aadsts = _json(400, {"error": "invalid_grant", "error_codes": [70008], "trace_id": "t-1", "correlation_id": "c-1"})
    RecordingTransport(Answering(aadsts), on_exchange=transcript.on_exchange).send(
        HttpRequest(method="POST", url=TOKEN_URL, form={"grant_type": "authorization_code"}, leg="token"))
    graph = _json(429, {"error": {"code": "TooManyRequests", "message": "slow down",
                                  "innerError": {"request-id": "r-2", "client-request-id": "c-2"}}})
    RecordingTransport(Answering(graph), on_exchange=transcript.on_exchange).send(
        HttpRequest(method="GET", url=GRAPH_URL, leg="graph"))
    ok = HttpResponse(status=200, body=b"{}", headers={"x-ms-request-id": "t-3", "client-request-id": "c-3"})
    RecordingTransport(Answering(ok), on_exchange=transcript.on_exchange).send(
        HttpRequest(method="GET", url="https://login.example/t/discovery/keys", leg="jwks"))
    a, g, k = _lines(path)
    assert (a["trace_id"], a["correlation_id"]) == ("t-1", "c-1")
    assert a["response"]["body"]["json"]["error_codes"] == [70008]
    assert (g["trace_id"], g["correlation_id"]) == ("r-2", "c-2")
    assert g["response"]["body"]["json"]["error"]["message"] == "slow down"
    assert (k["trace_id"], k["correlation_id"]) == ("t-3", "c-3")


def test_validation_records_each_check_with_its_reference(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    transcript = Transcript(path)
    transcript.validation(flow="a" * 16, verdicts=(Verdict("alg", True, "RFC 8725 3.1"),
                                                  Verdict("nonce", False, "OIDC 3.1.3.7 (11)", "wrong nonce")))
    (record,) = _lines(path)
    assert record["leg"] == "validation" and record["passed"] is False and record["from"] == record["to"] == "app"
    assert record["verdicts"] == [
        {"check": "alg", "passed": True, "reference": "RFC 8725 3.1", "detail": ""},
        {"check": "nonce", "passed": False, "reference": "OIDC 3.1.3.7 (11)", "detail": "wrong nonce"},
    ]


def test_the_file_is_private_and_each_record_one_line(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    seen: list[dict[str, Any]] = []
    transcript = Transcript(path, sink=seen.append, clock=lambda: 1714564800.5, pid=lambda: 4242)
    transcript.validation(flow=None, verdicts=())
    transcript.validation(flow=None, verdicts=())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    records = _lines(path)
    assert records == seen and [r["seq"] for r in records] == [1, 2]
    assert records[0]["pid"] == 4242 and records[0]["time"] == "2024-05-01T12:00:00.500Z"


def test_a_record_too_large_for_a_line_keeps_its_fields_but_not_its_bodies(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    transcript = Transcript(path)
    huge = _json(200, {"keys": [{"kid": f"{i}" * 2000, "x5t": "t" * 2000} for i in range(100)]})
    RecordingTransport(Answering(huge), on_exchange=transcript.on_exchange).send(
        HttpRequest(method="GET", url="https://login.example/t/discovery/keys", leg="jwks"))
    (record,) = _lines(path)
    assert record["leg"] == "jwks" and record["response"]["status"] == 200
    assert record["response"]["body"]["omitted"] == "record too large" and record["response"]["body"]["size"] > 0


def test_a_write_that_fails_is_counted_and_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    transcript = Transcript(tmp_path / "missing-dir" / "w.jsonl")
    with caplog.at_level(logging.WARNING, logger="aadweb.transcript"):
        for _ in range(5):
            transcript.validation(flow=None, verdicts=())  # never raises
    assert transcript.failures == 5
    assert len([r for r in caplog.records if "cannot write" in r.getMessage()]) == 1
    with pytest.raises(OSError):
        transcript.check_writable()


def test_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    transcript = Transcript(path)
    verdicts = tuple(Verdict(f"check-{i}", True, "x" * 500) for i in range(20))

    def work() -> None:
        for _ in range(100):
            transcript.validation(flow="b" * 16, verdicts=verdicts)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    records = _lines(path)
    assert len(records) == 800 and all(len(r["verdicts"]) == 20 for r in records)


def _child_writes(path: str, count: int) -> None:
    transcript = Transcript(path)
    verdicts = tuple(Verdict(f"c{i}", True, "y" * 900) for i in range(10))
    for _ in range(count):
        transcript.validation(flow=f"{os.getpid():016x}"[-16:], verdicts=verdicts)


def test_processes_and_forks_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    parent = Transcript(path)
    parent.validation(flow=None, verdicts=())  # the parent opened the file before forking
    ctx = multiprocessing.get_context("fork")

    def forked() -> None:  # the inherited transcript reopens its file in the child
        for _ in range(200):
            parent.validation(flow="c" * 16, verdicts=(Verdict("v", True, "z" * 2000),))

    procs = [ctx.Process(target=_child_writes, args=(str(path), 200)) for _ in range(3)]
    procs += [ctx.Process(target=forked) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    records = _lines(path)  # every line parses: no interleaving
    assert len(records) == 1 + 5 * 200
    assert len({r["pid"] for r in records}) == 6


def test_reading_sorts_by_start_skips_junk_and_picks_flows(tmp_path: Path) -> None:
    lines = [
        json.dumps({"leg": "b", "flow": "abcd0000", "ts": 2.0, "pid": 1, "seq": 1}),
        "not json",
        json.dumps({"leg": "a", "flow": "abcd0000", "ts": 1.0, "pid": 2, "seq": 9}),
        json.dumps({"leg": "c", "flow": "ef010000", "ts": 0.5, "pid": 1, "seq": 2}),
        json.dumps(["no", "leg"]),
    ]
    loaded = read_records(lines)
    assert [r.leg for r in loaded.records] == ["c", "a", "b"] and loaded.skipped == 2
    assert list(group_flows(loaded.records)) == ["ef010000", "abcd0000"]
    assert pick_flow(loaded.records, "abcd") == "abcd0000" and pick_flow(loaded.records, "x") is None
    assert [r.leg for r in read_records(lines, flow="abcd0000").records] == ["a", "b"]
    path = tmp_path / "w.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert [r.leg for r in tail_flow(path, "abcd0000")] == ["a", "b"]
    assert [r.leg for r in tail_flow(path, "abcd0000", max_bytes=60)] == []  # only a cut line left
    assert read_file(path).skipped == 2
    assert tail_flow(tmp_path / "none.jsonl", "abcd0000") == []
