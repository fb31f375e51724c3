"""The v2.0 token endpoint: one audience per token, the v2.0 answer, refresh across resources."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_TENANT_ID, GRAPH_RESOURCE, Emulator

from .support import ADELE, TIMEOUT, code_flow, error_codes, redeem, token_request
from .support_v2 import (
    API_SCOPE,
    GRAPH_APP_ID,
    header,
    payload,
    redeem_v2,
    refresh_v2,
    sign_in_v2,
)


def graph_me(base: str, token: str) -> requests.Response:
    return requests.get(f"{base}/v1.0/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=TIMEOUT)


def test_answer_is_v2_shaped_with_integers_scope_and_client_info(base: str) -> None:
    resp = redeem_v2(base, sign_in_v2(base)["code"], client_info="1")
    assert resp.status_code == 200 and resp.headers["Cache-Control"].startswith("no-store")
    body = resp.json()
    assert list(body) == ["token_type", "scope", "expires_in", "ext_expires_in", "access_token",
                          "refresh_token", "id_token", "client_info"]
    assert body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert body["scope"] == "User.Read openid profile"
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert info == {"uid": payload(body["id_token"])["oid"], "utid": DEMO_TENANT_ID}
    assert "client_info" not in redeem_v2(base, sign_in_v2(base)["code"]).json()


def test_id_token_is_signed_v2_and_repeats_the_nonce(base: str) -> None:
    body = redeem_v2(base, sign_in_v2(base, nonce="n-2")["code"]).json()
    assert set(header(body["id_token"])) == {"typ", "alg", "kid"}
    claims = payload(body["id_token"])
    assert claims["ver"] == "2.0" and claims["aud"] == DEMO_CLIENT_ID and claims["nonce"] == "n-2"
    assert claims["preferred_username"] == ADELE and "c_hash" not in claims
    assert claims["iss"] == f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0"


@pytest.mark.parametrize(("scope", "aud", "scp"), [
    ("User.Read openid profile", GRAPH_APP_ID, "User.Read openid profile"),
    # a Graph token's scp also carries the OpenID Connect scopes the sign-in granted
    (f"{GRAPH_RESOURCE}/User.Read", GRAPH_RESOURCE, "User.Read openid profile"),
    (f"{GRAPH_RESOURCE}/.default offline_access", GRAPH_RESOURCE, "User.Read openid profile"),
    (f"{API_SCOPE} openid", "api://aadweb-demo-api", "access_as_user"),
    ("api://aadweb-demo-api/.default", "api://aadweb-demo-api", "access_as_user"),
    ("7e2d9c41-6a3b-4f8e-b1d0-2c4e6a8b0d1f/access_as_user",
     "7e2d9c41-6a3b-4f8e-b1d0-2c4e6a8b0d1f", "access_as_user"),
])
def test_the_access_token_is_for_the_one_resource_the_scopes_name(
    base: str, scope: str, aud: str, scp: str,
) -> None:
    code = sign_in_v2(base, scope=f"openid profile offline_access {scope}")["code"]
    body = redeem_v2(base, code, scope=scope).json()
    claims = payload(body["access_token"])
    assert claims["aud"] == aud and claims["scp"] == scp and claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{DEMO_TENANT_ID}/"
    assert (graph_me(base, body["access_token"]).status_code == 200) == aud.endswith(
        ("graph.microsoft.com", GRAPH_APP_ID))


def test_scopes_of_two_resources_are_aadsts28000_and_the_code_stays_usable(base: str) -> None:
    code = sign_in_v2(base, scope=f"openid User.Read {API_SCOPE}")["code"]
    both = redeem_v2(base, code)  # no scope: the authorize request's two resources
    assert both.status_code == 400 and both.json()["error"] == "invalid_scope"
    assert error_codes(both) == [28000] and "more than one resource" in both.json()["error_description"]
    one = redeem_v2(base, code, scope=API_SCOPE)
    assert payload(one.json()["access_token"])["aud"] == "api://aadweb-demo-api"


def test_only_openid_scopes_get_a_graph_token_for_userinfo(base: str) -> None:
    body = redeem_v2(base, sign_in_v2(base, scope="openid profile email")["code"]).json()
    claims = payload(body["access_token"])
    assert claims["aud"] == GRAPH_APP_ID and claims["scp"] == "openid profile email"
    assert "refresh_token" not in body and graph_me(base, body["access_token"]).status_code == 403
    info = requests.get(f"{base}/oidc/userinfo", timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info == {"sub": payload(body["id_token"])["sub"], "name": "Adele Vance",
                    "family_name": "Vance", "given_name": "Adele", "email": ADELE}


def test_without_openid_there_is_no_id_token_and_without_offline_access_no_refresh(base: str) -> None:
    body = redeem_v2(base, sign_in_v2(base, scope="User.Read")["code"]).json()
    assert "id_token" not in body and "refresh_token" not in body and body["scope"] == "User.Read"


def test_resource_parameter_is_refused(base: str) -> None:
    resp = redeem_v2(base, sign_in_v2(base)["code"], resource=GRAPH_RESOURCE)
    assert resp.status_code == 400 and error_codes(resp) == [901002]


def test_codes_do_not_cross_endpoint_versions(base: str) -> None:
    v1_code = code_flow(base)["code"]
    crossed = redeem_v2(base, v1_code, scope="User.Read")
    assert crossed.status_code == 400 and crossed.json()["error"] == "invalid_grant"
    v2_code = sign_in_v2(base)["code"]
    assert redeem(base, v2_code).json()["error"] == "invalid_grant"
    assert redeem_v2(base, v2_code).status_code == 200


def test_code_is_single_use_and_bound_to_the_redirect_uri(base: str) -> None:
    code = sign_in_v2(base)["code"]
    wrong = redeem_v2(base, code, redirect_uri="http://127.0.0.1:5000/getAToken")
    assert error_codes(wrong) == [50011]
    assert redeem_v2(base, code).status_code == 200
    assert error_codes(redeem_v2(base, code)) == [54005]


def test_refresh_gets_another_consented_audience_and_a_new_refresh_token(base: str) -> None:
    first = redeem_v2(base, sign_in_v2(base)["code"]).json()
    api = refresh_v2(base, first["refresh_token"], scope=f"{API_SCOPE} openid offline_access")
    body = api.json()
    assert api.status_code == 200 and body["scope"] == API_SCOPE
    assert payload(body["access_token"])["aud"] == "api://aadweb-demo-api"
    assert body["refresh_token"] != first["refresh_token"] and "id_token" in body
    again = refresh_v2(base, first["refresh_token"]).json()  # no scope: the original ones
    assert payload(again["access_token"])["aud"] == GRAPH_APP_ID


def test_refresh_for_an_unconsented_api_is_65001(base: str) -> None:
    first = redeem_v2(base, sign_in_v2(base)["code"]).json()
    resp = refresh_v2(base, first["refresh_token"], scope="api://aadweb-demo-reports/Reports.Read")
    assert resp.status_code == 400 and error_codes(resp) == [65001]
    assert resp.json()["suberror"] == "consent_required"


def test_refresh_tokens_work_across_endpoint_versions(base: str) -> None:
    v1 = redeem(base, code_flow(base)["code"]).json()
    from_v1 = refresh_v2(base, v1["refresh_token"], scope=API_SCOPE)
    assert payload(from_v1.json()["access_token"])["aud"] == "api://aadweb-demo-api"
    assert refresh_v2(base, v1["refresh_token"]).json()["error_codes"] == [900144]
    v2 = redeem_v2(base, sign_in_v2(base)["code"]).json()
    from_v2 = token_request(base, {"grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
                                   "client_secret": "demo-secret-not-for-production",
                                   "refresh_token": v2["refresh_token"],
                                   "resource": GRAPH_RESOURCE}).json()
    assert payload(from_v2["access_token"])["aud"] == GRAPH_RESOURCE


def test_token_faults_apply_to_v2(base: str, emu: Emulator) -> None:
    from aadweb.emulator import Fault

    emu.faults.add(Fault(kind="error", endpoint="token", aadsts=70008, times=1))
    code = sign_in_v2(base)["code"]
    assert error_codes(redeem_v2(base, code)) == [70008]
    emu.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=60, times=1))
    assert redeem_v2(base, code).json()["expires_in"] == 60
