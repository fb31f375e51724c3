"""Microsoft Graph's application registration API, the part ``aadweb register`` uses::

    GET   /v1.0/applications[?$filter=displayName eq 'NAME' | appId eq 'ID']
    POST  /v1.0/applications                       create (201, the application)
    GET   /v1.0/applications/{id}                  one application
    PATCH /v1.0/applications/{id}                  update (204)
    POST  /v1.0/applications/{id}/addPassword      {"passwordCredential": {"displayName"?}}
                                                   -> the credential with ``secretText`` (once)
    POST  /v1.0/applications/{id}/addKey           {"keyCredential": {...}, "proof": JWT}
    GET   /v1.0/servicePrincipals[?$filter=appId eq 'ID']
    POST  /v1.0/servicePrincipals                  {"appId"} (201)

Every route needs a Graph token with ``Application.ReadWrite.All`` or
``Directory.ReadWrite.All`` in ``scp`` (403 ``Authorization_RequestDenied`` otherwise). Who may
do what (the emulator's model of Azure's roles and tenant settings): an *app admin* (one of
:attr:`RegistrationAdmin.app_admins`, by default Megan Bowen, standing for Application
Administrator) may do everything in their tenant; another user may create an application
only while :attr:`RegistrationAdmin.users_can_register_apps` is true (the tenant setting
"Users can register applications") and then change only the applications they own. A
refusal is 403 ``Authorization_RequestDenied`` "Insufficient privileges to complete the
operation.", as Graph answers.

An application created here becomes an app registration at once (:meth:`_sync`): its client
id, redirect URIs, the ID token checkbox, app roles, the newest password as the client secret
and the newest key credential as the certificate, so it can sign in right away.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from ._context import Call
from ._errors import graph_error_response, json_response
from ._model import ClientRegistration, DemoUser

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["AppObject", "RegistrationAdmin", "handle_applications", "registration_rules"]

_WRITE_SCOPES = frozenset({"Application.ReadWrite.All", "Directory.ReadWrite.All"})
_FILTER = re.compile(r"\s*(displayName|appId)\s+eq\s+'((?:[^']|'')*)'\s*")
_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
#: Megan Bowen stands for the tenant's Application Administrator.
DEFAULT_APP_ADMINS = frozenset({"d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60"})


def registration_rules() -> list[Rule]:
    return [
        Rule("/v1.0/applications", endpoint="graph_apps", methods=["GET", "POST"]),
        Rule("/v1.0/applications/<oid>", endpoint="graph_apps", methods=["GET", "PATCH"]),
        Rule("/v1.0/applications/<oid>/<action>", endpoint="graph_apps", methods=["POST"]),
        Rule("/v1.0/servicePrincipals", endpoint="graph_sps", methods=["GET", "POST"]),
    ]


@dataclass(slots=True, kw_only=True)
class AppObject:
    """An application object as Graph keeps it (the emulator's part of it)."""

    id: str
    app_id: str
    tenant_id: str
    owner: str
    display_name: str
    sign_in_audience: str = "AzureADMyOrg"
    redirect_uris: list[str] = field(default_factory=list)
    id_tokens: bool = False
    required_resource_access: list[Any] = field(default_factory=list)
    app_roles: list[dict[str, Any]] = field(default_factory=list)
    passwords: list[dict[str, Any]] = field(default_factory=list)  # with the secret, internal
    keys: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "appId": self.app_id, "displayName": self.display_name,
            "signInAudience": self.sign_in_audience,
            "web": {"redirectUris": list(self.redirect_uris), "implicitGrantSettings": {
                "enableIdTokenIssuance": self.id_tokens, "enableAccessTokenIssuance": False}},
            "requiredResourceAccess": self.required_resource_access,
            "appRoles": self.app_roles,
            "passwordCredentials": [{k: v for k, v in p.items() if k != "secret"}
                                    | {"secretText": None} for p in self.passwords],
            "keyCredentials": [{k: (None if k == "key" else v) for k, v in c.items()}
                               for c in self.keys],
        }


class RegistrationAdmin:
    """The registration half of the :class:`Emulator` API (state and Python methods)."""

    def _init_registrations(self) -> None:
        self.app_admins: set[str] = set(DEFAULT_APP_ADMINS)
        self.users_can_register_apps = True
        #: The ``interval`` a device code answer asks for (Azure: 5 seconds; tests may lower it).
        self.device_code_interval = 5
        self.applications: dict[str, AppObject] = {}
        self.service_principals: dict[str, dict[str, Any]] = {}
        self._apps_lock = threading.Lock()

    def is_app_admin(self, user: DemoUser) -> bool:
        return user.oid in self.app_admins

    def application(self, app_id: str) -> AppObject | None:
        """The application object with this client id (appId), if Graph created one."""
        with self._apps_lock:
            return next((a for a in self.applications.values() if a.app_id == app_id), None)


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _error(call: Call, code: str, message: str, status: int | None = None) -> _Answer:
    return _Answer(graph_error_response(code, message, call.diag, base_url=call.base_url,
                                        status=status))


