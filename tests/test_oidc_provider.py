"""aadweb against an independent, OpenID-certified provider: panva/oidc-provider dressed as
the Azure AD v1 authority, or as the Entra v2.0 endpoint (tests/oidc_provider/provider.mjs,
``--dress``). A full sign-in reaches aadweb's home page (v1 in both flows; v2 with
``AADWEB_ENDPOINT=v2``, single tenant and ``organizations`` with an allow list); the
provider's own keys are what the id_tokens are checked against. Graph is not part of
oidc-provider: the tests stop at the home page (and a refresh through the peer).

The Node project is installed by ``make test`` (``npm ci`` in tests/oidc_provider); when
``node_modules`` is missing this module runs ``npm ci`` itself, and skips only when Node is
not installed at all.
"""

from __future__ import annotations

import base64
import dataclasses
import json
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
OTHER_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
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


def _start_provider(redirect_uris: list[str], peer_args: tuple[str, ...] = ()) -> Peer:
    command = [_node(), "provider.mjs", "--port", "0", "--tenant", TENANT_ID, "--client-id", CLIENT_ID,
               "--client-secret", CLIENT_SECRET, "--user", USER, *peer_args]
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
    """``start(peer_args=(...), response_type=...)``: an aadweb app and an oidc-provider made for
    each other; ``peer_args`` go to provider.mjs (``--dress v2``, ``--path-tenant``...), the
    other keywords are settings."""
    cleanups: list[Callable[[], None]] = []

    def start(peer_args: tuple[str, ...] = (), **changes: object) -> Running:
        server = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True, request_handler=QuietHandler)
        url = f"http://127.0.0.1:{server.server_port}"
        peer = _start_provider([f"{url}/getAToken"], peer_args)
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


def _part(jwt: str, index: int) -> dict[str, object]:
    segment = jwt.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))  # type: ignore[no-any-return]


def _header(jwt: str) -> dict[str, object]:
    return _part(jwt, 0)


def _payload(jwt: str) -> dict[str, object]:
    return _part(jwt, 1)


@dataclasses.dataclass(frozen=True)
class Dress:
    """How the peer is dressed and what aadweb is told to expect of it."""

    name: str
    peer_args: tuple[str, ...]
    settings: dict[str, object]
    authorize_path: str
    issuer: str
    response_type: str


V1_ISSUER = f"https://sts.windows.net/{TENANT_ID}/"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
V2: dict[str, object] = {"endpoint": "v2"}
DRESSES = [
    Dress("v1-hybrid", ("--dress", "v1"), {"response_type": "code id_token"}, f"/{TENANT_ID}/oauth2/authorize",
          V1_ISSUER, "code id_token"),
    Dress("v1-code", ("--dress", "v1"), {"response_type": "code"}, f"/{TENANT_ID}/oauth2/authorize", V1_ISSUER, "code"),
    Dress("v2-code", ("--dress", "v2"), V2, f"/{TENANT_ID}/oauth2/v2.0/authorize", V2_ISSUER, "code"),
    Dress("v2-hybrid", ("--dress", "v2"), {**V2, "response_type": "code id_token"},
          f"/{TENANT_ID}/oauth2/v2.0/authorize", V2_ISSUER, "code id_token"),
    Dress("v2-organizations", ("--dress", "v2", "--path-tenant", "organizations"),
          {**V2, "tenant": "organizations", "allowed_tenants": (TENANT_ID,)},
          "/organizations/oauth2/v2.0/authorize", V2_ISSUER, "code"),
    Dress("v2-common", ("--dress", "v2", "--path-tenant", "common"),
          {**V2, "tenant": "common", "allowed_tenants": (OTHER_TENANT_ID, TENANT_ID)},
          "/common/oauth2/v2.0/authorize", V2_ISSUER, "code"),
]


