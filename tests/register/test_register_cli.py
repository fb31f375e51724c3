"""The ``register`` subcommand: where it reads the authority and Graph from, and its exits."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from aadweb.cli import main
from aadweb.register import DEFAULT_PUBLIC_CLIENT_ID, run_from_args, where_from_env


def unused_port() -> int:
    """A port nobody listens on: a request sent there fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_where_follows_the_apps_settings() -> None:
    where = where_from_env({"AADWEB_CLOUD": "usgov", "AADWEB_GRAPH_URL": "http://127.0.0.1:9/v1.0/me",
                            "AADWEB_REGISTER_CLIENT_ID": "11111111-2222-3333-4444-555555555555"})
    assert where.authority_host == "https://login.microsoftonline.us"
    assert where.graph_root == "http://127.0.0.1:9"  # Graph's origin, from AADWEB_GRAPH_URL
    assert where.graph_resource == "https://graph.microsoft.us"  # the resource stays the cloud's
    assert where.public_client_id == "11111111-2222-3333-4444-555555555555"
    assert where_from_env({}).public_client_id == DEFAULT_PUBLIC_CLIENT_ID


def test_dry_run_through_the_cli_sends_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = unused_port()
    monkeypatch.setenv("AADWEB_AUTHORITY_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AADWEB_GRAPH_URL", f"http://127.0.0.1:{port}/v1.0/me")
    assert main(["register", "--dry-run", "--out", str(tmp_path / "x.toml")]) == 0
    assert not (tmp_path / "x.toml").exists()


def test_unreachable_authority_exits_1_with_one_line(tmp_path: Path) -> None:
    env = {"AADWEB_AUTHORITY_HOST": f"http://127.0.0.1:{unused_port()}"}

    class Args:
        name, redirect_uri, tenant, endpoint = "x", None, "organizations", "v1"
        certificate, out, dry_run, app_role = False, str(tmp_path / "x.toml"), False, None

    err = io.StringIO()
    assert run_from_args(Args(), io.StringIO(), err, env) == 1
    assert err.getvalue().startswith("aadweb register: POST http://127.0.0.1:")
    assert "client_id" not in err.getvalue()  # the form is never in the message
