"""Security headers on every kind of response; the stylesheet; /healthz."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aadweb._version import __version__
from aadweb.emulator import Emulator, Fault
from aadweb.errors import SessionStoreError
from aadweb.sessions import MemorySessionStore, TokenCipher
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
    assert body["status"] == "ok" and body["store"] == "ok" and body["authority"] == "unknown" and body["version"]
    assert set(body) == {"status", "store", "authority", "version"}
    served.store.close()
    resp = served.browser().get("/healthz")
    assert resp.status_code == 503 and resp.json()["status"] == "degraded" and resp.json()["store"] == "unreachable"
    assert served.settings.client_id not in resp.text and "sqlite" not in resp.text


class Blackhole:
    """A loopback listener that accepts connections and never answers; counts what reached it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


def test_healthz_never_calls_the_authority_even_when_it_never_answers(
    serve: Callable[..., Served], blackhole: Blackhole
) -> None:
    """A cold process whose authority accepts connections and never answers: /healthz answers at
    once from what the process knows, and nothing reaches the authority (DESIGN.md)."""
    served = serve(authority_host=blackhole.url, http_timeout=3.0)
    browser = served.browser()
    for _ in range(3):
        start = time.monotonic()
        resp = browser.get("/healthz")
        elapsed = time.monotonic() - start
        assert resp.status_code == 200 and elapsed < 1.0, elapsed
        assert resp.json() == {"status": "ok", "store": "ok", "authority": "unknown", "version": __version__}
    time.sleep(0.2)  # let the listener pick up anything that was on its way
    assert blackhole.accepted == []


def test_healthz_reports_the_authoritys_last_known_state(serve: Callable[..., Served], emulator: Emulator,
                                                          blackhole: Blackhole) -> None:
    """unknown before the first call; then how the last call went; never a call of its own."""
    served = serve()
    browser = served.browser()
    assert browser.get("/healthz").json()["authority"] == "unknown"
    assert browser.sign_in().status_code == 200  # metadata, keys, token: answered
    body: dict[str, Any] = browser.get("/healthz").json()
    assert body["authority"] == "ok" and body["status"] == "ok"
    # The token endpoint failing (a refresh or the next sign-in): reported, the host stays in.
    emulator.faults.add(Fault(kind="error", endpoint="token", status=503, times=1))
    other = served.browser()
    assert other.sign_in().status_code == 503
    resp = browser.get("/healthz")
    assert resp.status_code == 200 and resp.json()["authority"] == "unreachable"
    assert resp.json()["status"] == "degraded"
    assert served.browser().sign_in().status_code == 200
    assert browser.get("/healthz").json()["authority"] == "ok"  # recovers with the next call
    before = len(emulator.requests)
    for _ in range(5):
        browser.get("/healthz")
    assert len(emulator.requests) == before

    # An authority that never answers, seen by a sign-in: reported as unreachable.
    dead = serve(authority_host=blackhole.url, http_timeout=0.5)
    browser = dead.browser()
    authorize = browser.start()
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    assert dead.store.stash_callback(state, {"state": state, "code": "c", "id_token": "a.b.c"})
    assert browser.get(f"/getAToken?state={state}").status_code == 504
    start = time.monotonic()
    assert browser.get("/healthz").json()["authority"] == "unreachable"
    assert time.monotonic() - start < 1.0


class BrokenStore(MemorySessionStore):
    def ping(self) -> None:
        raise SessionStoreError("store unreachable (test)")

    def get_session(self, session_id: str) -> Any:
        raise SessionStoreError("store unreachable (test)")


def test_a_broken_store_is_503_everywhere(served: Served) -> None:
    from werkzeug.test import Client

    from aadweb.web import create_app

    store = BrokenStore(cipher=TokenCipher.from_secret("s" * 40))
    app = create_app(served.settings, store=store, transport=served.app.signin.authority.transport)
    client = Client(app)
    assert client.get("/healthz").status_code == 503
    client.get("/login")  # a browser cookie
    client.set_cookie("aadweb_session", served.app.session_cookie.value_for("s" * 43))
    page = client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5" and "try again" in page.text.lower()