def _denied(call: Call) -> _Answer:
    return _error(call, "Authorization_RequestDenied",
                  "Insufficient privileges to complete the operation.")


def _body(call: Call) -> dict[str, Any]:
    data = call.request.get_json(silent=True)
    if not isinstance(data, dict):
        raise _error(call, "Request_BadRequest", "The request body is not a JSON object.")
    return data


def _headers(call: Call) -> dict[str, str]:
    return {"request-id": call.diag.trace_id,
            "client-request-id": call.diag.client_request_id or call.diag.trace_id}


def _filtered(call: Call, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raw = call.request.args.get("$filter")
    if raw is None:
        return items
    match = _FILTER.fullmatch(raw)
    if match is None:
        raise _error(call, "Request_UnsupportedQuery", "Unsupported or invalid query filter "
                     "clause specified.", 400)
    name, value = match.group(1), match.group(2).replace("''", "'")
    return [i for i in items if i.get(name) == value]


def handle_applications(emu: Emulator, call: Call) -> Response:
    from ._graph import _caller, _Refused

    try:
        user, scopes = _caller(emu, call)
        if not scopes & _WRITE_SCOPES:
            raise _denied(call)
        return _applications(emu, call, user)
    except _Refused as refused:
        return refused.response
    except _Answer as answer:
        return answer.response


def _applications(emu: Emulator, call: Call, user: DemoUser) -> Response:
    method = call.request.method
    parts = call.request.path.strip("/").split("/")  # v1.0, applications, [id, [action]]
    oid = parts[2] if len(parts) > 2 else None
    action = parts[3] if len(parts) > 3 else None
    if parts[1] == "servicePrincipals":
        return _service_principals(emu, call, user)
    mine = [a for a in emu.applications.values() if a.tenant_id == user.tenant_id]
    if oid is None and method == "GET":
        return json_response({"@odata.context": _CONTEXT + "applications",
                              "value": _filtered(call, [a.to_json() for a in mine])},
                             200, _headers(call))
    if oid is None:
        if not (emu.is_app_admin(user) or emu.users_can_register_apps):
            raise _denied(call)
        app = AppObject(id=str(uuid.uuid4()), app_id=str(uuid.uuid4()), tenant_id=user.tenant_id,
                        owner=user.oid, display_name="")
        _apply(call, app, _body(call))
        if not app.display_name:
            raise _error(call, "Request_BadRequest", "Property 'displayName' is required.")
        with emu._apps_lock:
            emu.applications[app.id] = app
        _sync(emu, app)
        return json_response({"@odata.context": _CONTEXT + "applications/$entity",
                              **app.to_json()}, 201, _headers(call))
    found = next((a for a in mine if a.id == oid), None)
    if found is None:
        raise _error(call, "Request_ResourceNotFound", f"Resource '{oid}' does not exist or "
                     "one of its queried reference-property objects are not present.")
    app = found
    if method == "GET":
        return json_response(app.to_json(), 200, _headers(call))
    if not (emu.is_app_admin(user) or app.owner == user.oid):
        raise _denied(call)
    if method == "PATCH":
        _apply(call, app, _body(call))
        _sync(emu, app)
        return Response(status=204, headers=_headers(call))
    if action == "addPassword":
        return _add_password(emu, call, app)
    if action == "addKey":
        return _add_key(emu, call, app)
    raise _error(call, "Request_BadRequest", f"Unsupported action '{action}'.")


def _apply(call: Call, app: AppObject, body: dict[str, Any]) -> None:
    """The writable properties ``aadweb register`` sends; others are ignored."""
    try:
        if "displayName" in body:
            app.display_name = str(body["displayName"])
        if "signInAudience" in body:
            app.sign_in_audience = str(body["signInAudience"])
        web = body.get("web")
        if isinstance(web, dict):
            if "redirectUris" in web:
                app.redirect_uris = [str(u) for u in web["redirectUris"]]
            grant = web.get("implicitGrantSettings")
            if isinstance(grant, dict) and "enableIdTokenIssuance" in grant:
                app.id_tokens = bool(grant["enableIdTokenIssuance"])
        if "requiredResourceAccess" in body:
            app.required_resource_access = list(body["requiredResourceAccess"])
        if "appRoles" in body:
            app.app_roles = [dict(r) for r in body["appRoles"]]
        if "keyCredentials" in body:  # PATCH: Graph's way to upload the first certificate
            app.keys = [_key(call, dict(k)) for k in body["keyCredentials"]]
    except (TypeError, ValueError) as exc:
        raise _error(call, "Request_BadRequest", f"Invalid property value: {exc}") from exc


def _key(call: Call, key: dict[str, Any]) -> dict[str, Any]:
    from cryptography import x509

    try:
        der = base64.b64decode(str(key.get("key", "")), validate=True)
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _error(call, "Request_BadRequest", "keyCredential.key is not a base64 DER "
                     "X.509 certificate.") from exc
    return {"keyId": str(key.get("keyId") or uuid.uuid4()), "type": key.get("type"),
            "usage": key.get("usage"), "displayName": key.get("displayName"), "key": der}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add_password(emu: Emulator, call: Call, app: AppObject) -> Response:
    body = _body(call)
    wanted = body.get("passwordCredential") or {}
    secret = secrets.token_urlsafe(30)
    credential = {"customKeyIdentifier": None,
                  "displayName": str(wanted.get("displayName") or "") or None,
                  "endDateTime": _iso(call.now + 2 * 365 * 86400), "hint": secret[:3],
                  "keyId": str(uuid.uuid4()), "startDateTime": _iso(call.now)}
    app.passwords.append({**credential, "secret": secret})
    emu.grants.remember(secret)
    _sync(emu, app)
    return json_response({"@odata.context": _CONTEXT + "microsoft.graph.passwordCredential",
                          **credential, "secretText": secret}, 200, _headers(call))


def _add_key(emu: Emulator, call: Call, app: AppObject) -> Response:
    """addKey needs an existing certificate (its key signs ``proof``); the emulator checks
    that one exists and that a proof is present, not the proof's signature."""
    body = _body(call)
    if not app.keys or not isinstance(body.get("proof"), str):
        raise _error(call, "Request_BadRequest", "addKey needs a proof of possession signed "
                     "by an existing key; upload the first certificate with PATCH "
                     "keyCredentials.")
    key = _key(call, dict(body.get("keyCredential") or {}))
    app.keys.append(key)
    _sync(emu, app)
    return json_response({k: (None if k == "key" else v) for k, v in key.items()},
                         200, _headers(call))


def _pem(der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    lines = "\n".join(text[i:i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def _sync(emu: Emulator, app: AppObject) -> None:
    """Make the application an app registration that can sign in now."""
    emu.register_client(ClientRegistration(
        client_id=app.app_id,
        client_secret=app.passwords[-1]["secret"] if app.passwords else None,
        certificate_pem=_pem(app.keys[-1]["key"]) if app.keys else None,
        redirect_uris=tuple(app.redirect_uris),
        allow_id_tokens=app.id_tokens,
        home_tenant_id=app.tenant_id,
        multi_tenant=app.sign_in_audience != "AzureADMyOrg",
        display_name=app.display_name,
        app_roles=tuple(str(r.get("value")) for r in app.app_roles if r.get("value")),
    ))


def _service_principals(emu: Emulator, call: Call, user: DemoUser) -> Response:
    if call.request.method == "GET":
        items = [sp for sp in emu.service_principals.values()
                 if sp["appOwnerOrganizationId"] == user.tenant_id]
        return json_response({"@odata.context": _CONTEXT + "servicePrincipals",
                              "value": _filtered(call, items)}, 200, _headers(call))
    app_id = str(_body(call).get("appId", ""))
    app = emu.application(app_id)
    if app is None or app.tenant_id != user.tenant_id:
        raise _error(call, "Request_BadRequest", f"The appId '{app_id}' of the service "
                     "principal does not reference a valid application object.")
    if not (emu.is_app_admin(user) or app.owner == user.oid):
        raise _denied(call)
    if any(sp["appId"] == app_id for sp in emu.service_principals.values()):
        raise _error(call, "Request_MultipleObjectsWithSameKeyValue", "The service principal "
                     "cannot be created, updated, or restored because the service principal "
                     "name is already in use.", 409)
    sp = {"id": str(uuid.uuid4()), "appId": app_id, "displayName": app.display_name,
          "appOwnerOrganizationId": app.tenant_id, "servicePrincipalType": "Application"}
    emu.service_principals[sp["id"]] = sp
    return json_response({"@odata.context": _CONTEXT + "servicePrincipals/$entity", **sp},
                         201, _headers(call))
