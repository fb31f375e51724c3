"""aadweb.compose.build_signin: the composition root minus the web layer."""

from __future__ import annotations

from pathlib import Path

import pytest

import aadweb
from aadweb.compose import SECRET_KEY_REQUIRED, build_signin
from aadweb.errors import ConfigurationError, SessionStoreError
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.secret import Secret
from aadweb.sessions import MemorySessionStore, TokenCipher
from aadweb.settings import Settings
from aadweb.transport import MockTransport, RecordingTransport, RequestsTransport
from aadweb.web import app_settings, create_app
from tests.conftest import emulator_settings

URL = "http://127.0.0.1:9"  # never contacted
KEY = Secret("secret_key", "k" * 40)


def _never(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"unexpected call to {request.url}")


def test_builds_the_sign_in_from_the_settings_and_closes_what_it_opened() -> None:
    signin = build_signin(emulator_settings(URL, secret_key=KEY))
    assert aadweb.build_signin is build_signin and isinstance(signin, aadweb.SignIn)
    assert isinstance(signin.store, MemorySessionStore)  # AADWEB_SESSION_STORE=memory:
    assert isinstance(signin.authority.transport, RequestsTransport)
    assert signin.graph.transport is signin.authority.transport and signin.transcript is None
    signin.close()
    with pytest.raises(SessionStoreError):
        signin.store.ping()


def test_what_is_given_is_used_and_left_open() -> None:
    store, transport = MemorySessionStore(cipher=TokenCipher.from_secret("s" * 40)), MockTransport(_never)
    signin = build_signin(emulator_settings(URL), store=store, transport=transport)  # no key needed: no store built
    assert signin.store is store and signin.authority.transport is transport
    signin.close()
    store.ping()


def test_opening_a_session_store_needs_the_secret_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        build_signin(emulator_settings(URL), transport=MockTransport(_never))
    assert list(info.value.problems) == [SECRET_KEY_REQUIRED]


def test_the_wire_log_wraps_the_transport_and_is_the_apps_transcript(tmp_path: Path) -> None:
    settings = emulator_settings(URL, secret_key=KEY, wire_log=str(tmp_path / "wire.jsonl"))
    signin = build_signin(settings, transport=MockTransport(_never))
    try:
        assert signin.transcript is not None and isinstance(signin.authority.transport, RecordingTransport)
    finally:
        signin.close()
    app = create_app(settings, transport=MockTransport(_never))
    try:
        assert app.wiretap is not None and app.wiretap.transcript is app.signin.transcript
    finally:
        app.close()


def test_a_wire_log_that_cannot_be_written_is_a_start_up_error(tmp_path: Path) -> None:
    settings = emulator_settings(URL, secret_key=KEY, wire_log=str(tmp_path / "missing" / "wire.jsonl"))
    with pytest.raises(ConfigurationError) as info:
        build_signin(settings)
    assert "AADWEB_WIRE_LOG" in str(info.value)


def test_settings_do_not_require_a_secret_key_the_app_does() -> None:
    settings = Settings(tenant="contoso.example", client_id="00000000-0000-4000-8000-000000000001",
                        client_secret=Secret("client_secret", "s"))
    assert settings.secret_key is None
    with pytest.raises(ConfigurationError) as info:
        create_app(settings)
    assert SECRET_KEY_REQUIRED in info.value.problems


def test_app_settings_lists_the_missing_key_with_every_other_problem() -> None:
    with pytest.raises(ConfigurationError) as info:
        app_settings({"AADWEB_CLIENT_ID": "not-a-guid"})
    problems = info.value.problems
    assert SECRET_KEY_REQUIRED in problems
    assert any("AADWEB_TENANT is required" in p for p in problems)
    assert any("AADWEB_CLIENT_ID must be a GUID" in p for p in problems)
