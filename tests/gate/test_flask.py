"""examples/flask_app.py behind the gate: ``AADWEB_APP=examples.flask_app:app gunicorn -w 2 aadweb.wsgi:app``,
against the emulator on loopback, over real sockets (DESIGN.md "Protecting an app").

Whether the app was called is read from the app's own audit log (EXAMPLE_AUDIT_LOG), never
from gunicorn's access log, which also lists what the gate answered by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aadweb.emulator import DEMO_API_RESOURCE, DEMO_REPORTS_RESOURCE, GRAPH_RESOURCE, Emulator, EmulatorServer
from tests.gate.support import (
    ADELE,
    ALEX,
    MEGAN,
    NAVIGATE,
    RETAIL,
    SALES,
    GateBrowser,
    Gated,
    gunicorn_gate,
    json_strings,
    requires_gate,
)

pytestmark = [requires_gate, pytest.mark.timeout(120)]

FLASK = "examples.flask_app:app"
PUBLIC = {"AADWEB_PUBLIC_PATHS": "/public/"}
SPOOFED = {
    "X-Auth-Request-User": "mallory@evil.example",
    "X-Auth-Request-Email": "mallory@evil.example",
    "X-Auth-Request-Roles": "Admin",
    "X-MS-CLIENT-PRINCIPAL-NAME": "mallory@evil.example",
    "X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-0000-0000-00000000bad0",
    "Remote-User": "mallory@evil.example",
}


@pytest.fixture(scope="module")
def flask_gate(emulator_server: tuple[Emulator, EmulatorServer], tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[Gated]:
    """One protected Flask app for the tests that need no AADWEB_REQUIRE_* setting."""
    emulator, server = emulator_server
    with gunicorn_gate(emulator, server.url, tmp_path_factory.mktemp("flask"), app=FLASK, env=PUBLIC) as gated:
        yield gated


@pytest.fixture(scope="module")
def adele(flask_gate: Gated) -> GateBrowser:
    """A browser signed in as Adele (once per module; her session serves several tests)."""
    browser = GateBrowser()
    assert browser.sign_in(f"{flask_gate.url}/").status_code == 200
    return browser


#: Graph's routes for a user's groups (the emulator serves all but checkMemberGroups).
_MEMBERSHIP_ROUTES = frozenset({"memberOf", "transitiveMemberOf", "getMemberObjects", "getMemberGroups",
                                "checkMemberGroups"})


def _cell(html: str, cell_id: str) -> str:
    start = html.index(f"id='{cell_id}'>") + len(f"id='{cell_id}'>")
    return unescape(html[start:html.index("</td>", start)])


# --- signing in from a deep link --------------------------------------------------------------------


def test_a_signed_out_deep_link_signs_in_and_comes_back_to_the_same_path_and_query(flask_gate: Gated) -> None:
    browser = GateBrowser()
    first = browser.request("GET", f"{flask_gate.url}/some/path?x=1&y=2")
    assert first.status_code in (302, 303), (first.status_code, first.text[:300])  # a redirect, never the page
    page = browser.finish_at_authority(browser.get(f"{flask_gate.url}/some/path?x=1&y=2"))
    assert page.status_code == 200, (page.status_code, page.text[:500], browser.hops)
    assert page.url == f"{flask_gate.url}/some/path?x=1&y=2", browser.hops
    assert _cell(page.text, "remote-user") == ADELE  # REMOTE_USER: the UPN
    assert _cell(page.text, "name") == "Adele Vance"  # environ["aadweb.user"].name
    assert _cell(page.text, "path") == "/some/path?x=1&y=2"
    served = [line for line in flask_gate.audit_lines() if line["path"] == "/some/path"]
    assert served and all(line["user"] == ADELE for line in served)


def test_graph_me_works_with_the_token_from_the_gate(flask_gate: Gated, adele: GateBrowser,
                                                     emulator: Emulator) -> None:
    page = adele.get(f"{flask_gate.url}/me")
    assert page.status_code == 200, page.text[:500]
    assert "Graph /me" in page.text and ADELE in page.text and "Adele Vance" in page.text
    assert emulator.count("GET", "/v1.0/me") == 1  # the app's own call, through the emulator


def test_access_tokens_for_graph_and_for_a_second_api(flask_gate: Gated, adele: GateBrowser,
                                                      emulator: Emulator) -> None:
    """access_token() is for the sign-in's resource; access_token(resource=...) for another one,
    from the multi-resource refresh token (v1): each token's aud is the resource asked for."""
    graph = adele.get(f"{flask_gate.url}/api/token-audience", headers={"Accept": "application/json"})
    assert graph.status_code == 200, graph.text[:300]
    assert graph.json()["aud"] == GRAPH_RESOURCE
    api = adele.get(f"{flask_gate.url}/api/token-audience", params={"resource": DEMO_API_RESOURCE},
                    headers={"Accept": "application/json"})
    assert api.status_code == 200, api.text[:300]
    assert api.json()["aud"] == DEMO_API_RESOURCE and api.json()["scp"] == "access_as_user"
    refreshes = [r for r in emulator.requests if r.path.endswith("/oauth2/token")
                 and r.form.get("grant_type") == "refresh_token"]
    assert [r.form.get("resource") for r in refreshes] == [DEMO_API_RESOURCE]


