"""The device authorization grant (RFC 8628) as Azure AD serves it, v1.0 and v2.0::

    POST /{tenant}/oauth2/devicecode          client_id, resource      (v1: numbers as strings,
                                                                         ``verification_url``)
    POST /{tenant}/oauth2/v2.0/devicecode     client_id, scope         (v2: integers,
                                                                         ``verification_uri``)
    GET, POST /devicelogin                    the page where a person enters the code and
                                              picks an account (or declines)
    POST .../token  grant_type=urn:ietf:params:oauth:grant-type:device_code, device_code
                    (v1 also takes ADAL's ``grant_type=device_code`` with ``code``)

RFC 8628 3.5 answers while polling: ``authorization_pending`` (AADSTS70016) until the person
signs in, ``slow_down`` when a poll comes sooner than ``interval`` after the previous one (the
interval then grows by 5 seconds for that code), ``expired_token`` (AADSTS70020) after
``expires_in``, ``authorization_declined`` when the person said no (the AADSTS numbers of
slow_down and declined are emulator choices: Azure does not document them).
A device code is redeemed once (AADSTS54005 afterwards, as a spent code).
"""

from __future__ import annotations

import html
import secrets
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from ._context import Call
from ._errors import AadError, OAuthFailure, json_response, oauth_error_response
from ._model import GRAPH_RESOURCE, ClientRegistration, DemoUser
from ._pages import html_response

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = [
    "DEVICE_GRANTS",
    "DeviceCodeStore",
    "device_token",
    "handle_devicecode",
    "handle_devicelogin",
]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: The grant types the token endpoints accept for a device code (ADAL sent ``device_code``).
DEVICE_GRANTS = frozenset({DEVICE_GRANT, "device_code"})
EXPIRES_IN = 900
INTERVAL = 5
_PENDING, _SLOW, _EXPIRED, _DECLINED = 70016, 70016, 70020, 70018
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"  # RFC 8628 6.1: no vowels, no look-alikes


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceGrant:
    device_code: str
    user_code: str
    client_id: str
    version: str
    tenant_id: str | None  # None: common/organizations
    resource: str  # v1 resource, or the v2 scope string
    expires_at: float
    interval: int
    last_poll: float | None = None
    user: DemoUser | None = None
    declined: bool = False
    redeemed: bool = False


class DeviceCodeStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_device: dict[str, DeviceGrant] = {}

    def add(self, grant: DeviceGrant) -> None:
        with self._lock:
            self._by_device[grant.device_code] = grant

    def get(self, device_code: str) -> DeviceGrant | None:
        with self._lock:
            return self._by_device.get(device_code)

    def by_user_code(self, user_code: str) -> DeviceGrant | None:
        wanted = user_code.strip().upper().replace("-", "")
        with self._lock:
            for grant in self._by_device.values():
                if grant.user_code.replace("-", "") == wanted:
                    return grant
        return None

    def update(self, grant: DeviceGrant) -> None:
        with self._lock:
            self._by_device[grant.device_code] = grant


def _fail(error: str, aadsts: int, message: str) -> OAuthFailure:
    return OAuthFailure(AadError(error=error, aadsts=aadsts, message=message))


def _user_code() -> str:
    return "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))


def handle_devicecode(emu: Emulator, call: Call) -> Response:
    """RFC 8628 3.1/3.2: a device code for a known client in this tenant."""
    try:
        body = _devicecode(emu, call)
    except OAuthFailure as failure:
        return oauth_error_response(failure.error, call.diag)
    return json_response(body, 200, {**call.diag.oauth_headers(), "Cache-Control": "no-store"})


