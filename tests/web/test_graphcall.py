"""``/graphcall``: the table, escaping, refresh before expiry, Graph 401s, throttling."""

from __future__ import annotations

from aadweb.emulator import Emulator, Fault
from tests.web.browser import Browser
from tests.web.conftest import Served


def _signed_in(served: Served) -> Browser:
    browser = served.browser()
    assert browser.sign_in().status_code == 200
    return browser


def _session_id(browser: Browser) -> str:
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    return cookie.value.rpartition(".")[0]


def _refresh_grants(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests
               if r.path.endswith("/oauth2/token") and r.form.get("grant_type") == "refresh_token")


def test_not_signed_in_goes_to_login_and_comes_back(served: Served) -> None:
    browser = served.browser()
    resp = browser.get("/graphcall")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login?next=/graphcall"
    page = browser.sign_in("/graphcall")
    assert page.url.endswith("/graphcall") and page.status_code == 200


def test_graphcall_shows_the_user_and_escapes_keys_and_values(served: Served, emulator: Emulator) -> None:
    browser = _signed_in(served)
    emulator.faults.add(Fault(kind="set_field", endpoint="graph", field="jobTitle",
                              value="<script>alert(1)</script>", times=1))
    emulator.faults.add(Fault(kind="set_field", endpoint="graph", field='<img src=x onerror="alert(2)">',
                              value="&amp; \"quoted\"", times=1))
    page = browser.get("/graphcall")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Adele Vance" in page.text and "adele.vance@contoso.example" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page.text
    assert "&amp;amp; &quot;quoted&quot;" in page.text
    assert "<script" not in page.text and "<img" not in page.text
    assert emulator.count("GET", "/v1.0/me") == 1


def test_a_demo_user_with_markup_in_the_directory_is_escaped(served: Served) -> None:
    browser = served.browser()
    browser.sign_in(user="lee.gu@contoso.example")
    page = browser.get("/graphcall")
    assert "Director, R&amp;D &lt;Labs&gt; &quot;North&quot;" in page.text and "<Labs>" not in page.text


def test_an_access_token_near_expiry_is_refreshed_once(served: Served, emulator: Emulator) -> None:
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    browser = _signed_in(served)
    before = served.store.get_session(_session_id(browser))
    assert before is not None and before.tokens is not None
    emulator.clear_requests()
    page = browser.get("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert _refresh_grants(emulator) == 1 and emulator.count("GET", "/v1.0/me") == 1
    after = served.store.get_session(_session_id(browser))
    assert after is not None and after.tokens is not None
    assert after.tokens.access_token != before.tokens.access_token and after.version == before.version + 1
    # The stored id_token stays the one validated at sign-in; a refresh's is not validated.
    assert before.tokens.id_token is not None and after.tokens.id_token == before.tokens.id_token
    emulator.clear_requests()
    assert browser.get("/graphcall").status_code == 200
    assert _refresh_grants(emulator) == 0  # the fresh token lasts an hour


def test_graph_401_refreshes_once_and_retries(served: Served, emulator: Emulator) -> None:
    browser = _signed_in(served)
    emulator.clear_requests()
    emulator.faults.graph_error("InvalidAuthenticationToken", status=401, times=1)
    page = browser.get("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert _refresh_grants(emulator) == 1 and emulator.count("GET", "/v1.0/me") == 2


def test_graph_401_twice_asks_to_sign_in_again(served: Served, emulator: Emulator) -> None:
    browser = _signed_in(served)
    session_id = _session_id(browser)
    emulator.clear_requests()
    emulator.faults.graph_error("InvalidAuthenticationToken", status=401, times=2)
    page = browser.get("/graphcall")
    assert page.status_code == 401 and "Please sign in again" in page.text and 'href="/login"' in page.text
    assert _refresh_grants(emulator) == 1 and emulator.count("GET", "/v1.0/me") == 2
    assert served.store.get_session(session_id) is None
    assert browser.cookie("aadweb_session") is None  # expired by the answer
    assert browser.get("/").headers["Location"] == "/login"


def test_a_refused_refresh_token_asks_to_sign_in_again(served: Served, emulator: Emulator) -> None:
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    browser = _signed_in(served)
    session_id = _session_id(browser)
    emulator.faults.token_error(70008)
    page = browser.get("/graphcall")
    assert page.status_code == 401 and "sign in again" in page.text.lower()
    assert served.store.get_session(session_id) is None and browser.cookie("aadweb_session") is None


def test_graph_throttling_shows_a_busy_page(served: Served, emulator: Emulator) -> None:
    browser = _signed_in(served)
    emulator.faults.graph_error("TooManyRequests", status=429, retry_after="30", times=1)
    page = browser.get("/graphcall")
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert "Microsoft Graph is busy" in page.text and "try again in 30 seconds" in page.text.lower()
    assert served.store.get_session(_session_id(browser)) is not None  # still signed in


def test_graph_403_is_a_403_asking_an_admin_to_consent(served: Served, emulator: Emulator) -> None:
    """Authorization_RequestDenied: the app lacks the permission or the consent (DESIGN.md: 403)."""
    browser = _signed_in(served)
    emulator.faults.graph_error("Authorization_RequestDenied", status=403, times=1)
    page = browser.get("/graphcall")
    assert page.status_code == 403 and "not allowed to read this" in page.text
    assert "administrator" in page.text and "consent" in page.text
    assert 'href="/login?prompt=admin_consent"' in page.text
    assert "request-id" in page.text and "Authorization_RequestDenied" in page.text
    assert served.store.get_session(_session_id(browser)) is not None  # still signed in


def test_other_graph_errors_show_the_request_id(served: Served, emulator: Emulator) -> None:
    browser = _signed_in(served)
    emulator.faults.graph_error("generalException", status=500, times=1)
    page = browser.get("/graphcall")
    assert page.status_code == 502 and "request-id" in page.text
    assert "generalException" in page.text


def test_a_busy_token_endpoint_during_a_refresh_is_waited_out_when_short(served: Served, emulator: Emulator) -> None:
    """A refresh honours a short Retry-After (<= 2 s, within the deadline) once, as Graph calls do."""
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    browser = _signed_in(served)
    emulator.clear_requests()
    emulator.faults.add(Fault(kind="error", endpoint="token", status=503, error="temporarily_unavailable",
                              retry_after="0.2", times=1))
    page = browser.get("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert _refresh_grants(emulator) == 2


def test_a_busy_token_endpoint_during_a_refresh_is_a_503_with_its_retry_after(
    served: Served, emulator: Emulator
) -> None:
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    browser = _signed_in(served)
    emulator.clear_requests()
    emulator.faults.add(Fault(kind="error", endpoint="token", status=429, error="temporarily_unavailable",
                              retry_after="30", times=1))
    page = browser.get("/graphcall")
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert "try again in 30 seconds" in page.text.lower()
    assert _refresh_grants(emulator) == 1 and emulator.count("GET", "/v1.0/me") == 0
    assert served.store.get_session(_session_id(browser)) is not None  # still signed in


def test_a_refresh_needing_interaction_asks_to_sign_in_again(served: Served, emulator: Emulator) -> None:
    """interaction_required / consent_required on a refresh (MFA, Conditional Access): sign in again."""
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    browser = _signed_in(served)
    session_id = _session_id(browser)
    emulator.faults.token_error(50076, error="interaction_required", status=400)
    page = browser.get("/graphcall")
    assert page.status_code == 401 and "sign in again" in page.text.lower()
    assert served.store.get_session(session_id) is None and browser.cookie("aadweb_session") is None
