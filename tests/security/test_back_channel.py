"""The token endpoint's id_token. Hybrid flow: it must name the same user and client as the
validated front-channel token (OIDC Core 3.3.3.6). Code flow: it is the only id_token, so every
claim check applies, a signed one is verified, and ``alg: none`` is accepted only because it
came straight from the token endpoint (OIDC Core 3.1.3.7 (6))."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.hostile.harness import Rig, failed_check
from tests.hostile.keys import rsa_key
from tests.hostile.mint import DELETE, segment
from tests.hostile.server import CLIENT_ID, OTHER_TENANT_ID, TENANT_ID, USER, Authz, HostileIdP

OTHER_CLIENT = "0f0e0d0c-0b0a-4909-8807-060504030201"


@pytest.mark.parametrize("claims", [
    {"oid": "00000000-0000-4000-8000-000000000bad"},
    {"tid": OTHER_TENANT_ID},
    {"aud": OTHER_CLIENT},
    {"iss": f"https://sts.windows.net/{OTHER_TENANT_ID}/"},
    {"sub": "someone-else"},
], ids=["oid", "tid", "aud", "iss", "sub"])
def test_back_channel_id_token_for_another_user_is_refused(rig: Rig, claims: dict[str, Any]) -> None:
    rig.idp.script.back_claims = claims
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "back-channel match"  # BackChannelMismatch
    assert rig.idp.hits["token"] == 1


def test_back_channel_id_token_that_is_not_a_jwt_is_refused(rig: Rig) -> None:
    rig.idp.script.token_fields = {"id_token": "not-a-jwt"}
    rig.assert_refused(rig.attempt(), "4xx")


@pytest.mark.parametrize(("claims", "check"), [
    ({"iss": f"https://sts.windows.net/{TENANT_ID}"}, "iss"),                                    # IssuerMismatch
    ({"aud": [CLIENT_ID, OTHER_CLIENT]}, "aud"),                                                 # AudienceMismatch
    ({"tid": OTHER_TENANT_ID, "iss": f"https://sts.windows.net/{OTHER_TENANT_ID}/"}, "tid"),     # TenantMismatch
    ({"nonce": "not-the-nonce"}, "nonce"),                                                       # NonceMismatch
    ({"nonce": DELETE}, "nonce"),
    ({"exp": 1_000_000_000}, "exp"),                                                             # TokenExpired
    ({"oid": DELETE}, "claims"),                                                                 # ClaimMissing
    ({"iat": DELETE}, "claims"),
], ids=["iss", "aud", "tenant", "nonce", "no-nonce", "expired", "no-oid", "no-iat"])
def test_code_flow_id_token_claims_are_checked(code_rig: Rig, claims: dict[str, Any], check: str) -> None:
    code_rig.idp.script.back_claims = claims
    page = code_rig.attempt()
    code_rig.assert_refused(page, 401)
    assert failed_check(page) == check


@pytest.mark.parametrize("header", [
    {"alg": "HS256"},                                   # keyed with the public key
    {"alg": "RS512"},
    {"kid": "attacker"},                                # signed by a key the tenant never published
], ids=["hs256", "rs512", "unknown-key"])
def test_code_flow_signed_id_token_is_verified(code_rig: Rig, header: dict[str, Any]) -> None:
    code_rig.idp.script.back_id_token = "signed"
    code_rig.idp.script.back_header = header
    if header.get("kid") == "attacker":
        code_rig.idp.script.signing_key = rsa_key("attacker")
    page = code_rig.attempt()
    code_rig.assert_refused(page, 401)
    assert failed_check(page) in ("alg", "key")


def test_code_flow_signed_id_token_with_bad_signature_is_refused(code_rig: Rig) -> None:
    def forged(idp: HostileIdP, authz: Authz) -> str:
        key = rsa_key("attacker")
        return idp.mint({"typ": "JWT", "alg": "RS256", "kid": "hostile-k1"}, idp.claims_for(authz), key=key)

    code_rig.idp.script.back_id_token = forged
    page = code_rig.attempt()
    code_rig.assert_refused(page, 401)
    assert failed_check(page) == "signature"


def test_code_flow_unsigned_id_token_with_a_signature_is_refused(code_rig: Rig) -> None:
    def half(idp: HostileIdP, authz: Authz) -> str:
        key = idp.script.signing_key
        signed = idp.mint({"typ": "JWT", "alg": "RS256", "kid": key.kid}, idp.claims_for(authz))
        _, p, s = signed.split(".")
        return f"{segment({'typ': 'JWT', 'alg': 'none'})}.{p}.{s}"

    code_rig.idp.script.back_id_token = half
    code_rig.assert_refused(code_rig.attempt(), 401)


def test_code_flow_without_id_token_is_refused(code_rig: Rig) -> None:
    code_rig.idp.script.back_id_token = "absent"
    code_rig.assert_refused(code_rig.attempt(), "5xx")


def test_code_flow_ignores_an_id_token_injected_into_the_callback(code_rig: Rig) -> None:
    """An id_token in a code-flow callback is not part of the flow: it is ignored, and the user
    is the one the token endpoint's id_token names."""
    def inject(idp: HostileIdP, authz: Authz, code: str) -> str:
        key = idp.script.signing_key
        claims = {**idp.claims_for(authz, code=code), "oid": "00000000-0000-4000-8000-000000000bad",
                  "name": "Mallory"}
        return idp.mint({"typ": "JWT", "alg": "RS256", "kid": key.kid}, claims)

    code_rig.idp.script.callback = lambda authz, fields: {
        **fields, "id_token": inject(code_rig.idp, authz, fields["code"])}
    browser = code_rig.browser()
    callback = browser.authenticate(browser.start())
    assert "id_token" in callback.fields
    page = code_rig.deliver(browser, dataclasses.replace(callback))
    assert page.status_code == 200 and "Mallory" not in page.text and USER["name"] in page.text
    session = code_rig.store.get_session(browser.cookie("aadweb_session").value.rpartition(".")[0])  # type: ignore[union-attr]
    assert session.claims["oid"] == USER["oid"]
    code_rig.assert_nothing_leaked()
