"""Consent to a second resource: AADSTS65001 until the user (or an admin) consents."""

from __future__ import annotations

import uuid

import requests

from aadweb.emulator import (
    DEMO_API_RESOURCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REPORTS_RESOURCE,
    DEMO_TENANT_ID,
    DEMO_USERS,
    GRAPH_RESOURCE,
    ClientRegistration,
    Emulator,
)

from .support import (
    REDIRECT_URI,
    TIMEOUT,
    authorize_params,
    b64url_json,
    code_flow,
    error_codes,
    parse_form,
    redeem,
    sign_in,
    token_request,
)

ADELE, ALEX, MEGAN, LEE = DEMO_USERS


def refresh_token(base: str, user: str = ADELE.upn) -> str:
    fields = sign_in(base, authorize_params(response_type="code", response_mode="query",
                                            nonce=None), user=user)
    return str(redeem(base, fields["code"]).json()["refresh_token"])


def refresh(base: str, token: str, resource: str, **headers: str) -> requests.Response:
    return token_request(base, {
        "grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "refresh_token": token, "resource": resource,
    }, headers=headers)


def assert_consent_required(resp: requests.Response) -> None:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error"] == "invalid_grant" and error_codes(resp) == [65001]
    assert body["suberror"] == "consent_required"
    assert body["error_description"].startswith(
        f"AADSTS65001: The user or administrator has not consented to use the application "
        f"with ID '{DEMO_CLIENT_ID}' named 'aadweb demo app'. Send an interactive "
        "authorization request for this user and resource.\r\nTrace ID: ")
    assert body["trace_id"] and body["correlation_id"] and body["timestamp"]


def test_refresh_for_an_unconsented_resource_needs_consent(base: str) -> None:
    token = refresh_token(base)
    correlation = str(uuid.uuid4())
    resp = refresh(base, token, DEMO_REPORTS_RESOURCE, **{"client-request-id": correlation})
    assert_consent_required(resp)
    assert resp.json()["correlation_id"] == correlation
    assert refresh(base, token, DEMO_API_RESOURCE).status_code == 200  # consented
    assert refresh(base, token, GRAPH_RESOURCE).status_code == 200


def test_signing_in_with_prompt_consent_grants_it_to_that_user(base: str, emu: Emulator) -> None:
    adele = refresh_token(base)
    assert_consent_required(refresh(base, adele, DEMO_REPORTS_RESOURCE))
    params = authorize_params(resource=DEMO_REPORTS_RESOURCE, prompt="consent")
    page = requests.get(f"{base}/{DEMO_TENANT_ID}/oauth2/authorize", params=params,
                        timeout=TIMEOUT)
    assert page.status_code == 200 and 'id="consent"' in page.text
    assert "Reports.Read" in page.text
    assert parse_form(page.text).hidden["prompt"] == "consent"
    fields = sign_in(base, params, user=ADELE.upn)
    resp = redeem(base, fields["code"], resource=DEMO_REPORTS_RESOURCE)
    assert resp.status_code == 200, resp.text
    access = b64url_json(resp.json()["access_token"].split(".")[1])
    assert access["aud"] == DEMO_REPORTS_RESOURCE and access["scp"] == "Reports.Read"
    # the earlier refresh token works now: consent is per user, client and resource
    assert refresh(base, adele, DEMO_REPORTS_RESOURCE).status_code == 200
    assert emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, ADELE.upn)
    assert not emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, MEGAN.upn)
    assert_consent_required(refresh(base, refresh_token(base, MEGAN.upn),
                                    DEMO_REPORTS_RESOURCE))


def test_no_consent_notice_without_prompt_consent(base: str) -> None:
    page = requests.get(f"{base}/{DEMO_TENANT_ID}/oauth2/authorize", timeout=TIMEOUT,
                        params=authorize_params())
    assert page.status_code == 200 and 'id="consent"' not in page.text


def test_cancelling_the_consent_grants_nothing(base: str, emu: Emulator) -> None:
    params = authorize_params(resource=DEMO_REPORTS_RESOURCE, prompt="consent")
    resp = requests.post(f"{base}/{DEMO_TENANT_ID}/oauth2/authorize",
                         data={**params, "cancel": "1"}, timeout=TIMEOUT)
    assert parse_form(resp.text).hidden["error"] == "access_denied"
    assert not emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, ADELE.upn)


def test_admin_consent_covers_every_user(base: str, emu: Emulator) -> None:
    params = authorize_params(resource=DEMO_REPORTS_RESOURCE, prompt="admin_consent")
    sign_in(base, params, user=LEE.upn)
    for user in (ADELE, MEGAN):
        assert refresh(base, refresh_token(base, user.upn), DEMO_REPORTS_RESOURCE) \
            .status_code == 200


def test_the_code_grant_checks_consent_to_the_resource_it_asks(base: str) -> None:
    code = code_flow(base, resource=None)["code"]  # authorize named no resource
    assert_consent_required(redeem(base, code, resource=DEMO_REPORTS_RESOURCE))
    assert redeem(base, code).status_code == 200  # the refused attempt left the code usable


def test_consent_is_settable_from_tests(base: str, emu: Emulator) -> None:
    token = refresh_token(base)
    emu.grant_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, user=ADELE.upn)
    assert refresh(base, token, DEMO_REPORTS_RESOURCE).status_code == 200
    emu.revoke_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, user=ADELE.upn)
    assert_consent_required(refresh(base, token, DEMO_REPORTS_RESOURCE))
    emu.revoke_consent(DEMO_CLIENT_ID, GRAPH_RESOURCE)  # the default consent, for everyone
    assert_consent_required(refresh(base, token, GRAPH_RESOURCE))
    assert_consent_required(refresh(base, token, "00000003-0000-0000-c000-000000000000"))
    emu.grant_consent(DEMO_CLIENT_ID, GRAPH_RESOURCE)
    assert refresh(base, token, GRAPH_RESOURCE).status_code == 200


def test_a_registration_names_its_consented_resources(base: str, emu: Emulator) -> None:
    emu.register_client(ClientRegistration(
        client_id="narrow-app", client_secret="s", redirect_uris=(REDIRECT_URI,),
        consented_resources=frozenset({GRAPH_RESOURCE, DEMO_REPORTS_RESOURCE})))
    fields = sign_in(base, authorize_params(client_id="narrow-app", response_type="code",
                                            response_mode="query", nonce=None))
    body = redeem(base, fields["code"], client_id="narrow-app", client_secret="s").json()
    form = {"grant_type": "refresh_token", "client_id": "narrow-app", "client_secret": "s",
            "refresh_token": body["refresh_token"]}
    assert token_request(base, {**form, "resource": DEMO_REPORTS_RESOURCE}).status_code == 200
    resp = token_request(base, {**form, "resource": "https://management.azure.com/"})
    assert resp.status_code == 400 and error_codes(resp) == [65001]
