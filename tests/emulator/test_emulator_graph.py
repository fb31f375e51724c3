"""Graph /v1.0/me with the emulator's access tokens."""

from __future__ import annotations

import uuid

import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_USERS, Emulator

from .support import TIMEOUT, FakeClock, code_flow, redeem, token_request


def me(base: str, token: str | None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(f"{base}/v1.0/me", headers=headers, timeout=TIMEOUT)


def access_token(base: str, **changes: str | None) -> str:
    return str(redeem(base, code_flow(base, **changes)["code"]).json()["access_token"])


def test_me_returns_the_signed_in_user(base: str) -> None:
    request_id = str(uuid.uuid4())
    resp = me(base, access_token(base), **{"client-request-id": request_id})
    assert resp.status_code == 200
    assert resp.headers["client-request-id"] == request_id and resp.headers["request-id"]
    body = resp.json()
    adele = DEMO_USERS[0]
    assert body == {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "businessPhones": ["+1 425 555 0109"], "displayName": "Adele Vance",
        "givenName": "Adele", "jobTitle": "Retail Manager", "mail": adele.upn,
        "mobilePhone": None, "officeLocation": "18/2111", "preferredLanguage": "en-US",
        "surname": "Vance", "userPrincipalName": adele.upn, "id": adele.oid,
    }


def test_a_user_with_absent_values_gets_nulls(base: str) -> None:
    lee = DEMO_USERS[3]
    from .support import authorize_params, sign_in

    fields = sign_in(base, authorize_params(response_type="code", response_mode="query",
                                            nonce=None), user=lee.upn)
    body = me(base, redeem(base, fields["code"]).json()["access_token"]).json()
    assert body["mail"] is None and body["officeLocation"] is None and body["businessPhones"] == []
    assert "<" in body["jobTitle"]


def test_graph_401_shapes(base: str) -> None:
    for token in (None, "not-a-jwt", "a.b.c"):
        resp = me(base, token)
        assert resp.status_code == 401
        error = resp.json()["error"]
        assert error["code"] == "InvalidAuthenticationToken"
        assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
        challenge = resp.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="", authorization_uri="')
        assert 'client_id="00000003-0000-0000-c000-000000000000"' in challenge


def test_token_for_another_resource_is_refused(base: str) -> None:
    first = redeem(base, code_flow(base)["code"]).json()
    other = token_request(base, {
        "grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "refresh_token": first["refresh_token"],
        "resource": "https://management.azure.com/"}).json()
    resp = me(base, other["access_token"])
    assert resp.status_code == 401 and "audience" in resp.json()["error"]["message"]


def test_clock_injection_expires_an_access_token(base: str, clock: FakeClock) -> None:
    token = access_token(base)
    clock.now += 3598
    assert me(base, token).status_code == 200
    clock.now += 2
    resp = me(base, token)
    assert resp.status_code == 401 and "expired" in resp.json()["error"]["message"]


def test_access_tokens_survive_a_key_rollover(base: str, emu: Emulator) -> None:
    token = access_token(base)
    emu.rotate_keys(keep_old=False)
    assert me(base, token).status_code == 200


def test_forged_token_is_refused(base: str, emu: Emulator) -> None:
    token = access_token(base)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    assert me(base, forged).status_code == 401
