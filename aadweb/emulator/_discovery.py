"""OpenID Provider metadata, the JWKS, and sign-out.

Metadata (OpenID Connect Discovery 1.0 section 3) as Azure AD v1 serves it at
``/{tenant}/.well-known/openid-configuration``: endpoints are named with the tenant's GUID
(even when the request used a domain), and on ``common``/``organizations`` the issuer is
the literal template ``https://sts.windows.net/{tenantid}/``. The JWKS is the same for
every tenant (Azure's keys are shared); ``?appid=`` is accepted and changes nothing.

Sign-out: ``/{tenant}/oauth2/logout?post_logout_redirect_uri=...`` answers 302 to that
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

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["handle_keys", "handle_logout", "handle_metadata"]


def _unknown_tenant(call: Call) -> Response:
    error = AadError(error="invalid_tenant", aadsts=90002, message=(
        f"Tenant '{call.segment}' not found. Check to make sure you have the correct tenant "
        "ID and are signing into the correct cloud."))
    return oauth_error_response(error, call.diag)


def handle_metadata(emu: Emulator, call: Call) -> Response:
    if call.scope is None:
        return _unknown_tenant(call)
    tenant = call.scope.path_name
    root = f"{call.base_url}/{tenant}"
    tid = call.scope.tenant.tenant_id if call.scope.tenant else "{tenantid}"
    body = {
        "token_endpoint": f"{root}/oauth2/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{root}/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token"],
        "scopes_supported": ["openid"],
        "issuer": f"https://sts.windows.net/{tid}/",
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": f"{root}/oauth2/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/logout",
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email",
            "given_name", "family_name", "nickname"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }
    return json_response(body, 200, {"Cache-Control": "max-age=86400, private",
                                     **call.diag.oauth_headers()})


def handle_keys(emu: Emulator, call: Call) -> Response:
    if call.scope is None:
        return _unknown_tenant(call)
    return json_response(emu.keys.jwks(), 200, {"Cache-Control": "max-age=86400, private",
                                                **call.diag.oauth_headers()})


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