def test_a_resource_without_consent_sends_a_browser_to_consent_and_an_api_call_gets_401(
        flask_gate: Gated, emulator: Emulator) -> None:
    """ConsentRequired from access_token(): a browser goes to the authority and back to the same
    URL; an API call gets 401, never a redirect."""
    browser = GateBrowser()
    assert browser.sign_in(f"{flask_gate.url}/").status_code == 200
    url = f"{flask_gate.url}/api/token-audience?resource={DEMO_REPORTS_RESOURCE}"
    api = browser.request("GET", url, headers={"Accept": "application/json"})
    assert api.status_code == 401 and "Location" not in api.headers, (api.status_code, api.headers)
    first = browser.request("GET", url)
    assert first.status_code in (302, 303), (first.status_code, first.text[:300])
    page = browser.get(url)
    query = parse_qs(urlsplit(page.url).query)
    assert query.get("resource") == [DEMO_REPORTS_RESOURCE], page.url  # the authority is asked for that resource
    back = browser.finish_at_authority(page)
    assert back.status_code == 200 and back.url == url, (back.status_code, back.url, browser.hops)
    assert back.json()["aud"] == DEMO_REPORTS_RESOURCE
    assert emulator.has_consent(flask_gate.client_id, DEMO_REPORTS_RESOURCE, ADELE)


# --- signed out: API calls and public paths ---------------------------------------------------------


@pytest.mark.parametrize(("method", "headers"), [
    ("GET", {"Accept": "application/json"}),
    ("GET", {**NAVIGATE, "X-Requested-With": "XMLHttpRequest"}),
    ("GET", {"Accept": "*/*", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}),
    ("POST", NAVIGATE),
], ids=["accept-json", "x-requested-with", "fetch-cors", "post"])
def test_an_api_style_request_signed_out_gets_401_json_naming_the_login_url(
        flask_gate: Gated, method: str, headers: dict[str, str]) -> None:
    before = len(flask_gate.audit_lines())
    resp = requests.request(method, f"{flask_gate.url}/api/hello?x=1", headers=headers, data={"a": "b"},
                            allow_redirects=False, timeout=10)
    assert resp.status_code == 401, (resp.status_code, resp.headers, resp.text[:300])
    assert "Location" not in resp.headers
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body, dict)
    assert any("/.auth/login" in s for s in json_strings(body)), body  # names the login URL
    assert len(flask_gate.audit_lines()) == before  # the app was not called


