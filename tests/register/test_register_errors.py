"""``aadweb register`` against the emulator: create, re-run updates, and each error a real
admin meets, explained."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from aadweb.emulator import GRAPH_RESOURCE, REGISTER_TOOL_CLIENT_ID, Emulator
from aadweb.register import RegisterError, RegisterOptions

from .support import ADELE, OffsetClock, registrar


def options(tmp_path: Path, **changes: object) -> RegisterOptions:
    values: dict[str, object] = {"name": "contoso web", "redirect_uris": ("http://127.0.0.1:5999/getAToken",),
                                 "tenant": "contoso.example", "out": str(tmp_path / "aadweb.toml")}
    values.update(changes)
    return RegisterOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("endpoint", ["v1", "v2"])
def test_creates_then_rerun_updates_the_same_application(
    emulator_url: str, emu: Emulator, clock: OffsetClock, tmp_path: Path, endpoint: str,
) -> None:
    run, admin, out = registrar(emulator_url, clock, options(tmp_path, endpoint=endpoint))
    assert run.run() == 0
    config = tomllib.loads((tmp_path / "aadweb.toml").read_text())
    assert stat.S_IMODE(os.stat(tmp_path / "aadweb.toml").st_mode) == 0o600
    client = emu.directory.client(config["AADWEB_CLIENT_ID"])
    assert client is not None and client.client_secret == config["AADWEB_CLIENT_SECRET"]
    assert out.getvalue().count(config["AADWEB_CLIENT_SECRET"]) == 1  # shown once
    assert client.allow_id_tokens is (endpoint == "v1")  # the hybrid flow needs ID tokens
    assert admin.sleeps == [5]
    again, _, out2 = registrar(emulator_url, clock, options(
        tmp_path, endpoint=endpoint, redirect_uris=("http://127.0.0.1:5999/getAToken", "https://app.example/cb")))
    assert again.run() == 0
    assert "Updated application" in out2.getvalue()
    assert len(emu.applications) == 1 and len(emu.service_principals) == 1
    updated = emu.directory.client(config["AADWEB_CLIENT_ID"])
    assert updated is not None and updated.redirect_uris == (
        "http://127.0.0.1:5999/getAToken", "https://app.example/cb", "http://127.0.0.1:5999/signed-out")


def test_certificate_instead_of_a_secret(emulator_url: str, emu: Emulator, clock: OffsetClock,
                                         tmp_path: Path) -> None:
    run, _, _ = registrar(emulator_url, clock, options(tmp_path, certificate=True))
    assert run.run() == 0
    config = tomllib.loads((tmp_path / "aadweb.toml").read_text())
    assert "AADWEB_CLIENT_SECRET" not in config
    pem = Path(config["AADWEB_CLIENT_CERTIFICATE"])
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600 and b"PRIVATE KEY" in pem.read_bytes()
    client = emu.directory.client(config["AADWEB_CLIENT_ID"])
    assert client is not None and client.certificate_pem is not None and client.client_secret is None


def test_not_allowed_to_register_is_explained(emulator_url: str, emu: Emulator, clock: OffsetClock,
                                              tmp_path: Path) -> None:
    emu.users_can_register_apps = False
    run, _, _ = registrar(emulator_url, clock, options(tmp_path), user=ADELE)
    with pytest.raises(RegisterError) as caught:
        run.run()
    message = str(caught.value.user_message)
    assert "403 Authorization_RequestDenied" in message and "Users can register applications" in message
    assert "not an admin" in message
    assert not (tmp_path / "aadweb.toml").exists()


def test_not_owner_nor_admin_updating_is_explained(emulator_url: str, clock: OffsetClock, tmp_path: Path) -> None:
    first, _, _ = registrar(emulator_url, clock, options(tmp_path))
    first.run()
    run, _, _ = registrar(emulator_url, clock, options(tmp_path), user=ADELE)
    with pytest.raises(RegisterError, match="neither an owner"):
        run.run()


def test_a_name_taken_by_several_applications_stops(emulator_url: str, emu: Emulator, clock: OffsetClock,
                                                      tmp_path: Path) -> None:
    import requests

    token = emu.issue_access_token(user="megan.bowen@contoso.example", client_id=REGISTER_TOOL_CLIENT_ID,
                                   scp="Application.ReadWrite.All")
    for _ in range(2):
        requests.post(f"{emulator_url}/v1.0/applications", json={"displayName": "contoso web"}, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    run, _, _ = registrar(emulator_url, clock, options(tmp_path))
    with pytest.raises(RegisterError, match="2 applications are named 'contoso web'"):
        run.run()
    assert len(emu.applications) == 2


def test_consent_required_is_explained(emulator_url: str, emu: Emulator, clock: OffsetClock, tmp_path: Path) -> None:
    emu.revoke_consent(REGISTER_TOOL_CLIENT_ID, GRAPH_RESOURCE)
    run, _, _ = registrar(emulator_url, clock, options(tmp_path, endpoint="v2"), user=ADELE)
    with pytest.raises(RegisterError, match=r"Consent is required.*Application\.ReadWrite\.All"):
        run.run()


def test_declined_sign_in_is_explained(emulator_url: str, clock: OffsetClock, tmp_path: Path) -> None:
    run, _, _ = registrar(emulator_url, clock, options(tmp_path), action="decline")
    with pytest.raises(RegisterError, match="declined"):
        run.run()


def test_secret_never_in_an_error_or_the_dry_run(emulator_url: str, clock: OffsetClock, tmp_path: Path) -> None:
    run, _, out = registrar(emulator_url, clock, options(tmp_path, dry_run=True))
    assert run.run() == 0
    text = out.getvalue()
    assert "POST " + emulator_url + "/v1.0/applications" in text and "Bearer «access_token:" in text
    assert "admin's token" not in text  # the placeholder token itself went through redaction
    assert not (tmp_path / "aadweb.toml").exists()
