"""``/logout``: a confirm page, a CSRF-checked POST, the session gone server-side."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from aadweb.emulator import DEMO_TENANT_ID, Emulator
from tests.web.browser import Browser
from tests.web.conftest import Served


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def _signed_in(served: Served) -> tuple[Browser, str]:
    browser = served.browser()
    assert browser.sign_in().status_code == 200
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    return browser, cookie.value.rpartition(".")[0]


def test_logout_confirms_then_ends_the_session(served: Served, emulator: Emulator) -> None:
    browser, session_id = _signed_in(served)
    record = served.store.get_session(session_id)
    assert record is not None
    confirm = browser.get("/logout")
    assert confirm.status_code == 200 and confirm.headers["Cache-Control"] == "no-store"
    assert '<form method="post" action="/logout">' in confirm.text and ">Sign out</button>" in confirm.text
    assert _csrf(confirm.text) == record.csrf_token
    assert served.store.get_session(session_id) is not None  # a GET changes nothing

    out = browser.post("/logout", data={"csrf_token": _csrf(confirm.text)})
    assert out.status_code == 302
    location = out.headers["Location"]
    assert location.startswith(f"{served.settings.authority_host}/{DEMO_TENANT_ID}/oauth2/logout?")
    assert parse_qs(urlsplit(location).query)["post_logout_redirect_uri"] == [served.url + "/signed-out"]
    assert served.store.get_session(session_id) is None
    expired = out.raw.headers.getlist("Set-Cookie")
    assert len(expired) == 2 and all("Max-Age=0" in c for c in expired)
    assert browser.cookie("aadweb_session") is None and browser.cookie("aadweb_browser") is None

    # The authority sends the browser back to the signed-out page, which starts no sign-in.
    back = browser.get(location)
    assert back.status_code == 302 and back.headers["Location"] == served.url + "/signed-out"
    assert browser.get("/").headers["Location"] == "/login"


def test_after_sign_out_the_authority_lands_the_browser_on_a_signed_out_page(served: Served) -> None:
    """DESIGN.md: sign-out lands on a signed-out page that does not start a new sign-in by itself."""
    browser, _ = _signed_in(served)
    confirm = browser.get("/logout")
    out = browser.post("/logout", data={"csrf_token": _csrf(confirm.text)})
    assert served.store.counts()["pending"] == 0
    landed = browser.follow(out, stop_at_authority=False)  # to the authority and back, as a browser does
    assert landed.status_code == 200 and landed.url == served.url + "/signed-out"
    assert "<h1>You are signed out</h1>" in landed.text and '<a class="button" href="/login">Sign in</a>' in landed.text
    assert landed.headers["Cache-Control"] == "no-store" and "Location" not in landed.headers
    assert served.store.counts() == {**served.store.counts(), "pending": 0, "sessions": 0}  # no sign-in started
    assert browser.cookie("aadweb_browser") is None and browser.cookie("aadweb_session") is None


def test_the_signed_out_page_when_signed_in_goes_home(served: Served) -> None:
    browser, _ = _signed_in(served)
    resp = browser.get("/signed-out")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert served.store.counts()["pending"] == 0


def test_logout_without_or_with_a_wrong_csrf_token_changes_nothing(served: Served) -> None:
    browser, session_id = _signed_in(served)
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": ["a", "b"]}, {"csrf_token": ""}):
        resp = browser.post("/logout", data=data)
        assert resp.status_code == 400, data
        assert "still signed in" in resp.text and not resp.headers.get("Set-Cookie")
        assert served.store.get_session(session_id) is not None
    assert browser.get("/").status_code == 200


def test_logout_needs_a_form(served: Served) -> None:
    browser, session_id = _signed_in(served)
    resp = browser.post("/logout", data=b'{"csrf_token": "x"}', headers={"Content-Type": "application/json"})
    assert resp.status_code == 415 and served.store.get_session(session_id) is not None


def test_logout_when_signed_out_shows_the_signed_out_page(served: Served) -> None:
    """Not "/": that would start a sign-in for someone who asked to be signed out."""
    browser = served.browser()
    assert browser.get("/logout").headers["Location"] == "/signed-out"
    assert browser.post("/logout", data={"csrf_token": "x"}).headers["Location"] == "/signed-out"
    assert browser.get("/signed-out").status_code == 200 and served.store.counts()["pending"] == 0