def test_a_public_path_passes_signed_out(flask_gate: Gated) -> None:
    for headers in (NAVIGATE, {"Accept": "application/json"}):
        resp = requests.get(f"{flask_gate.url}/public/health", headers=headers, allow_redirects=False, timeout=10)
        assert resp.status_code == 200, (resp.status_code, resp.text[:300])
        assert resp.json() == {"status": "ok", "signed_in": False}
    assert requests.get(f"{flask_gate.url}/publicity", headers=NAVIGATE, allow_redirects=False,
                        timeout=10).status_code in (302, 303)  # only what is under /public/


# --- identity comes only from the gate --------------------------------------------------------------


def test_spoofed_identity_headers_never_reach_the_app_signed_in(flask_gate: Gated, adele: GateBrowser) -> None:
    resp = adele.get(f"{flask_gate.url}/echo-headers", headers={**SPOOFED, "Accept": "application/json"})
    assert resp.status_code == 200, resp.text[:300]
    seen = resp.json()
    assert seen["environ"]["REMOTE_USER"] == ADELE and seen["username"] == ADELE
    assert seen["environ"]["HTTP_X_AUTH_REQUEST_USER"] is None
    assert seen["environ"]["HTTP_X_MS_CLIENT_PRINCIPAL_NAME"] is None
    assert seen["environ"]["HTTP_REMOTE_USER"] is None, "the client's Remote-User header reached the app"
    assert "mallory" not in resp.text, seen["headers"]
    assert {"aadweb.user", "aadweb.access_token"} <= set(seen["aadweb_keys"])


