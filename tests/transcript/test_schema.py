"""The typed transcript record: every record the writer makes reads back as the same data, and a
line that does not fit the schema is refused with :class:`InvalidRecord`, never a crash."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from aadweb.errors import AuthorityError, GraphError, TransportError, Verdict
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.secret import Secret
from aadweb.transcript.har import to_har
from aadweb.transcript.reader import read_records
from aadweb.transcript.records import line
from aadweb.transcript.render import render
from aadweb.transcript.schema import InvalidRecord, TranscriptRecord, parse_record
from aadweb.transcript.writer import Transcript
from aadweb.web.wireview import wire_page

RENDERED = Path(__file__).parent / "rendered"
TOKEN_URL = "https://login.example/tenant/oauth2/token?x=1"
GRAPH_URL = "https://graph.example/v1.0/me"


def _unsigned_id_token() -> str:
    import base64

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'aud': 'a', 'iss': 'i', 'exp': 1, 'nonce': 'n'})}."


def _every_kind_of_record() -> list[dict[str, Any]]:
    """One record of each shape the writer makes, as it hands them to its sink."""
    made: list[dict[str, Any]] = []
    t = Transcript(None, sink=made.append, clock=lambda: 1714564800.5, pid=lambda: 7)
    form = {"grant_type": "authorization_code", "code": Secret("code", "the-code-1234"), "scope": "openid"}
    token = json.dumps({"access_token": "at-123", "id_token": _unsigned_id_token(), "expires_in": 3600}).encode()
    t.on_exchange(HttpRequest(method="POST", url=TOKEN_URL, form=form, headers={"client-request-id": "c-1"},
                              leg="token"),
                  HttpResponse(status=200, body=token, headers={"Content-Type": "application/json"}), None, 0.04)
    aadsts = AuthorityError("invalid_grant", error_codes=[70008], trace_id="t-1", correlation_id="c-1")
    t.on_exchange(HttpRequest(method="POST", url=TOKEN_URL, form={"grant_type": "refresh_token"}, leg="refresh"),
                  HttpResponse(status=400, body=b'{"error":"invalid_grant","error_codes":[70008]}',
                               headers={"Content-Type": "application/json"}), aadsts, 0.01)
    t.on_exchange(HttpRequest(method="GET", url=GRAPH_URL, leg="graph"), None,
                  TransportError("GET https://graph.example:443/v1.0/me: refused"), 0.002)
    t.on_exchange(HttpRequest(method="GET", url=GRAPH_URL, leg="graph"),
                  HttpResponse(status=403, body=b"not json", headers={"Content-Type": "text/plain"}),
                  GraphError(403, code="Authorization_RequestDenied", request_id="r-1"), 0.003)
    t.on_exchange(HttpRequest(method="GET", url=GRAPH_URL), None, ValueError("foreign"), 0.001)
    t.inbound_request(leg="form_post", flow="f" * 16, started=1714564800.0, exchange="7-x1", method="POST",
                      url="http://127.0.0.1:5000/getAToken", headers=[("Content-Type", "application/x-www-form-"
                                                                        "urlencoded"), ("Cookie", "s=1")],
                      body=("application/x-www-form-urlencoded", b"code=abc&state=xyz&id_token=e.e.e&a=1&a=2"))
    t.inbound_response(leg="refused", flow="f" * 16, exchange="7-x1", method="POST",
                       url="http://127.0.0.1:5000/getAToken", status=400,
                       headers=[("Content-Type", "text/html"), ("Location", "/x?y=1")],
                       body=("text/html", b"<p>no</p>"), elapsed=0.005, error=aadsts)
    t.inbound_response(leg="signed_in", flow=None, exchange="7-x2", method="GET", url="http://127.0.0.1:5000/",
                       status=302, headers=[], body=None, elapsed=0.0)
    t.validation(flow="f" * 16, verdicts=(Verdict("alg", True, "RFC 8725 3.1"),
                                          Verdict("nonce", False, "OIDC 3.1.3.7 (11)", "wrong nonce")),
                 error=TransportError("x"))
    huge = json.dumps({"keys": [{"kid": f"{i}" * 2000, "x5t": "t" * 2000} for i in range(100)]}).encode()
    t.on_exchange(HttpRequest(method="GET", url="https://login.example/t/discovery/keys", leg="jwks"),
                  HttpResponse(status=200, body=huge, headers={"Content-Type": "application/json"}), None, 0.02)
    assert t.failures == 0
    return made


def test_every_record_the_writer_makes_reads_back_as_the_same_data() -> None:
    made = _every_kind_of_record()
    kinds = {(r["leg"], r["request"] is not None, r["response"] is not None, r["error"] is not None) for r in made}
    assert len(kinds) == len(made)  # no two alike
    for record in made:
        as_written = json.loads(line(record))  # the line as it reaches the file (a large one loses its bodies)
        parsed = parse_record(as_written)
        # Same keys, same order, same values: the schema holds everything the writer writes.
        assert json.dumps(parsed.to_json()) == json.dumps(as_written), record["leg"]
    shown = [parse_record(json.loads(line(r))) for r in made]
    assert shown[0].jwt is not None and shown[0].jwt[0][1].signed is False
    assert shown[1].error is not None and shown[1].error.authority is not None
    assert shown[1].error.authority.error_codes == (70008,)
    assert shown[3].error is not None and shown[3].error.graph is not None
    assert shown[5].request is not None and shown[5].request.body is not None
    repeated = dict(shown[5].request.body.form)["a"]  # a repeated name keeps every (redacted) value
    assert isinstance(repeated, tuple) and len(repeated) == 2
    assert shown[8].verdicts is not None and [v.passed for v in shown[8].verdicts] == [True, False]
    assert shown[9].response is not None and shown[9].response.body is not None
    assert shown[9].response.body.kind == "omitted"


@pytest.mark.parametrize("flow", ["code", "hybrid"])
def test_the_golden_visit_reads_back_line_for_line(flow: str) -> None:
    for text in (RENDERED / f"{flow}.jsonl").read_text(encoding="utf-8").splitlines():
        record = parse_record(json.loads(text))
        assert json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":")) == text


@pytest.mark.parametrize("obj, field", [
    ([1, 2], "record"),
    ({"flow": "f"}, "leg"),
    ({"leg": 3}, "leg"),
    ({"leg": "token", "pid": True}, "pid"),
    ({"leg": "token", "ts": "yesterday"}, "ts"),
    ({"leg": "token", "request": "GET /"}, "request"),
    ({"leg": "token", "response": {"status": "two hundred"}}, "status"),
    ({"leg": "token", "response": {"status": 200, "headers": [["a", "b", "c"]]}}, "headers"),
    ({"leg": "token", "response": {"status": 200, "headers": {"a": "b"}}}, "headers"),
    ({"leg": "token", "request": {"headers": [[1, "b"]]}}, "headers"),
    ({"leg": "token", "request": {"body": {"form": {"a": 1}}}}, "form"),
    ({"leg": "token", "request": {"body": {"mime": "x", "size": "big"}}}, "size"),
    ({"leg": "token", "jwt": {"w": "not a summary"}}, "jwt.w"),
    ({"leg": "token", "jwt": {"w": {"fingerprint": "x", "claims": []}}}, "claims"),
    ({"leg": "validation", "verdicts": [{"check": "alg"}]}, "verdict"),
    ({"leg": "validation", "verdicts": {"check": "alg"}}, "verdicts"),
    ({"leg": "token", "error": {"message": "no type"}}, "error.type"),
    ({"leg": "token", "error": {"type": "E", "error_codes": ["x"]}}, "error_codes"),
])
def test_a_value_that_is_not_a_record_is_refused_with_the_field_named(obj: object, field: str) -> None:
    with pytest.raises(InvalidRecord, match=field.replace(".", r"\.")):
        parse_record(obj)


def test_a_sparse_hand_written_record_reads_with_its_gaps_empty() -> None:
    record = parse_record({"leg": "token", "response": {"status": 200}})
    assert record.response is not None and record.response.headers == () and record.response.body is None
    assert record.flow is None and record.to_json() == {"leg": "token", "response": {"status": 200, "headers": [],
                                                                                      "body": None}}


def _mutations(record: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """``record`` with one value somewhere replaced by one of another JSON type."""
    odd: list[object] = [None, True, 0, -1.5, "x", [], {}, [["a"]], {"a": [1]}, "\u00ab", 10**30]
    paths: list[list[str | int]] = []

    def walk(value: object, path: list[str | int]) -> None:
        paths.append(path)
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, [*path, k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, [*path, i])

    walk(record, [])
    out = []
    for path in rng.sample(paths[1:], min(60, len(paths) - 1)):
        changed = copy.deepcopy(record)
        holder: Any = changed
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = rng.choice(odd)
        out.append(changed)
    return out


def test_hostile_lines_are_skipped_or_shown_but_never_crash_a_reader() -> None:
    rng = random.Random(11)
    originals = [json.loads(t) for t in (RENDERED / "hybrid.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = [json.dumps(m) for r in originals for m in _mutations(r, rng)]
    lines += ["[" * 100_000, '{"leg": "x", "v": ' + "[" * 5000 + "]" * 5000 + "}", "null", '"leg"', "{}"]
    loaded = read_records(lines)
    assert loaded.skipped > 0 and loaded.records  # some fit the schema still, some do not
    assert len(loaded.records) + loaded.skipped == len(lines)
    assert all(isinstance(r, TranscriptRecord) for r in loaded.records)
    render(loaded.records, color=True)
    json.dumps(to_har(loaded.records))
    wire_page(root="", flow="f", records=loaded.records)
