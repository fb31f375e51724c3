"""Sign-in through the real app, the real emulator and real sockets: both flows, the cookie
rules, return paths, two tabs, sub-path mounting and forwarded headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from aadweb.emulator import DEMO_TENANT_ID, Emulator, Fault
from aadweb.sessions import TokenSet
from tests.web.browser import Browser, Cookie
from tests.web.conftest import Served


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("store_url", ["memory:", "sqlite"])
def test_hybrid_form_post_sign_in(serve: Callable[..., Served], emulator: Emulator, store_url: str) -> None:
    served = serve(store_url=store_url)
    browser = served.browser()
    assert browser.get("/").status_code == 302 and browser.hops[-1].headers["Location"] == "/login"
    authorize = browser.start("/")
    q = _query(authorize)
    assert authorize.startswith(f"{served.settings.authority_host}/{DEMO_TENANT_ID}/oauth2/authorize?")
    assert q["response_type"] == "code id_token" and q["response_mode"] == "form_post"
    assert q["redirect_uri"] == served.redirect_uri and q["code_challenge_method"] == "S256"
    assert browser.hops[-1].status_code == 302  # a GET answered with a GET (not 307)
    pre = browser.cookie("aadweb_browser")
    assert pre is not None and browser.cookie("aadweb_session") is None
    assert served.store.counts()["pending"] == 1

    callback = browser.authenticate(authorize)
    assert callback.mode == "form_post" and callback.url == served.redirect_uri
    posted = browser.deliver(callback)
    assert posted.status_code == 303 and "Cookie" not in posted.request.headers  # cross-site: no cookie
    assert posted.headers["Location"] == f"/getAToken?state={q['state']}"
    assert not posted.headers.get("Set-Cookie")

    done = browser.get(posted.headers["Location"])
    assert done.status_code == 303 and done.headers["Location"] == "/"
    session_cookie = browser.cookie("aadweb_session")
    assert session_cookie is not None
    attrs = session_cookie.attributes
    assert "httponly" in attrs and attrs["samesite"] == "Lax" and attrs["path"] == "/"
    assert "max-age" not in attrs and "expires" not in attrs and "domain" not in attrs and "secure" not in attrs

    home = browser.follow(done)
    assert home.status_code == 200 and "Adele Vance" in home.text and DEMO_TENANT_ID in home.text
    assert 'href="/graphcall"' in home.text and 'href="/logout"' in home.text
    assert home.headers["Cache-Control"] == "no-store"

    assert emulator.count("POST", "/oauth2/token") == 1
    token_form = next(r.form for r in emulator.requests if r.path.endswith("/oauth2/token"))
    assert token_form["grant_type"] == "authorization_code" and token_form["code_verifier"]
    assert token_form["redirect_uri"] == served.redirect_uri
    counts = served.store.counts()
    assert counts["sessions"] == 1 and counts["pending"] == 0
    session_id = session_cookie.value.rpartition(".")[0]
    record = served.store.get_session(session_id)
    assert record is not None and record.claims["upn"] == "adele.vance@contoso.example"


@pytest.mark.parametrize("store_url", ["memory:", "sqlite"])
def test_code_flow_query_sign_in(serve: Callable[..., Served], emulator: Emulator, store_url: str) -> None:
    served = serve(response_type="code", store_url=store_url)
    browser = served.browser()
    authorize = browser.start("/login?next=/graphcall")
    q = _query(authorize)
    assert q["response_type"] == "code" and q.get("response_mode", "query") == "query"
    callback = browser.authenticate(authorize)
    assert callback.mode == "query" and callback.url.startswith(served.redirect_uri + "?")
    done = browser.deliver(callback)  # a top-level GET navigation: the Lax cookie goes along
    assert "Cookie" in done.request.headers
    assert done.status_code == 303 and done.headers["Location"] == "/graphcall"
    page = browser.follow(done)
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert emulator.count("POST", "/oauth2/token") == 1 and emulator.count("GET", "/v1.0/me") == 1
    assert served.store.counts()["sessions"] == 1


def test_the_session_id_is_new_at_sign_in(served: Served) -> None:
    browser = served.browser()
    browser.get("/login")
    pre = browser.cookie("aadweb_browser")
    assert pre is not None
    # Even a validly signed id planted before the sign-in (an attacker who can set cookies)
    # never becomes the session: the session id is drawn fresh at sign-in.
    planted = "p" * 43
    browser.cookies["aadweb_session"] = Cookie("aadweb_session", served.app.session_cookie.value_for(planted))
    assert browser.get("/").headers["Location"] == "/login"
    page = browser.sign_in("/login")
    assert page.status_code == 200
    post = browser.cookie("aadweb_session")
    assert post is not None and post.value not in (pre.value, served.app.session_cookie.value_for(planted))
    new_id = post.value.rpartition(".")[0]
    assert new_id not in (planted, pre.value.rpartition(".")[0])
    assert served.store.get_session(planted) is None and served.store.get_session(new_id) is not None


def test_two_tabs_finish_in_reverse_order(served: Served) -> None:
    browser = served.browser()
    first = browser.start("/login?next=/graphcall")  # tab A
    second = browser.start("/login")  # tab B, same browser cookie
    assert _query(first)["state"] != _query(second)["state"]
    cb_a, cb_b = browser.authenticate(first), browser.authenticate(second)

    done_b = browser.follow(browser.deliver(cb_b), stop_at_authority=True)
    assert done_b.status_code == 200 and "Hello, Adele Vance" in done_b.text
    session_b = browser.cookie("aadweb_session")
    assert session_b is not None

    posted_a = browser.deliver(cb_a)
    done_a = browser.get(posted_a.headers["Location"])
    assert done_a.status_code == 303 and done_a.headers["Location"] == "/graphcall"  # tab A's own return path
    session_a = browser.cookie("aadweb_session")
    assert session_a is not None and session_a.value != session_b.value
    assert browser.follow(done_a).status_code == 200
    # One session per browser: the later sign-in replaced the earlier one.
    assert served.store.get_session(session_b.value.rpartition(".")[0]) is None
    assert served.store.get_session(session_a.value.rpartition(".")[0]) is not None


@pytest.mark.parametrize("next_value", [
    "//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil.example", "/%2F/evil.example",
    "/%5Cevil.example", "/%252F%252Fevil.example", "evil.example", "/a\r\nLocation: https://evil.example",
    "/" + "a" * 600,
])
def test_next_never_leaves_the_app(served: Served, next_value: str) -> None:
    browser = served.browser()
    callback = browser.authenticate(browser.start(f"/login?{_urlencode(next=next_value)}"))
    done = browser.get(browser.deliver(callback).headers["Location"])
    assert done.status_code == 303 and done.headers["Location"] == "/"


def _urlencode(**values: str) -> str:
    return urlencode(values)


def test_hints_are_passed_only_when_well_formed(served: Served) -> None:
    browser = served.browser()
    hints = "prompt=select_account&login_hint=lee.gu@contoso.example&domain_hint=contoso.example"
    q = _query(browser.start(f"/login?{hints}"))
    assert (q["prompt"], q["login_hint"], q["domain_hint"]) == (
        "select_account", "lee.gu@contoso.example", "contoso.example")
    q = _query(browser.start(f"/login?{_urlencode(prompt='bogus', login_hint='a b', domain_hint='x/y')}"))
    assert "prompt" not in q and "login_hint" not in q and "domain_hint" not in q


def test_an_administrator_can_ask_for_admin_consent(served: Served, emulator: Emulator) -> None:
    """v1 authorize supports prompt=admin_consent; the Graph 403 page links it for administrators."""
    browser = served.browser()
    authorize_url = browser.start("/login?prompt=admin_consent")
    assert _query(authorize_url)["prompt"] == "admin_consent"
    page = browser.follow(browser.deliver(browser.authenticate(authorize_url)))
    assert page.status_code == 200 and "You are signed in" in page.text


def test_mounted_under_a_sub_path(serve: Callable[..., Served], emulator: Emulator) -> None:
    served = serve(mount="/auth")
    browser = served.browser()
    assert browser.get("/").headers["Location"] == "/auth/login"
    page = browser.sign_in("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert 'href="/auth/' in page.text and 'href="/auth/_aadweb/static/aadweb.css' in page.text
    confirm = browser.get("/logout")
    assert 'action="/auth/logout"' in confirm.text
    out = browser.post("/logout", data={"csrf_token": _hidden(confirm.text, "csrf_token")})
    assert out.status_code == 302
    signed_out = served.url.rsplit("/auth", 1)[0] + "/auth/signed-out"
    assert _query(out.headers["Location"])["post_logout_redirect_uri"] == signed_out
    app_locations = [h.headers["Location"] for h in browser.hops
                     if "Location" in h.headers and browser._is_app(h.url)
                     and not h.headers["Location"].startswith(served.settings.authority_host)]
    assert len(app_locations) >= 4
    assert all(loc.startswith("/auth/") for loc in app_locations), app_locations


def _hidden(page: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_forwarded_headers_are_ignored_without_trusted_hops(served: Served) -> None:
    browser = served.browser()
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/x",
              "Host": "evil.example"}
    resp = browser.get("/login", headers=forged)
    assert resp.status_code == 302 and _query(resp.headers["Location"])["redirect_uri"] == served.redirect_uri
    assert "Secure" not in resp.headers["Set-Cookie"] and "__Host-" not in resp.headers["Set-Cookie"]
    assert browser.get("/", headers=forged).headers["Location"] == "/login"


def test_trusted_proxy_hops_still_take_the_redirect_uri_from_settings(serve: Callable[..., Served]) -> None:
    served = serve(trusted_proxy_hops=1)
    resp = served.browser().get("/login", headers={"X-Forwarded-Host": "proxy.example", "X-Forwarded-Proto": "https"})
    assert _query(resp.headers["Location"])["redirect_uri"] == served.redirect_uri


def test_a_sign_in_from_another_browser_is_refused(served: Served) -> None:
    victim, attacker = served.browser(), served.browser()
    callback = attacker.authenticate(attacker.start())
    posted = attacker.deliver(callback)
    # The attacker lures the victim to the same-site GET: the victim's browser did not start it.
    victim.get("/login")
    resp = victim.get(posted.headers["Location"])
    assert resp.status_code == 400 and "not valid any more" in resp.text
    assert victim.cookie("aadweb_session") is None and served.store.counts()["sessions"] == 0
    assert attacker.get(posted.headers["Location"]).status_code == 400  # the state is spent


def test_no_browser_cookie_at_the_callback(served: Served, emulator: Emulator) -> None:
    browser = served.browser()
    posted = browser.deliver(browser.authenticate(browser.start()))
    browser.cookies.clear()
    resp = browser.get(posted.headers["Location"])
    assert resp.status_code == 400 and "Sign in again" in resp.text
    assert served.store.counts()["sessions"] == 0 and emulator.count("POST", "/oauth2/token") == 0


def test_hybrid_sign_in_without_a_token_endpoint_id_token_is_refused(served: Served, emulator: Emulator) -> None:
    """DESIGN step 5: the token response's id_token must name the validated user; none is a broken answer."""
    emulator.faults.add(Fault(kind="drop_field", endpoint="token", field="id_token", times=1))
    resp = served.browser().sign_in()
    assert resp.status_code == 502
    assert served.store.counts()["sessions"] == 0 and emulator.count("GET", "/v1.0/me") == 0