def test_spoofed_identity_headers_never_reach_the_app_on_a_public_path(flask_gate: Gated) -> None:
    resp = requests.get(f"{flask_gate.url}/public/echo-headers", headers={**SPOOFED, "Accept": "application/json"},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 200, resp.text[:300]
    seen = resp.json()
    assert seen["environ"]["REMOTE_USER"] is None and seen["username"] is None
    assert "mallory" not in resp.text, seen["headers"]
    assert not [key for key in seen["aadweb_keys"] if key == "aadweb.user"]


def test_the_app_never_sees_aadwebs_cookies_but_keeps_its_own(flask_gate: Gated, adele: GateBrowser) -> None:
    gate_cookies = {c.name: c.value for c in adele.http.cookies}
    assert gate_cookies, "the gate set no cookie"
    adele.http.cookies.set("app_pref", "dark", domain="127.0.0.1", path="/")
    try:
        resp = adele.get(f"{flask_gate.url}/echo-headers", headers={"Accept": "application/json"})
    finally:
        adele.http.cookies.clear(domain="127.0.0.1", path="/", name="app_pref")
    assert resp.status_code == 200, resp.text[:300]
    cookie = resp.json()["environ"]["HTTP_COOKIE"] or ""
    assert "app_pref=dark" in cookie  # the app's own cookie still reaches it
    for name, value in gate_cookies.items():
        assert name not in cookie and value not in cookie, f"aadweb's cookie {name} reached the app"


# --- aadweb's own routes ----------------------------------------------------------------------------


def test_me_and_verify_answer_for_the_session(flask_gate: Gated, adele: GateBrowser) -> None:
    signed_out = {path: requests.get(f"{flask_gate.url}/.auth/{path}", headers=NAVIGATE, allow_redirects=False,
                                     timeout=10) for path in ("me", "verify")}
    assert {path: r.status_code for path, r in signed_out.items()} == {"me": 401, "verify": 401}
    me = adele.get(f"{flask_gate.url}/.auth/me", headers={"Accept": "application/json"})
    assert me.status_code == 200 and ADELE in json_strings(me.json()), me.text[:300]
    verify = adele.get(f"{flask_gate.url}/.auth/verify")
    assert verify.status_code == 202, verify.status_code
    assert verify.headers["X-Auth-Request-User"] == ADELE
    assert verify.headers.get("X-Auth-Request-Email", "") in ("", ADELE)  # v1 id_tokens carry no email claim
    assert verify.headers["X-Auth-Request-Tid"] and verify.headers["X-Auth-Request-Oid"]
    assert verify.headers.get("X-Auth-Request-Roles", "") == ""  # a fresh app: no roles, no group claims
    assert verify.headers.get("X-Auth-Request-Groups", "") == ""


# --- roles and groups, checked before the app is called -----------------------------------------------


def test_a_missing_role_is_a_403_page_and_the_app_is_not_called(emulator: Emulator, emulator_url: str,
                                                                tmp_path: Path) -> None:
    with gunicorn_gate(emulator, emulator_url, tmp_path, app=FLASK, env={"AADWEB_REQUIRE_ROLES": "Admin"}) as gated:
        browser = GateBrowser()
        refused = browser.sign_in(f"{gated.url}/reports?q=1")
        assert refused.status_code == 403, (refused.status_code, refused.text[:500], browser.hops)
        assert ADELE in refused.text or "Adele Vance" in refused.text  # who is signed in
        assert "Admin" in refused.text  # what is missing
        again = browser.request("GET", f"{gated.url}/echo-headers", headers={"Accept": "application/json"})
        assert again.status_code == 403  # signed in without the role: 403, not 401
        verify = browser.request("GET", f"{gated.url}/.auth/verify")
        assert verify.status_code == 403
        assert gated.audit_lines() == [], "the app was called for a user without the role"

        emulator.assign_app_role(gated.client_id, MEGAN, "Admin")
        megan = GateBrowser()
        page = megan.sign_in(f"{gated.url}/reports?q=1", MEGAN)
        assert page.status_code == 200 and page.url == f"{gated.url}/reports?q=1", \
            (page.status_code, page.text[:800], megan.hops)
        assert _cell(page.text, "remote-user") == MEGAN and "Admin" in _cell(page.text, "roles").split(", ")
        assert {line["user"] for line in gated.audit_lines()} == {MEGAN}


def test_a_required_group_with_overage_is_resolved_through_graph_once_per_session(
        emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    """Adele's two groups overflow both channels (hasgroups on the front channel, _claim_names on
    the token endpoint's): the gate asks Graph once for her session, across pages and workers."""
    limits = emulator.overage_limits
    emulator.set_overage_limits(front=1, back=1)
    try:
        with gunicorn_gate(emulator, emulator_url, tmp_path, app=FLASK,
                           env={"AADWEB_REQUIRE_GROUPS": SALES}) as gated:
            emulator.set_group_membership_claims(gated.client_id, "SecurityGroup")
            emulator.requests.clear()
            browser = GateBrowser()
            page = browser.sign_in(f"{gated.url}/")
            assert page.status_code == 200, (page.status_code, page.text[:500], browser.hops)
            assert set(_cell(page.text, "groups").split(", ")) == {SALES, RETAIL}  # aadweb.user.groups, resolved
            for path in ("/", "/a", "/b?c=d", "/echo-headers", "/"):
                assert browser.get(f"{gated.url}{path}").status_code == 200, path
            membership_calls = [(r.method, r.path) for r in emulator.requests
                                if r.path.rsplit("/", 1)[-1] in _MEMBERSHIP_ROUTES]
            assert len(membership_calls) == 1, membership_calls  # once for the session, whatever the route
            assert len({line["pid"] for line in gated.audit_lines()}) >= 1

            alex = GateBrowser()  # in no group: refused, the app not called for him
            refused = alex.sign_in(f"{gated.url}/", ALEX)
            assert refused.status_code == 403, (refused.status_code, alex.hops)
            assert ALEX in refused.text or "Alex Wilber" in refused.text  # who is signed in
            assert SALES in refused.text  # what is missing
            assert ALEX not in {line["user"] for line in gated.audit_lines()}
    finally:
        emulator.set_overage_limits(front=limits.front, back=limits.back)
