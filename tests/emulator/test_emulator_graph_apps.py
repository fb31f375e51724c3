"""Graph's application registration API on the emulator, and apps that sign in at once."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from aadweb.emulator import REGISTER_TOOL_CLIENT_ID, Emulator

from .support import ADELE, TIMEOUT

MEGAN = "megan.bowen@contoso.example"
NESTOR = "nestor.wilke@fabrikam.example"
REDIRECT = "http://127.0.0.1:5999/getAToken"


def token(emu: Emulator, user: str, scp: str = "Application.ReadWrite.All") -> dict[str, str]:
    return {"Authorization": "Bearer " + emu.issue_access_token(
        user=user, client_id=REGISTER_TOOL_CLIENT_ID, scp=scp)}


def create(base: str, emu: Emulator, user: str = MEGAN, name: str = "my app") -> requests.Response:
    body = {"displayName": name, "signInAudience": "AzureADMyOrg",
            "web": {"redirectUris": [REDIRECT], "implicitGrantSettings": {"enableIdTokenIssuance": True}}}
    return requests.post(f"{base}/v1.0/applications", json=body, headers=token(emu, user), timeout=TIMEOUT)


def graph_error(response: requests.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["error"]["code"])


def test_create_list_by_name_patch_and_it_becomes_a_client(base: str, emu: Emulator) -> None:
    made = create(base, emu)
    assert made.status_code == 201, made.text
    app = made.json()
    assert app["web"]["redirectUris"] == [REDIRECT]
    client = emu.directory.client(app["appId"])
    assert client is not None and client.allow_id_tokens and client.redirect_uris == (REDIRECT,)
    listed = requests.get(f"{base}/v1.0/applications", params={"$filter": "displayName eq 'my app'"},
                          headers=token(emu, MEGAN), timeout=TIMEOUT).json()["value"]
    assert [a["id"] for a in listed] == [app["id"]]
    patched = requests.patch(f"{base}/v1.0/applications/{app['id']}", headers=token(emu, MEGAN),
                             json={"web": {"redirectUris": [REDIRECT, "http://localhost:5000/getAToken"]}},
                             timeout=TIMEOUT)
    assert patched.status_code == 204
    client = emu.directory.client(app["appId"])
    assert client is not None and len(client.redirect_uris) == 2


def test_add_password_shows_the_secret_once_and_it_authenticates(base: str, emu: Emulator) -> None:
    app = create(base, emu).json()
    added = requests.post(f"{base}/v1.0/applications/{app['id']}/addPassword", headers=token(emu, MEGAN),
                          json={"passwordCredential": {"displayName": "aadweb"}}, timeout=TIMEOUT).json()
    secret = added["secretText"]
    client = emu.directory.client(app["appId"])
    assert client is not None and client.client_secret == secret
    again = requests.get(f"{base}/v1.0/applications/{app['id']}", headers=token(emu, MEGAN), timeout=TIMEOUT)
    assert secret not in again.text and again.json()["passwordCredentials"][0]["secretText"] is None


def test_service_principal_create_find_and_conflict(base: str, emu: Emulator) -> None:
    app = create(base, emu).json()
    url = f"{base}/v1.0/servicePrincipals"
    made = requests.post(url, json={"appId": app["appId"]}, headers=token(emu, MEGAN), timeout=TIMEOUT)
    assert made.status_code == 201 and made.json()["appId"] == app["appId"]
    found = requests.get(url, params={"$filter": f"appId eq '{app['appId']}'"}, headers=token(emu, MEGAN),
                         timeout=TIMEOUT).json()["value"]
    assert len(found) == 1
    twice = requests.post(url, json={"appId": app["appId"]}, headers=token(emu, MEGAN), timeout=TIMEOUT)
    assert twice.status_code == 409


def test_non_admin_is_refused_when_the_tenant_disallows_registration(base: str, emu: Emulator) -> None:
    assert create(base, emu, ADELE).status_code == 201  # Azure's default: users may register
    emu.users_can_register_apps = False
    refused = create(base, emu, ADELE)
    assert refused.status_code == 403 and graph_error(refused) == "Authorization_RequestDenied"
    assert create(base, emu, MEGAN).status_code == 201


def test_a_user_changes_only_apps_they_own(base: str, emu: Emulator) -> None:
    app = create(base, emu, MEGAN).json()
    url = f"{base}/v1.0/applications/{app['id']}/addPassword"
    refused = requests.post(url, json={}, headers=token(emu, ADELE), timeout=TIMEOUT)
    assert refused.status_code == 403 and graph_error(refused) == "Authorization_RequestDenied"


@pytest.mark.parametrize("scp", ["User.Read", "Application.Read.All"])
def test_without_application_write_permission_every_route_is_403(base: str, emu: Emulator, scp: str) -> None:
    listed = requests.get(f"{base}/v1.0/applications", headers=token(emu, MEGAN, scp), timeout=TIMEOUT)
    assert listed.status_code == 403


def test_other_tenants_apps_are_invisible_and_bad_filters_refused(base: str, emu: Emulator) -> None:
    create(base, emu)
    other = requests.get(f"{base}/v1.0/applications", headers=token(emu, NESTOR), timeout=TIMEOUT)
    assert other.json()["value"] == []
    bad = requests.get(f"{base}/v1.0/applications", params={"$filter": "startswith(displayName,'x')"},
                       headers=token(emu, MEGAN), timeout=TIMEOUT)
    assert bad.status_code == 400
    assert requests.get(f"{base}/v1.0/applications", timeout=TIMEOUT).status_code == 401
