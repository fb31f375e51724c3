"""Microsoft Graph answers for a signed-in user: 401 (one refresh, then sign in again), 403,
429/503 with short, long and invalid Retry-After, 5xx, redirects, hostile JSON, another user's
id (RFC 6750 3.1, RFC 9110 10.2.3, RFC 6819 5.1.6)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.hostile.answers import graph_error, json_answer, raw_answer, redirect_answer
from tests.hostile.harness import Rig
from tests.hostile.server import USER
from tests.web.browser import Browser

MARKUP = "<script>alert(1)</script>"


def _signed_in(rig: Rig) -> Browser:
    browser = rig.sign_in()
    assert rig.idp.hits["token"] == 1 and rig.idp.hits["graph"] == 0
    return browser


def _sequence(*answers: Response) -> Any:
    """Answer with each response in turn, then the last one for ever."""
    lock, calls = threading.Lock(), [0]

    def answer(request: Request) -> Response:
        with lock:
            i = min(calls[0], len(answers) - 1)
            calls[0] += 1
        return answers[i]
    return answer


def test_graph_401_refreshes_once_then_asks_to_sign_in_again(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: graph_error(401, "InvalidAuthenticationToken", MARKUP,
                                                 {"WWW-Authenticate": 'Bearer realm=""'})
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 401, graph_calls=2)
    assert rig.idp.hits["token"] == 2  # the code, then one refresh
    assert browser.cookie("aadweb_session") is None and "Sign in again" in page.text and MARKUP not in page.text


def test_graph_401_then_refresh_refused_asks_to_sign_in_again(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: graph_error(401, "InvalidAuthenticationToken", "expired")
    rig.idp.refresh_tokens.clear()  # the refresh token is dead: invalid_grant AADSTS70008
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 401, graph_calls=1)


def test_refreshed_access_token_that_is_not_a_bearer_token_is_refused(rig: Rig) -> None:
    """Regression: an access token with a space (not an RFC 6750 b64token) from a refresh used
    to be stored, and the next Graph call crashed with an unexpected 500."""
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: graph_error(401, "InvalidAuthenticationToken", "expired")
    rig.idp.script.token_fields = {"access_token": "not a bearer token"}
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, "5xx", sessions=1, graph_calls=1)


def test_graph_403_is_a_clean_page(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: graph_error(403, "Authorization_RequestDenied", MARKUP)
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 403, sessions=1, graph_calls=1)
    assert "Authorization_RequestDenied" in page.text and MARKUP not in page.text


@pytest.mark.parametrize("status", [429, 503])
def test_graph_429_short_retry_after_is_honoured_once(rig: Rig, status: int) -> None:
    browser = _signed_in(rig)
    busy = graph_error(status, "TooManyRequests", "slow down", {"Retry-After": "0.2"})
    rig.idp.script.graph = _sequence(busy, busy, busy)
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 503, sessions=1, graph_calls=2)
    assert page.headers["Retry-After"] == "1"
    # ... and a retry that succeeds shows the page.
    rig.idp.script.graph = _sequence(busy, json_answer({"id": USER["oid"], "displayName": "Megan Bowen"}))
    assert rig.get(browser, "/graphcall").status_code == 200


def test_graph_429_long_retry_after_is_not_waited_for(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: graph_error(429, "TooManyRequests", "slow down", {"Retry-After": "120"})
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 503, sessions=1, graph_calls=1)
    assert rig.elapsed < 1.5 and page.headers["Retry-After"] == "120"


@pytest.mark.parametrize("retry_after,calls", [
    ("soon", 1), ("-5", 1), ("NaN", 1), ("1e9", 1), ("", 1), ("0x10", 1), ("9" * 80, 1),
    ("99999999999", 1), ("Wed, 21 Oct 2015 07:28:00 GMT", 2), ("Wed, 21 Oct 2999 07:28:00 GMT", 1),
    ("1\r\nSet-Cookie: pwned=1", 1),
])
def test_graph_429_invalid_retry_after_is_ignored(rig: Rig, retry_after: str, calls: int) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: Response(
        json.dumps({"error": {"code": "TooManyRequests", "message": "x"}}), status=429,
        mimetype="application/json", headers=[("Retry-After", retry_after)] if "\r" not in retry_after else [])
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 503, sessions=1, graph_calls=calls)
    assert rig.elapsed < 2.0
    assert int(page.headers.get("Retry-After", "0")) <= 3600


@pytest.mark.parametrize("status", [500, 502, 504, 501, 418])
def test_graph_5xx_is_a_clean_page(rig: Rig, status: int) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: raw_answer(f"<h1>{MARKUP}</h1>", status, content_type="text/html")
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, "5xx", sessions=1, graph_calls=1)
    assert MARKUP not in page.text


def test_graph_slow_answer_hits_the_deadline(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.delay = {"graph": 30.0}
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, 504, sessions=1, graph_calls=1)


@pytest.mark.parametrize("status", [302, 307])
def test_graph_redirect_is_not_followed(rig: Rig, status: int) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: redirect_answer(f"{rig.idp.url}/elsewhere/me", status)
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, "5xx", sessions=1, graph_calls=1)
    assert rig.idp.hits["elsewhere"] == 0  # the bearer token never went anywhere else


def test_graph_hostile_json_is_escaped(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph_fields = {
        MARKUP: MARKUP, "displayName": f"{MARKUP}\u202e\u2028", "jobTitle": {"<b>": ["<i>", None, 1e308]},
        "mail": 42, "officeLocation": "\x00\x1b[31m red", "x" * 5000: "y" * 50_000,
    }
    page = rig.get(browser, "/graphcall")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<b>" not in page.text and "<i>" not in page.text
    assert "&lt;script&gt;" in page.text and "\x1b" not in page.text and "\x00" not in page.text
    assert len(page.content) < 100_000
    rig.assert_nothing_leaked()


@pytest.mark.parametrize("body", [
    json.dumps({"id": USER["oid"], "pad": "p" * (2 << 20)}),
    "[" * 100_000,
    json.dumps({"id": USER["oid"]})[:-1] + ', "deep": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"id": ' + "1" * 5000 + "}",
    "<html>not json</html>",
    json.dumps(["id", USER["oid"]]),
    json.dumps({"id": None}),
], ids=["huge", "deep-open", "deep-closed", "huge-int", "html", "array", "null-id"])
def test_graph_huge_or_deep_json_is_refused(rig: Rig, body: str) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph = lambda r: raw_answer(body)
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, "5xx", sessions=1, graph_calls=1)


def test_graph_moderately_nested_json_is_rendered_safely(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph_fields = {"jobTitle": json.loads("[" * 900 + "]" * 900)}
    page = rig.get(browser, "/graphcall")
    assert page.status_code == 200 and len(page.content) < 100_000
    rig.assert_nothing_leaked()


def test_graph_id_that_differs_from_the_id_token_oid_is_refused(rig: Rig) -> None:
    browser = _signed_in(rig)
    rig.idp.script.graph_fields = {"id": "00000000-0000-4000-8000-000000000bad", "displayName": "Someone Else",
                                   "mail": "someone.else@hostile.example"}
    page = rig.get(browser, "/graphcall")
    rig.assert_refused(page, "5xx", sessions=1, graph_calls=1)
    assert "Someone Else" not in page.text and "someone.else" not in page.text
