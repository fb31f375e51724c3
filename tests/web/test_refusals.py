"""What the app refuses, and how: a page a person understands, the right status, no session."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from aadweb.emulator import Emulator, Fault
from aadweb.errors import (
    AuthorizedPartyMismatch,
    BackChannelMismatch,
    IssuedInFuture,
    TenantMismatch,
    TenantNotAllowed,
    TokenValidationError,
    UnsignedTokenRefused,
)
from aadweb.web.refusals import describe
from tests.web.browser import Browser
from tests.web.conftest import Served


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text


def test_a_replayed_state_is_refused(served: Served, emulator: Emulator) -> None:
    browser = served.browser()
    posted = browser.deliver(browser.authenticate(browser.start()))
    first = browser.get(posted.headers["Location"])
    assert first.status_code == 303
    again = browser.get(posted.headers["Location"])
    assert again.status_code == 400 and "not valid any more" in again.text and 'href="/login"' in again.text
    assert emulator.count("POST", "/oauth2/token") == 1 and served.store.counts()["sessions"] == 1
    # The authority's POST replayed as well: the state is gone, nothing is stashed.
    assert browser.post(str(posted.request.url), data=posted.request.body, send_cookies=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 400


@pytest.mark.parametrize("query", ["state=unknown-state", "state=", "", "state=a&state=b", "state=%20x%20"])
def test_an_unknown_or_malformed_state_is_a_400_page(served: Served, query: str) -> None:
    browser = served.browser()
    browser.get("/login")
    resp = browser.get(f"/getAToken?{query}")
    assert resp.status_code == 400 and "Sign in again" in resp.text
    _no_traceback(resp.text)


@pytest.mark.parametrize("form", [{"state": "unknown"}, {}, {"code": "x"}, {"state": ["a", "b"]}])
def test_a_form_post_for_no_live_state_is_a_400_page(served: Served, form: dict[str, object]) -> None:
    resp = served.browser().post("/getAToken", data=form, send_cookies=False)
    assert resp.status_code == 400 and served.store.counts()["pending"] == 0


@pytest.mark.parametrize("response_type", ["code id_token", "code"])
def test_a_cancelled_sign_in_is_a_clear_page(serve: Callable[..., Served], emulator: Emulator,
                                             response_type: str) -> None:
    served = serve(response_type=response_type)
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start(), cancel=True)))
    assert page.status_code == 400 and "You cancelled the sign-in" in page.text
    assert "AADSTS65004" in page.text and 'href="/login">Sign in again' in page.text
    assert browser.cookie("aadweb_session") is None and served.store.counts()["sessions"] == 0
    assert emulator.count("POST", "/oauth2/token") == 0


def test_an_authorize_error_is_explained(served: Served, emulator: Emulator) -> None:
    emulator.faults.authorize_error("unauthorized_client", aadsts=700016)
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start())))
    assert page.status_code == 400 and "The application was not found in the tenant." in page.text
    assert "AADSTS700016" in page.text and "Trace ID" in page.text and "Correlation ID" in page.text


def _lookup(code: int) -> str:
    return f'<a href="https://login.microsoftonline.com/error?code={code}" rel="noopener noreferrer">AADSTS{code}</a>'


@pytest.mark.parametrize(("aadsts", "title"), [
    (54005, "The authorization code was already redeemed."),
    (70008, "The authorization code or refresh token has expired or was revoked."),
    (50148, "The PKCE code_verifier does not match the code_challenge."),
])
def test_the_token_endpoint_refusing_the_code_is_a_400_asking_to_sign_in_again(
    served: Served, emulator: Emulator, caplog: pytest.LogCaptureFixture, aadsts: int, title: str
) -> None:
    """invalid_grant: the grant the browser brought (a used, expired or injected code, a PKCE
    mismatch) was refused: the person's move, not the operator's (DESIGN.md: 400)."""
    emulator.faults.token_error(aadsts, error="invalid_grant", status=400)
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start())))
    assert page.status_code == 400 and title in page.text and 'href="/login">Sign in again' in page.text
    assert f"AADSTS{aadsts}" in page.text and "Trace ID" in page.text and _lookup(aadsts) in page.text
    assert served.store.counts()["sessions"] == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize(("error", "aadsts", "status", "explained"), [
    ("invalid_client", 7000215, 401, "The client secret is not valid."),
    ("invalid_client", 7000222, 401, "The client secret has expired."),
    ("unauthorized_client", 7000112, 400, "The application is disabled."),
    ("unauthorized_client", 700016, 400, "The application was not found in the tenant."),
    ("invalid_request", 90014, 400, "A required field is missing from the request."),
    ("unsupported_grant_type", 70003, 400, ""),
])
def test_the_token_endpoint_refusing_the_app_is_a_502_logged_as_an_error(
    served: Served, emulator: Emulator, caplog: pytest.LogCaptureFixture, error: str, aadsts: int, status: int,
    explained: str,
) -> None:
    """The app itself was refused: nobody can sign in until the operator acts (DESIGN.md: 502,
    logged as an error; the page says the app is misconfigured, tell its administrator)."""
    emulator.faults.token_error(aadsts, error=error, status=status)
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start())))
    assert page.status_code == 502 and "This application is misconfigured" in page.text
    assert "Tell the administrator of this application" in page.text and explained in page.text
    assert f"AADSTS{aadsts}" in page.text and "Trace ID" in page.text and _lookup(aadsts) in page.text
    assert "Sign in again" not in page.text  # signing in again cannot help
    assert served.store.counts()["sessions"] == 0
    errors = [r for r in caplog.records if r.levelname == "ERROR" and r.name == "aadweb.web"]
    assert len(errors) == 1 and f"AADSTS{aadsts}" in errors[0].getMessage()
    assert served.client_secret not in caplog.text


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_token_endpoint_is_a_503_with_its_retry_after(served: Served, emulator: Emulator, status: int) -> None:
    emulator.faults.add(Fault(kind="error", endpoint="token", status=status, error="temporarily_unavailable",
                              retry_after="20", times=1))
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start())))
    assert page.status_code == 503 and page.headers["Retry-After"] == "20"
    assert "try again in 20 seconds" in page.text.lower() and served.store.counts()["sessions"] == 0


def test_an_authorize_error_links_microsofts_explanation(served: Served, emulator: Emulator) -> None:
    emulator.faults.authorize_error("invalid_request", aadsts=50011)
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start())))
    assert page.status_code == 400 and _lookup(50011) in page.text


def test_a_bad_id_token_is_refused(served: Served, emulator: Emulator) -> None:
    emulator.faults.add(Fault(kind="id_token_claims", endpoint="authorize", claims={"nonce": "other"}, times=1))
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start())))
    assert page.status_code == 401 and "could not be verified" in page.text and "nonce" in page.text
    assert served.store.counts()["sessions"] == 0 and emulator.count("POST", "/oauth2/token") == 0


def _callback_against(served: Served) -> Any:
    """A browser at the callback of a sign-in it started (its answer stashed): the app now calls
    the token endpoint."""
    browser = served.browser()
    authorize = browser.start()
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    assert served.store.stash_callback(state, {"state": state, "code": "c", "id_token": "a.b.c"})
    return browser.get(f"/getAToken?state={state}")


def test_an_authority_refusing_connections_is_a_503_with_retry_after(serve: Callable[..., Served]) -> None:
    """DESIGN.md: an upstream that is down or refuses connections is a 503, "try again in N seconds"."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    page = _callback_against(serve(authority_host=dead))
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "could not be reached" in page.text and "Try again in 5 seconds." in page.text
    _no_traceback(page.text)


