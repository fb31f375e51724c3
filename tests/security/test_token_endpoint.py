"""The token endpoint's answer: error bodies, missing or wrong fields, redirects, slow, endless,
huge and compressed bodies, non-JSON, TLS failure (RFC 6749 5.1, 5.2, 7.1, 10.x; RFC 9700 4.11
and 4.12; RFC 6819 4.4.1, 5.1.x)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browserless import parse_form_post
from tests.hostile.answers import gzip_bomb, json_answer, raw_answer, redirect_answer
from tests.hostile.harness import TIME_LIMIT, Rig, RigFactory
from tests.hostile.mint import DELETE
from tests.hostile.server import HostileIdP
from tests.transport.tls import make_pki
from tests.web.browser import Callback

MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _no_markup_or_injection(rig: Rig, page: Any) -> None:
    assert "<script>" not in page.text and "<img" not in page.text
    for name, value in page.headers.items():
        assert "pwned" not in value and "evil.example" not in value, (name, value)
    # Log injection: remote text never starts a new log line.
    for record in rig.caplog.records:
        if record.name.startswith("aadweb"):
            assert "\r" not in record.getMessage() and "\n" not in record.getMessage(), record.getMessage()


@pytest.mark.parametrize(("body", "status"), [
    ({"error": MARKUP, "error_description": MARKUP, "error_codes": [50011], "trace_id": MARKUP}, 502),
    ({"error": "invalid_grant", "error_description": f"AADSTS70008: {MARKUP}\r\nSet-Cookie: pwned=1\r\n\r\n{MARKUP}",
      "error_codes": [70008, "<b>", None], "trace_id": "x\r\nLocation: http://evil.example/",
      "correlation_id": "<script>"}, 400),
    ({"error": "invalid_grant\r\nSet-Cookie: pwned=1", "error_description": "x"}, 502),
    ({"error": "invalid_grant", "error_description": "Trace ID: <script>\u2028Correlation ID: \u202eevil.example"},
     400),
    ({"error": "invalid_grant", "error_description": "A" * 900_000}, 400),
], ids=["markup", "crlf-description", "crlf-error", "unicode-separators", "huge-description"])
def test_token_error_body_with_markup_or_crlf_is_harmless(rig: Rig, body: dict[str, Any], status: int) -> None:
    """invalid_grant is the browser's grant refused (400); an unknown or malformed error is 502."""
    rig.idp.script.token = lambda request: json_answer(body, 400)
    page = rig.attempt()
    rig.assert_refused(page, status)
    _no_markup_or_injection(rig, page)


@pytest.mark.parametrize("value", [DELETE, "", None, 42, ["at"], "has space", "a" * 70_000],
                         ids=["missing", "empty", "null", "number", "list", "space", "huge"])
def test_token_response_without_access_token_is_refused(rig: Rig, value: Any) -> None:
    rig.idp.script.token_fields = {"access_token": value}
    page = rig.attempt()
    rig.assert_refused(page, "5xx")


@pytest.mark.parametrize("token_type", [DELETE, "mac", "pop", "DPoP", "", "Bearer\r\nX: y", None, 1])
def test_token_response_with_wrong_token_type_is_refused(rig: Rig, token_type: Any) -> None:
    rig.idp.script.token_fields = {"token_type": token_type}
    rig.assert_refused(rig.attempt(), "5xx")


@pytest.mark.parametrize("expires_in", ["1e400", "-1", "NaN", "Infinity", 10**30, True, "3599abc", [3599],
                                        "99999999999"])
def test_token_response_with_absurd_expiry_is_refused(rig: Rig, expires_in: Any) -> None:
    rig.idp.script.token_fields = {"expires_in": expires_in}
    rig.assert_refused(rig.attempt(), "5xx")


def test_token_response_without_expires_in_falls_back_to_expires_on_but_not_to_an_absurd_one(rig: Rig) -> None:
    """RFC 6749 5.1 only recommends expires_in: without it expires_on is used, within the same bounds."""
    rig.idp.script.token_fields = {"expires_in": DELETE}
    rig.sign_in()
    for expires_on in ("99999999999", "-1", "soon", True, [1]):
        rig.idp.script.token_fields = {"expires_in": DELETE, "expires_on": expires_on}
        rig.assert_refused(rig.attempt(), "5xx", sessions=1)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_token_endpoint_redirect_is_not_followed(rigs: RigFactory, status: int, flow: str) -> None:
    """A 307/308 would re-post the code, the verifier and the client secret: never followed."""
    rig = rigs.make(response_type="code id_token" if flow == "hybrid" else "code")
    rig.idp.script.token = lambda request: redirect_answer(f"{rig.idp.url}/elsewhere/token", status)
    page = rig.attempt()
    rig.assert_refused(page, "5xx")
    assert rig.idp.hits["elsewhere"] == 0 and rig.idp.hits["token"] == 1


