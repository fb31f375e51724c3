"""Multi-tenant sign-in against the emulator: ``AADWEB_TENANT=common`` (or ``organizations``)
with ``AADWEB_ALLOWED_TENANTS``. An allowed tenant's user signs in; a user of another real
tenant (Fabrikam's Nestor Wilke) authenticates at the authority but is refused by aadweb with a
403 page that says the organisation is not allowed; nothing of the refused sign-in remains."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aadweb.emulator import DEMO_TENANT_ID, FABRIKAM_TENANT_ID, FABRIKAM_USERS, Emulator
from tests.appserver import RunningApp, running_app
from tests.web.browser import Browser

ADELE = "adele.vance@contoso.example"
NESTOR = FABRIKAM_USERS[0].upn


@pytest.fixture(params=["common", "organizations"])
def multi_app(request: pytest.FixtureRequest, emulator: Emulator, emulator_url: str) -> Iterator[RunningApp]:
    with running_app(emulator, emulator_url, tenant=request.param, allowed_tenants=(DEMO_TENANT_ID,)) as app:
        yield app


@pytest.mark.parametrize("response_type", ["code id_token", "code"])
def test_allowed_tenant_signs_in_through_common(emulator: Emulator, emulator_url: str, response_type: str) -> None:
    with running_app(emulator, emulator_url, tenant="common", allowed_tenants=(DEMO_TENANT_ID,),
                     response_type=response_type) as app:
        browser = Browser(app.url)
        authorize = browser.start()
        assert "/common/oauth2/authorize?" in authorize
        page = browser.follow(browser.deliver(browser.authenticate(authorize, user=ADELE)))
        assert page.status_code == 200 and "Adele Vance" in page.text and DEMO_TENANT_ID in page.text
        assert browser.get("/graphcall").status_code == 200
        assert app.app.store.counts()["sessions"] == 1


def test_other_tenant_is_refused_with_a_page_that_says_so(multi_app: RunningApp, emulator: Emulator) -> None:
    browser = Browser(multi_app.url)
    page = browser.follow(browser.deliver(browser.authenticate(browser.start(), user=NESTOR)))
    assert page.status_code == 403
    assert "Your organisation is not allowed" in page.text
    assert "not allowed to sign in to this application" in page.text
    assert "Nestor" not in page.text and "Traceback" not in page.text
    assert browser.cookie("aadweb_session") is None
    counts = multi_app.app.store.counts()
    assert counts["sessions"] == 0 and counts["pending"] == 0
    assert emulator.count("GET", "/v1.0/me") == 0
    assert emulator.count("POST", "/oauth2/token") == 0  # refused before the code was redeemed


def test_both_tenants_allowed_sign_in_each_their_own(emulator: Emulator, emulator_url: str) -> None:
    with running_app(emulator, emulator_url, tenant="common",
                     allowed_tenants=(DEMO_TENANT_ID, FABRIKAM_TENANT_ID)) as app:
        for user, name, tid in ((ADELE, "Adele Vance", DEMO_TENANT_ID), (NESTOR, "Nestor Wilke", FABRIKAM_TENANT_ID)):
            browser = Browser(app.url)
            page = browser.follow(browser.deliver(browser.authenticate(browser.start(), user=user)))
            assert page.status_code == 200 and name in page.text and tid in page.text