@pytest.mark.parametrize("dress", DRESSES, ids=lambda d: d.name)
def test_sign_in_through_oidc_provider_reaches_the_home_page(against_oidc_provider: Callable[..., Running],
                                                             dress: Dress) -> None:
    running = against_oidc_provider(peer_args=dress.peer_args, **dress.settings)
    browser = Browser(running.url)
    authorize = browser.start()
    q = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert authorize.startswith(f"{running.peer.url}{dress.authorize_path}?")
    assert q["response_type"] == dress.response_type and q["code_challenge_method"] == "S256"
    if running.app.settings.is_v2:
        assert q["scope"] == "openid profile offline_access User.Read" and "resource" not in q
    callback = authenticate(authorize, running.redirect_uri)
    assert callback.mode == ("form_post" if dress.response_type == "code id_token" else "query")
    if dress.response_type == "code id_token":
        assert "id_token" in callback.fields and "code" in callback.fields
    # RFC 9207's iss: oidc-provider sends it when no id_token does (v1 code flow); the v2
    # dress drops it as Entra does.
    omitted = running.app.settings.is_v2 or "id_token" in callback.fields
    assert callback.fields.get("iss") == (None if omitted else dress.issuer)
    page = browser.follow(browser.deliver(callback))
    assert page.status_code == 200 and "You are signed in" in page.text, (page.status_code, page.text[:600])
    assert "Megan Bowen" in page.text and TENANT_ID in page.text
    cookie = browser.cookie("aadweb_session")
    assert cookie is not None
    session = running.app.store.get_session(cookie.value.rpartition(".")[0])
    assert session is not None and session.claims["tid"] == TENANT_ID and session.claims["oid"]
    assert session.claims["iss"] == dress.issuer
    assert session.tokens is not None and session.tokens.id_token is not None
    if running.app.settings.is_v2:
        id_token = _payload(session.tokens.id_token.reveal())
        assert id_token["ver"] == "2.0" and id_token["preferred_username"] == USER and id_token["aud"] == CLIENT_ID
        assert id_token["iss"] == V2_ISSUER and id_token["tid"] == TENANT_ID and "upn" not in id_token
        header = _header(session.tokens.id_token.reveal())
        assert header["alg"] == "RS256" and header["kid"] == "oidc-provider-k1"
        assert session.tokens.refresh_token is not None  # offline_access
        # A forced refresh goes to the peer's v2 token endpoint with the scopes; the peer's
        # new access token (and rotated refresh token) replace the old ones in the session.
        fresh = running.app.signin.access_token(session, force_refresh=True)
        assert fresh != session.tokens.access_token
        after = running.app.store.get_session(session.session_id)
        assert after is not None and after.tokens is not None and after.tokens.access_token == fresh
        assert after.tokens.resource == "User.Read"
    assert running.app.store.counts()["sessions"] == 1


@pytest.mark.parametrize("dress", [d for d in DRESSES if d.response_type == "code id_token"], ids=lambda d: d.name)
def test_oidc_provider_id_token_with_a_bad_signature_is_refused(against_oidc_provider: Callable[..., Running],
                                                                dress: Dress) -> None:
    """The certified provider's own keys are what aadweb checks against: one flipped character
    of its signature and the sign-in is refused."""
    running = against_oidc_provider(peer_args=dress.peer_args, **dress.settings)
    browser = Browser(running.url)
    callback = authenticate(browser.start(), running.redirect_uri)
    head, payload, sig = callback.fields["id_token"].split(".")
    flipped = sig[:10] + ("B" if sig[10] != "B" else "C") + sig[11:]
    tampered = dataclasses.replace(callback, fields={**callback.fields, "id_token": f"{head}.{payload}.{flipped}"})
    page = browser.follow(browser.deliver(tampered))
    assert page.status_code == 401 and "could not be verified" in page.text
    assert running.app.store.counts()["sessions"] == 0


@pytest.mark.parametrize("dress", [d for d in DRESSES if d.name.startswith("v2") and d.response_type == "code"],
                         ids=lambda d: d.name)