def _devicecode(emu: Emulator, call: Call) -> dict[str, object]:
    if call.scope is None:
        raise _fail("invalid_tenant", 90002, f"Tenant '{call.segment}' not found.")
    form = call.request.form
    client_id = form.get("client_id") or ""
    client = emu.directory.client(client_id) if client_id else None
    tenant = call.scope.tenant
    if client is None or (tenant and not emu.directory.client_exists_in(client, tenant.tenant_id)):
        raise _fail("unauthorized_client", 700016,
                    f"Application with identifier '{client_id}' was not found in the directory.")
    if not client.is_public:
        # Azure: the device flow needs "Allow public client flows" (a public client).
        raise _fail("invalid_client", 7000218, "The request body must contain the following "
                    "parameter: 'client_assertion' or 'client_secret'.")
    asked = form.get("scope" if call.v2 else "resource") or ""
    if not asked:
        raise _fail("invalid_request", 900144, "The request body must contain the following "
                    f"parameter: '{'scope' if call.v2 else 'resource'}'.")
    code = _user_code()
    grant = DeviceGrant(
        device_code=secrets.token_urlsafe(48), user_code=code, client_id=client.client_id,
        version=call.version, tenant_id=tenant.tenant_id if tenant else None, resource=asked,
        expires_at=call.now + EXPIRES_IN, interval=emu.device_code_interval,
    )
    emu.device_codes.add(grant)
    emu.grants.remember(grant.device_code)
    url = f"{call.base_url}/devicelogin"
    message = f"To sign in, use a web browser to open the page {url} and enter the code {code} to authenticate."
    if call.v2:
        return {"user_code": code, "device_code": grant.device_code, "verification_uri": url,
                "expires_in": EXPIRES_IN, "interval": grant.interval, "message": message}
    return {"user_code": code, "device_code": grant.device_code, "verification_url": url,
            "expires_in": str(EXPIRES_IN), "interval": str(grant.interval), "message": message}


def device_token(emu: Emulator, call: Call, client: ClientRegistration) -> dict[str, object]:
    """RFC 8628 3.4/3.5: one poll of the token endpoint."""
    form = call.request.form
    device_code = form.get("device_code") or form.get("code") or ""
    grant = emu.device_codes.get(device_code) if device_code else None
    if grant is None or grant.client_id != client.client_id:
        raise _fail("invalid_grant", 70000, "Provided grant is invalid or malformed.")
    if grant.version != call.version:
        raise _fail("invalid_grant", 70000, "Provided grant is invalid or malformed. The "
                    f"device code was issued by the v{grant.version} endpoint.")
    if grant.redeemed:
        raise _fail("invalid_grant", 54005, "The device code was already redeemed.")
    if call.now >= grant.expires_at:
        raise _fail("expired_token", _EXPIRED, "The device code has expired.")
    if grant.declined:
        raise _fail("authorization_declined", _DECLINED, "The user declined the sign-in.")
    if grant.user is None:
        too_soon = grant.last_poll is not None and call.now - grant.last_poll < grant.interval
        # RFC 8628 3.5: slow_down, and the interval grows by 5 seconds for this code
        emu.device_codes.update(replace(grant, last_poll=call.now,
                                        interval=grant.interval + (5 if too_soon else 0)))
        if too_soon:
            raise _fail("slow_down", _SLOW, "Polling too fast: wait longer between requests.")
        raise _fail("authorization_pending", _PENDING, "The user has not yet completed "
                    "authentication, or the authorization request is still pending.")
    emu.device_codes.update(replace(grant, redeemed=True))
    return _mint(emu, call, client, grant.user, grant.resource)


#: The Graph permissions a device-code token carries on v1 (no scopes asked there): the
#: client's static ones. The register tool's client holds what it needs to register apps.
_V1_GRAPH_SCOPES = "Application.ReadWrite.All User.Read"