def _stored_tokens(served: Served, browser: Browser) -> TokenSet:
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    record = served.store.get_session(cookie.value.rpartition(".")[0])
    assert record is not None and record.tokens is not None
    return record.tokens


def test_token_answer_without_expires_in_uses_its_expires_on(served: Served, emulator: Emulator) -> None:
    """RFC 6749 5.1 only recommends expires_in: without it the server's expires_on is used."""
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=5000, times=1))
    emulator.faults.add(Fault(kind="drop_field", endpoint="token", field="expires_in", times=1))
    browser = served.browser()
    start = time.time()
    assert browser.sign_in().status_code == 200
    expires_on = _stored_tokens(served, browser).expires_on
    assert int(start) + 5000 <= expires_on <= time.time() + 5000
    graph = browser.get("/graphcall")
    assert graph.status_code == 200 and emulator.count("POST", "/oauth2/token") == 1  # no early refresh


def test_token_answer_without_expires_in_or_expires_on_assumes_ten_minutes(served: Served,
                                                                            emulator: Emulator) -> None:
    emulator.faults.add(Fault(kind="drop_field", endpoint="token", field="expires_in", times=1))
    emulator.faults.add(Fault(kind="drop_field", endpoint="token", field="expires_on", times=1))
    browser = served.browser()
    start = time.time()
    assert browser.sign_in().status_code == 200
    expires_on = _stored_tokens(served, browser).expires_on
    assert start + 600 <= expires_on <= time.time() + 600
    assert browser.get("/graphcall").status_code == 200 and emulator.count("POST", "/oauth2/token") == 1


def test_a_key_rotated_just_after_start_up_signs_in_at_once(served: Served, emulator: Emulator) -> None:
    """DESIGN.md (JWKS): the cold first fetch does not count against the 5-minute unknown-kid limit."""
    assert served.browser().sign_in().status_code == 200
    emulator.rotate_keys(keep_old=False)
    page = served.browser().sign_in()
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert emulator.count("GET", "/discovery/keys") == 2 and served.store.counts()["sessions"] == 2
