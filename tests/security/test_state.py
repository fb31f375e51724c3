"""state: the callback is bound to the browser that started the sign-in, works once, and two
sign-ins in one browser never cross (RFC 6749 10.12, RFC 9700 2.1 and 4.7, OIDC Core 3.1.2.1)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from tests.hostile.harness import Rig
from tests.web.browser import Callback


def _without(callback: Callback, name: str) -> Callback:
    return dataclasses.replace(callback, fields={k: v for k, v in callback.fields.items() if k != name})


def _with(callback: Callback, **fields: str) -> Callback:
    return dataclasses.replace(callback, fields={**callback.fields, **fields})


@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_callback_without_state_is_refused(rig: Rig, code_rig: Rig, flow: str) -> None:
    r = rig if flow == "hybrid" else code_rig
    browser = r.browser()
    callback = browser.authenticate(browser.start())
    if callback.mode == "query":
        callback = dataclasses.replace(callback, url=callback.url.split("?")[0] + "?code=" + callback.fields["code"])
    page = r.deliver(browser, _without(callback, "state"))
    r.assert_refused(page, 400)
    assert r.idp.hits["token"] == 0 and r.idp.hits["jwks"] == 0


@pytest.mark.parametrize("state", ["forged-state-0123456789abcdef", "x" * 600, "st\u00e4te", "a b"])
def test_callback_with_wrong_state_is_refused(rig: Rig, state: str) -> None:
    browser = rig.browser()
    callback = browser.authenticate(browser.start())
    page = rig.deliver(browser, _with(callback, state=state))
    rig.assert_refused(page, 400)
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_callback_from_another_browser_is_refused(rig: Rig, code_rig: Rig, flow: str) -> None:
    """Login CSRF / code injection: the attacker's callback delivered in the victim's browser."""
    r = rig if flow == "hybrid" else code_rig
    attacker, victim = r.browser(), r.browser()
    callback = attacker.authenticate(attacker.start())
    victim.get("/login")  # the victim has a browser cookie of their own
    page = r.deliver(victim, callback)
    r.assert_refused(page, 400)
    # The state is spent even though it was refused: the attacker cannot use it either.
    again = r.deliver(attacker, callback)
    r.assert_refused(again, 400)
    assert r.idp.hits["token"] == 0


def test_callback_without_session_cookie_is_refused(rig: Rig) -> None:
    browser = rig.browser()
    callback = browser.authenticate(browser.start())
    browser.cookies.clear()
    page = rig.deliver(browser, callback)
    rig.assert_refused(page, 400)
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_state_replay_is_refused(rig: Rig, code_rig: Rig, flow: str) -> None:
    r = rig if flow == "hybrid" else code_rig
    browser = r.browser()
    callback = browser.authenticate(browser.start())
    assert r.deliver(browser, callback).status_code == 200  # the genuine sign-in
    replay = r.deliver(browser, callback)
    r.assert_refused(replay, 400, sessions=1)
    assert r.idp.hits["token"] == 1  # the code was never posted again


def test_hybrid_callback_fields_in_the_query_are_ignored(rig: Rig) -> None:
    """Response-mode confusion: in the hybrid flow the fields come only from the form_post stash;
    a GET carrying code and id_token in the query is not a callback (RFC 9700 4.1.1, OAuth
    Multiple Response Types 5)."""
    browser = rig.browser()
    callback = browser.authenticate(browser.start())
    page = rig.deliver(browser, dataclasses.replace(callback, mode="query",
                                                    url=f"{rig.url}/getAToken?{urlencode(callback.fields)}"))
    rig.assert_refused(page, 400)
    assert rig.idp.hits["token"] == 0


def test_two_tabs_do_not_cross_state_nonce_or_verifier(rig: Rig) -> None:
    """Two sign-ins started in two tabs of one browser both finish, each with its own nonce and
    PKCE verifier; a callback of one tab never completes the other's sign-in."""
    browser = rig.browser()
    first, second = browser.start(), browser.start()
    cb1, cb2 = browser.authenticate(first), browser.authenticate(second)
    a1, a2 = rig.idp.authorizations
    assert len({a1.state, a2.state}) == 2 and len({a1.nonce, a2.nonce}) == 2
    assert a1.code_challenge != a2.code_challenge
    assert rig.deliver(browser, cb2).status_code == 200
    assert rig.deliver(browser, cb1).status_code == 200
    assert [verified for _, _, verified in rig.idp.redeemed] == [True, True]
    assert [authz.state for _, authz, _ in rig.idp.redeemed] == [a2.state, a1.state]
    assert rig.store.counts()["sessions"] == 1  # the second sign-in replaced the first session
    rig.assert_nothing_leaked()


