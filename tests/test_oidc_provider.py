"""aadweb against an independent, OpenID-certified provider: panva/oidc-provider dressed as
the Azure AD v1 authority (tests/oidc_provider/provider.mjs). A full sign-in in both flows
reaches aadweb's home page; the provider's own keys are what the id_tokens are checked
against. Graph is not part of oidc-provider: the tests stop at the home page.

The Node project is installed by ``make test`` (``npm ci`` in tests/oidc_provider); when
``node_modules`` is missing this module runs ``npm ci`` itself, and skips only when Node is
not installed at all.
"""

from __future__ import annotations

import dataclasses
import os
import selectors
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.web import AadWebApp, create_app
from tests.browserless import parse_form_post
from tests.web.browser import Browser, Callback
from tests.web.conftest import QuietHandler

PROJECT = Path(__file__).parent / "oidc_provider"
TENANT_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
CLIENT_ID = "9c4b3a2d-1e0f-4a5b-8c7d-6e5f4a3b2c1d"
CLIENT_SECRET = "oidc-provider-secret-" + uuid.uuid4().hex
USER = "megan.bowen@contoso.example"
STARTUP_TIMEOUT = 20.0


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (needed for the oidc-provider peer)")
    if not (PROJECT / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed (needed to install the oidc-provider peer)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROJECT, check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
    return node


@dataclasses.dataclass
class Peer:
    url: str
    process: subprocess.Popen[bytes]


def _start_provider(redirect_uris: list[str]) -> Peer:
    command = [_node(), "provider.mjs", "--port", "0", "--tenant", TENANT_ID, "--client-id", CLIENT_ID,
               "--client-secret", CLIENT_SECRET, "--user", USER]
    for uri in redirect_uris:
        command += ["--redirect-uri", uri]
    process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=STARTUP_TIMEOUT):
            _stop(process)
            raise AssertionError("oidc-provider did not start in time")
    line = process.stdout.readline().decode().strip()
    if not line.startswith("READY "):
        _stop(process)
        err = process.stderr.read().decode() if process.stderr else ""
        raise AssertionError(f"oidc-provider did not start: {line!r} {err[-2000:]}")
    # Drain stderr (warnings) so the pipe never fills.
    threading.Thread(target=lambda: process.stderr and process.stderr.read(), daemon=True).start()
    return Peer(url=line.split(" ", 1)[1], process=process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclasses.dataclass
class Running:
    peer: Peer
    app: AadWebApp
    url: str
    redirect_uri: str


@pytest.fixture
def against_oidc_provider() -> Iterator[Callable[..., Running]]:
    """``start(response_type=...)``: an aadweb app and an oidc-provider made for each other."""
    cleanups: list[Callable[[], None]] = []

    def start(**changes: object) -> Running:
        server = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True, request_handler=QuietHandler)
        url = f"http://127.0.0.1:{server.server_port}"
        peer = _start_provider([f"{url}/getAToken"])
        cleanups.append(lambda: _stop(peer.process))
        values: dict[str, object] = {
            "tenant": TENANT_ID, "client_id": CLIENT_ID, "client_secret": Secret("client_secret", CLIENT_SECRET),
            "authority_host": peer.url, "graph_url": f"{peer.url}/v1.0/me", "redirect_uri": f"{url}/getAToken",
            "secret_key": Secret("secret_key", "oidc-provider-peer-" + "s" * 40), "session_store": "memory:",
        }
        values.update(changes)
        app = create_app(Settings(**values))  # type: ignore[arg-type]
        server.app = app
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()

        def stop_app() -> None:
            server.shutdown()
            thread.join(timeout=5)
            server.server_close()
            app.close()
        cleanups.append(stop_app)
        return Running(peer=peer, app=app, url=url, redirect_uri=f"{url}/getAToken")

    yield start
    for cleanup in reversed(cleanups):
        cleanup()


def authenticate(authorize_url: str, redirect_uri: str) -> Callback:
    """The provider's side of the browser: its own cookie jar, redirects followed by hand through
    the interaction (auto-login) until the provider answers the app (form_post page or 303)."""
    http = requests.Session()
    http.trust_env = False
    resp = http.get(authorize_url, allow_redirects=False, timeout=10)
    for _ in range(10):
        location = resp.headers.get("Location")
        if resp.status_code in (302, 303) and location:
            target = urljoin(resp.url, location)
            if target.startswith(redirect_uri):
                query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
                return Callback(mode="query", url=target, fields=query)
            resp = http.get(target, allow_redirects=False, timeout=10)
            continue
        assert resp.status_code == 200 and "<form" in resp.text, (resp.status_code, resp.text[:500])
        action, fields = parse_form_post(resp.text)
        assert action == redirect_uri, action
        return Callback(mode="form_post", url=action, fields=fields)
    raise AssertionError("too many redirects at the provider")


@pytest.mark.parametrize("response_type", ["code id_token", "code"])
def test_sign_in_through_oidc_provider_reaches_the_home_page(against_oidc_provider: Callable[..., Running],
                                                             response_type: str) -> None:
    running = against_oidc_provider(response_type=response_type)
    browser = Browser(running.url)
    authorize = browser.start()
    q = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert authorize.startswith(f"{running.peer.url}/{TENANT_ID}/oauth2/authorize?")
    assert q["response_type"] == response_type and q["code_challenge_method"] == "S256"
    callback = authenticate(authorize, running.redirect_uri)
    assert callback.mode == ("form_post" if response_type == "code id_token" else "query")
    if response_type == "code id_token":
        assert "id_token" in callback.fields and "code" in callback.fields
    page = browser.follow(browser.deliver(callback))
    assert page.status_code == 200 and "You are signed in" in page.text, (page.status_code, page.text[:600])
    assert "Megan Bowen" in page.text and TENANT_ID in page.text
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    session = running.app.store.get_session(cookie.value.rpartition(".")[0])
    assert session is not None and session.claims["tid"] == TENANT_ID and session.claims["oid"]
    assert session.claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert session.tokens is not None and session.tokens.id_token is not None
    assert running.app.store.counts()["sessions"] == 1


def test_oidc_provider_id_token_with_a_bad_signature_is_refused(against_oidc_provider: Callable[..., Running]) -> None:
    """The certified provider's own keys are what aadweb checks against: one flipped character
    of its signature and the sign-in is refused."""
    running = against_oidc_provider()
    browser = Browser(running.url)
    callback = authenticate(browser.start(), running.redirect_uri)
    head, payload, sig = callback.fields["id_token"].split(".")
    flipped = sig[:10] + ("B" if sig[10] != "B" else "C") + sig[11:]
    tampered = dataclasses.replace(callback, fields={**callback.fields, "id_token": f"{head}.{payload}.{flipped}"})
    page = browser.follow(browser.deliver(tampered))
    assert page.status_code == 401 and "could not be verified" in page.text
    assert running.app.store.counts()["sessions"] == 0
