"""OpenID Provider metadata, the JWKS, and sign-out, as Azure AD publishes them.

Metadata (OpenID Connect Discovery 1.0 section 3): v1.0 at
``/{tenant}/.well-known/openid-configuration``, v2.0 at
``/{tenant}/v2.0/.well-known/openid-configuration``, with the fields and the order Azure
publishes. Endpoints are named with the tenant's GUID (even when the request used a domain);
on ``common``/``organizations`` the issuer is a template: ``https://sts.windows.net/{tenantid}/``
(v1.0), ``https://login.microsoftonline.com/{tenantid}/v2.0`` (v2.0). v1.0's ``jwks_uri`` is
``/common/discovery/keys`` whatever the tenant; v2.0's is the tenant's
``/{tenant}/discovery/v2.0/keys``. The v2.0 ``userinfo_endpoint`` is Graph's
``/oidc/userinfo`` (on the emulator's Graph). Not published because not emulated: the device
code and Kerberos endpoints.

The key set is the same for every tenant (Azure's keys are shared); ``?appid=`` is accepted
and changes nothing; v2.0 adds ``issuer`` to each key (the tenant's issuer, or the template).

Sign-out: ``/{tenant}/oauth2[/v2.0]/logout?post_logout_redirect_uri=...`` answers 302 to that
URI when its origin (scheme, host, port) is the origin of some registered redirect URI
(of ``client_id``'s registration when one is named), and otherwise a "You signed out"
page that does not link to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

from ._context import Call
from ._errors import AadError, json_response, oauth_error_response
from ._pages import html_response, signed_out_page
from ._tokens import issuer_v2

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["handle_keys", "handle_logout", "handle_metadata"]


def _unknown_tenant(call: Call) -> Response:
    error = AadError(error="invalid_tenant", aadsts=90002, message=(
        f"Tenant '{call.segment}' not found. Check to make sure you have the correct tenant "
        "ID and are signing into the correct cloud."))
    return oauth_error_response(error, call.diag)


_CLOUD = {
    "tenant_region_scope": "NA",
    "cloud_instance_name": "microsoftonline.com",
    "cloud_graph_host_name": "graph.windows.net",
    "msgraph_host": "graph.microsoft.com",
    "rbac_url": "https://pas.windows.net",
}
_CLAIMS_V1 = [
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
    "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email",
    "given_name", "family_name", "nickname"]
_CLAIMS_V2 = [
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
    "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
    "name", "tid", "ver", "at_hash", "c_hash", "email"]
_AUTH_METHODS = ["client_secret_post", "private_key_jwt", "client_secret_basic"]


def _v1_metadata(base: str, root: str, tid: str, multi: bool) -> dict[str, object]:
    return {
        "token_endpoint": f"{root}/oauth2/token",
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "jwks_uri": f"{base}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token",
                                     "token"],
        "scopes_supported": ["openid"],
        "issuer": f"https://sts.windows.net/{tid}/",
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{root}/oauth2/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/logout",
        "claims_supported": _CLAIMS_V1,
        "check_session_iframe": f"{root}/oauth2/checksession",
        "userinfo_endpoint": f"{root}/openid/userinfo",
        **_CLOUD,
        "tenant_region_scope": None if multi else "NA",
    }


def _v2_metadata(base: str, root: str, tid: str, multi: bool) -> dict[str, object]:
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer_v2(tid),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "claims_supported": _CLAIMS_V2,
        **_CLOUD,
        "tenant_region_scope": None if multi else "NA",
    }


def handle_metadata(emu: Emulator, call: Call) -> Response:
    if call.scope is None:
        return _unknown_tenant(call)
    root = f"{call.base_url}/{call.scope.path_name}"
    tid = call.scope.tenant.tenant_id if call.scope.tenant else "{tenantid}"
    build = _v2_metadata if call.v2 else _v1_metadata
    body = build(call.base_url, root, tid, call.scope.is_multi)
    return json_response(body, 200, {"Cache-Control": "max-age=86400, private",
                                     **call.diag.oauth_headers()})


def handle_keys(emu: Emulator, call: Call) -> Response:
    if call.scope is None:
        return _unknown_tenant(call)
    issuer = None
    if call.v2:
        issuer = issuer_v2(call.scope.tenant.tenant_id if call.scope.tenant else "{tenantid}")
    return json_response(emu.keys.jwks(issuer=issuer), 200, {
        "Cache-Control": "max-age=86400, private", **call.diag.oauth_headers()})


def _origin(uri: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default


def handle_logout(emu: Emulator, call: Call) -> Response:
    if call.scope is None:
        return _unknown_tenant(call)
    target = call.request.args.get("post_logout_redirect_uri")
    if not target:
        return html_response(signed_out_page(None))
    client_id = call.request.args.get("client_id")
    clients = emu.directory.clients()
    if client_id:
        clients = [c for c in clients if c.client_id == client_id]
    allowed = {_origin(uri) for c in clients for uri in c.redirect_uris}
    origin = _origin(target)
    if origin is None or origin not in allowed:
        return html_response(signed_out_page(target))
    response = Response("", status=302)
    response.headers["Location"] = target
    response.headers["Cache-Control"] = "no-store"
    return response