def test_slow_token_endpoint_hits_the_deadline(rig: Rig) -> None:
    rig.idp.script.delay = {"token": 30.0}
    page = rig.attempt()
    rig.assert_refused(page, 504)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_dripping_token_body_hits_the_deadline(rig: Rig, declared: bool) -> None:
    body = json.dumps({"token_type": "Bearer", "access_token": "a" * 200, "expires_in": "3599"}).encode()
    rig.idp.script.token = lambda request: rig.idp.drip(body, every=0.05, declared=declared)
    page = rig.attempt()
    rig.assert_refused(page, 504)


def test_endless_token_body_is_cut_off(rig: Rig) -> None:
    rig.idp.script.token = lambda request: rig.idp.endless()
    page = rig.attempt()
    rig.assert_refused(page, "5xx")
    assert rig.elapsed < TIME_LIMIT


@pytest.mark.parametrize("size", [2 << 20, 64 << 20], ids=["2MB", "64MB-declared"])
def test_huge_token_body_is_refused(rig: Rig, size: int) -> None:
    def huge(request: Any) -> Any:
        if size > 8 << 20:  # declared only: the client must refuse before reading
            return raw_answer(b"{}", headers={"Content-Length": str(size)})
        padding = "p" * size
        return json_answer({"token_type": "Bearer", "access_token": "at", "expires_in": "3599", "pad": padding})

    rig.idp.script.token = huge
    rig.assert_refused(rig.attempt(), "5xx")


def test_gzip_bomb_token_body_is_refused(rig: Rig) -> None:
    rig.idp.script.token = lambda request: gzip_bomb()
    page = rig.attempt()
    rig.assert_refused(page, "5xx")


@pytest.mark.parametrize("body,content_type", [
    ("<html><body>Sign in</body></html>", "text/html"),
    ("[]", "application/json"),
    ("", "application/json"),
    (b"\xff\xfe{}", "application/json"),
    ("NaN", "application/json"),
    ('{"token_type": "Bearer", "access_token": "at", "expires_in": "35', "application/json"),
    ("[" * 100_000, "application/json"),
], ids=["html", "array", "empty", "bad-utf8", "nan", "truncated", "deep"])
def test_non_json_token_body_is_refused(rig: Rig, body: str | bytes, content_type: str) -> None:
    rig.idp.script.token = lambda request: raw_answer(body, content_type=content_type)
    rig.assert_refused(rig.attempt(), "5xx")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 418, 201, 204])
def test_token_endpoint_odd_status_is_a_clean_page(rig: Rig, status: int) -> None:
    rig.idp.script.token = lambda request: raw_answer("<h1>oops</h1>", status, content_type="text/html")
    rig.assert_refused(rig.attempt(), "5xx")


@pytest.fixture
def tls_idp(tmp_path: Path) -> Iterator[HostileIdP]:
    """The provider behind TLS with a certificate from a CA nobody trusts."""
    pki = make_pki(tmp_path)
    idp = HostileIdP().start(ssl_context=(str(pki.cert_pem), str(pki.key_pem)))
    yield idp
    idp.stop()


@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_token_endpoint_tls_failure_is_a_clean_502(rigs: RigFactory, tls_idp: HostileIdP, flow: str) -> None:
    rig = rigs.make(idp=tls_idp, response_type="code id_token" if flow == "hybrid" else "code")
    browser = rig.browser()
    authorize = browser.start()
    assert authorize.startswith("https://127.0.0.1:")
    answer = tls_idp.answer(authorize)  # the browser side of the authority, answered in-process
    if flow == "hybrid":
        callback = Callback("form_post", rig.settings.redirect_uri, _hidden_fields(answer.get_data(as_text=True)))
    else:
        callback = Callback("query", answer.headers["Location"], {})
    page = rig.deliver(browser, callback)
    rig.assert_refused(page, 502)  # a certificate nobody trusts: trying again cannot help, so no 503
    assert "could not be used" in page.text and "Retry-After" not in page.headers
    assert tls_idp.hits["token"] == 0 and tls_idp.hits["jwks"] == 0  # no request got through the handshake


def _hidden_fields(html: str) -> dict[str, str]:
    return parse_form_post(html)[1]
