"""The v2.0 authorize endpoint: scopes instead of resource, the v2.0 id_token, its errors."""

from __future__ import annotations

import hashlib

import jwt
import pytest
import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, DEMO_TENANT_ID, Emulator

from .support import ADELE, REDIRECT_URI, TIMEOUT, Pkce, b64url, error_codes, parse_form
from .support_v2 import (
    API_SCOPE,
    authorize_v2,
    callback,
    header,
    payload,
    redeem_v2,
    sign_in_v2,
    v2_params,
)


def verify_v2(base: str, token: str) -> dict[str, object]:
    keys = requests.get(f"{base}/{DEMO_TENANT_ID}/discovery/v2.0/keys", timeout=TIMEOUT).json()
    (key,) = [k for k in keys["keys"] if k["kid"] == header(token)["kid"]]
    return dict(jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"],
                           audience=DEMO_CLIENT_ID, options={"verify_exp": False,
                                                             "verify_iat": False,
                                                             "verify_nbf": False}))


def test_code_flow_answers_code_state_and_session_state(base: str) -> None:
    answer = sign_in_v2(base)
    assert set(answer) == {"code", "state", "session_state"} and answer["state"] == "state-v2"


def test_hybrid_form_post_id_token_is_v2_signed_with_nonce_and_c_hash(base: str) -> None:
    answer = sign_in_v2(base, response_type="code id_token", response_mode="form_post")
    token = answer["id_token"]
    assert set(header(token)) == {"typ", "alg", "kid"}  # v2.0: no x5t
    claims = verify_v2(base, token)
    assert claims["iss"] == f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0"
    assert claims["ver"] == "2.0" and claims["nonce"] == "nonce-v2"
    assert claims["preferred_username"] == ADELE and claims["tid"] == DEMO_TENANT_ID
    digest = hashlib.sha256(answer["code"].encode()).digest()
    assert claims["c_hash"] == b64url(digest[:16])
    assert not {"upn", "unique_name", "amr", "given_name"} & set(claims)


def test_id_token_claims_follow_profile_and_email(base: str) -> None:
    bare = payload(sign_in_v2(base, response_type="id_token", response_mode="fragment",
                              scope="openid")["id_token"])
    assert {"sub", "tid", "aud", "nonce"} <= set(bare)
    assert not {"name", "oid", "preferred_username", "email"} & set(bare)
    full = payload(sign_in_v2(base, response_type="id_token", response_mode="form_post",
                              scope="openid profile email")["id_token"])
    assert full["email"] == ADELE and full["oid"] and full["name"] == "Adele Vance"


@pytest.mark.parametrize(("changes", "error", "code"), [
    ({"resource": "https://graph.microsoft.com"}, "invalid_request", 901002),
    ({"scope": None}, "invalid_request", 900144),
    ({"scope": "User.Read,Mail.Read"}, "invalid_scope", 70011),
    ({"scope": ".default"}, "invalid_scope", 70011),
    ({"scope": "openid https://nothing.example/Read"}, "invalid_resource", 500011),
    ({"scope": "openid User.Fly"}, "invalid_client", 650053),
    ({"scope": "openid api://aadweb-demo-api/Orders.Delete"}, "invalid_client", 650053),
    ({"response_type": "code id_token", "response_mode": "form_post", "scope": "User.Read"},
     "invalid_request", 9002313),
    ({"response_type": "code id_token", "response_mode": "query"}, "invalid_request", 9002313),
    ({"response_type": "code id_token", "response_mode": "form_post", "nonce": None},
     "invalid_request", 90014),
    ({"response_type": "token"}, "unsupported_response_type", 700051),
], ids=["resource", "no-scope", "comma", "bare-default", "unknown-resource",
        "unknown-graph-permission", "unknown-api-permission", "id_token-without-openid",
        "id_token-in-query", "no-nonce", "token"])
def test_request_errors_go_back_to_the_redirect_uri(
    base: str, changes: dict[str, str | None], error: str, code: int,
) -> None:
    answer = callback(authorize_v2(base, v2_params(**changes)))
    assert answer["error"] == error and answer["state"] == "state-v2"
    assert answer["error_description"].startswith(f"AADSTS{code}:")
    assert "code" not in answer


def test_untrusted_redirect_uri_is_a_page_not_a_redirect(base: str) -> None:
    resp = authorize_v2(base, v2_params(redirect_uri="https://evil.example/cb"))
    assert resp.status_code == 400 and "AADSTS50011" in resp.text and "Location" not in resp.headers


def test_prompt_none_is_login_required(base: str) -> None:
    resp = requests.get(f"{base}/{DEMO_TENANT_ID}/oauth2/v2.0/authorize",
                        params=v2_params(prompt="none"), allow_redirects=False, timeout=TIMEOUT)
    assert callback(resp)["error"] == "login_required"


def test_sign_in_page_lists_every_resource_asked_with_prompt_consent(base: str) -> None:
    page = requests.get(f"{base}/{DEMO_TENANT_ID}/oauth2/v2.0/authorize", timeout=TIMEOUT,
                        params=v2_params(scope=f"openid User.Read {API_SCOPE}", prompt="consent"))
    assert page.status_code == 200
    form = parse_form(page.text)
    assert form.action == f"/{DEMO_TENANT_ID}/oauth2/v2.0/authorize"
    assert form.hidden["scope"] == f"openid User.Read {API_SCOPE}"
    assert 'id="consent"' in page.text and "api://aadweb-demo-api" in page.text


def test_signing_in_consents_to_every_resource_named(base: str, emu: Emulator) -> None:
    reports = f"{DEMO_REPORTS_RESOURCE}/Reports.Read"
    assert not emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, ADELE)
    answer = sign_in_v2(base, scope=f"openid offline_access User.Read {reports}")
    assert emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, ADELE)
    body = redeem_v2(base, answer["code"], scope=f"{reports} offline_access").json()
    assert payload(body["access_token"])["aud"] == DEMO_REPORTS_RESOURCE


def test_pkce_is_checked_as_on_v1(base: str) -> None:
    pkce = Pkce.make()
    code = sign_in_v2(base, pkce)["code"]
    wrong = redeem_v2(base, code, code_verifier=Pkce.make().verifier)
    assert wrong.status_code == 400 and error_codes(wrong) == [501481]
    assert redeem_v2(base, code, code_verifier=pkce.verifier).status_code == 200


def test_v2_authorize_refuses_an_unknown_tenant_with_a_page(base: str) -> None:
    resp = authorize_v2(base, v2_params(), tenant="nosuch.example")
    assert resp.status_code == 400 and "AADSTS90002" in resp.text
    assert REDIRECT_URI not in resp.headers.get("Location", "")
