"""``aadweb check-config`` runs every check the app's start-up runs: "configuration OK" means it starts.

Each configuration here passes ``Settings`` (each value is fine on its own) but is refused when
the app starts. check-config must fail with exactly the problems ``aadweb serve`` prints (the
real start: ``create_app`` inside ``serve``), and must not create the files it checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aadweb.cli import main
from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID
from aadweb.errors import ConfigurationError
from aadweb.settings import Settings
from aadweb.web import create_app

SECRET_KEY = "k" * 20 + "-test-secret-key-not-for-production"
BASE = {
    "AADWEB_TENANT": DEMO_TENANT_ID,
    "AADWEB_CLIENT_ID": DEMO_CLIENT_ID,
    "AADWEB_CLIENT_SECRET": DEMO_CLIENT_SECRET,
    "AADWEB_SECRET_KEY": SECRET_KEY,
    "AADWEB_SESSION_STORE": "memory:",
}

#: name -> (extra settings given the temp dir, a fragment of the one problem expected)
REFUSED: dict[str, tuple[Callable[[Path], dict[str, str]], str]] = {
    "wire view on a public host": (
        lambda tmp: {"AADWEB_REDIRECT_URI": "https://app.example.com/getAToken", "AADWEB_WIRE_VIEW": "1",
                     "AADWEB_WIRE_LOG": str(tmp / "wire.jsonl")},
        "AADWEB_WIRE_VIEW=1 is allowed only for the demo or an app on loopback",
    ),
    "wire view without a wire log": (
        lambda tmp: {"AADWEB_WIRE_VIEW": "1"},
        "AADWEB_WIRE_VIEW=1 needs AADWEB_WIRE_LOG",
    ),
    "wire log in a missing directory": (
        lambda tmp: {"AADWEB_WIRE_LOG": str(tmp / "missing" / "wire.jsonl")},
        "cannot be opened for appending (No such file or directory)",
    ),
    "wire log that is a directory": (
        lambda tmp: {"AADWEB_WIRE_LOG": str(tmp)},
        "cannot be opened for appending (Is a directory)",
    ),
    "sqlite URL with a query": (
        lambda tmp: {"AADWEB_SESSION_STORE": f"sqlite:///{tmp}/sessions.db?mode=ro"},
        "a sqlite URL is sqlite:///path, with no host, query or fragment",
    ),
    "sqlite URL naming no file": (
        lambda tmp: {"AADWEB_SESSION_STORE": f"sqlite:///{tmp}/"},
        "the sqlite URL names no database file",
    ),
    "sqlite file in a missing directory": (
        lambda tmp: {"AADWEB_SESSION_STORE": f"sqlite:///{tmp}/missing/sessions.db"},
        "cannot be created or written (No such file or directory)",
    ),
    "redis URL with an unknown parameter": (
        lambda tmp: {"AADWEB_SESSION_STORE": "redis://127.0.0.1:6379/0?pool=3"},
        "unknown redis URL parameter 'pool'",
    ),
    "redis URL with a database that is not a number": (
        lambda tmp: {"AADWEB_SESSION_STORE": "redis://127.0.0.1:6379/sessions"},
        "the redis URL's path must be a database number",
    ),
}


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[dict[str, str]], None]]:
    for name in list(os.environ):
        if name.startswith("AADWEB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # the default sqlite file would land here

    def use(extra: dict[str, str]) -> None:
        for name, value in {**BASE, **extra}.items():
            monkeypatch.setenv(name, value)

    yield use


def _problem_lines(text: str) -> list[str]:
    return [line.removeprefix("  - ") for line in text.splitlines() if line.startswith("  - ")]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_check_config_refuses_what_the_app_start_refuses_with_the_same_message(
    case: str, environ: Callable[[dict[str, str]], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, expected = REFUSED[case]
    environ(extra(tmp_path))
    before = sorted(p.name for p in tmp_path.rglob("*"))

    assert main(["check-config"]) == 1
    checked = capsys.readouterr().out
    assert "configuration OK" not in checked
    reported = _problem_lines(checked)
    assert len(reported) == 1 and expected in reported[0], checked
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created by checking

    assert main(["serve", "--host", "127.0.0.1", "--port", "0"]) == 2  # refused before listening
    started = capsys.readouterr().err
    assert _problem_lines(started) == reported

    with pytest.raises(ConfigurationError) as refused:
        create_app(Settings.from_env())
    assert list(refused.value.problems) == reported


def test_check_config_ok_means_the_app_starts(
    environ: Callable[[dict[str, str]], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ({"AADWEB_SESSION_STORE": f"sqlite:///{tmp_path}/sessions.db",
             "AADWEB_WIRE_LOG": str(tmp_path / "wire.jsonl"), "AADWEB_WIRE_VIEW": "1"})
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.startswith("configuration OK")
    assert not (tmp_path / "sessions.db").exists() and not (tmp_path / "wire.jsonl").exists()
    create_app(Settings.from_env()).close()
    assert (tmp_path / "sessions.db").exists() and (tmp_path / "wire.jsonl").exists()
