"""The hostile provider: an Azure AD v1 authority and Graph whose every answer a test scripts.

Routes (``{tenant}`` is anything; the provider plays one tenant, :data:`TENANT_ID`)::

    GET  /{tenant}/.well-known/openid-configuration   hits["metadata"]
    GET  /{tenant}/discovery/keys                     hits["jwks"]
    GET  /{tenant}/oauth2/authorize                   hits["authorize"]: answers at once with the callback
    POST /{tenant}/oauth2/token                       hits["token"]
    GET  /{tenant}/oauth2/logout                      hits["logout"]
    GET  /v1.0/me                                     hits["graph"]
    GET  /attacker/...                                hits["jku"]: where jku / x5u headers point
    ANY  /elsewhere/...                               hits["elsewhere"]: where scripted redirects point

By default every answer is the honest one (a valid sign-in works end to end); a test changes
:attr:`HostileIdP.script` to make one answer hostile. ``secrets`` holds every secret value that
crossed this server (codes, tokens, the client secret, the PKCE verifiers it received).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from tests.hostile.answers import callback_response, graph_error, json_answer, oauth_error
from tests.hostile.keys import RsaKey, rsa_key
from tests.hostile.mint import c_hash, merged, pkce_s256, sign

TENANT_ID = "7d1c3e5f-0a2b-4c6d-8e9f-1a2b3c4d5e6f"
OTHER_TENANT_ID = "2e4f6a8c-1b3d-4f5a-9c7e-0d2f4b6a8c1e"
CLIENT_ID = "5b8d2f4a-6c1e-4a3b-9d7f-2e4c6a8b0d1f"
CLIENT_SECRET = "hostile-client-secret-" + secrets.token_urlsafe(24)
ISSUER = f"https://sts.windows.net/{TENANT_ID}/"
USER: dict[str, Any] = {
    "oid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "sub": "hostile-pairwise-subject-0123456789",
    "upn": "megan.bowen@hostile.example",
    "unique_name": "megan.bowen@hostile.example",
    "name": "Megan Bowen",
    "given_name": "Megan",
    "family_name": "Bowen",
}

Handler = Callable[[Request], Response]


class QuietHandler(WSGIRequestHandler):
    """No access log (query strings carry codes)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def log_error(self, format: str, *args: Any) -> None:  # broken pipes when a client cuts us off
        return None


@dataclass(frozen=True)
class Authz:
    """One authorize request as the provider received it."""

    tenant: str
    client_id: str
    redirect_uri: str
    response_type: str
    response_mode: str | None
    state: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    resource: str
    params: dict[str, str]


@dataclass(frozen=True)
class Seen:
    endpoint: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Script:
    """What the provider answers. Defaults are honest; tests change fields."""

    #: The key that signs id_tokens, and the keys the JWKS publishes.
    signing_key: RsaKey = field(default_factory=lambda: rsa_key("hostile-k1"))
    published: list[RsaKey] = field(default_factory=lambda: [rsa_key("hostile-k1")])
    #: Front-channel id_token: header and claim overrides (``mint.DELETE`` removes one).
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    #: HMAC key for an ``HS*`` header (default: the signing key's public PEM: key confusion).
    hmac_key: bytes | None = None
    #: Replace the front-channel id_token entirely: ``id_token(idp, authz, code) -> str``.
    id_token: Callable[[HostileIdP, Authz, str], str] | None = None
    #: Rewrite the callback fields: ``callback(authz, fields) -> fields``.
    callback: Callable[[Authz, dict[str, str]], dict[str, str]] | None = None
    response_mode: str | None = None
    #: The token endpoint's id_token: "unsigned" (v1), "signed" (RS256, header/claims as above),
    #: "absent", or a callable ``(idp, authz) -> str``.
    back_id_token: str | Callable[[HostileIdP, Authz], str] = "unsigned"
    back_claims: dict[str, Any] = field(default_factory=dict)
    back_header: dict[str, Any] = field(default_factory=dict)
    token_fields: dict[str, Any] = field(default_factory=dict)
    check_pkce: bool = True
    #: Whole-answer overrides per endpoint: ``answer(request) -> Response``.
    token: Handler | None = None
    graph: Handler | None = None
    jwks: Handler | None = None
    metadata_answer: Handler | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    graph_fields: dict[str, Any] = field(default_factory=dict)
    #: Seconds to wait before answering, per endpoint name.
    delay: dict[str, float] = field(default_factory=dict)


