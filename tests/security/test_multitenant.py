"""Multi-tenant sign-in (AADWEB_TENANT=common / organizations with AADWEB_ALLOWED_TENANTS): the
tenant is the token's own ``tid``, it must be on the list, and ``iss`` must be exactly the
issuer of that ``tid`` (OIDC Core 3.1.3.7 (2); Microsoft identity platform, "Validating tokens
in multi-tenant applications")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hostile.harness import Rig, RigFactory, failed_check
from tests.hostile.mint import DELETE
from tests.hostile.server import OTHER_TENANT_ID, TENANT_ID

THIRD_TENANT_ID = "4c6e8a0b-2d4f-4b6d-8f0a-3c5e7a9b1d2f"


@pytest.fixture(params=["common", "organizations"])
def multi_rig(rigs: RigFactory, request: pytest.FixtureRequest) -> Rig:
    return rigs.make(tenant=request.param, allowed_tenants=(TENANT_ID, THIRD_TENANT_ID))


def test_allowed_tenant_signs_in_on_a_multi_tenant_endpoint(multi_rig: Rig) -> None:
    browser = multi_rig.sign_in()
    assert multi_rig.idp.authorizations[0].tenant == multi_rig.settings.tenant
    assert browser.get("/graphcall").status_code == 200
    multi_rig.assert_nothing_leaked()


def test_tenant_not_on_the_allowed_list_is_refused(multi_rig: Rig) -> None:
    multi_rig.idp.script.claims = {"tid": OTHER_TENANT_ID, "iss": f"https://sts.windows.net/{OTHER_TENANT_ID}/"}
    page = multi_rig.attempt()
    multi_rig.assert_refused(page, 403)
    assert "Your organisation is not allowed" in page.text and multi_rig.idp.hits["token"] == 0


@pytest.mark.parametrize("claims", [
    {"iss": f"https://sts.windows.net/{THIRD_TENANT_ID}/"},      # another allowed tenant's issuer
    {"iss": f"https://sts.windows.net/{OTHER_TENANT_ID}/"},
    {"iss": "https://sts.windows.net/{tenantid}/"},               # the metadata's template, verbatim
    {"iss": "https://sts.windows.net/common/"},
    {"iss": f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"},
], ids=["other-allowed", "other", "template", "common", "v2"])
def test_multi_tenant_issuer_must_match_the_tokens_own_tid(multi_rig: Rig, claims: dict[str, Any]) -> None:
    multi_rig.idp.script.claims = claims
    page = multi_rig.attempt()
    multi_rig.assert_refused(page, 401)
    assert failed_check(page) == "iss"


@pytest.mark.parametrize("tid", [DELETE, "", "common", TENANT_ID.upper(), ["x"]], ids=["missing", "empty", "common",
                                                                                    "upper", "list"])
def test_multi_tenant_token_without_a_usable_tid_is_refused(multi_rig: Rig, tid: Any) -> None:
    multi_rig.idp.script.claims = {"tid": tid}
    page = multi_rig.attempt()
    multi_rig.assert_refused(page, "4xx")
