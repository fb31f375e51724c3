"""The web surface: session fixation, tampered and forged cookies, open redirects, Host and
X-Forwarded-* without a trusted proxy, oversized and badly encoded requests, the debugger
(RFC 9700 4.11, RFC 6819 4.4.1.8 and 5.1.x, RFC 6265bis 4.1.3, OWASP session management)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from aadweb.errors import ConfigurationError
from aadweb.secret import Secret
from aadweb.sessions import derive_key
from aadweb.settings import Settings
from aadweb.web.cookies import BROWSER_PURPOSE, SESSION_PURPOSE
from tests.hostile.harness import Rig
from tests.hostile.server import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from tests.web.browser import Browser


def _session_id(browser: Browser) -> str:
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    return cookie.value.rpartition(".")[0]


def _is_signed_in(rig: Rig, browser: Browser) -> bool:
    resp = browser.get("/")
    return resp.status_code == 200 and "You are signed in" in resp.text


def test_session_fixation_new_session_id_after_sign_in(rig: Rig) -> None:
    """Cookies planted in the victim's browser (the attacker's own signed-in session and browser
    id) never become the victim's session: sign-in always mints a new id and ends the old one."""
    attacker = rig.sign_in()
    planted = {name: cookie for name, cookie in attacker.cookies.items()}
    planted_session = _session_id(attacker)
    victim = rig.browser()
    victim.cookies.update(planted)
    rig.sign_in(victim)
    fresh = _session_id(victim)
    assert fresh != planted_session and fresh != victim.cookie("aadweb_browser").value.rpartition(".")[0]  # type: ignore[union-attr]
    assert rig.store.get_session(planted_session) is None  # the planted session is gone
    assert not _is_signed_in(rig, attacker)  # the attacker's cookie opens nothing
    assert rig.store.counts()["sessions"] == 1
    rig.assert_nothing_leaked()


