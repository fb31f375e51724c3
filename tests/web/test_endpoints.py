"""The same app on AADWEB_ENDPOINT v1 and v2, through the real emulator and real sockets.

Behaviour that is the same on both endpoints is one test parametrised by ``endpoint``
(DESIGN.md: parametrise, do not copy): both flows, refresh, Graph ``/graphcall``, the gate's
``access_token()``. v2-only rules follow: the wire (paths, ``scope``), the id_token checks
(issuer, audience, ``ver``, never unsigned), multi-tenant ``common``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_TENANT_ID, FABRIKAM_TENANT_ID, FABRIKAM_USERS, Emulator, Fault
from tests.appserver import running_app
from tests.web.browser import Browser
from tests.web.conftest import Served

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
API = "api://aadweb-demo-api"
ADELE = "adele.vance@contoso.example"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _path(endpoint: str, step: str) -> str:
    return f"/oauth2/v2.0/{step}" if endpoint == "v2" else f"/oauth2/{step}"


def _token_forms(emulator: Emulator, endpoint: str) -> list[dict[str, str]]:
    return [dict(r.form) for r in emulator.requests if r.method == "POST" and r.path.endswith(_path(endpoint, "token"))]


def _session_id(browser: Browser) -> str:
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    return cookie.value.rpartition(".")[0]


@pytest.mark.parametrize("response_type", ["code id_token", "code"])
def test_sign_in_graphcall_and_refresh_on_each_endpoint(
    serve: Callable[..., Served], emulator: Emulator, endpoint: str, response_type: str
) -> None:
    served = serve(endpoint=endpoint, response_type=response_type)
    browser = served.browser()
    authorize = browser.start("/")
    q = _query(authorize)
    assert authorize.startswith(f"{served.settings.authority_host}/{DEMO_TENANT_ID}{_path(endpoint, 'authorize')}?")
    assert q["response_type"] == response_type and q["nonce"] and q["code_challenge_method"] == "S256"
    if endpoint == "v2":
        assert "resource" not in q and q["scope"] == "openid profile offline_access User.Read"
    else:
        assert q["resource"] == "https://graph.microsoft.com" and q["scope"] == "openid"
    home = browser.follow(browser.deliver(browser.authenticate(authorize)))
    assert home.status_code == 200 and "Adele Vance" in home.text

    (redeem,) = _token_forms(emulator, endpoint)
    assert redeem["grant_type"] == "authorization_code" and redeem["code_verifier"]
    if endpoint == "v2":
        assert "resource" not in redeem and redeem["scope"] == "openid profile offline_access User.Read"
    else:
        assert redeem["resource"] == "https://graph.microsoft.com" and "scope" not in redeem
    record = served.store.get_session(_session_id(browser))
    assert record is not None and record.tokens is not None
    # The Graph token's audience: Graph's app id for the bare v2 scope, its URI on v1.
    assert _claims(record.tokens.access_token.reveal())["aud"] == (
        GRAPH_APP_ID if endpoint == "v2" else "https://graph.microsoft.com")
    assert record.claims["tid"] == DEMO_TENANT_ID and record.claims["oid"]
    expected_iss = (f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0" if endpoint == "v2"
                    else f"https://sts.windows.net/{DEMO_TENANT_ID}/")
    assert record.claims["iss"] == expected_iss

    page = browser.get("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    # A forced refresh (Graph says 401 once) goes to the same endpoint with the same target.
    emulator.faults.add(Fault(kind="error", endpoint="graph", status=401, code="InvalidAuthenticationToken", times=1))
    emulator.clear_requests()
    page = browser.get("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    (refresh,) = _token_forms(emulator, endpoint)
    assert refresh["grant_type"] == "refresh_token"
    if endpoint == "v2":
        assert refresh["scope"] == "openid profile offline_access User.Read" and "resource" not in refresh
    else:
        assert refresh["resource"] == "https://graph.microsoft.com"
    after = served.store.get_session(_session_id(browser))
    assert after is not None and after.tokens is not None
    assert after.tokens.access_token != record.tokens.access_token


def _token_app(asks: Callable[[Callable[..., str]], str]) -> Callable[..., Iterable[bytes]]:
    """A protected app answering with the claims of the access token ``asks`` gets."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        token = asks(environ["aadweb.access_token"])
        body = json.dumps({"aud": _claims(token)["aud"], "user": environ["REMOTE_USER"]}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


def test_gate_access_token_is_for_the_sign_in(serve: Callable[..., Served], endpoint: str) -> None:
    served = serve(endpoint=endpoint, callback="/.auth/callback", app=_token_app(lambda get: get()))
    page = served.browser().sign_in("/")
    assert page.status_code == 200, page.text[:300]
    assert page.json() == {"aud": GRAPH_APP_ID if endpoint == "v2" else "https://graph.microsoft.com",
                           "user": ADELE}


def test_gate_access_token_for_another_api(serve: Callable[..., Served], emulator: Emulator, endpoint: str) -> None:
    # v1 asks by resource; v2 by the API's scope (and resource= means {resource}/.default there).
    def asks(get: Callable[..., str]) -> str:
        return get(scopes=[f"{API}/access_as_user"]) if endpoint == "v2" else get(resource=API)

    served = serve(endpoint=endpoint, callback="/.auth/callback", app=_token_app(asks))
    browser = served.browser()
    page = browser.sign_in("/")
    assert page.status_code == 200, page.text[:300]
    assert page.json()["aud"] == API
    record = served.store.get_session(_session_id(browser))
    assert record is not None and record.tokens is not None
    key = f"{API}/access_as_user" if endpoint == "v2" else API
    assert list(record.tokens.others) == [key]  # kept in the session: the next request refreshes nothing
    emulator.clear_requests()
    assert browser.get("/").json()["aud"] == API
    assert _token_forms(emulator, endpoint) == []


def test_v2_resource_means_its_default_scope(serve: Callable[..., Served], emulator: Emulator) -> None:
    served = serve(endpoint="v2", callback="/.auth/callback", app=_token_app(lambda get: get(resource=API)))
    page = served.browser().sign_in("/")
    assert page.status_code == 200 and page.json()["aud"] == API
    refresh = [f for f in _token_forms(emulator, "v2") if f["grant_type"] == "refresh_token"]
    assert refresh and refresh[-1]["scope"] == f"openid profile offline_access {API}/.default"


def test_scopes_are_refused_on_v1(serve: Callable[..., Served]) -> None:
    def asks(get: Callable[..., str]) -> str:
        try:
            get(scopes=["User.Read"])
        except ValueError as exc:
            return "x." + base64.urlsafe_b64encode(json.dumps({"aud": str(exc)}).encode()).decode() + ".x"
        raise AssertionError("scopes were taken on v1")

    served = serve(callback="/.auth/callback", app=_token_app(asks))
    page = served.browser().sign_in("/")
    assert "v2.0 endpoint" in page.json()["aud"]


# --- v2: the token endpoint's id_token is validated in full ---------------------------------


@pytest.mark.parametrize(("claims", "why"), [
    ({"iss": f"https://sts.windows.net/{DEMO_TENANT_ID}/"}, "v1 issuer"),
    ({"iss": f"https://login.microsoftonline.com/{FABRIKAM_TENANT_ID}/v2.0"}, "another tenant's issuer"),
    ({"aud": DEMO_CLIENT_ID}, "another client"),
    ({"ver": "1.0"}, "v1 version"),
    ({"ver": None}, "no version"),
    ({"nonce": "another"}, "wrong nonce"),
    ({"exp": 1_000_000}, "expired"),
])
def test_v2_code_flow_refuses_a_bad_id_token(
    serve: Callable[..., Served], emulator: Emulator, claims: dict[str, Any], why: str
) -> None:
    served = serve(endpoint="v2")
    assert served.settings.response_type == "code"  # v2's default
    emulator.faults.add(Fault(kind="id_token_claims", endpoint="token", claims=claims, times=1))
    browser = served.browser()
    page = browser.follow(browser.deliver(browser.authenticate(browser.start("/"))))
    assert page.status_code == 401, why
    assert browser.cookie("aadweb_session") is None and served.store.counts()["sessions"] == 0


def test_v2_refuses_an_unsigned_id_token(serve: Callable[..., Served], emulator: Emulator) -> None:
    served = serve(endpoint="v2")
    browser = served.browser()
    authorize = browser.start("/")
    # What v1's token endpoint sends (alg none), with every claim a valid v2 token carries: only
    # the missing signature is wrong.
    now = int(time.time())
    claims = {"aud": served.settings.client_id, "iss": f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0",
              "iat": now, "nbf": now, "exp": now + 3600, "tid": DEMO_TENANT_ID, "oid": "oid-1", "sub": "sub-1",
              "ver": "2.0", "nonce": _query(authorize)["nonce"]}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    unsigned = f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}."
    emulator.faults.add(Fault(kind="set_field", endpoint="token", field="id_token", value=unsigned, times=1))
    page = browser.follow(browser.deliver(browser.authenticate(authorize)))
    assert page.status_code == 401
    assert served.store.counts()["sessions"] == 0


