"""`aadweb sessions`: counts, and --purge of expired sessions in the sqlite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadweb.cli import main
from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from aadweb.secret import Secret
from aadweb.sessions import SessionRecord, TokenSet, open_store

SECRET_KEY = "sessions-cli-test-secret-key-0123456789abcdef"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name, value in {"AADWEB_TENANT": DEMO_TENANT_ID, "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
                        "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET, "AADWEB_SECRET_KEY": SECRET_KEY,
                        "AADWEB_SESSION_STORE": f"sqlite:///{tmp_path}/s.db"}.items():
        monkeypatch.setenv(name, value)
    return f"sqlite:///{tmp_path}/s.db"


def record(session_id: str, *, expires_at: float) -> SessionRecord:
    tokens = TokenSet(access_token=Secret("access_token", "at-" + session_id), refresh_token=None,
                      expires_on=expires_at, resource="https://graph.microsoft.com")
    return SessionRecord(session_id=session_id, created_at=0.0, expires_at=expires_at, last_seen=0.0,
                         claims={"tid": DEMO_TENANT_ID}, tokens=tokens, csrf_token="c" * 43, flow_id="f")


def test_sessions_counts_and_purges_expired_ones(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    store = open_store(env, secret_key=SECRET_KEY)
    store.create_session(record("live-session-id-000000000000000000000", expires_at=time.time() + 3600))
    store.create_session(record("gone-session-id-000000000000000000000", expires_at=time.time() - 10))
    store.close()
    assert main(["sessions"]) == 0
    out = capsys.readouterr().out
    assert "sessions: 1" in out and "expired: 1" in out
    assert main(["sessions", "--purge"]) == 0
    out = capsys.readouterr().out
    assert "purged 1 expired entries" in out and "expired: 0" in out
    assert SECRET_KEY not in out and "at-live" not in out


def test_sessions_with_a_bad_configuration_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AADWEB_TENANT", raising=False)
    assert main(["sessions"]) == 2
    assert "AADWEB_TENANT is required" in capsys.readouterr().err

def test_sessions_counts_and_purges_idle_ones_with_an_idle_limit(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses
    import time

    now = time.time()
    store = open_store(env, secret_key=SECRET_KEY)
    for name, seen in (("busy", now - 10), ("idle", now - 4000)):
        r = record(f"{name}-session-id-000000000000000000000", expires_at=now + 3600)
        store.create_session(dataclasses.replace(r, created_at=now - 5000, last_seen=seen))
    store.close()
    monkeypatch.setenv("AADWEB_SESSION_IDLE", "1800")
    assert main(["sessions", "--purge"]) == 0
    out = capsys.readouterr().out
    assert "purged 1 expired entries" in out and "sessions: 1" in out