def test_tab_one_id_token_in_tab_two_callback_is_refused(rig: Rig) -> None:
    browser = rig.browser()
    cb1 = browser.authenticate(browser.start())
    cb2 = browser.authenticate(browser.start())
    # Tab 1's code and id_token, under tab 2's state: the nonce is tab 1's.
    crossed = _with(cb1, state=cb2.fields["state"])
    page = rig.deliver(browser, crossed)
    rig.assert_refused(page, 401)
    assert "nonce" in page.text and rig.idp.hits["token"] == 0


def test_tab_one_code_in_tab_two_code_flow_callback_is_refused(code_rig: Rig) -> None:
    """Code flow: tab 1's code under tab 2's state. Even a provider that forgets to check PKCE
    (so the code is redeemed) cannot get it accepted: the id_token's nonce is tab 1's."""
    code_rig.idp.script.check_pkce = False
    browser = code_rig.browser()
    cb1 = browser.authenticate(browser.start())
    cb2 = browser.authenticate(browser.start())
    crossed = dataclasses.replace(cb2, url=cb2.url.replace(cb2.fields["code"], cb1.fields["code"]))
    page = code_rig.deliver(browser, crossed)
    code_rig.assert_refused(page, 401)
    assert [verified for _, _, verified in code_rig.idp.redeemed] == [False]  # tab 2's verifier, tab 1's code


def test_state_replay_race_is_refused(rig: Rig) -> None:
    """The same callback delivered twice at once: the pending sign-in is taken atomically, so
    exactly one sign-in completes and the code is redeemed once."""
    browser = rig.browser()
    callback = browser.authenticate(browser.start())
    posted = browser.deliver(callback)
    assert posted.status_code == 303
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: browser.get(posted.headers["Location"]), range(4)))
    assert sorted(a.status_code for a in answers) == [303, 400, 400, 400]
    assert rig.idp.hits["token"] == 1 and rig.store.counts()["sessions"] == 1
    rig.assert_nothing_leaked()


def test_expired_state_is_refused(rig: Rig, code_rig: Rig) -> None:
    """A pending sign-in lives 10 minutes (DESIGN.md); after that its callback is refused."""
    for r in (rig, code_rig):
        browser = r.browser()
        callback = browser.authenticate(browser.start())
        r.clock.advance(601)
        r.assert_refused(r.deliver(browser, callback), 400)
    assert rig.idp.hits["token"] == 0


def test_expired_session_is_not_accepted(rig: Rig) -> None:
    browser = rig.sign_in()
    rig.clock.advance(8 * 3600 + 1)
    page = rig.get(browser, "/graphcall")
    assert page.status_code == 302 and not browser._is_app(page.headers["Location"])
    assert rig.idp.hits["graph"] == 0


