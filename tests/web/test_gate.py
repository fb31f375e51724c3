"""The gate in front of a tiny WSGI app: the real app and emulator over loopback sockets.

What the end-to-end suites (tests/gate: Flask, Django, nginx, Chromium under gunicorn) do not
pin down one by one: the 401 JSON, /.auth/me, a client's spoofed identity in every spelling,
the app's own cookies kept and aadweb's removed, the consent link's MAC, a ReauthenticationRequired
the app lets through, the settings' own checks, and per-resource tokens kept in the session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from aadweb.emulator import Emulator, Fault
from aadweb.errors import ConfigurationError
from aadweb.gate_settings import gate_problems, is_public
from aadweb.secret import Secret
from aadweb.user import User
from aadweb.web import create_app
from tests.conftest import emulator_settings
from tests.web.conftest import Served, serve  # noqa: F401 - the fixture

PREFIX = "/.auth"
API = "api://aadweb-demo-api"
REPORTS = "api://aadweb-demo-reports"  # the demo registration has not consented to it


class Recorder:
    """A WSGI app that answers JSON about what reached it, and keeps every environ it saw."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.seen.append(dict(environ))
        path = environ["PATH_INFO"]
        tokens = environ.get("aadweb.access_token")
        body: dict[str, Any] = {
            "path": path, "query": environ.get("QUERY_STRING", ""), "remote_user": environ.get("REMOTE_USER"),
            "cookie": environ.get("HTTP_COOKIE", ""),
            "spoofed": sorted(k for k in environ if k.startswith(("HTTP_X_AUTH_REQUEST", "HTTP_X_MS_CLIENT")))
            + [k for k in ("HTTP_REMOTE_USER",) if k in environ],
        }
        if path == "/token" and tokens is not None:
            resource = parse_qs(environ.get("QUERY_STRING", "")).get("resource", [None])[0]
            body["token_length"] = len(tokens(resource=resource))  # may raise ConsentRequired
        user = environ.get("aadweb.user")
        if isinstance(user, User):
            body["user"] = {"oid": user.oid, "username": user.username}
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Set-Cookie", "app_pref=1; Path=/")])
        return [data]


@pytest.fixture
def gated(serve: Callable[..., Served]) -> tuple[Served, Recorder]:  # noqa: F811
    recorder = Recorder()
    return serve(callback=f"{PREFIX}/callback", protect=recorder, public_paths=("/static",)), recorder


def _signed_in(served: Served) -> Any:
    browser = served.browser()
    page = browser.sign_in(f"{PREFIX}/login")
    assert page.status_code == 200, page.text[:300]
    return browser


def test_a_signed_out_api_call_gets_401_json_naming_the_login_url(gated: tuple[Served, Recorder]) -> None:
    served, recorder = gated
    browser = served.browser()
    for headers in ({"Accept": "application/json"}, {"X-Requested-With": "XMLHttpRequest"},
                    {"Sec-Fetch-Mode": "cors"}):
        resp = browser.get("/api/things?x=1", headers=headers)
        assert resp.status_code == 401 and "Location" not in resp.headers, headers
        body = resp.json()
        assert body["error"] == "unauthenticated"
        assert body["login_url"].startswith(f"{PREFIX}/login?next=")
        assert parse_qs(urlsplit(body["login_url"]).query)["next"] == ["/api/things?x=1"]
        assert resp.headers["WWW-Authenticate"].startswith("Cookie")
    assert browser.post("/api/things", data={"a": "b"}).status_code == 401
    assert recorder.seen == []  # the app was never called


def test_a_signed_out_browser_comes_back_to_the_same_path_and_query(gated: tuple[Served, Recorder]) -> None:
    served, _ = gated
    browser = served.browser()
    first = browser.get("/reports/q3?year=2026&sort=desc")
    assert first.status_code == 302 and first.text == ""  # no body echoing the URL
    assert first.headers["Location"].startswith(f"{PREFIX}/login?next=")
    landed = browser.sign_in("/reports/q3?year=2026&sort=desc")
    assert landed.status_code == 200
    assert landed.json()["path"] == "/reports/q3" and landed.json()["query"] == "year=2026&sort=desc"


def test_public_paths_pass_signed_out_segment_wise(gated: tuple[Served, Recorder]) -> None:
    served, recorder = gated
    browser = served.browser()
    assert browser.get("/static/app.css").status_code == 200
    assert browser.get("/statics").status_code == 302  # not under /static
    assert [e["PATH_INFO"] for e in recorder.seen] == ["/static/app.css"]
    assert "REMOTE_USER" not in recorder.seen[0] and "aadweb.user" not in recorder.seen[0]


