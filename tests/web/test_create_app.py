"""aadweb.web.create_app: what it builds, and what it refuses."""

from __future__ import annotations

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

import aadweb
from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from aadweb.errors import ConfigurationError
from aadweb.secret import Secret
from aadweb.sessions import MemorySessionStore, TokenCipher
from aadweb.web import AadWebApp, create_app
from tests.conftest import emulator_settings

URL = "http://127.0.0.1:9"  # never contacted: nothing here goes to the network


def test_without_a_secret_key_the_app_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError) as info:
        create_app(emulator_settings(URL))
    assert "AADWEB_SECRET_KEY" in str(info.value)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AADWEB_TENANT": DEMO_TENANT_ID, "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET, "AADWEB_AUTHORITY_HOST": URL,
        "AADWEB_GRAPH_URL": f"{URL}/v1.0/me", "AADWEB_SECRET_KEY": "s" * 40, "AADWEB_SESSION_STORE": "memory:",
    }.items():
        monkeypatch.setenv(name, value)
    app = aadweb.create_app()
    try:
        assert isinstance(app, AadWebApp) and app.settings.client_id == DEMO_CLIENT_ID
        assert isinstance(app.store, MemorySessionStore)
        assert Client(app).get("/healthz").status_code == 200
    finally:
        app.close()


def test_proxy_fix_only_with_trusted_hops() -> None:
    base = emulator_settings(URL, secret_key=Secret("secret_key", "s" * 40))
    cipher = TokenCipher.from_secret("s" * 40)
    plain = create_app(base, store=MemorySessionStore(cipher=cipher))
    trusting = create_app(base.with_changes(trusted_proxy_hops=2), store=MemorySessionStore(cipher=cipher))
    try:
        assert not isinstance(plain.wsgi_app, ProxyFix)
        assert isinstance(trusting.wsgi_app, ProxyFix) and trusting.wsgi_app.x_for == 2
        assert trusting.wsgi_app.x_prefix == 0  # SCRIPT_NAME is never taken from a header
        assert Client(trusting).get("/healthz", headers={"X-Forwarded-For": "1.2.3.4, 5.6.7.8"}).status_code == 200
    finally:
        plain.close()
        trusting.close()
