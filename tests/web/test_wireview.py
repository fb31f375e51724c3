"""``/_aadweb/wire``: the signed-in browser's last sign-in as a sequence diagram, only when
AADWEB_WIRE_VIEW=1 on a loopback app; no script, no inline style, every value escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aadweb.emulator import Emulator, Fault
from aadweb.errors import ConfigurationError
from aadweb.secret import Secret
from aadweb.testing import demo_settings
from aadweb.web import create_app
from tests.conftest import emulator_settings
from tests.transcript.transcript_helpers import assert_no_secrets, secrets_sent
from tests.web.conftest import SECRET_KEY, Served

SIGN_IN_LEGS = ["login", "authorize_redirect", "form_post", "form_post_redirect", "callback", "metadata", "jwks",
                "token", "validation", "signed_in", "graphcall", "graph", "graphcall_page"]


def _viewing(serve: Callable[..., Served], tmp_path: Path, **changes: Any) -> Served:
    return serve(wire_log=str(tmp_path / "wire.jsonl"), wire_view=True, **changes)


def test_the_page_draws_every_leg_of_the_last_sign_in(serve: Callable[..., Served], emulator: Emulator,
                                                      tmp_path: Path) -> None:
    served = _viewing(serve, tmp_path)
    browser = served.browser()
    home = browser.sign_in()
    assert 'href="/_aadweb/wire"' in home.text  # the home page links to it when the view is on
    assert browser.get("/graphcall").status_code == 200
    page = browser.get("/_aadweb/wire")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script at all
    html = page.text
    drawn = re.findall(r'<details class="leg leg-([a-z_]+)">', html)
    assert [leg for leg in drawn if leg != "implied"] == SIGN_IN_LEGS
    for leg in SIGN_IN_LEGS:
        assert f"<strong>{leg}</strong>" in html
    for lifeline in ("browser", "app", "authority", "graph"):
        assert f">{lifeline}</text>" in html
    assert html.count("<svg") == len(drawn) + 1 and "<summary>" in html and "<pre>" in html
    assert "GET /login" in html and "POST /getAToken (form_post, via the browser)" in html
    assert "checks passed" in html and "302 Found" in html
    assert '<th scope="row">nonce</th><td class="pass">PASS</td>' in html  # the verdicts, as a table
    # No script, no inline style: presentation attributes and the app's stylesheet only.
    assert "<script" not in html and "<style" not in html and " style=" not in html and "javascript:" not in html
    assert_no_secrets(html, secrets_sent(emulator, served, [browser]))


def test_the_page_shows_only_the_browsers_own_flow(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = _viewing(serve, tmp_path)
    first, second = served.browser(), served.browser()
    first.sign_in()
    second.sign_in()
    second.get("/graphcall")
    page = first.get("/_aadweb/wire").text
    assert "leg-graphcall" not in page  # the second browser's Graph call is not in the first's flow
    assert page.count('class="leg leg-callback"') == 1


def test_values_in_records_are_escaped(serve: Callable[..., Served], emulator: Emulator, tmp_path: Path) -> None:
    served = _viewing(serve, tmp_path, wire_personal=True)
    browser = served.browser()
    browser.sign_in()
    emulator.faults.add(Fault(kind="set_field", endpoint="graph", field="jobTitle",
                              value="<script>alert(1)</script>", times=1))
    browser.get("/graphcall")
    html = browser.get("/_aadweb/wire").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html


def test_signed_out_browsers_are_sent_to_sign_in(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = _viewing(serve, tmp_path)
    resp = served.browser().get("/_aadweb/wire")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login?next=/_aadweb/wire"
    assert "/_aadweb/wire" in served.browser().sign_in("/_aadweb/wire").url


@pytest.mark.parametrize("changes", [{}, {"wire_log": "LOG"}])
def test_the_page_is_not_there_when_the_view_is_off(serve: Callable[..., Served], tmp_path: Path,
                                                    changes: dict[str, str]) -> None:
    served = serve(**{k: str(tmp_path / "wire.jsonl") for k in changes})
    browser = served.browser()
    home = browser.sign_in()
    assert "_aadweb/wire" not in home.text
    assert browser.get("/_aadweb/wire").status_code == 404


def test_create_app_refuses_the_view_off_loopback(emulator_url: str, tmp_path: Path) -> None:
    common: dict[str, Any] = {"secret_key": Secret("secret_key", SECRET_KEY), "wire_view": True}
    public = emulator_settings(emulator_url, redirect_uri="https://app.example.com/getAToken",
                               wire_log=str(tmp_path / "w.jsonl"), **common)
    with pytest.raises(ConfigurationError) as refused:
        create_app(public)
    assert "AADWEB_WIRE_VIEW=1 is allowed only for the demo or an app on loopback" in str(refused.value)
    with pytest.raises(ConfigurationError, match="needs AADWEB_WIRE_LOG"):
        create_app(emulator_settings(emulator_url, **common))
    with pytest.raises(ConfigurationError, match="cannot be opened"):
        create_app(emulator_settings(emulator_url, wire_log=str(tmp_path / "no" / "such" / "w.jsonl"), **common))
    for host in ("localhost", "127.0.0.1", "[::1]"):
        app = create_app(emulator_settings(emulator_url, redirect_uri=f"http://{host}:5000/getAToken",
                                           wire_log=str(tmp_path / "w.jsonl"), **common))
        app.close()


def test_the_demo_turns_the_view_on(tmp_path: Path) -> None:
    settings = demo_settings(emulator_url="http://127.0.0.1:5001", redirect_uri="http://localhost:5000/getAToken",
                             environ={}, wire_log=str(tmp_path / "w.jsonl"))
    assert settings.wire_view and settings.wire_log == str(tmp_path / "w.jsonl")
    off = demo_settings(emulator_url="http://127.0.0.1:5001", redirect_uri="http://localhost:5000/getAToken",
                        environ={"AADWEB_WIRE_VIEW": "0"}, wire_log=str(tmp_path / "w.jsonl"))
    assert not off.wire_view
