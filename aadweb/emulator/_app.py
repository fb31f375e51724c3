"""The :class:`Emulator`: a WSGI app that plays Azure AD (v1.0 and v2.0) and Microsoft Graph.

Routes (``{tenant}`` = tenant GUID, verified domain, ``common`` or ``organizations``; the
fault endpoint each answers for on the right)::

    GET       /{tenant}/.well-known/openid-configuration        metadata
    GET       /{tenant}/v2.0/.well-known/openid-configuration   metadata (v2.0)
    GET       /common/discovery/instance                        metadata (instance discovery)
    GET       /{tenant}/discovery/keys[?appid=...]               keys
    GET       /{tenant}/discovery/v2.0/keys[?appid=...]          keys (v2.0: issuer per key)
    GET, POST /{tenant}/oauth2/authorize                         authorize (page, sign-in)
    GET, POST /{tenant}/oauth2/v2.0/authorize                    authorize (v2.0: scopes)
    POST      /{tenant}/oauth2/token                             token
    POST      /{tenant}/oauth2/v2.0/token                        token (v2.0)
    GET       /{tenant}/oauth2/logout, /oauth2/v2.0/logout       logout
    GET       /{tenant}/oauth2/checksession                      logout (check_session_iframe)
    GET, POST /oidc/userinfo, /{tenant}/openid/userinfo          graph (OIDC UserInfo)
    GET       /v1.0/me                                      graph
    GET       /v1.0/{me | users/<id>}/memberOf              graph (group memberships)
    GET       /v1.0/{me | users/<id>}/transitiveMemberOf    graph (the same: no nested groups here)
    POST      /v1.0/{me | users/<id>}/getMemberObjects      graph (group memberships)
    POST      /{tenant}/oauth2[/v2.0]/devicecode            token (device code, RFC 8628)
    GET, POST /devicelogin                                  authorize (device code page)
    *         /v1.0/applications[/{id}[/addPassword|addKey]] graph (app registration)
    GET, POST /v1.0/servicePrincipals                       graph (app registration)
    *         /_emulator/redirect-target                    where the redirect fault points

Control plane (loopback clients only; not recorded in :attr:`Emulator.requests`)::

    GET    /_emulator/requests      -> [{"method","path","query","form","headers","at"}, ...]
    DELETE /_emulator/requests      -> {"cleared": n}
    GET    /_emulator/faults        -> {"faults": [{...fault fields..., "remaining": n|null}]}
    POST   /_emulator/faults        body: one fault object or a list -> 201 {"added": [...]}
    DELETE /_emulator/faults        -> {"cleared": n}
    POST   /_emulator/rotate-keys   body (optional): {"keep_old": bool} -> {"kid": "..."}

and the directory's groups, app roles and consents (see ``_admin.py``)::

    GET    /_emulator/directory               groups, memberships, registrations, consents
    POST   /_emulator/groups                  {"displayName", "id"?, "securityEnabled"?, "tenant"?}
    POST   /_emulator/group-members           {"group", "user"}      (DELETE: remove)
    PUT    /_emulator/overage-limits          {"front"?, "back"?}
    PUT    /_emulator/group-membership-claims {"client_id", "value": null|"SecurityGroup"|"All"}
    POST   /_emulator/app-roles               {"client_id", "principal", "role"}  (DELETE)
    POST   /_emulator/consents                {"client_id", "resource", "user"?}  (DELETE)
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ._admin import DirectoryAdmin, admin_rules, handle_admin
from ._authorize import handle_authorize
from ._consent import ConsentStore
from ._context import Call
from ._device import DEVICE_GRANTS, DeviceCodeStore, device_token, handle_devicecode, handle_devicelogin
from ._discovery import handle_keys, handle_logout, handle_metadata
from ._errors import Diag, json_response
from ._faults import Fault, FaultSet
from ._graph import handle_me, handle_member_objects, handle_member_of, handle_userinfo
from ._graph_apps import RegistrationAdmin, handle_applications, registration_rules
from ._groups import DEMO_GROUPS, DEMO_MEMBERSHIPS, Group, GroupDirectory, OverageLimits
from ._instance import handle_instance_discovery
from ._keys import KeyRing
from ._mint import Minter
from ._model import (
    DEMO_API,
    DEMO_CLIENT,
    DEMO_CLIENT_ID,
    DEMO_REPORTS_API,
    DEMO_TENANTS,
    DEMO_USERS,
    FABRIKAM_USERS,
    REGISTER_TOOL_CLIENT,
    ClientRegistration,
    DemoUser,
    Directory,
    Tenant,
)
from ._pages import check_session_page, html_response, index_page
from ._respond import serve_with_faults
from ._token import client_and_grant_type, token_response, token_v1
from ._token_v2 import token_v2
from ._tokens import GrantStore, id_token_claims

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["Emulator", "SeenRequest"]

log = logging.getLogger("aadweb.emulator")

_Handler = Callable[["Emulator", Call], Response]


def handle_token(emu: Emulator, call: Call) -> Response:
    if call.request.form.get("grant_type") in DEVICE_GRANTS:
        return token_response(call, lambda: device_token(emu, call, client_and_grant_type(emu, call)[0]))
    grants = token_v2 if call.v2 else token_v1
    return token_response(call, lambda: grants(emu, call))


_HANDLERS: dict[str, _Handler] = {
    "metadata": handle_metadata, "keys": handle_keys, "authorize": handle_authorize,
    "token": handle_token, "logout": handle_logout, "graph": handle_me,
    "graph_member_of": handle_member_of, "graph_member_objects": handle_member_objects,
    "instance": handle_instance_discovery, "userinfo": handle_userinfo,
    "checksession": lambda emu, call: html_response(check_session_page()),
    "devicecode": handle_devicecode, "devicelogin": handle_devicelogin,
    "graph_apps": handle_applications, "graph_sps": handle_applications,
}
#: The fault endpoint each handler answers for (default: its own name). An endpoint name
#: ending in ``_v2`` is served by the same handler with ``Call.version`` "2.0".
_FAULT_ENDPOINT = {"graph_member_of": "graph", "graph_member_objects": "graph",
                   "instance": "metadata", "userinfo": "graph", "checksession": "logout",
                   "devicecode": "token", "devicelogin": "authorize", "graph_apps": "graph",
                   "graph_sps": "graph"}


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SeenRequest:
    """One request the emulator answered (headers with lower-case names)."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    at: float


