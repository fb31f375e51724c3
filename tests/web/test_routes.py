"""The route map: the callback is the redirect URI's path under the mount point, and the app's
own redirects are built from the map."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aadweb.errors import ConfigurationError
from aadweb.secret import Secret
from aadweb.web import create_app
from aadweb.web.app import callback_problems, callback_route
from tests.conftest import emulator_settings
from tests.transcript.transcript_helpers import records
from tests.web.conftest import SECRET_KEY, Served


@pytest.mark.parametrize(("redirect_path", "mount", "route"), [
    ("/getAToken", "", "/getAToken"),
    ("/auth/getAToken", "", "/auth/getAToken"),  # at the root: the whole path
    ("/auth/getAToken", "/auth", "/getAToken"),
    ("/auth/getAToken", "/auth/", "/getAToken"),
    ("/a/b/callback", "/a", "/b/callback"),
    ("/getAToken", "/auth", None),  # the answer goes elsewhere: no callback route here
    ("/authx/getAToken", "/auth", None),  # a prefix of a segment is not the mount point
    ("", "", "/"),
])
def test_callback_route_is_the_redirect_path_under_the_mount_point(redirect_path: str, mount: str,
                                                                   route: str | None) -> None:
    assert callback_route(redirect_path, mount) == route


@pytest.mark.parametrize("response_type", ["code id_token", "code"])
def test_the_callback_is_where_the_redirect_uri_points(serve: Callable[..., Served], response_type: str) -> None:
    served = serve(callback="/oauth2/answer", response_type=response_type)
    browser = served.browser()
    page = browser.sign_in("/graphcall")
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert any(hop.url.startswith(served.url + "/oauth2/answer") for hop in browser.hops)
    assert browser.get("/getAToken").status_code == 404  # no route of its own any more


def test_mounted_the_callback_route_is_relative_to_the_mount_point(serve: Callable[..., Served]) -> None:
    served = serve(mount="/auth", callback="/cb")
    browser = served.browser()
    assert browser.sign_in("/graphcall").status_code == 200
    redirects = [hop.headers["Location"] for hop in browser.hops if hop.status_code == 303]
    assert any(loc.startswith("/auth/cb?state=") for loc in redirects), redirects  # the form_post's 303


def test_redirects_are_built_under_the_mount_point(serve: Callable[..., Served]) -> None:
    browser = serve(mount="/auth").browser()
    assert browser.get("/").headers["Location"] == "/auth/login"
    assert browser.get("/graphcall").headers["Location"] == "/auth/login?next=/graphcall"
    assert browser.get("/logout").headers["Location"] == "/auth/signed-out"


def test_a_redirect_uri_on_one_of_the_apps_own_routes_is_refused(emulator_url: str) -> None:
    assert callback_problems("http://localhost:5000/getAToken") == []
    assert callback_problems("http://localhost:5000/auth/login") == []  # its own path when mounted at the root
    for path in ("/login", "/", "", "/graphcall", "/healthz"):
        assert callback_problems(f"http://localhost:5000{path}"), path
        with pytest.raises(ConfigurationError) as info:
            create_app(emulator_settings(emulator_url, redirect_uri=f"http://localhost:5000{path}",
                                         secret_key=Secret("secret_key", SECRET_KEY)))
        assert "AADWEB_REDIRECT_URI" in str(info.value)


def test_the_transcript_finds_the_callback_at_its_configured_path(serve: Callable[..., Served],
                                                                  tmp_path: Path) -> None:
    wire_log = tmp_path / "wire.jsonl"
    served = serve(mount="/auth", callback="/cb", wire_log=str(wire_log))
    assert served.browser().sign_in().status_code == 200
    recs = records(wire_log)
    callback = next(r for r in recs if r["leg"] == "callback")
    assert str(callback["url"]).split("?")[0].endswith("/auth/cb")
    token = next(r for r in recs if r["leg"] == "token")
    assert callback["flow"] and token["flow"] == callback["flow"]  # the outbound legs share its flow