def test_oidc_provider_v2_token_endpoint_id_token_with_a_bad_signature_is_refused(
        against_oidc_provider: Callable[..., Running], dress: Dress) -> None:
    """v2's code flow: the id_token comes from the token endpoint, and the peer itself flips one
    character of its signature (``--bad-token-signature``): refused, no session."""
    running = against_oidc_provider(peer_args=(*dress.peer_args, "--bad-token-signature"), **dress.settings)
    browser = Browser(running.url)
    callback = authenticate(browser.start(), running.redirect_uri)
    assert callback.mode == "query" and "id_token" not in callback.fields
    page = browser.follow(browser.deliver(callback))
    assert page.status_code == 401 and "could not be verified" in page.text, (page.status_code, page.text[:600])
    assert browser.cookie("aadweb_session") is None
    assert running.app.store.counts()["sessions"] == 0


@pytest.mark.parametrize("path_tenant", ["organizations", "common"])
def test_oidc_provider_v2_multi_tenant_refuses_a_tenant_not_allowed(against_oidc_provider: Callable[..., Running],
                                                                     path_tenant: str) -> None:
    """The peer's tenant is not in AADWEB_ALLOWED_TENANTS: a valid, signed id_token of another
    organisation is refused with 403 and no session (Entra sends no RFC 9207 ``iss``)."""
    running = against_oidc_provider(peer_args=("--dress", "v2", "--path-tenant", path_tenant), endpoint="v2",
                                    tenant=path_tenant, allowed_tenants=(OTHER_TENANT_ID,))
    browser = Browser(running.url)
    authorize = browser.start()
    assert authorize.startswith(f"{running.peer.url}/{path_tenant}/oauth2/v2.0/authorize?")
    callback = authenticate(authorize, running.redirect_uri)
    assert "iss" not in callback.fields
    page = browser.follow(browser.deliver(callback))
    assert page.status_code == 403 and "Your organisation is not allowed" in page.text, (
        page.status_code, page.text[:600])
    assert browser.cookie("aadweb_session") is None
    assert running.app.store.counts()["sessions"] == 0


def test_oidc_provider_v2_multi_tenant_response_iss_of_a_tenant_not_allowed_is_refused(
        against_oidc_provider: Callable[..., Running]) -> None:
    """The same sign-in when the provider does send RFC 9207's ``iss`` (oidc-provider's own
    behaviour): the response names an issuer no allowed tenant has, so it is refused before the
    code is redeemed (401, ResponseIssuerMismatch) rather than with the tenant's 403."""
    running = against_oidc_provider(peer_args=("--dress", "v2", "--path-tenant", "organizations",
                                               "--response-iss", "yes"),
                                    endpoint="v2", tenant="organizations", allowed_tenants=(OTHER_TENANT_ID,))
    browser = Browser(running.url)
    callback = authenticate(browser.start(), running.redirect_uri)
    assert callback.fields["iss"] == V2_ISSUER
    page = browser.follow(browser.deliver(callback))
    assert page.status_code == 401 and "could not be verified" in page.text, (page.status_code, page.text[:600])
    assert browser.cookie("aadweb_session") is None
    assert running.app.store.counts()["sessions"] == 0


def test_oidc_provider_v2_metadata_is_entras_shape(against_oidc_provider: Callable[..., Running]) -> None:
    """What the peer publishes on organizations: the issuer template, v2 paths under organizations."""
    running = against_oidc_provider(peer_args=("--dress", "v2", "--path-tenant", "organizations"), endpoint="v2",
                                    tenant="organizations", allowed_tenants=(TENANT_ID,))
    base = running.peer.url
    meta = requests.get(f"{base}/organizations/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert meta["authorization_endpoint"] == f"{base}/organizations/oauth2/v2.0/authorize"
    assert meta["token_endpoint"] == f"{base}/organizations/oauth2/v2.0/token"
    assert meta["jwks_uri"] == f"{base}/organizations/discovery/v2.0/keys"
    keys = requests.get(meta["jwks_uri"], timeout=10).json()["keys"]
    assert [(k["kid"], k["alg"]) for k in keys] == [("oidc-provider-k1", "RS256")]