def test_v2_hybrid_flow_stays_available(serve: Callable[..., Served], emulator: Emulator) -> None:
    served = serve(endpoint="v2", response_type="code id_token")
    browser = served.browser()
    authorize = browser.start("/")
    assert _query(authorize)["response_mode"] == "form_post"
    callback = browser.authenticate(authorize)
    assert callback.mode == "form_post" and "id_token" in callback.fields
    assert _claims(callback.fields["id_token"])["ver"] == "2.0"
    assert browser.follow(browser.deliver(callback)).status_code == 200


# --- v2 multi-tenant ------------------------------------------------------------------------


def test_v2_common_signs_in_allowed_tenants_only(emulator: Emulator, emulator_url: str) -> None:
    with running_app(emulator, emulator_url, tenant="common", endpoint="v2",
                     allowed_tenants=(DEMO_TENANT_ID,)) as app:
        browser = Browser(app.url)
        authorize = browser.start()
        assert "/common/oauth2/v2.0/authorize?" in authorize
        page = browser.follow(browser.deliver(browser.authenticate(authorize, user=ADELE)))
        assert page.status_code == 200 and "Adele Vance" in page.text
        assert browser.get("/graphcall").status_code == 200

        other = Browser(app.url)
        page = other.follow(other.deliver(other.authenticate(other.start(), user=FABRIKAM_USERS[0].upn)))
        assert page.status_code == 403 and "Your organisation is not allowed" in page.text
        assert other.cookie("aadweb_session") is None


