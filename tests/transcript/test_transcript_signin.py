"""The wire transcript of real sign-ins: the real app and emulator over loopback sockets, both
flows, every leg in order with its fields, no secret anywhere (error paths too), fingerprints
that follow one value across legs, and a HAR export of the same exchanges."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aadweb.emulator import Emulator, Fault
from aadweb.flow import flow_id_for
from aadweb.transcript.har import to_har
from aadweb.transcript.reader import read_file
from aadweb.transport import RecordingTransport
from tests.transcript.transcript_helpers import (
    CODE_LEGS,
    HYBRID_LEGS,
    assert_no_secrets,
    header,
    legs,
    one,
    records,
    secrets_sent,
    visit,
)
from tests.web.conftest import Served, serve  # noqa: F401 - the fixture, shared with tests/web

FLOWS = ["code id_token", "code"]


@pytest.fixture
def wire_log(tmp_path: Path) -> Path:
    return tmp_path / "wire.jsonl"


def _serve(serve: Callable[..., Served], wire_log: Path, response_type: str, **changes: Any) -> Served:  # noqa: F811
    return serve(wire_log=str(wire_log), response_type=response_type, **changes)


@pytest.mark.parametrize("response_type", FLOWS)
def test_every_leg_is_recorded_in_order_with_its_fields(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                        wire_log: Path, response_type: str) -> None:
    served = _serve(serve, wire_log, response_type)
    browser = visit(served)
    recs = records(wire_log)
    assert legs(recs) == (HYBRID_LEGS if response_type == "code id_token" else CODE_LEGS)

    # One flow for the whole visit: the state's, carried by the session into Graph and logout.
    state = one(recs, "authorize_redirect")
    flows = {r["flow"] for r in recs}
    assert len(flows) == 1
    sent_state = next(r.query["state"] for r in emulator.requests if r.path.endswith("/oauth2/authorize"))
    assert flows == {flow_id_for(sent_state)}
    for r in recs:
        assert r["v"] == 1 and isinstance(r["ts"], float) and r["time"].endswith("Z")
        assert isinstance(r["pid"], int) and isinstance(r["seq"], int) and r["exchange"]
        assert r["from"] in ("browser", "app", "authority") and r["to"] in ("browser", "app", "authority", "graph")
    assert [r["ts"] for r in recs] == sorted(r["ts"] for r in recs)

    # The browser's request and the app's answer share an exchange id.
    assert one(recs, "login")["exchange"] == state["exchange"]
    login = one(recs, "login")
    assert login["method"] == "GET" and login["url"] == served.url + "/login" and login["response"] is None
    assert state["response"]["status"] == 302 and state["request"] is None
    location = header(state, "response", "location")
    assert location.startswith(f"{served.settings.authority_host}/")
    assert "client_id=" + served.settings.client_id in location and "code_challenge_method=S256" in location
    assert "state=\u00abstate:" in location and "nonce=\u00abnonce:" in location
    assert header(state, "response", "set-cookie").startswith("aadweb_browser=\u00abcookie:")

    token = one(recs, "token")
    assert token["method"] == "POST" and token["from"] == "app" and token["to"] == "authority"
    form = token["request"]["body"]["form"]
    assert form["grant_type"] == "authorization_code" and form["client_id"] == served.settings.client_id
    assert form["redirect_uri"] == served.redirect_uri and form["resource"] == served.settings.resource
    assert form["code"].startswith("\u00abcode:") and form["client_secret"].startswith("\u00abclient_secret:")
    assert form["code_verifier"].startswith("\u00abcode_verifier:")
    assert token["response"]["status"] == 200 and token["elapsed_ms"] > 0
    body = token["response"]["body"]["json"]
    assert body["token_type"] == "Bearer" and body["resource"] == served.settings.resource
    assert body["access_token"].startswith("\u00abaccess_token:")
    assert token["client_request_id"] == header(token, "request", "client-request-id")
    assert token["trace_id"] and token["correlation_id"] == token["client_request_id"]
    back = token["jwt"]["response.json.id_token"]
    assert back["header"]["alg"] == "none" and back["signed"] is False  # v1: unsigned from the token endpoint
    assert back["claims"]["aud"] == served.settings.client_id and back["nonce"] == "present"
    assert "name" not in back["claims"] and "upn" not in back["claims"]  # personal: off by default

    checks = one(recs, "validation")["verdicts"]
    assert all(v["passed"] for v in checks) and all(v["reference"] for v in checks)
    names = [v["check"] for v in checks]
    assert "nonce" in names and "signature" in names and "iss" in names
    if response_type == "code id_token":
        assert "c_hash" in names and names[-1] == "back-channel match"
        front = one(recs, "form_post")["jwt"]["request.form.id_token"]
        assert front["header"]["alg"] == "RS256" and front["c_hash"] == "present" and front["signed"] is True
    else:
        # OIDC Core 3.1.3.7 (6): the transcript says the unsigned token was accepted on the direct channel.
        signature = next(v for v in checks if v["check"] == "signature")
        assert "unsigned" in signature["reference"]

    signed_in = one(recs, "signed_in")
    assert signed_in["response"]["status"] == 303
    assert header(signed_in, "response", "set-cookie").startswith("aadweb_session=\u00abcookie:")
    graph = one(recs, "graph")
    assert graph["to"] == "graph" and graph["response"]["status"] == 200
    assert header(graph, "request", "authorization").startswith("Bearer \u00abaccess_token:")
    me = graph["response"]["body"]["json"]
    assert me["displayName"].startswith("\u00abdisplayName:withheld")  # keys only, values withheld
    assert graph["trace_id"] and graph["client_request_id"]
    logout = one(recs, "logout_redirect")
    assert logout["response"]["status"] == 302 and "/oauth2/logout" in header(logout, "response", "location")
    assert one(recs, "logout")["request"]["body"]["form"]["csrf_token"].startswith("\u00abcsrf_token:")

    text = wire_log.read_text(encoding="utf-8")
    secrets = secrets_sent(emulator, served, [browser])
    nonce = next(r.query["nonce"] for r in emulator.requests if r.path.endswith("/oauth2/authorize"))
    verifier = next(r.form["code_verifier"] for r in emulator.requests if r.path.endswith("/oauth2/token"))
    assert {sent_state, nonce, verifier, served.client_secret} <= secrets and len(secrets) >= 10
    assert_no_secrets(text, secrets)
    assert "Adele Vance" not in text and "adele.vance@" not in text


@pytest.mark.parametrize("response_type", FLOWS)
def test_one_value_has_one_fingerprint_on_every_leg(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                    wire_log: Path, response_type: str) -> None:
    served = _serve(serve, wire_log, response_type)
    visit(served)
    recs = records(wire_log)
    token = one(recs, "token")
    code_fp = token["request"]["body"]["form"]["code"]
    if response_type == "code id_token":
        posted = one(recs, "form_post")["request"]["body"]["form"]
        assert posted["code"] == code_fp
        state_fp = posted["state"]
        assert one(recs, "form_post")["jwt"]["request.form.id_token"]["fingerprint"] == posted["id_token"]
    else:
        callback_url = one(recs, "callback")["url"]
        assert f"code={code_fp}" in callback_url
        state_fp = callback_url.split("state=")[1].split("&")[0]
    assert f"state={state_fp}" in header(one(recs, "authorize_redirect"), "response", "location")
    assert f"state={state_fp}" in one(recs, "callback")["url"]
    # The access token the token endpoint gave is the one Graph got.
    access = token["response"]["body"]["json"]["access_token"]
    assert header(one(recs, "graph"), "request", "authorization") == f"Bearer {access}"
    # The session cookie set at sign-in is the one the browser sends to /graphcall.
    session = header(one(recs, "signed_in"), "response", "set-cookie").split(";")[0]
    assert session in header(one(recs, "graphcall"), "request", "cookie")


@pytest.mark.parametrize("response_type", FLOWS)
def test_the_har_export_holds_the_same_exchanges(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                 wire_log: Path, response_type: str) -> None:
    served = _serve(serve, wire_log, response_type)
    browser = visit(served)
    recs = records(wire_log)
    document = json.loads(json.dumps(to_har(read_file(wire_log).records)))
    log = document["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "aadweb"
    assert [p["id"] for p in log["pages"]] == [recs[0]["flow"]]
    outbound = [r for r in recs if r["request"] is not None and r["response"] is not None]
    inbound = [r for r in recs if r["request"] is not None and r["response"] is None]
    assert len(log["entries"]) == len(outbound) + len(inbound)
    assert [e["_leg"] for e in log["entries"]] == [r["leg"] for r in recs if r["request"] is not None]
    for entry in log["entries"]:
        for key in ("pageref", "startedDateTime", "time", "request", "response", "cache", "timings"):
            assert key in entry, key
        request, response = entry["request"], entry["response"]
        for key in ("method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"):
            assert key in request, key
        for key in ("status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL",
                    "headersSize", "bodySize"):
            assert key in response, key
        assert {"size", "mimeType"} <= set(response["content"])
        assert {"send", "wait", "receive"} <= set(entry["timings"]) and request["url"].startswith("http")
        assert all(ord(c) < 128 and c != " " for c in request["url"])  # a valid URL: fingerprints encoded
    token = next(e for e in log["entries"] if e["_leg"] == "token")
    params = {p["name"]: p["value"] for p in token["request"]["postData"]["params"]}
    assert params["grant_type"] == "authorization_code" and params["code"].startswith("\u00abcode:")
    assert token["response"]["status"] == 200 and token["response"]["content"]["mimeType"].startswith(
        "application/json")
    callback = next(e for e in log["entries"] if e["_leg"] == "callback")
    assert callback["_verdicts"] and "PASS nonce" in callback["comment"]
    login = next(e for e in log["entries"] if e["_leg"] == "login")
    assert login["response"]["status"] == 302 and login["response"]["redirectURL"].startswith("http")
    assert_no_secrets(json.dumps(document, ensure_ascii=False), secrets_sent(emulator, served, [browser]))


@pytest.mark.parametrize("response_type", FLOWS)
def test_a_token_endpoint_error_is_recorded_without_secrets(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                            wire_log: Path, response_type: str) -> None:
    served = _serve(serve, wire_log, response_type)
    emulator.faults.token_error(70008, times=None)
    browser = served.browser()
    assert browser.sign_in().status_code >= 400
    recs = records(wire_log)
    token = one(recs, "token")
    assert token["response"]["status"] == 400
    body = token["response"]["body"]["json"]
    assert body["error"] == "invalid_grant" and body["error_codes"] == [70008]
    assert body["trace_id"] == token["trace_id"] and body["correlation_id"] == token["correlation_id"]
    assert "AADSTS70008" in body["error_description"]
    refused = recs[-1]
    assert refused["leg"] == "refused" and refused["response"]["status"] == 400  # invalid_grant: sign in again
    assert refused["error"]["type"] == "GrantRefused" and refused["error"]["error_codes"] == [70008]
    assert refused["trace_id"] == token["trace_id"]
    assert_no_secrets(wire_log.read_text(encoding="utf-8"), secrets_sent(emulator, served, [browser]))


@pytest.mark.parametrize("response_type", FLOWS)
def test_a_bad_id_token_leaves_its_failed_verdict(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                  wire_log: Path, response_type: str) -> None:
    served = _serve(serve, wire_log, response_type)
    endpoint = "authorize" if response_type == "code id_token" else "token"
    emulator.faults.add(Fault(kind="id_token_claims", endpoint=endpoint, claims={"nonce": "not-the-one-sent"},
                              times=None))
    browser = served.browser()
    assert browser.sign_in().status_code == 401
    recs = records(wire_log)
    validation = one(recs, "validation")
    assert validation["passed"] is False and validation["error"]["type"] == "NonceMismatch"
    verdicts = validation["verdicts"]
    assert verdicts[-1]["check"] == "nonce" and verdicts[-1]["passed"] is False and verdicts[-1]["detail"]
    assert all(v["passed"] for v in verdicts[:-1])
    assert recs[-1]["leg"] == "refused" and recs[-1]["response"]["status"] == 401
    assert "not-the-one-sent" not in wire_log.read_text(encoding="utf-8")  # inside the id_token: fingerprinted
    assert_no_secrets(wire_log.read_text(encoding="utf-8"), secrets_sent(emulator, served, [browser]))


@pytest.mark.parametrize("response_type", FLOWS)
def test_graph_throttling_is_recorded_without_secrets(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                      wire_log: Path, response_type: str) -> None:
    served = _serve(serve, wire_log, response_type)
    browser = served.browser()
    assert browser.sign_in().status_code == 200
    emulator.faults.graph_error("TooManyRequests", status=429, retry_after="120", times=None)
    page = browser.get("/graphcall")
    assert page.status_code in (429, 503)
    recs = records(wire_log)
    graph = one(recs, "graph")
    assert graph["response"]["status"] == 429 and header(graph, "response", "retry-after") == "120"
    envelope = graph["response"]["body"]["json"]["error"]
    assert envelope["code"] == "TooManyRequests" and envelope["message"]
    assert graph["trace_id"] == envelope["innerError"]["request-id"]
    assert graph["correlation_id"] == graph["client_request_id"]
    assert recs[-1]["leg"] == "refused" and recs[-1]["error"]["type"] == "GraphError"
    assert recs[-1]["flow"] == graph["flow"] == recs[0]["flow"]
    assert_no_secrets(wire_log.read_text(encoding="utf-8"), secrets_sent(emulator, served, [browser]))


def test_a_refresh_is_its_own_leg_of_the_same_flow(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                   wire_log: Path) -> None:
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    served = _serve(serve, wire_log, "code id_token")
    browser = visit(served, logout=False)
    recs = records(wire_log)
    assert legs(recs)[-4:] == ["graphcall", "refresh", "graph", "graphcall_page"]
    refresh = one(recs, "refresh")
    form = refresh["request"]["body"]["form"]
    assert form["grant_type"] == "refresh_token" and form["refresh_token"].startswith("\u00abrefresh_token:")
    first = one(recs, "token")["response"]["body"]["json"]["refresh_token"]
    assert form["refresh_token"] == first  # the refresh token the sign-in got
    assert len({r["flow"] for r in recs}) == 1
    assert_no_secrets(wire_log.read_text(encoding="utf-8"), secrets_sent(emulator, served, [browser]))


def test_personal_values_appear_only_when_asked(serve: Callable[..., Served], emulator: Emulator,  # noqa: F811
                                                wire_log: Path) -> None:
    served = _serve(serve, wire_log, "code id_token", wire_personal=True)
    browser = visit(served, logout=False)
    recs = records(wire_log)
    assert one(recs, "graph")["response"]["body"]["json"]["displayName"] == "Adele Vance"
    claims = one(recs, "form_post")["jwt"]["request.form.id_token"]["claims"]
    assert claims["name"] == "Adele Vance" and claims["upn"] == "adele.vance@contoso.example" and claims["oid"]
    assert_no_secrets(wire_log.read_text(encoding="utf-8"), secrets_sent(emulator, served, [browser]))


def test_the_log_is_off_by_default_and_nothing_is_wrapped(serve: Callable[..., Served]) -> None:  # noqa: F811
    served = serve()
    assert served.app.wiretap is None
    assert not isinstance(served.app.signin.authority.transport, RecordingTransport)
    assert not isinstance(served.app.signin.graph.transport, RecordingTransport)
    assert served.browser().sign_in().status_code == 200


def test_a_log_that_cannot_be_written_never_breaks_a_sign_in(serve: Callable[..., Served], tmp_path: Path,  # noqa: F811
                                                             caplog: pytest.LogCaptureFixture) -> None:
    wire_log = tmp_path / "gone" / "wire.jsonl"
    wire_log.parent.mkdir()
    served = serve(wire_log=str(wire_log))
    transcript = served.app.wiretap.transcript if served.app.wiretap else None
    assert transcript is not None
    transcript.close()
    wire_log.unlink()
    wire_log.parent.rmdir()  # the directory vanished: every write fails from now on
    with caplog.at_level("WARNING", logger="aadweb.transcript"):
        browser = served.browser()
        assert browser.sign_in().status_code == 200
        assert browser.get("/graphcall").status_code == 200
    assert transcript.failures >= 8
    warnings = [r for r in caplog.records if "wire transcript" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: once a minute