def test_the_app_gets_the_user_and_never_a_spoofed_identity_or_aadwebs_cookies(gated: tuple[Served, Recorder]) -> None:
    served, recorder = gated
    browser = _signed_in(served)
    spoof = {"X-Auth-Request-User": "admin@evil.example", "X-Auth-Request-Groups": "admins",
             "X-MS-CLIENT-PRINCIPAL-NAME": "admin@evil.example", "Remote-User": "admin"}
    resp = browser.get("/whoami", headers={**spoof, "Cookie": "mine=1"})
    body = resp.json()
    assert body["remote_user"] == body["user"]["username"] and "@" in body["remote_user"]
    assert body["spoofed"] == []
    assert "aadweb_" not in body["cookie"]
    last = recorder.seen[-1]
    assert not any(k.startswith("aadweb.") and k not in ("aadweb.user", "aadweb.access_token") for k in last)
    assert resp.headers["Vary"].lower().count("cookie") >= 1  # the answer is this user's
    # Signed out, a spoofed REMOTE_USER never gets through either.
    anon = served.browser().get("/static/x", headers=spoof)
    assert anon.json()["remote_user"] is None and anon.json()["spoofed"] == []


def test_me_is_the_user_as_json_and_401_signed_out(gated: tuple[Served, Recorder], emulator: Emulator) -> None:
    served, _ = gated
    assert served.browser().get(f"{PREFIX}/me").status_code == 401
    me = _signed_in(served).get(f"{PREFIX}/me")
    assert me.status_code == 200 and me.headers["Cache-Control"] == "no-store"
    body = me.json()
    assert set(body) == {"tid", "oid", "sub", "name", "username", "email", "roles", "groups"}
    assert body["username"] and body["oid"] and isinstance(body["roles"], list)


def test_verify_answers_forward_auth(gated: tuple[Served, Recorder]) -> None:
    served, _ = gated
    assert served.browser().get(f"{PREFIX}/verify").status_code == 401
    resp = _signed_in(served).get(f"{PREFIX}/verify")
    assert resp.status_code == 202
    assert resp.headers["X-Auth-Request-User"] and resp.headers["X-Auth-Request-Oid"]
    assert "X-Auth-Request-Groups" in resp.headers


def test_a_token_for_another_resource_is_refreshed_once_and_kept(gated: tuple[Served, Recorder],
                                                                   emulator: Emulator) -> None:
    served, _ = gated
    browser = _signed_in(served)
    before = emulator.count("POST", "/oauth2/token")
    assert browser.get(f"/token?resource={API}", headers={"Accept": "application/json"}).json()["token_length"]
    assert browser.get(f"/token?resource={API}", headers={"Accept": "application/json"}).json()["token_length"]
    assert emulator.count("POST", "/oauth2/token") == before + 1  # the second came from the session
    session_id = browser.cookie("aadweb_session")
    assert session_id is not None
    stored = served.store.get_session(session_id.value.rpartition(".")[0])
    assert stored is not None and stored.tokens is not None and API in stored.tokens.others


def test_consent_required_is_a_round_trip_for_a_browser_and_401_for_an_api(gated: tuple[Served, Recorder]) -> None:
    served, _ = gated
    browser = _signed_in(served)
    api = browser.get(f"/token?resource={REPORTS}", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.json()["error"] == "consent_required"
    link = api.json()["consent_url"]
    assert link.startswith(f"{PREFIX}/login?") and "link=" in link and "exp=" in link
    page = browser.get(f"/token?resource={REPORTS}")  # a browser: off to the authority, for that resource
    assert page.status_code == 302
    query = parse_qs(urlsplit(page.headers["Location"]).query)
    assert query["resource"] == [REPORTS] and query["prompt"] == ["consent"]
    # The consent link works only as made, for this session, and always asks with prompt=consent:
    followed = browser.get(link + "&prompt=admin_consent&login_hint=someone@contoso.example")
    assert followed.status_code == 302
    asked = parse_qs(urlsplit(followed.headers["Location"]).query)
    assert asked["resource"] == [REPORTS] and asked["prompt"] == ["consent"] and "login_hint" not in asked
    forged = link.replace(f"&resource={REPORTS}&", "&resource=https://management.azure.com/&")
    assert forged != link and browser.get(forged).status_code == 404
    elsewhere = link.replace("next=/token", "next=/other")
    assert elsewhere != link and browser.get(elsewhere).status_code == 404
    later = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 3600}", link)
    assert later != link and browser.get(later).status_code == 404
    assert served.browser().get(link).status_code == 404  # another browser, signed out: not its link


def test_the_gate_settings_are_checked() -> None:
    assert gate_problems(app="x:y", route_prefix="/.auth", public_paths=("/static",), require_roles=("Admin",),
                         require_groups=("4b0b8b3e-3c5f-4e63-9c5d-1f8a0b7f9e21",)) == []
    bad = gate_problems(app="not a module", route_prefix="auth/", public_paths=("/", "/a/../b"),
                        require_roles=("two words",), require_groups=("sales",))
    assert len(bad) == 6, bad
    overlap = gate_problems(app=None, route_prefix="/.auth", public_paths=("/.auth/x",), require_roles=(),
                            require_groups=())
    assert len(overlap) == 1 and "overlaps" in overlap[0]
    assert is_public("/static/a", ("/static/",)) and not is_public("/statics", ("/static",))