class _Request(Request):
    max_content_length = 1024 * 1024
    max_form_memory_size = 512 * 1024


class Emulator(DirectoryAdmin, RegistrationAdmin):
    """A local Azure AD v1 authority + Graph. ``clock`` drives every token time and every
    expiry check, so a test can move time without sleeping.

    ``groups``/``memberships`` (user oid -> group ids) fill the directory's groups;
    ``overage_limits`` say how many group ids a token carries before it carries an overage
    indication instead; ``member_of_page_size`` is Graph's ``memberOf`` page size. The
    methods that edit groups, app roles and consents come from :class:`DirectoryAdmin`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        tenants: Iterable[Tenant] = DEMO_TENANTS,
        users: Iterable[DemoUser] = DEMO_USERS + FABRIKAM_USERS,
        clients: Iterable[ClientRegistration] = (DEMO_CLIENT, DEMO_API, DEMO_REPORTS_API,
                                                 REGISTER_TOOL_CLIENT),
        groups: Iterable[Group] = DEMO_GROUPS,
        memberships: Mapping[str, Iterable[str]] = DEMO_MEMBERSHIPS,
        overage_limits: OverageLimits = OverageLimits(),  # noqa: B008 - frozen value
        member_of_page_size: int = 100,
    ) -> None:
        self.clock = clock
        self.directory = Directory(tenants, users, clients)
        self.groups = GroupDirectory(groups, memberships)
        self.consents = ConsentStore()
        self.overage_limits = overage_limits
        self.member_of_page_size = member_of_page_size
        self.keys = KeyRing()
        self.faults = FaultSet()
        self.grants = GrantStore()
        self.minter = Minter(self.keys, self.grants, self.faults)
        self.device_codes = DeviceCodeStore()
        self._init_registrations()
        self._lock = threading.Lock()
        #: Every request answered, oldest first (a plain list: tests may ``.clear()`` it).
        self.requests: list[SeenRequest] = []
        self._map = Map([
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/<tenant>/.well-known/openid-configuration", endpoint="metadata",
                 methods=["GET"]),
            Rule("/<tenant>/discovery/keys", endpoint="keys", methods=["GET"]),
            Rule("/<tenant>/oauth2/authorize", endpoint="authorize", methods=["GET", "POST"]),
            Rule("/<tenant>/oauth2/token", endpoint="token", methods=["POST"]),
            Rule("/<tenant>/oauth2/logout", endpoint="logout", methods=["GET"]),
            Rule("/<tenant>/v2.0/.well-known/openid-configuration", endpoint="metadata_v2",
                 methods=["GET"]),
            Rule("/common/discovery/instance", endpoint="instance", methods=["GET"]),
            Rule("/<tenant>/discovery/v2.0/keys", endpoint="keys_v2", methods=["GET"]),
            Rule("/<tenant>/oauth2/v2.0/authorize", endpoint="authorize_v2",
                 methods=["GET", "POST"]),
            Rule("/<tenant>/oauth2/v2.0/token", endpoint="token_v2", methods=["POST"]),
            Rule("/<tenant>/oauth2/v2.0/logout", endpoint="logout_v2", methods=["GET"]),
            Rule("/<tenant>/oauth2/checksession", endpoint="checksession", methods=["GET"]),
            Rule("/oidc/userinfo", endpoint="userinfo", methods=["GET", "POST"]),
            Rule("/<tenant>/openid/userinfo", endpoint="userinfo", methods=["GET", "POST"]),
            Rule("/v1.0/me", endpoint="graph", methods=["GET"], strict_slashes=False),
            Rule("/v1.0/me/memberOf", endpoint="graph_member_of", methods=["GET"]),
            Rule("/v1.0/users/<uid>/memberOf", endpoint="graph_member_of", methods=["GET"]),
            # The emulated directory has no nested groups: transitive memberships are the direct ones.
            Rule("/v1.0/me/transitiveMemberOf", endpoint="graph_member_of", methods=["GET"]),
            Rule("/v1.0/users/<uid>/transitiveMemberOf", endpoint="graph_member_of", methods=["GET"]),
            Rule("/v1.0/me/getMemberObjects", endpoint="graph_member_objects",
                 methods=["POST"]),
            Rule("/v1.0/users/<uid>/getMemberObjects", endpoint="graph_member_objects",
                 methods=["POST"]),
            Rule("/<tenant>/oauth2/devicecode", endpoint="devicecode", methods=["POST"]),
            Rule("/<tenant>/oauth2/v2.0/devicecode", endpoint="devicecode_v2", methods=["POST"]),
            Rule("/devicelogin", endpoint="devicelogin", methods=["GET", "POST"]),
            *registration_rules(),
            Rule("/_emulator/redirect-target", endpoint="redirect_target"),
            Rule("/_emulator/requests", endpoint="ctl_requests", methods=["GET", "DELETE"]),
            Rule("/_emulator/faults", endpoint="ctl_faults", methods=["GET", "POST", "DELETE"]),
            Rule("/_emulator/rotate-keys", endpoint="ctl_rotate", methods=["POST"]),
            *admin_rules(),
        ], strict_slashes=False, merge_slashes=False)

    # ----------------------------------------------------------------- public API

    def register_client(self, client: ClientRegistration) -> None:
        """Add an app registration (replacing one with the same client_id)."""
        self.directory.register(client)

    def clear_requests(self) -> int:
        with self._lock:
            count = len(self.requests)
            self.requests.clear()
        return count

    def count(self, method: str, path_suffix: str) -> int:
        """How many recorded requests had ``method`` and a path ending in ``path_suffix``."""
        wanted = method.upper()
        with self._lock:
            seen = list(self.requests)
        return sum(1 for r in seen if r.method == wanted and r.path.endswith(path_suffix))

    def minted_secrets(self) -> set[str]:
        """Every code, access token, refresh token and id_token minted so far."""
        return self.grants.minted()

    def rotate_keys(self, keep_old: bool = False) -> str:
        """Roll the signing key over; the old key leaves the JWKS unless ``keep_old``.
        Access tokens signed by an old key stay valid at Graph. Returns the new kid."""
        return self.keys.rotate(keep_old=keep_old).kid

    def signing_jwk_public(self) -> dict[str, object]:
        return self.keys.current.public_jwk()

    def issue_id_token(
        self, *, user: DemoUser | str | None = None, client_id: str = DEMO_CLIENT_ID,
        code: str | None = None, header: Mapping[str, object] | None = None,
        **claims: Any,
    ) -> str:
        """A front-channel-style RS256 id_token signed by the current published key, for
        tests: ``user`` (a DemoUser, upn or oid; default the first demo user) signed in to
        ``client_id`` now; ``code`` adds its ``c_hash``; ``claims`` override (None
        removes); ``header`` overrides JOSE header parameters. Faults are not consulted."""
        if user is None or isinstance(user, str):
            who = self._find_user(user) if user else self.directory.users[0]
        else:
            who = user
        body = id_token_claims(who, client_id, self.clock(), ipaddr="127.0.0.1", code=code)
        for name, value in claims.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        return self.minter.signed_id_token(body, header)

    def _find_user(self, key: str) -> DemoUser:
        for user in self.directory.users:
            if key.lower() in (user.upn.lower(), user.oid.lower()):
                return user
        raise KeyError(key)

    # ------------------------------------------------------------------- WSGI

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            response = self._dispatch(request)
        except HTTPException as exc:
            response = json_response({"error": exc.name, "status": exc.code}, exc.code or 500)
        except Exception:  # the emulator answers 500, like a server would
            log.exception("aadweb emulator: unhandled error on %s", request.path)
            response = json_response({"error": "emulator_bug"}, 500)
        return response(environ, start_response)

    def _dispatch(self, request: _Request) -> Response:
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except HTTPException:
            self._record(request)
            raise
        if endpoint.startswith("ctl_"):
            return self._control(endpoint, request)
        self._record(request)
        if endpoint == "redirect_target":
            return json_response({"redirect_target": True,
                                  "note": "a client must never follow redirects here"})
        base_url = request.root_url.rstrip("/")
        if endpoint == "index":
            return html_response(index_page(
                base_url=base_url,
                tenants=[(t.tenant_id, t.domain) for t in self.directory.tenants],
                users=self.directory.users,
                clients=[(c.client_id, c.redirect_uris) for c in self.directory.clients()],
            ))
        segment = str(values.get("tenant", ""))
        v2 = endpoint.endswith("_v2")
        name = endpoint.removesuffix("_v2")
        call = Call(
            request=request,
            diag=Diag.for_request(request, self.clock()),
            base_url=base_url,
            segment=segment,
            scope=self.directory.resolve(segment) if segment else None,
            version="2.0" if v2 else "1.0",
        )
        handler = _HANDLERS[name]
        return serve_with_faults(self.faults, _FAULT_ENDPOINT.get(name, name),
                                 call.diag, base_url, lambda: handler(self, call))

    def _record(self, request: _Request) -> None:
        seen = SeenRequest(
            method=request.method,
            path=request.path,
            query=dict(request.args.items()),
            form=dict(request.form.items()) if request.method == "POST" else {},
            headers={k.lower(): v for k, v in request.headers.items()},
            at=self.clock(),
        )
        with self._lock:
            self.requests.append(seen)

    # ---------------------------------------------------------- control plane

    @staticmethod
    def _from_loopback(request: _Request) -> bool:
        """The peer is loopback, and so is the Host it named (no DNS rebinding)."""
        return _is_loopback(request.remote_addr or "") and _is_loopback(
            _host_name(request.host or "")
        )

    def _control(self, endpoint: str, request: _Request) -> Response:
        if not self._from_loopback(request):
            return json_response({"error": "forbidden",
                                  "detail": "the control plane answers loopback only"}, 403)
        if endpoint.startswith("ctl_dir_"):
            return handle_admin(self, endpoint, request.method, self._json_body(request, {}))
        if endpoint == "ctl_requests":
            if request.method == "DELETE":
                return json_response({"cleared": self.clear_requests()})
            with self._lock:
                seen = list(self.requests)
            return json_response([asdict(r) for r in seen])
        if endpoint == "ctl_rotate":
            options = self._json_body(request, default={})
            keep_old = isinstance(options, dict) and options.get("keep_old") is True
            return json_response({"kid": self.rotate_keys(keep_old=keep_old)})
        if request.method == "DELETE":
            return json_response({"cleared": self.faults.clear()})
        if request.method == "GET":
            return json_response({"faults": [
                {**f.to_json(), "remaining": n} for f, n in self.faults.active()]})
        specs = self._json_body(request, default=None)
        try:
            faults = [Fault.from_json(s) for s in (specs if isinstance(specs, list) else [specs])]
        except (TypeError, ValueError) as exc:
            return json_response({"error": "invalid_fault", "detail": str(exc)}, 400)
        for fault in faults:
            self.faults.add(fault)
        return json_response({"added": [f.to_json() for f in faults]}, 201)

    @staticmethod
    def _json_body(request: _Request, default: object) -> object:
        data = request.get_data()
        if not data.strip():
            return default
        try:
            parsed: object = json.loads(data)
        except ValueError:
            return None
        return parsed
