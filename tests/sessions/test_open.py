"""open_store: the AADWEB_SESSION_STORE URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aadweb.errors import ConfigurationError
from aadweb.sessions import MemorySessionStore, RedisSessionStore, SessionStore, SqliteSessionStore, open_store

KEY = "k" * 40


def test_memory() -> None:
    store = open_store("memory:", secret_key=KEY)
    assert isinstance(store, MemorySessionStore) and isinstance(store, SessionStore)


def test_sqlite_relative_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel.db", secret_key=KEY)
    assert isinstance(store, SqliteSessionStore)
    store.close()
    assert (tmp_path / "rel.db").exists()
    absolute = tmp_path / "sub dir"
    absolute.mkdir()
    store = open_store("sqlite:///" + str(absolute / "abs%20file.db"), secret_key=KEY)
    store.close()
    assert str(absolute).startswith(os.sep) and (absolute / "abs file.db").exists()


def test_the_clock_is_passed_on(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/c.db", secret_key=KEY, clock=lambda: 42.0)
    assert store.clock() == 42.0
    store.close()


@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "rediss://cache.example:6380/1"])
def test_redis_urls_open_a_redis_store_without_connecting(url: str) -> None:
    store = open_store(url, secret_key=KEY, clock=lambda: 42.0)
    assert isinstance(store, RedisSessionStore) and isinstance(store, SessionStore)
    assert store.clock() == 42.0
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://db/x",
        "",
        "sessions.db",
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///x.db?mode=ro",
        "memory:x",
        "redis://",
        "redis://host:port/0",
        "redis://host/zero",
        "redis://host/0?prefix=",
        "redis://host/0?timeout=0",
        "redis://host/0?pool=9",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError, match="AADWEB_SESSION_STORE"):
        open_store(url, secret_key=KEY)


def test_an_empty_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_store(f"sqlite:///{tmp_path}/k.db", secret_key="")


# --- the Redis password in AADWEB_SESSION_STORE never reaches a repr or a message ------------

_SETTINGS = {
    "AADWEB_TENANT": "contoso.example",
    "AADWEB_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "AADWEB_CLIENT_SECRET": "client-secret",
    "AADWEB_SECRET_KEY": KEY,
}


def test_settings_repr_hides_the_redis_password() -> None:
    from aadweb.settings import Settings

    settings = Settings.from_mapping({**_SETTINGS, "AADWEB_SESSION_STORE": "rediss://ops:PW-SENTINEL@cache.example:6380/2"})
    assert settings.session_store.endswith("PW-SENTINEL@cache.example:6380/2")  # the value itself is kept
    shown = repr(settings)
    assert "PW-SENTINEL" not in shown
    assert "rediss://ops:" in shown and "@cache.example:6380/2" in shown


@pytest.mark.parametrize("proxy", ["socks5://ops:PW-SENTINEL@proxy.example:1080", "http://ops:PW-SENTINEL@proxy:99999"])
def test_a_refused_url_is_named_without_its_password(proxy: str) -> None:
    from aadweb.settings import Settings

    with pytest.raises(ConfigurationError) as caught:
        Settings.from_mapping({**_SETTINGS, "AADWEB_PROXY": proxy})
    assert "AADWEB_PROXY" in str(caught.value) and "PW-SENTINEL" not in str(caught.value)