def _mint(emu: Emulator, call: Call, client: ClientRegistration, user: DemoUser,
          asked: str) -> dict[str, object]:
    from ._scopes import ScopeError, parse_scopes
    from ._token import _resource, check_consent

    if not call.v2:
        resource = _resource(emu, asked)
        check_consent(emu, client, user, resource)
        scope = _V1_GRAPH_SCOPES if resource.key == GRAPH_RESOURCE else resource.scope
        return dict(emu.minter.token_response(
            user, client.client_id, resource.name, call.now, ipaddr=call.ipaddr, scope=scope,
            id_extra=emu.authorization_claims(client, user, front_channel=False,
                                              graph_base=call.base_url),
            access_extra=emu.authorization_claims(resource.app, user, front_channel=False,
                                                  graph_base=call.base_url)))
    try:
        request = parse_scopes(emu.directory, client, asked, tenant=call.segment)
        target = request.single(emu.directory)
    except ScopeError as exc:
        raise OAuthFailure(exc.error) from exc
    check_consent(emu, client, user, target.resource)
    return emu.minter.token_response_v2(
        user, client.client_id, resource=target.resource.name, scp=target.scp(request.oidc),
        answer_scope=target.answer_scope(request.oidc), oidc=request.oidc, now=call.now,
        ipaddr=call.ipaddr, refresh_scope=asked,
        id_extra=emu.authorization_claims(client, user, front_channel=False,
                                          graph_base=call.base_url),
        access_extra=emu.authorization_claims(target.resource.app, user, front_channel=False,
                                              graph_base=call.base_url))


def _admin_consent(emu: Emulator, client_id: str, asked: str, v2: bool) -> None:
    """An app admin's sign-in consents for every user (Azure shows admins the
    "Consent on behalf of your organization" box; the emulator ticks it)."""
    from ._consent import resolve_resource
    from ._scopes import ScopeError, parse_scopes

    client = emu.directory.client(client_id)
    if client is None:
        return
    if not v2:
        found = resolve_resource(emu.directory, asked)
        names = [found.name] if found else []
    else:
        try:
            names = [r.resource.name for r in
                     parse_scopes(emu.directory, client, asked, tenant="common").resources]
        except ScopeError:
            names = []
    for name in names:
        emu.grant_consent(client_id, name)


_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Device sign-in</title>
</head><body><main><h1>Enter code</h1>{message}
<form method="post" action="/devicelogin">
<label>Code <input name="user_code" value="{code}" autocomplete="off"></label>
<label>Account (upn) <input name="login" value="{login}"></label>
<button type="submit" name="action" value="continue">Sign in</button>
<button type="submit" name="action" value="decline">Decline</button></form>
<p><small>aadweb emulator: a local stand-in for Azure AD.</small></p></main></body></html>
"""


def _page(message: str = "", code: str = "", login: str = "", status: int = 200) -> Response:
    return html_response(_PAGE.format(message=message, code=html.escape(code, quote=True),
                                      login=html.escape(login, quote=True)), status)


def handle_devicelogin(emu: Emulator, call: Call) -> Response:
    """The verification page (RFC 8628 3.3): the person enters the user code, picks an
    account of the code's tenant, and signs in or declines."""
    request = call.request
    if request.method == "GET":
        return _page(code=request.args.get("user_code", ""))
    code = request.form.get("user_code", "")
    login = request.form.get("login", "")
    grant = emu.device_codes.by_user_code(code) if code else None
    if grant is None or grant.redeemed or call.now >= grant.expires_at:
        return _page('<p id="error">That code is wrong or has expired.</p>', code, login, 400)
    if request.form.get("action") == "decline":
        emu.device_codes.update(replace(grant, declined=True))
        return _page('<p id="done">You declined to sign in. You may close this window.</p>')
    user = next((u for u in emu.directory.users if u.upn.lower() == login.strip().lower()
                 or u.oid == login.strip()), None)
    if user is None or (grant.tenant_id is not None and user.tenant_id != grant.tenant_id):
        return _page('<p id="error">No such account in this directory.</p>', code, login, 400)
    emu.device_codes.update(replace(grant, user=user))
    if emu.is_app_admin(user):
        _admin_consent(emu, grant.client_id, grant.resource, grant.version == "2.0")
    return _page('<p id="done">You have signed in. You may close this window.</p>')
