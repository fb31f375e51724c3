"""The authorize endpoint: the sign-in page, the POST contract, errors as pages or callbacks."""

from __future__ import annotations

import base64
import hashlib
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aadweb.emulator import (
    DEMO_CLIENT_ID,
    DEMO_TENANT_DOMAIN,
    DEMO_TENANT_ID,
    DEMO_USERS,
    FABRIKAM_USERS,
    ClientRegistration,
    Emulator,
)

from .support import (
    ADELE,
    REDIRECT_URI,
    TIMEOUT,
    authorize_params,
    parse_form,
    sign_in,
    verify_front_channel,
)


def authorize(base: str, params: dict[str, str], method: str = "GET",
              tenant: str = DEMO_TENANT_ID) -> requests.Response:
    url = f"{base}/{tenant}/oauth2/authorize"
    if method == "GET":
        return requests.get(url, params=params, allow_redirects=False, timeout=TIMEOUT)
    return requests.post(url, data=params, allow_redirects=False, timeout=TIMEOUT)


def callback(resp: requests.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text[:300]
    parts = urlsplit(resp.headers["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(parts.fragment or parts.query).items()}


def test_sign_in_page_offers_the_tenants_users_in_one_post_form(base: str) -> None:
    params = authorize_params(state='s"<&>', login_hint="megan.bowen@contoso.example")
    resp = authorize(base, params)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    form = parse_form(resp.text)
    assert form.method == "post" and form.action == f"/{DEMO_TENANT_ID}/oauth2/authorize"
    assert form.hidden == params  # every original parameter, escaped and round-tripped
    users = [value or "" for name, value in form.buttons if name == "user"]
    assert users[0] == "megan.bowen@contoso.example"  # the login_hint comes first
    assert sorted(users) == sorted(u.upn for u in DEMO_USERS)
    assert ("cancel", "1") in form.buttons
    assert FABRIKAM_USERS[0].upn not in resp.text


def test_common_page_offers_users_of_every_tenant(base: str) -> None:
    form = parse_form(authorize(base, authorize_params(), tenant="common").text)
    users = {value for name, value in form.buttons if name == "user"}
    assert FABRIKAM_USERS[0].upn in users and ADELE in users


def test_query_mode_redirects_with_code_state_and_session_state(base: str, emu: Emulator) -> None:
    params = authorize_params(response_type="code", response_mode="query", nonce=None,
                              state="a b&c=d")
    fields = callback(authorize(base, {**params, "user": ADELE}, "POST"))
    assert set(fields) == {"code", "state", "session_state"}
    assert fields["state"] == "a b&c=d"
    uuid.UUID(fields["session_state"])
    assert fields["code"] in emu.minted_secrets()


def test_fragment_mode_puts_the_answer_after_the_hash(base: str) -> None:
    resp = authorize(base, {**authorize_params(response_mode="fragment"), "user": ADELE}, "POST")
    assert "#code=" in resp.headers["Location"]


def test_form_post_page_auto_submits_the_escaped_fields(base: str) -> None:
    params = authorize_params(state='x"><script>alert(1)</script>')
    resp = authorize(base, {**params, "user": ADELE}, "POST")
    assert resp.status_code == 200 and "<script>" not in resp.text
    form = parse_form(resp.text)
    assert form.method == "post" and form.action == REDIRECT_URI
    assert form.body_onload == "document.forms[0].submit()" and form.noscript_buttons == 1
    assert set(form.hidden) == {"code", "id_token", "state", "session_state"}
    assert form.hidden["state"] == params["state"]


def test_hybrid_id_token_verifies_against_the_jwks(base: str, clock: object) -> None:
    fields = sign_in(base, authorize_params())
    claims = verify_front_channel(base, fields["id_token"], audience=DEMO_CLIENT_ID,
                                  issuer=f"https://sts.windows.net/{DEMO_TENANT_ID}/")
    digest = hashlib.sha256(fields["code"].encode("ascii")).digest()
    expected_c_hash = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["c_hash"] == expected_c_hash and claims["nonce"] == "nonce-456"
    adele = DEMO_USERS[0]
    assert claims["oid"] == adele.oid and claims["tid"] == DEMO_TENANT_ID
    assert claims["upn"] == claims["unique_name"] == ADELE and claims["ver"] == "1.0"
    assert claims["exp"] - claims["iat"] == 3600 and claims["iat"] == 1_760_000_000
    assert len(claims["sub"]) == 43 and claims["sub"] != adele.oid
    import jwt

    header = jwt.get_unverified_header(fields["id_token"])
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"] == header["x5t"]


def test_sign_in_accepts_an_oid_and_a_domain_path(base: str) -> None:
    fields = sign_in(base, authorize_params(), user=DEMO_USERS[1].oid, tenant=DEMO_TENANT_DOMAIN)
    claims = verify_front_channel(base, fields["id_token"], audience=DEMO_CLIENT_ID)
    assert claims["oid"] == DEMO_USERS[1].oid


def test_fabrikam_user_signs_in_through_common(base: str) -> None:
    fields = sign_in(base, authorize_params(), user=FABRIKAM_USERS[0].upn, tenant="common")
    claims = verify_front_channel(base, fields["id_token"], audience=DEMO_CLIENT_ID)
    assert claims["tid"] == FABRIKAM_USERS[0].tenant_id
    assert claims["iss"] == f"https://sts.windows.net/{FABRIKAM_USERS[0].tenant_id}/"


@pytest.mark.parametrize(("change", "aadsts"), [
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 700016),
    ({"client_id": None}, 900144),
    ({"redirect_uri": "https://evil.example/cb"}, 50011),
    ({"redirect_uri": "http://localhost:5000/getAToken/"}, 50011),
    ({"redirect_uri": None}, 900144),
])
def test_untrusted_client_or_redirect_uri_is_an_error_page_never_a_redirect(
    base: str, change: dict[str, str | None], aadsts: int
) -> None:
    for method in ("GET", "POST"):
        resp = authorize(base, {**authorize_params(**change), "user": ADELE}, method)
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert f"AADSTS{aadsts}" in resp.text and "evil.example/cb\"" not in resp.text


def test_unknown_tenant_is_an_error_page(base: str) -> None:
    resp = authorize(base, authorize_params(), tenant="nosuch.example")
    assert resp.status_code == 400 and "AADSTS90002" in resp.text


def test_single_tenant_app_on_common_is_aadsts50194(base: str, emu: Emulator) -> None:
    emu.register_client(ClientRegistration(client_id="single", client_secret="s",
                                           redirect_uris=(REDIRECT_URI,)))
    resp = authorize(base, authorize_params(client_id="single"), tenant="common")
    assert resp.status_code == 400 and "AADSTS50194" in resp.text
    resp = authorize(base, authorize_params(client_id="single"), tenant=FABRIKAM_USERS[0].tenant_id)
    assert resp.status_code == 400 and "AADSTS700016" in resp.text


@pytest.mark.parametrize(("change", "error", "aadsts"), [
    ({"nonce": None}, "invalid_request", 90014),
    ({"response_mode": "query"}, "invalid_request", 9002313),
    ({"response_type": "token"}, "unsupported_response_type", 700051),
    ({"response_type": None}, "invalid_request", 900144),
    ({"resource": "https://nosuch.example"}, "invalid_resource", 500011),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request", 9002313),
    ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, "invalid_request", 9002313),
])
def test_bad_requests_are_sent_back_to_the_redirect_uri(
    base: str, change: dict[str, str | None], error: str, aadsts: int
) -> None:
    params = authorize_params(**{"response_mode": "fragment", **change})
    fields = callback(authorize(base, params))
    assert fields["error"] == error and fields["state"] == "state-123"
    lines = fields["error_description"].split("\r\n")
    assert lines[0].startswith(f"AADSTS{aadsts}: ")
    assert [line.split(":")[0] for line in lines[1:]] == ["Trace ID", "Correlation ID", "Timestamp"]


def test_hybrid_for_an_app_without_id_tokens_is_aadsts700054(base: str, emu: Emulator) -> None:
    emu.register_client(ClientRegistration(client_id="noid", client_secret="s",
                                           redirect_uris=(REDIRECT_URI,), allow_id_tokens=False))
    resp = authorize(base, authorize_params(client_id="noid"))
    form = parse_form(resp.text)
    assert resp.status_code == 200 and form.action == REDIRECT_URI
    assert form.hidden["error"] == "unsupported_response_type"
    assert form.hidden["error_description"].startswith("AADSTS700054: ")
    code_only = sign_in(base, authorize_params(client_id="noid", response_type="code",
                                               response_mode="query", nonce=None))
    assert "code" in code_only


def test_cancel_and_prompt_none_answer_with_errors(base: str) -> None:
    params = authorize_params(response_mode="query", response_type="code", nonce=None)
    cancelled = callback(authorize(base, {**params, "cancel": "1"}, "POST"))
    assert cancelled["error"] == "access_denied"
    silent = callback(authorize(base, {**params, "prompt": "none"}))
    assert silent["error"] == "login_required"
    assert silent["error_description"].startswith("AADSTS50058")


def test_unknown_user_is_an_error_page(base: str) -> None:
    resp = authorize(base, {**authorize_params(), "user": "nobody@contoso.example"}, "POST")
    assert resp.status_code == 400 and "AADSTS50034" in resp.text
    resp = authorize(base, {**authorize_params(), "user": FABRIKAM_USERS[0].upn}, "POST")
    assert resp.status_code == 400  # not a user of this tenant
