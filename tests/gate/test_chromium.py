"""A real browser: Debian's Chromium, driven by Playwright (``executable_path``), signs in to the
protected Flask example through the emulator's page and lands on the deep link it started from.

The app is on ``localhost`` and the emulator on ``127.0.0.1``: two sites, so the authority's
form_post to /.auth/callback is a real cross-site POST without the SameSite=Lax cookies.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from aadweb.emulator import Emulator
from tests.gate.support import ADELE, ARTIFACTS, gunicorn_gate, requires_gate
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [requires_gate, pytest.mark.timeout(120)]


def test_chromium_signs_in_to_the_protected_flask_app_and_lands_on_the_deep_link(
        emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "chromium is missing: `make test` installs it (scripts/ensure-debian-packages.sh)"
    with gunicorn_gate(emulator, emulator_url, tmp_path, app="examples.flask_app:app", host="localhost") as gated, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(20_000)
            deep_link = f"{gated.url}/some/path?x=1&y=2"
            page.goto(deep_link)
            assert page.url.startswith(emulator_url), page.url  # sent to the emulator's sign-in page
            page.click(f"button[name=user][value='{ADELE}']")
            page.wait_for_url(deep_link, timeout=20_000)  # the page auto-posts back; the gate finishes
            assert page.inner_text("#remote-user") == ADELE
            assert page.inner_text("#name") == "Adele Vance"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "gate-flask-chromium.png"), full_page=True)
            app_cookies = {c["name"] for c in context.cookies(gated.url)}
            assert app_cookies, "the gate set no cookie"
            context.close()
        finally:
            browser.close()
    served = [line["path"] for line in gated.audit_lines()]
    assert served[:1] == ["/some/path"], served  # (then perhaps /favicon.ico)
    assert os.path.getsize(ARTIFACTS / "gate-flask-chromium.png") > 0
