"""RFC 9207: an authorization response that names its issuer (``iss``) is refused unless that is
the expected issuer, before an error is shown as the authority's or a code is redeemed (mix-up
attacks, RFC 9700 4.4). Azure AD does not send ``iss`` today; a response without it is
accepted as before."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hostile.harness import Rig, RigFactory, failed_check
from tests.hostile.server import ISSUER, OTHER_TENANT_ID, TENANT_ID
from tests.transcript.transcript_helpers import records

THIRD_TENANT_ID = "4c6e8a0b-2d4f-4b6d-8f0a-3c5e7a9b1d2f"


def _add_iss(rig: Rig, iss: str, **more: str) -> None:
    rig.idp.script.callback = lambda authz, fields: {**fields, "iss": iss, **more}


def _response_iss_verdicts(rig: Rig) -> list[dict[str, Any]]:
    return [v for r in records(rig.wire_log) for v in r.get("verdicts") or () if v["check"] == "response_iss"]


@pytest.mark.parametrize("iss", [
    f"https://sts.windows.net/{OTHER_TENANT_ID}/",           # another tenant of the same authority
    "https://evil.example/",                                 # another authorization server
    f"https://sts.windows.net/{TENANT_ID}",                  # no trailing slash
    f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",   # the v2 issuer
    f"https://sts.windows.net/{TENANT_ID.upper()}/",
    "",
], ids=["other-tenant", "other-server", "no-slash", "v2", "upper", "empty"])
@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_response_naming_another_issuer_is_refused_before_the_code_is_redeemed(rig: Rig, code_rig: Rig, flow: str,
                                                                                iss: str) -> None:
    r = rig if flow == "hybrid" else code_rig
    _add_iss(r, iss)
    page = r.attempt()
    r.assert_refused(page, 401)
    assert failed_check(page) == "response_iss" and "could not be verified" in page.text
    assert r.idp.hits["token"] == 0 and r.idp.hits["jwks"] == 0
    assert [v["passed"] for v in _response_iss_verdicts(r)] == [False]


@pytest.mark.parametrize("flow", ["hybrid", "code"])
def test_response_naming_the_expected_issuer_signs_in_and_is_recorded(rig: Rig, code_rig: Rig, flow: str) -> None:
    r = rig if flow == "hybrid" else code_rig
    _add_iss(r, ISSUER)
    r.sign_in()
    assert [v["passed"] for v in _response_iss_verdicts(r)] == [True]
    r.assert_nothing_leaked()


@pytest.mark.parametrize("mode", ["form_post", "query"])
def test_error_response_from_another_issuer_is_not_shown_as_the_authoritys(rig: Rig, mode: str) -> None:
    """RFC 9207 2.4: the client must not assume an error comes from the intended server; the
    hybrid flow's error arrives by form_post, or by GET although form_post was asked."""
    rig.idp.script.response_mode = mode
    rig.idp.script.callback = lambda authz, fields: {
        "error": "invalid_request", "error_description": "AADSTS50011: go to https://evil.example/fix",
        "state": fields["state"], "iss": "https://evil.example/"}
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "response_iss" and "AADSTS50011" not in page.text
    rig.idp.script.callback = lambda authz, fields: {
        "error": "invalid_request", "error_description": "AADSTS50011: reply URL mismatch",
        "state": fields["state"], "iss": ISSUER}
    page = rig.attempt()
    rig.assert_refused(page, 400)
    assert "AADSTS50011" in page.text


@pytest.fixture(params=["common", "organizations"])
def multi_rig(rigs: RigFactory, request: pytest.FixtureRequest) -> Rig:
    return rigs.make(tenant=request.param, allowed_tenants=(TENANT_ID, THIRD_TENANT_ID))


@pytest.mark.parametrize("iss", [f"https://sts.windows.net/{THIRD_TENANT_ID}/",  # allowed, but not the token's
                                 f"https://sts.windows.net/{OTHER_TENANT_ID}/",  # not allowed
                                 "https://sts.windows.net/{tenantid}/"],         # the metadata's template
                         ids=["other-allowed", "not-allowed", "template"])
def test_multi_tenant_response_issuer_must_be_the_signed_in_tenants(multi_rig: Rig, iss: str) -> None:
    """``common``/``organizations``: the expected issuer is the issuer of the tenant that signs the
    user in: an allowed tenant's, and the validated id_token's own ``iss``."""
    _add_iss(multi_rig, iss)
    page = multi_rig.attempt()
    multi_rig.assert_refused(page, 401)
    assert failed_check(page) == "response_iss" and multi_rig.idp.hits["token"] == 0
    _add_iss(multi_rig, ISSUER)
    multi_rig.sign_in()
