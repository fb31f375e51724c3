"""aadweb/protocol/device_code.py and graph_apps.py: pure builders and parsers."""

from __future__ import annotations

import json

import pytest

from aadweb.errors import GrantRefused, InvalidResponse
from aadweb.protocol import device_code as dc
from aadweb.protocol import graph_apps as ga
from aadweb.protocol.http import HttpResponse
from aadweb.secret import Secret


def answer(body: object, status: int = 200) -> HttpResponse:
    return HttpResponse(status=status, body=json.dumps(body).encode())


def test_next_poll_follows_rfc_8628_3_5() -> None:
    assert dc.next_poll(5, "pending") == 5
    assert dc.next_poll(5, "slow_down") == 10


@pytest.mark.parametrize("bad", [{"interval": 0}, {"interval": "soon"}, {"expires_in": 10**9},
                                 {"verification_uri": "http://evil.example/"}, {"user_code": ""}])
def test_device_code_answer_refuses_broken_values(bad: dict[str, object]) -> None:
    good = {"device_code": "d", "user_code": "U", "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900, "interval": 5}
    assert dc.parse_device_code_response(answer(good), now=0).interval == 5
    with pytest.raises(InvalidResponse):
        dc.parse_device_code_response(answer({**good, **bad}), now=0)


def test_device_token_outcomes() -> None:
    def err(error: str) -> HttpResponse:
        return answer({"error": error, "error_codes": [70016]}, 400)

    assert dc.parse_device_token_response(err("authorization_pending"), now=0) == "pending"
    assert dc.parse_device_token_response(err("slow_down"), now=0) == "slow_down"
    with pytest.raises(GrantRefused):
        dc.parse_device_token_response(answer({"error": "invalid_grant", "error_codes": [65001]}, 400), now=0)
    token = dc.parse_device_token_response(answer({"access_token": "tok-SECRET-42"}), now=0)
    assert isinstance(token, dc.DeviceToken) and "tok-SECRET-42" not in repr(token)


def test_requests_per_version_and_the_code_is_a_secret() -> None:
    v2 = dc.build_device_code_request(authority_host="https://login.microsoftonline.com", tenant="contoso.example",
                                      client_id="c", endpoint="v2", target="https://graph.microsoft.com/x",
                                      client_request_id="r")
    assert v2.url.endswith("/contoso.example/oauth2/v2.0/devicecode") and v2.form == {
        "client_id": "c", "scope": "https://graph.microsoft.com/x"}
    poll = dc.build_device_token_request(authority_host="https://login.microsoftonline.com", tenant="t",
                                         client_id="c", endpoint="v2", device_code=Secret("device_code", "zz"),
                                         client_request_id="r")
    assert "code" not in (poll.form or {}) and "zz" not in repr(poll)
    with pytest.raises(ValueError):
        dc.build_device_code_request(authority_host="http://login.example", tenant="t", client_id="c",
                                     endpoint="v1", target="r", client_request_id="r")


def test_application_body_least_permission_and_stable_role_ids() -> None:
    spec = ga.AppSpec(display_name="x", redirect_uris=("https://a.example/cb",), id_tokens=False, app_roles=("Admin",))
    body = ga.application_body(spec)
    assert body["requiredResourceAccess"] == [{"resourceAppId": ga.GRAPH_APP_ID,
                                               "resourceAccess": [{"id": ga.USER_READ_ID, "type": "Scope"}]}]
    assert body["appRoles"][0]["id"] == ga.application_body(spec)["appRoles"][0]["id"]
    with pytest.raises(ValueError):
        ga.AppSpec(display_name="x", redirect_uris=("http://public.example/cb",), id_tokens=False)


def test_filter_quotes_are_doubled() -> None:
    call = ga.build_find_applications(graph_root="https://graph.microsoft.com", token=Secret("access_token", "t"),
                                      name="Bob's app", client_request_id="r")
    assert "%27Bob%27%27s%20app%27" in call.url


def test_graph_403_raises_graph_error() -> None:
    from aadweb.errors import GraphError

    denied = answer({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}, 403)
    with pytest.raises(GraphError) as caught:
        ga.parse_application(denied, now=0)
    assert caught.value.code == "Authorization_RequestDenied"