def test_an_authority_that_never_answers_is_a_504_page(serve: Callable[..., Served]) -> None:
    """DESIGN.md: an upstream deadline passed is a 504, "the service did not answer in time"."""
    with socket.socket() as listener:  # connections complete in the backlog; nothing ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        started = time.monotonic()
        page = _callback_against(serve(authority_host=f"http://127.0.0.1:{listener.getsockname()[1]}",
                                       http_timeout=0.5))
    assert page.status_code == 504 and "Retry-After" not in page.headers
    assert "did not answer in time" in page.text and "took too long to answer" in page.text
    assert time.monotonic() - started < 5.0
    _no_traceback(page.text)


def test_a_tampered_session_cookie_is_simply_signed_out(served: Served) -> None:
    browser = served.browser()
    browser.sign_in()
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    good = cookie.value
    ident, _, mac = good.rpartition(".")
    for value in (ident + "." + mac[::-1], ident[::-1] + "." + mac, "garbage", ident, "." + mac, good + "x", "ä" * 50):
        cookie.value = value
        resp = browser.get("/")
        assert resp.status_code == 302 and resp.headers["Location"] == "/login", value
        assert browser.get("/graphcall").status_code == 302
    cookie.value = good
    assert browser.get("/").status_code == 200


def test_unknown_paths_and_methods(served: Served) -> None:
    browser = served.browser()
    for path in ("/nope", "/login/", "/graphcall/x", "/getAToken/", "/_aadweb/static/other.css"):
        resp = browser.get(path)
        assert resp.status_code == 404 and "Page not found" in resp.text, path
    resp = browser.request("PUT", "/login")
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"] and "<h1>" in resp.text
    assert browser.request("DELETE", "/getAToken").status_code == 405


