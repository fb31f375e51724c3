"""examples/django_project behind the gate: ``AADWEB_APP=examples.django_project.wsgi:application
gunicorn -w 2 aadweb.wsgi:app``. Django's RemoteUserMiddleware + RemoteUserBackend make the user
from REMOTE_USER; the test migrates the project's sqlite database first, as an operator would.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from html import unescape
from pathlib import Path

import django
import pytest

from aadweb.emulator import GRAPH_RESOURCE, Emulator
from tests.gate.support import ADELE, ROOT, GateBrowser, gunicorn_gate, requires_gate

pytestmark = [requires_gate, pytest.mark.timeout(120)]


def _span(html: str, span_id: str) -> str:
    start = html.index(f"id='{span_id}'>") + len(f"id='{span_id}'>")
    return unescape(html[start:html.index("</span>", start)])


def test_django_sees_the_signed_in_user_and_creates_it(emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    assert django.VERSION[:2] == (5, 2)
    db = tmp_path / "django.sqlite3"
    django_env = {"DJANGO_SETTINGS_MODULE": "examples.django_project.settings",
                  "DJANGO_SECRET_KEY": "django-example-test-key-" + "z" * 40, "DJANGO_DB_PATH": str(db)}
    migrate = subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput"], cwd=ROOT, capture_output=True,
                             text=True, timeout=90,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
                                  **django_env})
    assert migrate.returncode == 0, migrate.stderr[-2000:]

    with gunicorn_gate(emulator, emulator_url, tmp_path, app="examples.django_project.wsgi:application",
                       env=django_env) as gated:
        browser = GateBrowser()
        page = browser.sign_in(f"{gated.url}/")
        assert page.status_code == 200, (page.status_code, page.text[:500], browser.hops)
        assert _span(page.text, "username") == ADELE  # request.user.username
        assert _span(page.text, "authenticated") == "True"
        assert _span(page.text, "name") == "Adele Vance"  # from environ["aadweb.user"]
        whoami = browser.get(f"{gated.url}/api/whoami", headers={"Accept": "application/json"}).json()
        assert whoami == {"username": ADELE, "is_authenticated": True, "remote_user": ADELE}
        token = browser.get(f"{gated.url}/api/token", headers={"Accept": "application/json"})
        assert token.status_code == 200 and token.json()["aud"] == GRAPH_RESOURCE, token.text[:300]
        assert "sessionid" in browser.cookie_names()  # Django's own session (RemoteUserMiddleware logged in)

    with sqlite3.connect(db) as conn:  # RemoteUserBackend created the user row, without a password
        rows = conn.execute("SELECT username, password FROM auth_user").fetchall()
    assert [username for username, _ in rows] == [ADELE]
    assert rows[0][1] == "" or rows[0][1].startswith("!")  # no usable password: only aadweb signs people in