class HostileIdP:
    """The provider; a WSGI app. :meth:`start` serves it on 127.0.0.1 in a thread."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.reset()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, *, ssl_context: Any = None) -> HostileIdP:
        self._server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=QuietHandler,
                                   ssl_context=ssl_context)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        """Honest answers again; counters and records cleared."""
        with self._lock:
            self.script = Script()
            self.hits: Counter[str] = Counter()
            self.seen: list[Seen] = []
            self.authorizations: list[Authz] = []
            self.codes: dict[str, Authz] = {}
            self.redeemed: list[tuple[str, Authz, bool]] = []  # (code, authz, pkce verified)
            self.access_tokens: dict[str, Authz] = {}
            self.refresh_tokens: dict[str, Authz] = {}
            self.secrets: set[str] = {CLIENT_SECRET}

    def remember(self, *values: str) -> None:
        with self._lock:
            self.secrets.update(v for v in values if v)

    # --- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        endpoint = _endpoint(request.path)
        form = request.form.to_dict() if request.method == "POST" else {}
        with self._lock:
            self.hits[endpoint] += 1
            self.seen.append(Seen(endpoint, request.method, request.path, request.query_string.decode("latin-1"),
                                  dict(request.headers), form))
        for name in ("client_secret", "code_verifier", "code", "refresh_token", "client_assertion"):
            if form.get(name):
                self.remember(form[name])
        auth = request.headers.get("Authorization", "")
        if auth:
            self.remember(auth, auth.partition(" ")[2])
        delay = self.script.delay.get(endpoint)
        if delay:
            self.stopping.wait(delay)
        handler = getattr(self, f"_on_{endpoint}", self._on_other)
        response: Response = handler(request)
        return response(environ, start_response)

    # --- the authority ---------------------------------------------------------------------

    def issuer(self, tenant_id: str = TENANT_ID) -> str:
        return f"https://sts.windows.net/{tenant_id}/"

    def _on_metadata(self, request: Request) -> Response:
        if self.script.metadata_answer is not None:
            return self.script.metadata_answer(request)
        tenant = request.path.split("/")[1]
        base = f"{self.url}/{tenant}"
        body = {
            "issuer": self.issuer(),
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/token",
            "jwks_uri": f"{base}/discovery/keys",
            "end_session_endpoint": f"{base}/oauth2/logout",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        return json_answer(merged(body, self.script.metadata))

    def _on_jwks(self, request: Request) -> Response:
        if self.script.jwks is not None:
            return self.script.jwks(request)
        return json_answer({"keys": [key.jwk() for key in self.script.published]})

    def _on_authorize(self, request: Request) -> Response:
        a = request.args
        authz = Authz(
            tenant=request.path.split("/")[1], client_id=a.get("client_id", ""),
            redirect_uri=a.get("redirect_uri", ""), response_type=a.get("response_type", ""),
            response_mode=a.get("response_mode"), state=a.get("state", ""), nonce=a.get("nonce", ""),
            code_challenge=a.get("code_challenge", ""), code_challenge_method=a.get("code_challenge_method", ""),
            resource=a.get("resource", ""), params=a.to_dict(),
        )
        with self._lock:
            self.authorizations.append(authz)
        fields = self.callback_fields(authz)
        mode = self.script.response_mode or authz.response_mode or "query"
        return callback_response(authz.redirect_uri, fields, mode)

    def new_code(self, authz: Authz) -> str:
        code = "hostile-code-" + secrets.token_urlsafe(48)
        with self._lock:
            self.codes[code] = authz
        self.remember(code)
        return code

    def claims_for(self, authz: Authz, *, code: str | None = None, tenant_id: str = TENANT_ID) -> dict[str, Any]:
        """Honest v1 id_token claims for ``authz`` (``c_hash`` when a code is given)."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": CLIENT_ID, "iss": self.issuer(tenant_id), "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
            "ver": "1.0", "tid": tenant_id, "amr": ["pwd"], **USER, "nonce": authz.nonce,
        }
        if code is not None:
            claims["c_hash"] = c_hash(code)
        return claims

    def front_id_token(self, authz: Authz, code: str) -> str:
        s = self.script
        if s.id_token is not None:
            token = s.id_token(self, authz, code)
        else:
            key = s.signing_key
            header = merged({"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.x5t}, s.header)
            claims = merged(self.claims_for(authz, code=code), s.claims)
            token = self.mint(header, claims)
        self.remember(token, token.rpartition(".")[2])
        return token

    def mint(self, header: dict[str, Any] | str, claims: dict[str, Any] | str, *, key: RsaKey | None = None) -> str:
        """Sign with the script's key (or ``key``) under the header's own ``alg``."""
        key = key or self.script.signing_key
        alg = header.get("alg") if isinstance(header, dict) else "RS256"
        alg = alg if isinstance(alg, str) and alg in _KNOWN_ALGS else "RS256"
        token = sign(header, claims, key=key, alg=alg, hmac_key=self.script.hmac_key or key.public_pem)
        self.remember(token, token.rpartition(".")[2])
        return token

    def callback_fields(self, authz: Authz) -> dict[str, str]:
        code = self.new_code(authz)
        fields = {"code": code, "state": authz.state, "session_state": str(uuid.uuid4())}
        if "id_token" in authz.response_type.split():
            fields["id_token"] = self.front_id_token(authz, code)
        if self.script.callback is not None:
            fields = self.script.callback(authz, fields)
        return fields

    def answer(self, authorize_url: str) -> Response:
        """Answer ``authorize_url`` in-process (no socket): the callback response."""
        parts = urlsplit(authorize_url)
        resp = Client(self).get(f"{parts.path}?{parts.query}")
        return resp

    def _token_body(self, authz: Authz) -> dict[str, Any]:
        access, refresh = "hostile-at-" + secrets.token_urlsafe(40), "hostile-rt-" + secrets.token_urlsafe(40)
        with self._lock:
            self.access_tokens[access] = authz
            self.refresh_tokens[refresh] = authz
        self.remember(access, refresh)
        now = int(self.clock())
        body: dict[str, Any] = {
            "token_type": "Bearer", "scope": "User.Read", "expires_in": "3599", "ext_expires_in": "3599",
            "expires_on": str(now + 3599), "not_before": str(now), "resource": authz.resource or "x",
            "access_token": access, "refresh_token": refresh,
        }
        back = self.script.back_id_token
        if callable(back):
            body["id_token"] = back(self, authz)
        elif back == "unsigned":
            claims = merged(self.claims_for(authz), self.script.back_claims)
            body["id_token"] = sign(merged({"typ": "JWT", "alg": "none"}, self.script.back_header), claims)
        elif back == "signed":
            key = self.script.signing_key
            header = merged({"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.x5t}, self.script.back_header)
            body["id_token"] = self.mint(header, merged(self.claims_for(authz), self.script.back_claims))
        if "id_token" in body:
            self.remember(body["id_token"])
        return merged(body, self.script.token_fields)

    def _on_token(self, request: Request) -> Response:
        if self.script.token is not None:
            return self.script.token(request)
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return oauth_error(401, "invalid_client", 7000215)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self._lock:
                authz = self.codes.pop(form.get("code", ""), None)
            if authz is None:
                return oauth_error(400, "invalid_grant", 54005)
            verified = pkce_s256(form.get("code_verifier", "")) == authz.code_challenge
            with self._lock:
                self.redeemed.append((form.get("code", ""), authz, verified))
            if form.get("redirect_uri") != authz.redirect_uri:
                return oauth_error(400, "invalid_grant", 50011)
            if self.script.check_pkce and not verified:
                return oauth_error(400, "invalid_grant", 50148)
            return json_answer(self._token_body(authz))
        if grant == "refresh_token":
            with self._lock:
                authz = self.refresh_tokens.get(form.get("refresh_token", ""))
            if authz is None:
                return oauth_error(400, "invalid_grant", 70008)
            return json_answer(self._token_body(authz))
        return oauth_error(400, "unsupported_grant_type", 70003)

    def _on_logout(self, request: Request) -> Response:
        return Response("signed out", mimetype="text/plain")

    # --- Graph -----------------------------------------------------------------------------

    def _on_graph(self, request: Request) -> Response:
        if self.script.graph is not None:
            return self.script.graph(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        user = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [], "displayName": USER["name"], "givenName": USER["given_name"],
            "surname": USER["family_name"], "id": USER["oid"], "jobTitle": None, "mail": USER["upn"],
            "mobilePhone": None, "officeLocation": None, "preferredLanguage": "en-US",
            "userPrincipalName": USER["upn"],
        }
        return json_answer(merged(user, self.script.graph_fields))

    # --- elsewhere -------------------------------------------------------------------------

    def _on_jku(self, request: Request) -> Response:
        return json_answer({"keys": [rsa_key("attacker").jwk()]})

    def _on_elsewhere(self, request: Request) -> Response:
        return json_answer({"token_type": "Bearer", "access_token": "elsewhere", "expires_in": "3599"})

    def _on_other(self, request: Request) -> Response:
        return Response("not found", status=404, mimetype="text/plain")

    # --- hostile bodies (need the stop event) --------------------------------------------------

    def drip(self, body: bytes, *, every: float, status: int = 200, content_type: str = "application/json",
             declared: bool = True) -> Response:
        """``body`` one byte every ``every`` seconds (with its full Content-Length, if ``declared``)."""
        def gen() -> Iterator[bytes]:
            for i in range(len(body)):
                if self.stopping.wait(every):
                    return
                yield body[i:i + 1]
        headers = {"Content-Length": str(len(body))} if declared else {}
        return Response(gen(), status=status, content_type=content_type, headers=headers, direct_passthrough=True)

    def endless(self, *, chunk: int = 64 * 1024, status: int = 200) -> Response:
        """A chunked JSON-looking body that never ends (until 64 MB or shutdown)."""
        def gen() -> Iterator[bytes]:
            yield b'{"access_token": "'
            block = b"A" * chunk
            for _ in range((64 << 20) // chunk):
                if self.stopping.is_set():
                    return
                yield block
        return Response(gen(), status=status, content_type="application/json", direct_passthrough=True)


# --- answers ---------------------------------------------------------------------------------

_KNOWN_ALGS = frozenset({"none", "None", "NONE", "nOnE", "RS256", "RS384", "RS512", "HS256", "HS384", "HS512"})


def _endpoint(path: str) -> str:
    parts = path.split("/")
    if path == "/v1.0/me":
        return "graph"
    if len(parts) > 1 and parts[1] == "attacker":
        return "jku"
    if len(parts) > 1 and parts[1] == "elsewhere":
        return "elsewhere"
    tail = "/".join(parts[2:])
    return {
        ".well-known/openid-configuration": "metadata",
        "discovery/keys": "jwks",
        "oauth2/authorize": "authorize",
        "oauth2/token": "token",
        "oauth2/logout": "logout",
    }.get(tail, "other")