def test_each_sign_in_gets_a_new_session_id(rig: Rig) -> None:
    browser = rig.sign_in()
    first = _session_id(browser)
    rig.sign_in(browser)
    assert _session_id(browser) != first and rig.store.get_session(first) is None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: bytes, ident: str) -> str:
    return _b64(hmac.new(key, ident.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize("mutation", [
    "flip-mac", "flip-id", "no-mac", "empty", "oversized", "browser-cookie", "two-dots", "unicode",
])
def test_tampered_session_cookie_is_ignored(rig: Rig, mutation: str) -> None:
    browser = rig.sign_in()
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    ident, _, mac = cookie.value.rpartition(".")
    cookie.value = {
        "flip-mac": f"{ident}.{mac[:-2]}{'A' if mac[-2] != 'A' else 'B'}{mac[-1]}",
        "flip-id": f"{ident[:-1]}{'A' if ident[-1] != 'A' else 'B'}.{mac}",
        "no-mac": ident,
        "empty": "",
        "oversized": f"{ident * 40}.{mac}",
        "browser-cookie": browser.cookie("aadweb_browser").value,  # type: ignore[union-attr]
        "two-dots": f"{ident}..{mac}",
        "unicode": f"{ident}\u00e9.{mac}",
    }[mutation]
    assert not _is_signed_in(rig, browser)
    page = rig.get(browser, "/graphcall")
    assert page.status_code == 302 and not browser._is_app(page.headers["Location"])  # off to sign in
    assert rig.idp.hits["graph"] == 0
    rig.assert_nothing_leaked()


@pytest.mark.parametrize("key", ["development", "secret", "changeme", "dev", "test"])
def test_cookie_signed_with_a_guessable_key_is_refused(rig: Rig, key: str) -> None:
    """The original sample signed its cookie with "development". Even an attacker who knows a
    live session id cannot forge its cookie with such a key, raw or through aadweb's HKDF."""
    victim = rig.sign_in()
    sid = _session_id(victim)
    for forged in (f"{sid}.{_mac(derive_key(key, SESSION_PURPOSE), sid)}", f"{sid}.{_mac(key.encode(), sid)}",
                   f"{sid}.{_mac(derive_key(key, BROWSER_PURPOSE), sid)}"):
        attacker = rig.browser()
        attacker.get("/login")
        name = victim.cookie("aadweb_session").name  # type: ignore[union-attr]
        attacker.cookies[name] = type(victim.cookie("aadweb_session"))(name=name, value=forged)  # type: ignore[misc]
        assert not _is_signed_in(rig, attacker)
        assert rig.get(attacker, "/graphcall").status_code == 302
    assert rig.idp.hits["graph"] == 0


@pytest.mark.parametrize("key", ["development", "secret", "changeme", "x" * 31])
def test_guessable_secret_key_is_refused_at_start_up(key: str) -> None:
    with pytest.raises(ConfigurationError):
        Settings(tenant=TENANT_ID, client_id=CLIENT_ID, client_secret=Secret("client_secret", CLIENT_SECRET),
                 secret_key=Secret("secret_key", key))


EVIL_NEXT = [
    "//evil.example", "https://evil.example/", "http:evil.example", "/\\evil.example", "\\\\evil.example",
    "%2F%2Fevil.example", "/%2F/evil.example", "/%2fevil.example", "/%5Cevil.example", "/%255C%255Cevil.example",
    "/%252F%252Fevil.example", "javascript:alert(1)", "/%09/evil.example", "/%0d%0aLocation:%20//evil.example",
    " //evil.example", "///evil.example", "/\t/evil.example", "//evil.example@127.0.0.1", "\u3002/evil.example",
    "/\u2215\u2215evil.example", "data:text/html,<script>alert(1)</script>",
]


@pytest.mark.parametrize("next_", EVIL_NEXT)
def test_open_redirect_through_next_is_refused(rig: Rig, next_: str) -> None:
    browser = rig.browser()
    callback = browser.authenticate(browser.start(f"/login?next={quote(next_, safe='')}"))
    posted = browser.deliver(callback)
    done = browser.get(posted.headers["Location"])
    assert done.status_code == 303
    location = done.headers["Location"]
    assert location == "/", location
    rig.assert_nothing_leaked()


def test_a_local_next_path_is_kept(rig: Rig) -> None:
    """The positive control of the open-redirect test."""
    browser = rig.browser()
    callback = browser.authenticate(browser.start("/login?next=/graphcall"))
    done = browser.get(browser.deliver(callback).headers["Location"])
    assert done.headers["Location"] == "/graphcall"


EVIL_HEADERS = {
    "Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/evil", "X-Forwarded-Port": "8443",
    "Forwarded": "for=203.0.113.9;host=evil.example;proto=https", "X-Original-URL": "/evil",
    "X-Rewrite-URL": "/evil",
}


def test_host_and_forwarded_headers_are_ignored_without_a_trusted_proxy(rig: Rig) -> None:
    browser = rig.browser()
    first = browser.get("/", headers=EVIL_HEADERS)
    assert first.status_code == 302 and first.headers["Location"] == "/login"
    login = browser.get("/login", headers=EVIL_HEADERS)
    location = login.headers["Location"]
    assert "evil" not in location
    assert parse_qs(urlsplit(location).query)["redirect_uri"] == [rig.settings.redirect_uri]
    set_cookie = login.headers["Set-Cookie"]
    assert "evil" not in set_cookie and "Domain" not in set_cookie and "Secure" not in set_cookie
    callback = browser.authenticate(location)
    posted = browser.request("POST", callback.url, data=callback.fields, headers=EVIL_HEADERS, send_cookies=False)
    assert posted.status_code == 303 and posted.headers["Location"].startswith("/getAToken?")
    done = browser.get(posted.headers["Location"], headers=EVIL_HEADERS)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    confirm = browser.get("/logout", headers=EVIL_HEADERS)
    token = confirm.text.split('name="csrf_token" value="')[1].split('"')[0]
    out = browser.post("/logout", data={"csrf_token": token}, headers=EVIL_HEADERS)
    assert out.status_code == 302 and "evil" not in out.headers["Location"]
    post_logout = parse_qs(urlsplit(out.headers["Location"]).query)["post_logout_redirect_uri"]
    assert post_logout == [f"{rig.url}/signed-out"]
    for hop in browser.hops:
        if browser._is_app(hop.url):
            assert "evil" not in hop.text and all("evil" not in v for v in hop.headers.values())
    rig.assert_nothing_leaked()


def test_logout_without_csrf_token_is_refused(rig: Rig) -> None:
    browser = rig.sign_in()
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ["a", "b"]}):
        resp = browser.post("/logout", data=data)
        assert resp.status_code == 400
    assert _is_signed_in(rig, browser) and rig.store.counts()["sessions"] == 1


