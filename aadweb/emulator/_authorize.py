"""``/{tenant}/oauth2/authorize`` and ``/{tenant}/oauth2/v2.0/authorize``: the sign-in page
(GET) and the sign-in itself (POST).

Azure validates in this order, and so does the emulator:

1. tenant, ``client_id`` and ``redirect_uri`` (exact match with a registered reply URL).
   Until the redirect URI is trusted every error is a *page* (AADSTS90002, 900144,
   700016, 50194, 50011), never a redirect (RFC 6749 4.1.2.1).
2. Everything else fails by an error callback to the redirect URI in the requested
   response mode: ``error``, ``error_description`` (AADSTS text), ``state``.

POST contract (stateless, used by the page and by scripts): the form holds the original
query parameters plus ``user`` (upn or oid of a user of the tenant) to sign in, or
``cancel`` to answer ``error=access_denied``. Success: a single-use code bound to
client_id, redirect_uri, resource, user, nonce and the PKCE challenge; ``session_state``
(a GUID); and in the hybrid flow an RS256 id_token with ``nonce`` and ``c_hash``.

v2.0: ``scope`` (required; see ``_scopes.py``) instead of ``resource`` (refused there:
AADSTS901002); an id_token needs ``openid``; permissions of several resources may be asked
at once (signing in consents to each). The code remembers the scopes; the id_token is a
v2.0 one shaped by ``profile``/``email``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ._consent import ANY, Resource, has_consent, resolve_resource
from ._context import Call
from ._errors import AADSTS_MESSAGES, AadError, default_aadsts
from ._model import ClientRegistration, DemoUser, Directory, TenantScope
from ._pages import error_page, form_post_page, html_response, sign_in_page
from ._scopes import ScopeError, ScopeRequest, parse_scopes
from ._tokens import CODE_LIFETIME, CodeGrant

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["handle_authorize"]

_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 4.1 / 4.2
_MODES = ("query", "fragment", "form_post")


class _Page(Exception):
    def __init__(self, aadsts: int, message: str = "") -> None:
        super().__init__(aadsts)
        self.aadsts = aadsts
        self.message = message or AADSTS_MESSAGES.get(aadsts, "Emulated error.")


def _params(call: Call) -> dict[str, str]:
    merged = {k: v for k, v in call.request.args.items()}
    if call.request.method == "POST":
        merged.update(call.request.form.items())
    return merged


def handle_authorize(emu: Emulator, call: Call) -> Response:
    params = _params(call)
    try:
        client, redirect_uri = _trusted_client(emu.directory, call, params)
    except _Page as page:
        return html_response(error_page(
            aadsts=page.aadsts, message=page.message, trace_id=call.diag.trace_id,
            correlation_id=call.diag.correlation_id, timestamp=call.diag.timestamp,
        ), status=400)
    assert call.scope is not None
    kinds = set(params.get("response_type", "").split())
    mode = params.get("response_mode") or ("query" if kinds == {"code"} else "fragment")
    if mode not in _MODES:
        mode = "query" if kinds == {"code"} else "fragment"
    error = _request_error(emu.directory, client, params, kinds)
    if error is None and call.v2:
        error = _v2_error(emu.directory, call, client, params, kinds)
    fault = emu.faults.take("authorize", ("error",)) if error is None else None
    if fault is not None:
        name = fault.error or "access_denied"
        code = fault.aadsts if fault.aadsts is not None else default_aadsts(name)
        error = AadError(error=name, aadsts=code)
    if error is None and call.request.method == "GET" and params.get("prompt") == "none":
        error = AadError(error="login_required", aadsts=50058)  # no SSO session here
    if error is None and call.request.method == "POST" and "cancel" in call.request.form:
        error = AadError(error="access_denied", aadsts=65004)
    if error is not None:
        answer = {"error": error.error, "error_description": call.diag.describe(error)}
        return _callback(redirect_uri, mode, answer, params.get("state"))
    if call.request.method == "GET":
        return _sign_in_page(emu, call, client, params)
    return _sign_in(emu, call, client, redirect_uri, params, kinds, mode)


def _trusted_client(
    directory: Directory, call: Call, params: Mapping[str, str]
) -> tuple[ClientRegistration, str]:
    scope = call.scope
    if scope is None:
        raise _Page(90002, f"Tenant '{call.segment}' not found. Check to make sure you "
                           "have the correct tenant ID and are signing into the correct cloud.")
    client_id = params.get("client_id", "")
    if not client_id:
        raise _Page(900144, "The request body must contain the following parameter: "
                            "'client_id'.")
    client = directory.client(client_id)
    tenant_id = scope.tenant.tenant_id if scope.tenant else None
    if client is None or (tenant_id and not directory.client_exists_in(client, tenant_id)):
        where = scope.tenant.domain if scope.tenant else scope.segment
        raise _Page(700016, f"Application with identifier '{client_id}' was not found in "
                            f"the directory '{where}'.")
    if scope.is_multi and not client.multi_tenant:
        raise _Page(50194)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:  # Azure would fall back to a registered URI; the emulator insists
        raise _Page(900144, "The request body must contain the following parameter: "
                            "'redirect_uri'.")
    if redirect_uri not in client.redirect_uris:
        raise _Page(50011, f"The redirect URI '{redirect_uri}' specified in the request "
                           "does not match the redirect URIs configured for the application "
                           f"'{client.client_id}'.")
    return client, redirect_uri


def _request_error(
    directory: Directory, client: ClientRegistration, params: Mapping[str, str],
    kinds: set[str],
) -> AadError | None:
    """Checks whose failure goes back to the (now trusted) redirect URI."""
    if not kinds:
        return AadError(error="invalid_request", aadsts=900144, message=(
            "The request body must contain the following parameter: 'response_type'."))
    if "token" in kinds:
        return AadError(error="unsupported_response_type", aadsts=700051)
    if kinds not in ({"code"}, {"code", "id_token"}, {"id_token"}):
        return AadError(error="unsupported_response_type", aadsts=70005, message=(
            f"response_type '{params.get('response_type')}' is not supported."))
    wants_id_token = "id_token" in kinds
    if wants_id_token and not client.allow_id_tokens:
        return AadError(error="unsupported_response_type", aadsts=700054)
    mode = params.get("response_mode")
    if mode is not None and mode not in _MODES:
        return AadError(error="invalid_request", aadsts=9002313, message=(
            f"Invalid request. response_mode '{mode}' is not supported."))
    if wants_id_token and mode == "query":  # OAuth 2.0 Multiple Response Types 3.0
        return AadError(error="invalid_request", aadsts=9002313, message=(
            "Invalid request. response_mode 'query' is not allowed when an id_token is "
            "requested; use 'form_post' or 'fragment'."))
    if wants_id_token and not params.get("nonce"):  # OIDC Core 3.3.2.11
        return AadError(error="invalid_request", aadsts=90014, message=(
            "The required field 'nonce' is missing."))
    resource = params.get("resource")
    if resource and resolve_resource(directory, resource) is None:
        return AadError(error="invalid_resource", aadsts=500011, message=(
            f"The resource principal named {resource} was not found in the tenant."))
    return _pkce_error(params)


def _v2_scopes(
    directory: Directory, call: Call, client: ClientRegistration, params: Mapping[str, str]
) -> ScopeRequest:
    assert call.scope is not None
    return parse_scopes(directory, client, params.get("scope", ""), tenant=call.segment)


def _v2_error(
    directory: Directory, call: Call, client: ClientRegistration, params: Mapping[str, str],
    kinds: set[str],
) -> AadError | None:
    if "resource" in params:
        return AadError(error="invalid_request", aadsts=901002, message=(
            "The 'resource' request parameter is not supported."))
    if not params.get("scope", "").strip():
        return AadError(error="invalid_request", aadsts=900144, message=(
            "The request body must contain the following parameter: 'scope'."))
    try:
        asked = _v2_scopes(directory, call, client, params)
    except ScopeError as exc:
        return exc.error
    if "id_token" in kinds and not asked.wants("openid"):  # OIDC Core 3.1.2.1
        return AadError(error="invalid_request", aadsts=9002313, message=(
            "Invalid request. The 'openid' scope is required when an id_token is requested."))
    return None


def _pkce_error(params: Mapping[str, str]) -> AadError | None:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None and method is None:
        return None
    if not challenge:
        return AadError(error="invalid_request", aadsts=9002313, message=(
            "Invalid request. code_challenge_method was sent without code_challenge."))
    if method not in (None, "S256", "plain"):  # RFC 7636 4.3
        return AadError(error="invalid_request", aadsts=9002313, message=(
            "Invalid request. code_challenge_method must be 'S256' or 'plain'."))
    if not _PKCE_VALUE.match(challenge):
        return AadError(error="invalid_request", aadsts=9002313, message=(
            "Invalid request. code_challenge must be 43-128 unreserved characters."))
    return None


def _sign_in_page(
    emu: Emulator, call: Call, client: ClientRegistration, params: dict[str, str]
) -> Response:
    assert call.scope is not None
    hidden = {k: v for k, v in params.items() if k not in ("user", "cancel")}
    wanted = [f"{r.name} ({r.scope})" for r in _resources(emu, call, client, params)
              if r.app is None or r.app.client_id != client.client_id]
    consent = ", ".join(wanted) if wanted else None
    if params.get("prompt") not in _CONSENT_PROMPTS:
        consent = None
    return html_response(sign_in_page(
        action=call.request.script_root + call.request.path,
        params=hidden,
        users=emu.directory.users_in(call.scope),
        app_name=client.display_name,
        tenant_name=_scope_name(call.scope),
        login_hint=params.get("login_hint"),
        consent=consent,
    ))


_CONSENT_PROMPTS = ("consent", "admin_consent")


def _resources(
    emu: Emulator, call: Call, client: ClientRegistration, params: Mapping[str, str]
) -> list[Resource]:
    """The resources the request names (v1: ``resource``; v2.0: the scopes' resources)."""
    if call.v2:
        return [r.resource for r in _v2_scopes(emu.directory, call, client, params).resources]
    resource = resolve_resource(emu.directory, params.get("resource") or "")
    return [resource] if resource is not None else []


def _record_consent(
    emu: Emulator, call: Call, client: ClientRegistration, user: DemoUser,
    params: Mapping[str, str],
) -> None:
    """Signing in to a request for a resource is consenting to it (Azure shows its consent
    screen then, and always with ``prompt=consent``); ``prompt=admin_consent`` consents for
    every user of the tenant."""
    prompt = params.get("prompt")
    for resource in _resources(emu, call, client, params):
        if prompt == "admin_consent":
            emu.consents.grant(user.tenant_id, ANY, client.client_id, resource.key)
        elif prompt == "consent" or not has_consent(emu.directory, emu.consents, client,
                                                    user, resource):
            emu.consents.grant(user.tenant_id, user.oid, client.client_id, resource.key)


def _scope_name(scope: TenantScope) -> str:
    return scope.tenant.display_name if scope.tenant else f"any organization ({scope.segment})"


def _sign_in(
    emu: Emulator, call: Call, client: ClientRegistration, redirect_uri: str,
    params: Mapping[str, str], kinds: set[str], mode: str,
) -> Response:
    assert call.scope is not None
    key = params.get("user", "")
    user = emu.directory.find_user(call.scope, key) if key else None
    if user is None or not emu.directory.client_exists_in(client, user.tenant_id):
        return html_response(error_page(
            aadsts=50034,
            message=f"The user account {key or '(none)'} does not exist in the directory.",
            trace_id=call.diag.trace_id, correlation_id=call.diag.correlation_id,
            timestamp=call.diag.timestamp,
        ), status=400)
    _record_consent(emu, call, client, user, params)
    nonce = params.get("nonce") or None
    challenge = params.get("code_challenge") or None
    answer: dict[str, str] = {}
    code: str | None = None
    if "code" in kinds:
        code = emu.grants.new_code(CodeGrant(
            client_id=client.client_id, redirect_uri=redirect_uri,
            resource=None if call.v2 else params.get("resource") or None, user=user,
            nonce=nonce, code_challenge=challenge,
            code_challenge_method=(params.get("code_challenge_method") or "plain")
            if challenge else None,
            expires_at=call.now + CODE_LIFETIME, ipaddr=call.ipaddr,
            version=call.version, scope=params.get("scope") if call.v2 else None,
        ))
        answer["code"] = code
    if "id_token" in kinds:
        oidc = _v2_scopes(emu.directory, call, client, params).oidc if call.v2 else None
        answer["id_token"] = emu.minter.front_channel_id_token(
            user, client.client_id, call.now, ipaddr=call.ipaddr, nonce=nonce, code=code,
            extra=emu.authorization_claims(client, user, front_channel=True,
                                           graph_base=call.base_url),
            v2_scopes=oidc,
        )
    return _callback(redirect_uri, mode, answer, params.get("state"),
                     session_state=str(uuid.uuid4()))


def _callback(
    redirect_uri: str, mode: str, answer: Mapping[str, str], state: str | None,
    *, session_state: str | None = None,
) -> Response:
    """Deliver an authorization response (RFC 6749 4.1.2) in ``response_mode``."""
    fields = dict(answer)
    if state is not None:
        fields["state"] = state
    if session_state is not None:
        fields["session_state"] = session_state
    if mode == "form_post":
        return html_response(form_post_page(redirect_uri, fields))
    encoded = urlencode(fields)
    if mode == "fragment":
        location = f"{redirect_uri.split('#', 1)[0]}#{encoded}"
    else:
        location = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{encoded}"
    response = Response("", status=302)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response
