"""Security headers on every kind of response; the stylesheet; /healthz."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from aadweb.emulator import Emulator, Fault
from aadweb.errors import SessionStoreError
from aadweb.sessions import MemorySessionStore
from tests.web.conftest import Served

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _check(resp: requests.Response, authority: str, *, cacheable: bool = False) -> None:
    for name, value in EXPECTED.items():
        assert resp.headers.get(name) == value, (resp.url, name)
    csp = resp.headers["Content-Security-Policy"]
    assert csp == ("default-src 'none'; style-src 'self'; img-src 'self'; "
                   f"form-action 'self' {authority}; frame-ancestors 'none'; base-uri 'none'")
    assert resp.headers["Cache-Control"] == ("public, max-age=31536000, immutable" if cacheable else "no-store")
    assert "Strict-Transport-Security" not in resp.headers  # http app
    assert "Traceback" not in resp.text


def test_every_response_type_has_the_security_headers(served: Served) -> None:
    browser = served.browser()
    authority = served.settings.authority_host
    seen: dict[str, requests.Response] = {
        "redirect": browser.get("/"),
        "login redirect": browser.get("/login"),
        "error page": browser.get("/getAToken?state=nope"),
        "404": browser.get("/nope"),
        "405": browser.request("PUT", "/"),
        "414": browser.get("/?" + "q" * 9000),
        "healthz": browser.get("/healthz"),
    }
    callback = browser.authenticate(browser.hops[1].headers["Location"])
    seen["form_post 303"] = browser.deliver(callback)
    seen["callback 303"] = browser.get(seen["form_post 303"].headers["Location"])
    seen["home"] = browser.get("/")
    seen["graphcall"] = browser.get("/graphcall")
    seen["logout page"] = browser.get("/logout")
    for what, resp in seen.items():
        assert resp.status_code < 500 or what == "healthz", what
        _check(resp, authority)
    assert seen["home"].status_code == 200 and seen["graphcall"].status_code == 200
    assert seen["home"].headers["Content-Type"] == "text/html; charset=utf-8"
    css = browser.get("/_aadweb/static/aadweb.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    _check(css, authority, cacheable=True)
    assert 'href="/_aadweb/static/aadweb.css?v=' in seen["home"].text


def _varies_on_cookie(resp: requests.Response) -> bool:
    return "cookie" in {v.strip().lower() for v in resp.headers.get("Vary", "").split(",")}


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_every_session_dependent_answer_varies_on_cookie_and_is_not_stored(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    """DESIGN.md: every page whose content depends on the session carries Vary: Cookie and
    Cache-Control: no-store, signed in or not (a shared cache must never serve one browser's
    answer to another)."""
    served = serve(wire_log=str(tmp_path / "wire.jsonl"), wire_view=True)
    browser = served.browser()
    seen: dict[str, requests.Response] = {
        "/ signed out": browser.get("/"),
        "/graphcall signed out": browser.get("/graphcall"),
        "/logout signed out": browser.get("/logout"),
        "/_aadweb/wire signed out": browser.get("/_aadweb/wire"),
        "/login": browser.get("/login"),
    }
    callback = browser.authenticate(seen["/login"].headers["Location"])
    seen["POST /getAToken"] = browser.deliver(callback)
    seen["GET /getAToken"] = browser.get(seen["POST /getAToken"].headers["Location"])
    seen["/ signed in"] = browser.get("/")
    seen["/graphcall"] = browser.get("/graphcall")
    seen["/_aadweb/wire"] = browser.get("/_aadweb/wire")
    seen["/logout"] = browser.get("/logout")
    seen["POST /logout wrong csrf"] = browser.post("/logout", data={"csrf_token": "wrong"})
    seen["POST /logout"] = browser.post("/logout", data={"csrf_token": _csrf(seen["/logout"].text)})
    assert seen["/ signed in"].status_code == seen["/graphcall"].status_code == seen["/_aadweb/wire"].status_code == 200
    for what, resp in seen.items():
        assert _varies_on_cookie(resp), (what, resp.headers.get("Vary"))
        assert resp.headers["Cache-Control"] == "no-store", what
    css = browser.get("/_aadweb/static/aadweb.css")
    assert css.headers["Cache-Control"].startswith("public") and not _varies_on_cookie(css)  # the same for all


def test_pages_are_plain_html_without_script(served: Served) -> None:
    browser = served.browser()
    for page in (browser.sign_in(), browser.get("/graphcall"), browser.get("/logout"), browser.get("/nope")):
        text = page.text
        assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text and "<title>" in text
        assert '<a class="brand" href="/">aadweb</a>' in text and "<main>" in text
        assert "<script" not in text and " style=" not in text and "<style" not in text


def test_https_apps_send_hsts_and_secure_cookies(serve: Callable[..., Served]) -> None:
    from werkzeug.test import Client

    served = serve()
    https_app = served.app.__class__(served.settings.with_changes(redirect_uri="https://app.example/getAToken"),
                                     served.app.signin)
    resp = Client(https_app).get("/login")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("__Host-aadweb_browser=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_healthz_reports_the_store(serve: Callable[..., Served]) -> None:
    served = serve(store_url="sqlite")
    resp = served.browser().get("/healthz")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = resp.json()
    assert body["status"] == "ok" and body["store"] == "ok" and body["authority"] == "ok" and body["version"]
    assert set(body) == {"status", "store", "authority", "version"}
    served.store.close()
    resp = served.browser().get("/healthz")
    assert resp.status_code == 503 and resp.json()["status"] == "degraded" and resp.json()["store"] == "unreachable"
    assert served.settings.client_id not in resp.text and "sqlite" not in resp.text


def test_healthz_reports_an_unreachable_authority_without_failing_the_host(
    serve: Callable[..., Served], emulator: Emulator
) -> None:
    served = serve()
    emulator.faults.add(Fault(kind="error", endpoint="metadata", status=500))
    resp = served.browser().get("/healthz")
    body: dict[str, Any] = resp.json()
    assert resp.status_code == 200 and body["status"] == "degraded" and body["authority"] == "unreachable"
    emulator.faults.clear()
    assert served.browser().get("/healthz").json()["authority"] == "ok"  # recovers by itself
    assert emulator.count("GET", "/.well-known/openid-configuration") == 2


class BrokenStore(MemorySessionStore):
    def ping(self) -> None:
        raise SessionStoreError("store unreachable (test)")

    def get_session(self, session_id: str) -> Any:
        raise SessionStoreError("store unreachable (test)")


def test_a_broken_store_is_503_everywhere(served: Served) -> None:
    from werkzeug.test import Client

    from aadweb.web import create_app

    app = create_app(served.settings, store=BrokenStore(), transport=served.app.signin.authority.transport)
    client = Client(app)
    assert client.get("/healthz").status_code == 503
    client.get("/login")  # a browser cookie
    client.set_cookie("aadweb_session", served.app.session_cookie.value_for("s" * 43))
    page = client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5" and "try again" in page.text.lower()