def test_a_bad_aadweb_app_stops_the_start(emulator_url: str) -> None:
    settings = emulator_settings(emulator_url, secret_key=Secret("secret_key", "k" * 40), session_store="memory:",
                                 app="no_such_module_here:app")
    with pytest.raises(ConfigurationError) as info:
        create_app(settings)
    assert any("AADWEB_APP no_such_module_here:app" in p for p in info.value.problems)


def test_dot_segments_never_make_a_path_public(gated: tuple[Served, Recorder]) -> None:
    """Review finding: /static/../admin was "under /static" for the gate and reached the app."""
    served, recorder = gated
    for path in ("/static/../admin", "/static/./x", "/static//x", "/static/..\\admin"):
        # As a WSGI server passes it, undecoded dot-segments and all (an HTTP client would tidy them).
        environ = EnvironBuilder(path="/", headers={"Accept": "application/json"}).get_environ()
        environ["PATH_INFO"] = path
        _, status, _ = run_wsgi_app(served.app, environ, buffered=True)
        assert status.startswith("401"), (path, status)
    assert is_public("/static/", ("/static",)) and not is_public("/static/../admin", ("/static",))
    assert recorder.seen == []


class Streaming:
    """An app that starts its answer only when iterated, and one that starts then raises."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        tokens = environ["aadweb.access_token"]
        if environ["PATH_INFO"] == "/":  # where the sign-in lands
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"home"]
        if self.mode == "start-then-raise":
            start_response("200 OK", [("Content-Type", "text/plain")])
            tokens(resource=REPORTS)  # ConsentRequired escapes after start_response
            return [b"never"]

        def body() -> Iterable[bytes]:
            try:
                tokens(resource=REPORTS)
            except Exception:
                start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
                yield b"the app gave up"
                return
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"fine"
        return body()


@pytest.mark.parametrize("mode", ["late-start", "start-then-raise"])
def test_an_app_that_starts_late_or_raises_after_starting_still_gets_the_gates_consent_answer(
        serve: Callable[..., Served], mode: str) -> None:  # noqa: F811
    served = serve(callback=f"{PREFIX}/callback", protect=Streaming(mode))
    browser = _signed_in(served)
    resp = browser.get("/report", headers={"Accept": "application/json"})
    assert resp.status_code == 401 and resp.json()["error"] == "consent_required", resp.text[:200]
    # The gate's own answers carry its security headers, as every answer of aadweb's does.
    assert resp.headers["Cache-Control"] == "no-store" and "cookie" in resp.headers["Vary"].lower()
    assert "Content-Security-Policy" in resp.headers


def test_another_aadweb_error_the_app_lets_through_gets_designs_status(serve: Callable[..., Served],  # noqa: F811
                                                                       emulator: Emulator) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/":  # not where the sign-in lands
            environ["aadweb.access_token"](resource=API)
        start_response("200 OK", [])
        return [b"ok"]

    served = serve(callback=f"{PREFIX}/callback", protect=app)
    browser = _signed_in(served)
    # The token endpoint answers something that is not JSON: a 502 page (DESIGN.md), not the 500
    # the app's server would make of the exception.
    emulator.faults.add(Fault(kind="non_json", endpoint="token", times=1))
    resp = browser.get("/x")
    assert resp.status_code == 502, resp.text[:300]
    assert "Traceback" not in resp.text and resp.headers["Cache-Control"] == "no-store"


def test_a_fresh_token_is_never_evicted_by_the_others_it_joins() -> None:
    """Review finding: with 16 tokens expiring later, the one just fetched was dropped (then a 500)."""
    from aadweb.protocol.token import TokenResponse
    from aadweb.sessions import MAX_OTHER_TOKENS, ResourceToken, TokenSet
    from aadweb.signin import SignIn

    def token(value: str) -> Secret:
        return Secret("access_token", value)

    others = {f"api://r{i}": ResourceToken(access_token=token(f"t{i}"), expires_on=10_000.0 + i)
              for i in range(MAX_OTHER_TOKENS)}
    tokens = TokenSet(access_token=token("main"), refresh_token=Secret("refresh_token", "rt"), expires_on=9e9,
                      resource="https://graph.microsoft.com", others=others)
    fetched = TokenResponse(access_token=token("new"), refresh_token=None, expires_on=5_000.0, resource=None,
                            id_token=None, token_type="Bearer", scope=None, not_before=None)
    kept = SignIn._with_token_for(tokens, "api://new", fetched)
    assert len(kept.others) == MAX_OTHER_TOKENS and kept.others["api://new"].access_token == token("new")
    assert "api://r0" not in kept.others  # the one expiring first of the others went