def _raw_request(rig: Rig, method: str, path: str, headers: dict[str, str] | None = None,
                 body: bytes | None = None) -> http.client.HTTPResponse:
    host, port = urlsplit(rig.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def test_oversized_query_string_is_refused(rig: Rig) -> None:
    browser = rig.browser()
    for path in ("/getAToken?state=" + "s" * 20_000, "/login?next=/" + "a" * 9000, "/?" + "x=1&" * 3000):
        resp = browser.get(path)
        assert resp.status_code == 414, path[:30]
    assert rig.store.counts()["pending"] == 0


@pytest.mark.parametrize("headers", [
    {"Cookie": "aadweb_session=" + "a" * 70_000},
    {"X-Big": "b" * 70_000},
    {f"X-H{i}": "v" for i in range(150)},
], ids=["huge-cookie", "huge-header", "many-headers"])
def test_oversized_headers_are_refused(rig: Rig, headers: dict[str, str]) -> None:
    resp = _raw_request(rig, "GET", "/graphcall", headers)
    assert 400 <= resp.status < 500
    assert rig.idp.hits["graph"] == 0


def test_a_large_cookie_header_under_the_server_limit_is_ignored(rig: Rig) -> None:
    browser = rig.browser()
    resp = browser.get("/", headers={"Cookie": "aadweb_session=" + "a" * 8000 + ".x; other=" + "o" * 8000})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"


@pytest.mark.parametrize("body,content_type", [
    (b"state=" + b"s" * (1 << 20), "application/x-www-form-urlencoded"),
    (b"&".join(b"f%d=v" % i for i in range(500)), "application/x-www-form-urlencoded"),
    (b"--x\r\nContent-Disposition: form-data; name=state\r\n\r\nabc\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    (b'{"state": "x"}', "application/json"),
], ids=["1MB", "500-fields", "multipart", "json"])
def test_oversized_or_unexpected_body_is_refused(rig: Rig, body: bytes, content_type: str) -> None:
    resp = _raw_request(rig, "POST", "/getAToken", {"Content-Type": content_type}, body)
    assert resp.status in (400, 413, 415)
    assert rig.store.counts()["pending"] == 0


@pytest.mark.parametrize("query", ["state=%zz", "state=%C3%28", "state=%", "state=%E0%A4%A", "next=%ff"])
def test_bad_percent_encoding_is_refused(rig: Rig, query: str) -> None:
    browser = rig.browser()
    resp = browser.get(f"/getAToken?{query}")
    assert resp.status_code == 400 and "Traceback" not in resp.text


@pytest.mark.parametrize("body", [b"state=%zz&code=x", b"state=%ff%fe", b"state=abc&code=%C0%AF"])
def test_bad_percent_encoding_in_the_form_post_is_refused(rig: Rig, body: bytes) -> None:
    resp = _raw_request(rig, "POST", "/getAToken", {"Content-Type": "application/x-www-form-urlencoded"}, body)
    assert resp.status == 400


@pytest.mark.parametrize("path", [
    "/?__debugger__=yes&cmd=resource&f=style.css",
    "/?__debugger__=yes&cmd=resource&f=debugger.js",
    "/?__debugger__=yes&cmd=printpin&s=x",
    "/console",
    "/getAToken?__debugger__=yes&cmd=resource&f=style.css",
])
def test_werkzeug_debugger_is_not_reachable(rig: Rig, path: str) -> None:
    resp = rig.browser().get(path)
    assert resp.status_code in (302, 400, 404)
    assert "text/css" not in resp.headers.get("Content-Type", "")
    assert "javascript" not in resp.headers.get("Content-Type", "")
    assert "Werkzeug" not in resp.text and "debugger" not in resp.text.lower() and "PIN" not in resp.text


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_unexpected_methods_are_refused(rig: Rig, method: str) -> None:
    resp = _raw_request(rig, method, "/getAToken?state=x")
    assert resp.status in (404, 405)


def test_refusal_pages_carry_the_security_headers(rig: Rig) -> None:
    resp = rig.browser().get("/getAToken?state=unknown")
    assert resp.status_code == 400
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_chunked_oversized_body_is_refused(rig: Rig) -> None:
    """No Content-Length (chunked): the body limit still holds."""
    host, port = urlsplit(rig.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (b"state=" + b"s" * 65536 for _ in range(32))
    conn.request("POST", "/getAToken", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status in (400, 413)
    assert rig.store.counts()["pending"] == 0
