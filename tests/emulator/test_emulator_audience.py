"""DESIGN.md: "It never answers a request for one audience with a token for another."

Every grant that names an audience (v1.0 ``resource``, v2.0 ``scope``), on both grant types
and both endpoints, gets a token whose ``aud`` is exactly that audience, or an Azure-shaped
error and no token at all.
"""

from __future__ import annotations

import pytest

from aadweb.emulator import DEMO_API_RESOURCE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GRAPH_RESOURCE

from .support import code_flow, error_codes, redeem, token_request
from .support_v2 import API_SCOPE, GRAPH_APP_ID, payload, redeem_v2, refresh_v2, sign_in_v2

V1_AUDIENCES = [GRAPH_RESOURCE, GRAPH_APP_ID, DEMO_API_RESOURCE,
                "7e2d9c41-6a3b-4f8e-b1d0-2c4e6a8b0d1f", "https://management.azure.com/",
                "https://outlook.office365.com", DEMO_CLIENT_ID]
UNKNOWN = ["https://graph.microsoft.com/", "https://GRAPH.microsoft.com", "api://aadweb-demo",
           "https://unknown.example", "00000003-0000-0000-c000-000000000001"]


def refresh_v1(base: str, refresh_token: str, resource: str) -> dict[str, object]:
    return dict(token_request(base, {
        "grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "refresh_token": refresh_token,
        "resource": resource}).json())


@pytest.fixture
def v1_refresh_token(base: str) -> str:
    return str(redeem(base, code_flow(base)["code"]).json()["refresh_token"])


@pytest.mark.parametrize("resource", V1_AUDIENCES)
def test_v1_refresh_answers_for_exactly_the_resource_asked(
    base: str, v1_refresh_token: str, resource: str,
) -> None:
    body = refresh_v1(base, v1_refresh_token, resource)
    assert body["resource"] == resource
    assert payload(str(body["access_token"]))["aud"] == resource


@pytest.mark.parametrize("resource", UNKNOWN)
def test_v1_refresh_for_an_unknown_resource_is_an_error_not_a_graph_token(
    base: str, v1_refresh_token: str, resource: str,
) -> None:
    body = refresh_v1(base, v1_refresh_token, resource)
    assert body["error"] == "invalid_resource" and body["error_codes"] == [500011]
    assert "access_token" not in body


@pytest.mark.parametrize("resource", [DEMO_API_RESOURCE, *UNKNOWN[:2]])
def test_v1_code_redeemed_for_another_resource_is_refused(base: str, resource: str) -> None:
    resp = redeem(base, code_flow(base)["code"], resource=resource)
    assert resp.status_code == 400 and "access_token" not in resp.json()


@pytest.mark.parametrize(("scope", "aud"), [
    ("User.Read", GRAPH_APP_ID), (f"{GRAPH_RESOURCE}/User.Read", GRAPH_RESOURCE),
    (API_SCOPE, DEMO_API_RESOURCE), ("https://management.azure.com//user_impersonation",
                                     "https://management.azure.com/"),
])
def test_v2_refresh_answers_for_exactly_the_resource_the_scope_names(
    base: str, scope: str, aud: str,
) -> None:
    first = redeem_v2(base, sign_in_v2(base)["code"]).json()
    body = refresh_v2(base, first["refresh_token"], scope=f"{scope} openid offline_access").json()
    assert payload(body["access_token"])["aud"] == aud


@pytest.mark.parametrize(("scope", "code"), [
    ("https://unknown.example/Read", 500011), ("api://aadweb-demo/access_as_user", 500011),
    (f"User.Read {API_SCOPE}", 28000), ("User.Fly", 650053),
])
def test_v2_refresh_for_no_or_several_known_resources_is_an_error(
    base: str, scope: str, code: int,
) -> None:
    first = redeem_v2(base, sign_in_v2(base)["code"]).json()
    resp = refresh_v2(base, first["refresh_token"], scope=scope)
    assert resp.status_code in (400, 401) and error_codes(resp) == [code]
    assert "access_token" not in resp.json()
