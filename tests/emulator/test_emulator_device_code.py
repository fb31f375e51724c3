"""The device authorization grant (RFC 8628) on the emulator, v1.0 and v2.0."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_TENANT_ID, GRAPH_RESOURCE, REGISTER_TOOL_CLIENT_ID, Emulator

from .support import ADELE, TIMEOUT, FakeClock

MEGAN = "megan.bowen@contoso.example"
NESTOR = "nestor.wilke@fabrikam.example"
V2_SCOPE = "https://graph.microsoft.com/Application.ReadWrite.All offline_access"


def start(base: str, *, v2: bool, client_id: str = REGISTER_TOOL_CLIENT_ID) -> requests.Response:
    path = "oauth2/v2.0/devicecode" if v2 else "oauth2/devicecode"
    form = {"client_id": client_id, ("scope" if v2 else "resource"): V2_SCOPE if v2 else GRAPH_RESOURCE}
    return requests.post(f"{base}/{DEMO_TENANT_ID}/{path}", data=form, timeout=TIMEOUT)


def poll(base: str, device_code: str, *, v2: bool) -> requests.Response:
    path = "oauth2/v2.0/token" if v2 else "oauth2/token"
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": REGISTER_TOOL_CLIENT_ID, "device_code": device_code}
    return requests.post(f"{base}/{DEMO_TENANT_ID}/{path}", data=form, timeout=TIMEOUT)


def enter(base: str, user_code: str, login: str, action: str = "continue") -> requests.Response:
    return requests.post(f"{base}/devicelogin", timeout=TIMEOUT,
                         data={"user_code": user_code, "login": login, "action": action})


def error_of(response: requests.Response) -> tuple[str, list[int]]:
    body: dict[str, Any] = response.json()
    return body["error"], body["error_codes"]


@pytest.mark.parametrize("v2", [False, True])
def test_device_code_answer_shape_per_version(base: str, v2: bool) -> None:
    body = start(base, v2=v2).json()
    assert set(body) >= {"user_code", "device_code", "expires_in", "interval", "message"}
    assert body["verification_uri" if v2 else "verification_url"] == f"{base}/devicelogin"
    assert body["expires_in"] == (900 if v2 else "900")  # v1 numbers are strings
    assert body["user_code"] in body["message"]


@pytest.mark.parametrize("v2", [False, True])
def test_pending_then_signed_in_gives_a_graph_token_with_app_write(
    base: str, clock: FakeClock, v2: bool,
) -> None:
    code = start(base, v2=v2).json()
    first = poll(base, code["device_code"], v2=v2)
    assert first.status_code == 400 and error_of(first) == ("authorization_pending", [70016])
    assert enter(base, code["user_code"], MEGAN).status_code == 200
    clock.now += 5
    done = poll(base, code["device_code"], v2=v2)
    assert done.status_code == 200, done.text
    claims = jwt.decode(done.json()["access_token"], options={"verify_signature": False})
    assert "Application.ReadWrite.All" in claims["scp"].split()
    assert claims["aud"] == GRAPH_RESOURCE
    again = poll(base, code["device_code"], v2=v2)
    assert error_of(again) == ("invalid_grant", [54005])


def test_polling_sooner_than_interval_is_slow_down_and_the_interval_grows(
    base: str, clock: FakeClock,
) -> None:
    code = start(base, v2=True).json()
    assert error_of(poll(base, code["device_code"], v2=True))[0] == "authorization_pending"
    clock.now += 4
    assert error_of(poll(base, code["device_code"], v2=True))[0] == "slow_down"
    clock.now += 9  # interval is now 10 (RFC 8628 3.5): 9 is still too soon
    assert error_of(poll(base, code["device_code"], v2=True))[0] == "slow_down"
    clock.now += 15
    assert error_of(poll(base, code["device_code"], v2=True))[0] == "authorization_pending"


def test_expired_and_declined(base: str, clock: FakeClock) -> None:
    old = start(base, v2=True).json()
    declined = start(base, v2=True).json()
    assert enter(base, declined["user_code"], ADELE, action="decline").status_code == 200
    assert error_of(poll(base, declined["device_code"], v2=True))[0] == "authorization_declined"
    clock.now += 901
    assert error_of(poll(base, old["device_code"], v2=True)) == ("expired_token", [70020])
    assert enter(base, old["user_code"], ADELE).status_code == 400  # the page refuses it too


def test_page_refuses_wrong_code_and_a_user_of_another_tenant(base: str) -> None:
    code = start(base, v2=True).json()
    assert enter(base, "WRONGCODE", ADELE).status_code == 400
    assert enter(base, code["user_code"], NESTOR).status_code == 400
    page = requests.get(f"{base}/devicelogin", timeout=TIMEOUT)
    assert page.status_code == 200 and 'name="user_code"' in page.text


def test_confidential_client_and_version_mismatch_are_refused(base: str) -> None:
    assert error_of(start(base, v2=False, client_id=DEMO_CLIENT_ID))[0] == "invalid_client"
    code = start(base, v2=False).json()
    assert error_of(poll(base, code["device_code"], v2=True))[0] == "invalid_grant"


def test_consent_required_for_a_user_unless_an_admin_signed_in(base: str, emu: Emulator,
                                                                 clock: FakeClock) -> None:
    emu.revoke_consent(REGISTER_TOOL_CLIENT_ID, GRAPH_RESOURCE)
    code = start(base, v2=True).json()
    enter(base, code["user_code"], ADELE)
    clock.now += 5
    refused = poll(base, code["device_code"], v2=True)
    assert error_of(refused) == ("invalid_grant", [65001])
    assert refused.json()["suberror"] == "consent_required"
    admin = start(base, v2=True).json()
    enter(base, admin["user_code"], MEGAN)  # an admin's sign-in consents for the tenant
    clock.now += 5
    assert poll(base, admin["device_code"], v2=True).status_code == 200
