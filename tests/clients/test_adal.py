"""ADAL Python (deprecated, 1.2.7), unmodified, against ``emulator --tls`` (v1.0).

The authority is ``https://127.0.0.1:<port>/<tenant>`` and ``verify_ssl`` the emulator's CA
file. ADAL validates an authority whose host it does not know by asking instance discovery
at ``https://login.microsoftonline.com/common/discovery/instance`` (a host it hard-codes,
``AADConstants.WORLD_WIDE_AUTHORITY``); to keep to loopback, the validating test points that
one constant at the emulator, which is what changing the authority URL means for ADAL's
discovery. The other tests turn validation off (``validate_authority=False``), as an app
with a non-Microsoft authority host does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests

from aadweb.testing import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID, Emulator, EmulatorServer

from .conftest import ADELE, TIMEOUT, sign_in

adal = pytest.importorskip("adal")

REDIRECT_URI = "http://localhost:5000/getAToken"
GRAPH = "https://graph.microsoft.com"
API = "api://aadweb-demo-api"


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def code_for(server: EmulatorServer, resource: str = GRAPH) -> str:
    """The v1.0 authorize request ADAL's samples build by hand (ADAL has no helper)."""
    query = urlencode({"response_type": "code", "client_id": DEMO_CLIENT_ID,
                       "redirect_uri": REDIRECT_URI, "resource": resource, "state": "adal-1"})
    answer = sign_in(f"{server.url}/{DEMO_TENANT_ID}/oauth2/authorize?{query}",
                     str(server.ca_file))
    assert answer["state"] == "adal-1"
    return answer["code"]


def context(server: EmulatorServer, *, validate: bool = False) -> Any:
    return adal.AuthenticationContext(f"{server.url}/{DEMO_TENANT_ID}",
                                      validate_authority=validate,
                                      verify_ssl=str(server.ca_file))


def test_adal_redeems_a_code_and_refreshes_for_a_second_resource(
    https_server: EmulatorServer, emulator: Emulator,
) -> None:
    ctx = context(https_server)
    token = ctx.acquire_token_with_authorization_code(
        code_for(https_server), REDIRECT_URI, GRAPH, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert token["userId"] == ADELE and token["tenantId"] == DEMO_TENANT_ID
    assert token["resource"] == GRAPH and token["tokenType"] == "Bearer"
    assert isinstance(token["expiresIn"], int) and token["expiresIn"] > 3000  # "3599" parsed
    graph = claims(token["accessToken"])
    assert graph["aud"] == GRAPH and graph["scp"] == "User.Read" and graph["upn"] == ADELE
    me = requests.get(f"{https_server.url}/v1.0/me", verify=str(https_server.ca_file),
                      headers={"Authorization": f"Bearer {token['accessToken']}"}, timeout=TIMEOUT)
    assert me.status_code == 200 and me.json()["id"] == graph["oid"]

    # A v1 refresh token is multi-resource: the same one gets a token for the demo API.
    api = ctx.acquire_token_with_refresh_token(token["refreshToken"], DEMO_CLIENT_ID, API,
                                               DEMO_CLIENT_SECRET)
    api_claims = claims(api["accessToken"])
    assert api["resource"] == API and api_claims["aud"] == API
    assert api_claims["scp"] == "access_as_user" and api_claims["oid"] == graph["oid"]
    last = emulator.requests[-1]
    assert last.path == f"/{DEMO_TENANT_ID}/oauth2/token" and last.form["resource"] == API
    assert last.headers["x-client-sku"] == "Python" and "return-client-request-id" in last.headers


def test_adal_refresh_for_an_unknown_resource_is_refused_not_answered_for_graph(
    https_server: EmulatorServer,
) -> None:
    ctx = context(https_server)
    token = ctx.acquire_token_with_authorization_code(
        code_for(https_server), REDIRECT_URI, GRAPH, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    with pytest.raises(adal.AdalError) as caught:
        ctx.acquire_token_with_refresh_token(token["refreshToken"], DEMO_CLIENT_ID,
                                             "https://unknown.example", DEMO_CLIENT_SECRET)
    body = caught.value.error_response
    assert body["error"] == "invalid_resource" and body["error_codes"] == [500011]


def test_adal_validates_the_authority_through_the_emulators_instance_discovery(
    https_server: EmulatorServer, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = https_server.url.removeprefix("https://")
    monkeypatch.setattr(adal.constants.AADConstants, "WORLD_WIDE_AUTHORITY", host)
    emulator.clear_requests()
    ctx = context(https_server, validate=True)
    token = ctx.acquire_token_with_authorization_code(
        code_for(https_server), REDIRECT_URI, GRAPH, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert token["userId"] == ADELE
    (asked,) = [r for r in emulator.requests if r.path == "/common/discovery/instance"]
    assert asked.query["api-version"] == "1.0"
    assert asked.query["authorization_endpoint"] == \
        f"https://127.0.0.1/{DEMO_TENANT_ID}/oauth2/authorize"  # ADAL drops the port


def test_adal_refuses_an_authority_the_emulator_does_not_know(
    https_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = https_server.url.removeprefix("https://")
    monkeypatch.setattr(adal.constants.AADConstants, "WORLD_WIDE_AUTHORITY", host)
    ctx = adal.AuthenticationContext(f"https://login.contoso.example/{DEMO_TENANT_ID}",
                                     verify_ssl=str(https_server.ca_file))
    with pytest.raises(adal.AdalError) as caught:
        ctx.acquire_token_with_authorization_code("code", REDIRECT_URI, GRAPH, DEMO_CLIENT_ID,
                                                  DEMO_CLIENT_SECRET)
    assert caught.value.error_response["error"] == "invalid_instance"
    assert caught.value.error_response["error_codes"] == [50049]
