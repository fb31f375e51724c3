"""v2.0 metadata and keys, v1.0 metadata's Azure fields, instance discovery, userinfo,
the check_session_iframe and the v2.0 logout."""

from __future__ import annotations

import pytest
import requests

from aadweb.emulator import DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, Emulator
from aadweb.emulator._keys import SPARE_KEYS

from .support import TIMEOUT
from .support_v2 import redeem_v2, sign_in_v2


def get(url: str, **kwargs: object) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)  # type: ignore[arg-type]


def test_v2_metadata_is_azures_named_by_the_tenant_guid(base: str) -> None:
    meta = get(f"{base}/{DEMO_TENANT_DOMAIN}/v2.0/.well-known/openid-configuration").json()
    root = f"{base}/{DEMO_TENANT_ID}"
    assert meta["issuer"] == f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0"
    assert meta["authorization_endpoint"] == f"{root}/oauth2/v2.0/authorize"
    assert meta["token_endpoint"] == f"{root}/oauth2/v2.0/token"
    assert meta["end_session_endpoint"] == f"{root}/oauth2/v2.0/logout"
    assert meta["jwks_uri"] == f"{root}/discovery/v2.0/keys"
    assert meta["userinfo_endpoint"] == f"{base}/oidc/userinfo"
    assert meta["response_modes_supported"] == ["query", "fragment", "form_post"]
    assert meta["scopes_supported"] == ["openid", "profile", "email", "offline_access"]
    assert {"preferred_username", "tid", "ver", "c_hash"} <= set(meta["claims_supported"])
    assert meta["request_uri_parameter_supported"] is False and meta["tenant_region_scope"] == "NA"
    assert meta["cloud_instance_name"] == "microsoftonline.com" and meta["rbac_url"]
    assert "device_authorization_endpoint" not in meta  # not emulated, so not published


def test_v2_metadata_on_common_has_the_issuer_template(base: str) -> None:
    for alias in ("common", "organizations"):
        meta = get(f"{base}/{alias}/v2.0/.well-known/openid-configuration").json()
        assert meta["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
        assert meta["token_endpoint"] == f"{base}/{alias}/oauth2/v2.0/token"
        assert meta["tenant_region_scope"] is None
    assert get(f"{base}/nosuch.example/v2.0/.well-known/openid-configuration").status_code == 400


def test_v1_metadata_carries_the_fields_azure_publishes(base: str) -> None:
    meta = get(f"{base}/{DEMO_TENANT_ID}/.well-known/openid-configuration").json()
    root = f"{base}/{DEMO_TENANT_ID}"
    assert meta["check_session_iframe"] == f"{root}/oauth2/checksession"
    assert meta["userinfo_endpoint"] == f"{root}/openid/userinfo"
    assert meta["frontchannel_logout_supported"] is True and meta["http_logout_supported"] is True
    assert meta["microsoft_multi_refresh_token"] is True and meta["msgraph_host"]
    assert meta["rbac_url"] == "https://pas.windows.net"
    assert {"amr", "given_name", "cloud_instance_name"} <= set(meta["claims_supported"])
    assert "code_challenge_methods_supported" not in meta  # Azure does not publish it


@pytest.mark.parametrize("tenant", [DEMO_TENANT_ID, "common"])
def test_v2_keys_carry_the_issuer(base: str, emu: Emulator, tenant: str) -> None:
    keys = get(f"{base}/{tenant}/discovery/v2.0/keys?appid=x").json()["keys"]
    assert len(keys) == 1 + SPARE_KEYS and keys[0]["kid"] == emu.signing_jwk_public()["kid"]
    expected = "{tenantid}" if tenant == "common" else DEMO_TENANT_ID
    for key in keys:
        assert key["use"] == "sig" and key["x5c"] and key["x5t"] == key["kid"]
        assert key["issuer"] == f"https://login.microsoftonline.com/{expected}/v2.0"


@pytest.mark.parametrize(("endpoint", "metadata"), [
    ("oauth2/v2.0/authorize", "v2.0/.well-known/openid-configuration"),
    ("oauth2/authorize", ".well-known/openid-configuration"),
])
def test_instance_discovery_answers_as_adal_and_msal_read_it(
    base: str, endpoint: str, metadata: str,
) -> None:
    # ADAL and MSAL Python leave the port out of authorization_endpoint.
    asked = {"api-version": "1.0",
             "authorization_endpoint": f"https://127.0.0.1/{DEMO_TENANT_ID}/{endpoint}"}
    resp = get(f"{base}/common/discovery/instance", params=asked)
    assert resp.status_code == 200
    assert resp.json() == {"tenant_discovery_endpoint": f"{base}/{DEMO_TENANT_ID}/{metadata}"}
    newer = get(f"{base}/common/discovery/instance", params={**asked, "api-version": "1.1"}).json()
    assert newer["api-version"] == "1.1"
    (entry,) = newer["metadata"]
    host = base.removeprefix("http://")
    assert entry["preferred_network"] == entry["preferred_cache"] == host
    assert host in entry["aliases"] and any(a.startswith("localhost:") for a in entry["aliases"])


@pytest.mark.parametrize("endpoint", [
    "https://login.contoso.example/common/oauth2/v2.0/authorize",
    "http://127.0.0.1/common/oauth2/v2.0/authorize",
    "https://127.0.0.1/",
])
def test_instance_discovery_refuses_instances_it_is_not(base: str, endpoint: str) -> None:
    resp = get(f"{base}/common/discovery/instance",
               params={"api-version": "1.1", "authorization_endpoint": endpoint})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_instance" and resp.json()["error_codes"] == [50049]


def test_instance_discovery_needs_the_authorization_endpoint(base: str) -> None:
    resp = get(f"{base}/common/discovery/instance", params={"api-version": "1.1"})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_userinfo_needs_a_graph_token_with_openid(base: str) -> None:
    assert get(f"{base}/oidc/userinfo").status_code == 401
    no_openid = redeem_v2(base, sign_in_v2(base, scope="User.Read")["code"]).json()
    bearer = {"Authorization": f"Bearer {no_openid['access_token']}"}
    assert get(f"{base}/oidc/userinfo", headers=bearer).status_code == 403
    body = redeem_v2(base, sign_in_v2(base)["code"]).json()
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    info = requests.post(f"{base}/{DEMO_TENANT_ID}/openid/userinfo", headers=bearer,
                         timeout=TIMEOUT).json()
    assert info["name"] == "Adele Vance" and "email" not in info  # no email scope asked


def test_check_session_iframe_is_a_page(base: str) -> None:
    page = get(f"{base}/{DEMO_TENANT_ID}/oauth2/checksession")
    assert page.status_code == 200 and "postMessage" in page.text
    assert page.headers["Content-Type"].startswith("text/html")


def test_v2_logout_redirects_only_to_a_registered_origin(base: str) -> None:
    ok = get(f"{base}/{DEMO_TENANT_ID}/oauth2/v2.0/logout",
             params={"post_logout_redirect_uri": "http://localhost:5000/"})
    assert ok.status_code == 302 and ok.headers["Location"] == "http://localhost:5000/"
    evil = get(f"{base}/common/oauth2/v2.0/logout",
               params={"post_logout_redirect_uri": "https://evil.example/"})
    assert evil.status_code == 200 and "You signed out" in evil.text