def test_head_never_starts_or_finishes_a_sign_in(served: Served) -> None:
    browser = served.browser()
    authorize_url = browser.start("/login")  # a pending sign-in this browser started
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    for path in ("/login", f"/getAToken?state={state}", "/graphcall"):
        resp = browser.request("HEAD", path)
        assert resp.status_code == 405 and resp.headers["Allow"] == "GET", path
    assert served.store.counts()["pending"] == 1  # HEAD /login made none; HEAD /getAToken took none
    assert browser.request("HEAD", "/healthz").status_code == 200


def test_an_oversized_query_string_is_414(served: Served) -> None:
    resp = served.browser().get("/login?next=/" + "a" * 9000)
    assert resp.status_code == 414 and "too long" in resp.text


def test_an_oversized_form_body_is_413(served: Served) -> None:
    host, port = urlsplit(served.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        # Announce 70 KiB and send none of it: the app must answer from the header alone.
        conn.sendall(b"POST /getAToken HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 71680\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if len(answer) > 1 << 20:
                break
    assert answer.startswith(b"HTTP/1.1 413")
    resp = served.browser().post("/getAToken", data="&".join(f"f{i}=1" for i in range(150)), send_cookies=False,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413


@pytest.mark.parametrize("url", ["/login?next=%FF", "/login?next=%zz", "/getAToken?state=%C3%28", "/?x=%"])
def test_badly_encoded_query_strings_are_400(served: Served, url: str) -> None:
    # http.client sends the target as given (requests would re-quote "%zz").
    conn = http.client.HTTPConnection(urlsplit(served.url).netloc, timeout=5)
    try:
        conn.request("GET", url)
        resp = conn.getresponse()
        status, text = resp.status, resp.read().decode()
    finally:
        conn.close()
    assert status == 400 and "could not be understood" in text


@pytest.mark.parametrize("wire", [False, True])
def test_raw_non_utf8_query_bytes_are_400_with_or_without_the_wire_transcript(
    serve: Callable[..., Served], tmp_path: Path, wire: bool
) -> None:
    # gunicorn passes the request target's raw bytes (PEP 3333: decoded as latin-1), so an
    # invalid UTF-8 byte reaches QUERY_STRING as it was sent; Werkzeug's own server re-encodes it.
    served = serve(wire_log=str(tmp_path / "wire.jsonl") if wire else None)
    environ = EnvironBuilder(path="/getAToken").get_environ()
    environ["QUERY_STRING"] = "state=\xff&code=x"
    app_iter, status, _ = run_wsgi_app(served.app, environ, buffered=True)
    assert status.startswith("400"), status
    _no_traceback(b"".join(app_iter).decode())


def test_a_badly_encoded_form_body_is_400(served: Served) -> None:
    resp = served.browser().post("/getAToken", data=b"state=%FF&code=x", send_cookies=False,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 400


def test_an_unexpected_error_is_a_generic_500_without_details(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    browser: Browser = served.browser()
    browser.sign_in()

    def boom(session: object) -> object:
        url = "https://login.example/t/x?code=" + "SECRET" + "CODE"  # a value, not in any source line
        try:
            raise ValueError(f"GET {url} failed")
        except ValueError as cause:
            raise RuntimeError("internal " + "detail 1234") from cause

    served.app.signin.graph_me = boom  # type: ignore[method-assign,assignment]
    resp = browser.get("/graphcall")
    assert resp.status_code == 500 and "Something went wrong" in resp.text
    assert "internal detail" not in resp.text and "RuntimeError" not in resp.text
    _no_traceback(resp.text)
    assert any(r.levelname == "ERROR" and r.name == "aadweb.web" for r in caplog.records)
    logged = caplog.text
    assert "in boom" in logged  # where it happened ...
    assert "SECRETCODE" not in logged and "internal detail" not in logged  # ... never what it said


class _ServerParseError(Exception):
    """What a WSGI server may raise from ``wsgi.input`` for a body it cannot decode (gunicorn's
    InvalidChunkSize is such an Exception, not an OSError)."""


class _UndecodableInput:
    def read(self, size: int = -1) -> bytes:
        raise _ServerParseError("bad chunk")

    def readinto(self, buffer: bytearray) -> int:
        raise _ServerParseError("bad chunk")

    def readline(self, size: int = -1) -> bytes:
        raise _ServerParseError("bad chunk")


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_body_the_server_cannot_decode_is_a_400_page(served: Served, signed_in: bool) -> None:
    """POST /getAToken, and POST /logout with a session (its form is read): any exception from the
    server's input stream is a 400 page, never the 500 of an unexpected error."""
    cookie = ""
    if signed_in:
        browser = served.browser()
        browser.sign_in()
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.values())
    for path in ("/getAToken", "/logout"):
        environ = EnvironBuilder(path=path, method="POST", content_type="application/x-www-form-urlencoded",
                                 headers={"Cookie": cookie} if cookie else None).get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ.update({"wsgi.input": _UndecodableInput(), "wsgi.input_terminated": True,
                        "HTTP_TRANSFER_ENCODING": "chunked"})
        app_iter, status, _ = run_wsgi_app(served.app, environ, buffered=True)
        text = b"".join(app_iter).decode()
        if path == "/logout" and not signed_in:
            assert status.startswith("302"), status  # signed out: the form is never read
            continue
        assert status.startswith("400"), (path, status)
        assert "could not be understood" in text
        _no_traceback(text)


@pytest.mark.parametrize(("error", "status", "check"), [
    (TenantMismatch, 401, "tid"), (IssuedInFuture, 401, "iat"), (AuthorizedPartyMismatch, 401, "aud"),
    (UnsignedTokenRefused, 401, "signature"), (BackChannelMismatch, 401, "back-channel match"),
    (TenantNotAllowed, 403, None),
])
def test_each_id_token_check_failure_has_its_status_and_names_its_check(
    error: type[TokenValidationError], status: int, check: str | None
) -> None:
    """DESIGN.md, What the browser gets: any id_token check failed -> 401; tenant not allowed -> 403."""
    problem = describe(error("refused"))
    assert problem.status == status
    assert problem.details == ((("Failed check", check),) if check else ())
