"""A real browser: headless Chromium (Debian's) driven by Playwright signs in through the
emulator's page in the default form_post flow and lands on /graphcall.

The app is on ``localhost`` and the emulator on ``127.0.0.1``: two sites, so the authority's
form_post to /getAToken is a real cross-site POST, without the SameSite=Lax cookie.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aadweb.emulator import Emulator
from tests.appserver import running_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Without the background-networking flags Chromium keeps dialling out, which this machine refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs it (scripts/ensure-debian-packages.sh)")
        pytest.skip("chromium is not installed (run `make test`, which installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.timeout(90)
def test_a_real_browser_signs_in_with_form_post_and_reaches_graphcall(browser, emulator: Emulator,  # type: ignore[no-untyped-def]
                                                                      emulator_url: str) -> None:
    with running_app(emulator, emulator_url, hostname="localhost") as app:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{app.url}/")
        # Sent to /login, then to the emulator's sign-in page.
        assert page.url.startswith(emulator_url), page.url
        page.click("button[name=user][value='adele.vance@contoso.example']")
        # The emulator's page auto-submits the form_post to the app, which finishes the sign-in.
        page.wait_for_url(f"{app.url}/", timeout=20_000)
        assert "Adele Vance" in page.content()
        page.click("a[href$='/graphcall']")
        page.wait_for_url(f"{app.url}/graphcall")
        content = page.content()
        assert "Adele Vance" in content and "adele.vance@contoso.example" in content
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-graphcall.png"), full_page=True)
        cookies = {c["name"]: c for c in context.cookies(app.url)}
        session_cookie = next(c for name, c in cookies.items() if "aadweb" in name)
        assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
        context.close()
    # The callback really arrived as a form_post (cross-site POST), then a same-site GET.
    posted = [r for r in emulator.requests if r.path.endswith("/oauth2/authorize") and r.method == "POST"]
    assert len(posted) == 1 and posted[0].form["response_mode"] == "form_post"
    assert emulator.count("POST", "/oauth2/token") == 1 and emulator.count("GET", "/v1.0/me") == 1