@pytest.mark.parametrize("field", ["code", "id_token", "state", "session_state"])
def test_callback_with_repeated_fields_is_refused(rig: Rig, field: str) -> None:
    """RFC 6749 3.1: response parameters MUST NOT be included more than once."""
    browser = rig.browser()
    callback = browser.authenticate(browser.start())
    body = urlencode(callback.fields) + "&" + urlencode({field: callback.fields[field] + "x"})
    posted = browser.post(callback.url, data=body, send_cookies=False,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    page = browser.follow(posted)
    rig.assert_refused(page, 400)
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("fields", [
    {"code": "has\ttab"}, {"code": "caf\u00e9"}, {"code": "x" * 9000}, {"code": ""},
    {"session_state": "s" * 600}, {"session_state": "a\u00a0b"},
], ids=["code-tab", "code-unicode", "code-huge", "code-empty", "session-state-huge", "session-state-nbsp"])
def test_callback_with_malformed_fields_is_refused(rig: Rig, fields: dict[str, str]) -> None:
    browser = rig.browser()
    callback = browser.authenticate(browser.start())
    page = rig.deliver(browser, _with(callback, **fields))
    rig.assert_refused(page, "4xx")
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("error", [
    {"error": "access_denied", "error_description": "<script>alert(1)</script>\r\nSet-Cookie: pwned=1"},
    {"error": "<script>alert(1)</script>", "error_description": "AADSTS50011: <b>x</b>"},
    {"error": "server_error\r\nSet-Cookie: pwned=1"},
    {"error": "invalid_request", "error_description": "D" * 60_000},
], ids=["markup-description", "markup-error", "crlf-error", "huge-description"])
@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_authorization_error_callback_is_harmless(rig: Rig, code_rig: Rig, error: dict[str, str],
                                                  flow: str) -> None:
    r = rig if flow == "hybrid" else code_rig
    r.idp.script.callback = lambda authz, fields: {"state": fields["state"], **error}
    page = r.attempt()
    r.assert_refused(page, "4xx")
    assert "<script>" not in page.text and "<b>" not in page.text
    assert all("pwned" not in value for value in page.headers.values())
    assert r.idp.hits["token"] == 0
    for record in r.caplog.records:
        assert "\n" not in record.getMessage() and "\r" not in record.getMessage()



def test_hybrid_error_sent_back_by_get_shows_the_authoritys_explanation(rig: Rig) -> None:
    """Azure AD answers some errors with a GET to the redirect URI although form_post was asked:
    the state still has to be this browser's and is spent, and the page explains the AADSTS code
    (DESIGN table, row 1), instead of "the answer never arrived"."""
    trace, correlation = "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", "aaaa0000-bb11-4222-83cc-444444dddddd"
    description = (f"AADSTS65004: User declined to consent to access the app.\r\nTrace ID: {trace}\r\n"
                   f"Correlation ID: {correlation}\r\nTimestamp: 2024-01-01 00:00:00Z")
    rig.idp.script.response_mode = "query"
    rig.idp.script.callback = lambda authz, fields: {"error": "consent_required", "error_description": description,
                                                     "state": fields["state"]}
    # Another browser's error answer is refused like any foreign state, and spent.
    attacker, browser = rig.browser(), rig.browser()
    foreign = attacker.authenticate(attacker.start())
    browser.get("/login")
    page = rig.deliver(browser, foreign)
    rig.assert_refused(page, 400)
    assert "not valid any more" in page.text and "AADSTS65004" not in page.text
    assert "not valid any more" in rig.deliver(attacker, foreign).text

    callback = browser.authenticate(browser.start())
    assert callback.mode == "query" and "error=consent_required" in callback.url
    pending = rig.store.counts()["pending"]
    page = rig.deliver(browser, callback)
    rig.assert_refused(page, 400)
    assert "AADSTS65004" in page.text and "declined to consent" in page.text
    assert trace in page.text and correlation in page.text and "not valid any more" not in page.text
    assert rig.idp.hits["token"] == 0 and rig.idp.hits["jwks"] == 0
    assert browser.cookie("aadweb_session") is None and rig.store.counts()["pending"] == pending - 1
    again = rig.deliver(browser, callback)  # the state was consumed
    rig.assert_refused(again, 400)
    assert "not valid any more" in again.text
