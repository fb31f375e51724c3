"""MSAL Python, unmodified, as a confidential web app against ``emulator --tls`` (v2.0).

The authority is ``https://127.0.0.1:<port>/<tenant>`` and ``verify`` the emulator's CA file.
MSAL trusts hosts it knows (login.microsoftonline.com ...) and asks instance discovery about
any other; ``instance_discovery`` takes the discovery endpoint's URL (MSAL 1.19+), here the
emulator's own ``/common/discovery/instance``, so MSAL's own discovery code runs against it.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from aadweb.testing import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, Emulator, EmulatorServer

from .conftest import ADELE, TIMEOUT, sign_in

msal = pytest.importorskip("msal")

REDIRECT_URI = "http://localhost:5000/getAToken"
API_SCOPE = "api://aadweb-demo-api/access_as_user"
TOKEN_PATH = "/oauth2/v2.0/token"


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def make_app(server: EmulatorServer, **options: Any) -> Any:
    options.setdefault("instance_discovery", f"{server.url}/common/discovery/instance")
    return msal.ConfidentialClientApplication(
        DEMO_CLIENT_ID, client_credential=DEMO_CLIENT_SECRET,
        authority=f"{server.url}/{DEMO_TENANT_ID}", verify=str(server.ca_file), **options)


def signed_in(server: EmulatorServer, app: Any, scopes: list[str]) -> dict[str, Any]:
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT_URI, response_mode="form_post")
    answer = sign_in(flow["auth_uri"], str(server.ca_file))
    result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, answer)
    assert "access_token" in result, result
    return result


def test_msal_signs_in_refreshes_and_gets_a_second_audience(
    https_server: EmulatorServer, emulator: Emulator,
) -> None:
    app = make_app(https_server)
    assert emulator.count("GET", "/common/discovery/instance") >= 1  # MSAL asked the emulator
    result = signed_in(https_server, app, ["User.Read"])

    id_claims = result["id_token_claims"]
    assert id_claims["ver"] == "2.0" and id_claims["aud"] == DEMO_CLIENT_ID
    assert id_claims["preferred_username"] == ADELE and id_claims["tid"] == DEMO_TENANT_ID
    assert id_claims["iss"] == f"https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0"
    graph = claims(result["access_token"])
    assert graph["aud"] == "00000003-0000-0000-c000-000000000000" and "User.Read" in graph["scp"]
    me = requests.get(f"{https_server.url}/v1.0/me", verify=str(https_server.ca_file),
                      headers={"Authorization": f"Bearer {result['access_token']}"}, timeout=TIMEOUT)
    assert me.status_code == 200 and me.json()["userPrincipalName"] == ADELE

    (account,) = app.get_accounts()
    assert account["username"] == ADELE
    assert account["home_account_id"] == f"{id_claims['oid']}.{DEMO_TENANT_ID}"  # from client_info
    posts = emulator.count("POST", TOKEN_PATH)
    cached = app.acquire_token_silent(["User.Read"], account=account)
    assert cached["access_token"] == result["access_token"]
    assert emulator.count("POST", TOKEN_PATH) == posts  # answered from MSAL's cache

    refreshed = app.acquire_token_silent(["User.Read"], account=account, force_refresh=True)
    assert refreshed["access_token"] != result["access_token"]
    assert emulator.count("POST", TOKEN_PATH) == posts + 1
    assert claims(refreshed["access_token"])["aud"] == graph["aud"]

    api = app.acquire_token_silent([API_SCOPE], account=account)
    assert api is not None and "access_token" in api, api
    api_claims = claims(api["access_token"])
    assert api_claims["aud"] == "api://aadweb-demo-api" and api_claims["scp"] == "access_as_user"
    assert api_claims["oid"] == id_claims["oid"] and api_claims["appid"] == DEMO_CLIENT_ID
    assert emulator.count("POST", TOKEN_PATH) == posts + 2
    # Graph still answers from the cache: the API token did not replace it.
    assert app.acquire_token_silent(["User.Read"], account=account)["access_token"] == \
        refreshed["access_token"]


def test_msal_asking_two_resources_at_once_gets_azures_error(https_server: EmulatorServer) -> None:
    # After a failed silent call MSAL looks for host aliases at login.microsoftonline.com
    # itself (``_get_instance_metadata`` ignores a custom discovery URL): loopback only here.
    app = make_app(https_server, instance_discovery=False)
    result = signed_in(https_server, app, ["User.Read"])
    (account,) = app.get_accounts()
    both = app.acquire_token_silent_with_error(["User.Read", API_SCOPE], account=account,
                                               force_refresh=True)
    assert both is not None and both.get("error") == "invalid_scope", both
    assert both["error_codes"] == [28000] and "access_token" not in both
    assert result["access_token"]


def test_msal_without_instance_discovery_reads_the_v2_metadata(
    https_server: EmulatorServer, emulator: Emulator,
) -> None:
    emulator.clear_requests()
    app = make_app(https_server, instance_discovery=False)
    result = signed_in(https_server, app, ["User.Read", "email"])
    assert emulator.count("GET", "/common/discovery/instance") == 0
    assert emulator.count("GET", f"/{DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration") == 1
    assert result["id_token_claims"]["email"] == ADELE


def test_msal_refuses_an_emulator_it_cannot_verify(https_server: EmulatorServer) -> None:
    """Without the CA bundle the https authority is not trusted: the TLS is real."""
    with pytest.raises(requests.exceptions.SSLError):
        msal.ConfidentialClientApplication(
            DEMO_CLIENT_ID, client_credential=DEMO_CLIENT_SECRET,
            authority=f"{https_server.url}/{DEMO_TENANT_ID}", instance_discovery=False)