# --- consent for another API: the round trip asks exactly what was refused ------------------


def test_consent_required_round_trip_asks_for_the_refused_target(
    serve: Callable[..., Served], emulator: Emulator, endpoint: str
) -> None:
    def asks(get: Callable[..., str]) -> str:
        return get(scopes=[f"{API}/access_as_user"]) if endpoint == "v2" else get(resource=API)

    api = _token_app(asks)
    home = _token_app(lambda get: get())

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return (api if environ["PATH_INFO"] == "/api" else home)(environ, start_response)

    served = serve(endpoint=endpoint, callback="/.auth/callback", app=app)
    browser = served.browser()
    assert browser.sign_in("/").status_code == 200
    # An API call (not a browser navigation) gets a 401 naming what needs consent.
    emulator.faults.token_error(65001, error="invalid_grant")
    answer = browser.get("/api", headers={"Accept": "application/json"})
    assert answer.status_code == 401 and answer.json()["error"] == "consent_required"
    if endpoint == "v2":
        assert answer.json()["scopes"] == [f"{API}/access_as_user"]
    else:
        assert answer.json()["resource"] == API
    # A browser is sent to the authority for exactly that, and back to the same URL.
    emulator.faults.token_error(65001, error="invalid_grant")
    authorize = browser.start("/api?x=1")
    q = _query(authorize)
    assert q["prompt"] == "consent"
    if endpoint == "v2":
        assert q["scope"] == f"openid profile offline_access {API}/access_as_user" and "resource" not in q
    else:
        assert q["resource"] == API
    page = browser.follow(browser.deliver(browser.authenticate(authorize)))
    assert page.status_code == 200 and page.url.endswith("/api?x=1") and page.json()["aud"] == API
