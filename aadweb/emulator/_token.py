"""``POST /{tenant}/oauth2/token``: the authorization_code and refresh_token grants (v1.0;
``/oauth2/v2.0/token`` is ``_token_v2.py``, which shares the checks here).

Client authentication (RFC 6749 2.3, RFC 7523 2.2): ``client_secret`` in the form, or
HTTP Basic (``client_secret_basic``, RFC 6749 2.3.1: id and secret form-urlencoded before
base64), or ``client_assertion`` (a JWT signed with the registered certificate's key,
header ``x5t`` = the certificate's SHA-1 thumbprint, ``aud`` = this token endpoint's URL,
``iss`` = ``sub`` = client id, ``jti``, ``exp`` in the future). Using more than one method
is refused. A public client (no secret, no certificate) must send none.

Grant checks follow RFC 6749 4.1.3 / 6 and RFC 7636 4.6; a code is used up only by a
successful redemption (a failed attempt leaves it usable).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

import jwt
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ._consent import Resource, has_consent, resolve_resource
from ._context import Call
from ._errors import AadError, OAuthFailure, json_response, oauth_error_response
from ._jws import b64url
from ._model import ClientRegistration, DemoUser
from ._tokens import CodeGrant, RefreshGrant

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = [
    "check_consent", "client_and_grant_type", "code_grant", "fail", "refresh_grant",
    "token_response", "token_v1", "use_code",
]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_VERIFIER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def fail(error: str, aadsts: int, message: str = "", status: int = 0) -> OAuthFailure:
    return OAuthFailure(AadError(error=error, aadsts=aadsts, message=message, status=status))


def _missing(name: str) -> OAuthFailure:
    return fail("invalid_request", 900144,
                 f"The request body must contain the following parameter: '{name}'.")


def token_response(call: Call, grant: Callable[[], Mapping[str, object]]) -> Response:
    """The token endpoint's answer: ``grant()``'s body, or its :class:`OAuthFailure`."""
    try:
        body = grant()
    except OAuthFailure as failure:
        return oauth_error_response(failure.error, call.diag)
    headers = {**call.diag.oauth_headers(), "Cache-Control": "no-store, no-cache",
               "Pragma": "no-cache"}
    return json_response(body, 200, headers)


def client_and_grant_type(emu: Emulator, call: Call) -> tuple[ClientRegistration, str]:
    """The tenant, the grant type and the client's authentication (both endpoints)."""
    if call.scope is None:
        raise fail("invalid_tenant", 90002, f"Tenant '{call.segment}' not found.")
    form = call.request.form
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _missing("grant_type")
    if grant_type not in ("authorization_code", "refresh_token",
                          "urn:ietf:params:oauth:grant-type:device_code", "device_code"):
        raise fail("unsupported_grant_type", 70003,
                    f"The app requested an unsupported grant type '{grant_type}'.")
    return _authenticate(emu, call, form), grant_type


def token_v1(emu: Emulator, call: Call) -> dict[str, str]:
    """The v1.0 grants: ``resource`` names the audience."""
    client, grant_type = client_and_grant_type(emu, call)
    form = call.request.form
    if grant_type == "authorization_code":
        grant, resource = _code_grant(emu, call, client, form)
        user, nonce = grant.user, grant.nonce
        check_consent(emu, client, user, resource)
        use_code(emu, form)
    else:
        refresh = refresh_grant(emu, call, client)
        # v1 refresh tokens are multi-resource: another known resource may be asked for,
        # if the app has consent to it.
        user = refresh.user
        resource = _resource(emu, form.get("resource") or refresh.resource)
        check_consent(emu, client, user, resource)
        nonce = None
    return emu.minter.token_response(
        user, client.client_id, resource.name, call.now, ipaddr=call.ipaddr, nonce=nonce,
        scope=resource.scope,
        id_extra=emu.authorization_claims(client, user, front_channel=False,
                                          graph_base=call.base_url),
        access_extra=emu.authorization_claims(resource.app, user, front_channel=False,
                                              graph_base=call.base_url),
    )


def _resource(emu: Emulator, name: str | None) -> Resource:
    if not name:
        raise _missing("resource")
    resource = resolve_resource(emu.directory, name)
    if resource is None:
        raise fail("invalid_resource", 500011,
                    f"The resource principal named {name} was not found in the tenant.")
    return resource


def use_code(emu: Emulator, form: MultiDict[str, str]) -> None:
    """Use the code up, once every check passed (two racing redemptions: one wins)."""
    if not emu.grants.redeem(form.get("code") or ""):
        raise fail("invalid_grant", 54005)


def refresh_grant(emu: Emulator, call: Call, client: ClientRegistration) -> RefreshGrant:
    """RFC 6749 6: the refresh token's grant, issued to this client in this tenant."""
    token = call.request.form.get("refresh_token")
    if not token:
        raise _missing("refresh_token")
    refresh = emu.grants.refresh(token)
    if refresh is None or call.now >= refresh.expires_at:
        raise fail("invalid_grant", 70008)
    if refresh.client_id != client.client_id:
        raise fail("invalid_grant", 70000, "Provided grant is invalid or malformed. "
                    "The refresh token was issued to a different client.")
    _check_tenant(call, refresh.user.tenant_id)
    return refresh


def check_consent(
    emu: Emulator, client: ClientRegistration, user: DemoUser, resource: Resource
) -> None:
    if not has_consent(emu.directory, emu.consents, client, user, resource):
        raise OAuthFailure(AadError(
            error="invalid_grant", aadsts=65001, suberror="consent_required", message=(
                "The user or administrator has not consented to use the application with "
                f"ID '{client.client_id}' named '{client.display_name}'. Send an "
                "interactive authorization request for this user and resource.")))


def _check_tenant(call: Call, tenant_id: str) -> None:
    scope = call.scope
    if scope is not None and scope.tenant is not None and scope.tenant.tenant_id != tenant_id:
        raise fail("invalid_grant", 70000, "Provided grant is invalid or malformed. "
                    "The grant was issued in another tenant.")


def _basic(call: Call) -> tuple[str, str] | None:
    header = call.request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise fail("invalid_client", 7000215, "Unsupported Authorization scheme.", 401)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail("invalid_client", 7000215, "Malformed Basic credentials.", 401) from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise fail("invalid_client", 7000215, "Malformed Basic credentials.", 401)
    return unquote_plus(user), unquote_plus(password)


def _authenticate(emu: Emulator, call: Call, form: MultiDict[str, str]) -> ClientRegistration:
    basic = _basic(call)
    client_id = form.get("client_id") or (basic[0] if basic else "")
    if basic and form.get("client_id") and basic[0] != form.get("client_id"):
        raise fail("invalid_request", 9002313, "Invalid request. The client_id in the "
                    "form and in the Authorization header differ.")
    if not client_id:
        raise _missing("client_id")
    assert call.scope is not None
    client = emu.directory.client(client_id)
    tenant = call.scope.tenant
    if client is None or (tenant and not emu.directory.client_exists_in(client, tenant.tenant_id)):
        where = tenant.domain if tenant else call.scope.segment
        raise fail("unauthorized_client", 700016, f"Application with identifier "
                    f"'{client_id}' was not found in the directory '{where}'.")
    secret = form.get("client_secret")
    assertion = form.get("client_assertion")
    used = [m for m in (secret is not None, basic is not None, assertion is not None) if m]
    if len(used) > 1:
        raise fail("invalid_request", 9002313, "Invalid request. Use only one client "
                    "authentication method.")
    if client.is_public:
        if used:
            raise fail("invalid_client", 700025, status=401)
        return client
    if assertion is not None:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise fail("invalid_request", 9002313, "Invalid request. client_assertion_type "
                        f"must be '{JWT_BEARER}'.")
        _verify_assertion(call, client, assertion)
        return client
    presented = secret if secret is not None else (basic[1] if basic else None)
    if presented is None:
        raise fail("invalid_client", 7000218, status=401)
    expected = client.client_secret or ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise fail("invalid_client", 7000215, status=401)
    return client


def _verify_assertion(call: Call, client: ClientRegistration, assertion: str) -> None:
    """RFC 7523 3 as Azure applies it to certificate credentials."""
    cert = client.certificate()
    prints = client.thumbprints()
    if cert is None or prints is None:
        raise fail("invalid_client", 700027, "Client assertion failed signature validation. "
                    "[Reason - The key was not found.]", 401)
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise fail("invalid_client", 50027, status=401) from exc
    if header.get("x5t") != prints[0] and header.get("x5t#S256") != prints[1]:
        raise fail("invalid_client", 700027, "Client assertion failed signature validation. "
                    "[Reason - The key was not found.]", 401)
    assert call.scope is not None
    names = {call.segment, call.scope.path_name}
    if call.scope.tenant is not None:
        names.add(call.scope.tenant.domain)
    paths = ("oauth2/token", "oauth2/v2.0/token") if call.v2 else ("oauth2/token",)
    audiences = [f"{call.base_url}/{name}/{path}" for name in names for path in paths]
    try:
        claims = jwt.decode(
            assertion, cert.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"], audience=audiences,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                     "require": ["aud", "iss", "sub", "exp", "jti"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise fail("invalid_client", 700027, status=401) from exc
    except jwt.InvalidAudienceError as exc:
        raise fail("invalid_client", 50027, "JWT token is invalid or malformed. The "
                    "audience must be the token endpoint URL.", 401) from exc
    except jwt.PyJWTError as exc:
        raise fail("invalid_client", 50027, f"JWT token is invalid or malformed. {exc}",
                    401) from exc
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise fail("invalid_client", 700021, status=401)
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)) \
            or exp <= call.now or nbf > call.now + 300:
        raise fail("invalid_client", 700024, status=401)


def _code_grant(
    emu: Emulator, call: Call, client: ClientRegistration, form: MultiDict[str, str]
) -> tuple[CodeGrant, Resource]:
    """The code's grant and the resource to mint for; the caller uses the code up once
    every check (consent included) passed."""
    grant = code_grant(emu, call, client, form)
    resource = form.get("resource")
    if resource and grant.resource and resource != grant.resource:
        raise fail("invalid_grant", 70000, "Provided grant is invalid or malformed. The "
                    "resource differs from the one in the authorization request.")
    return grant, _resource(emu, form.get("resource") or grant.resource)


def code_grant(
    emu: Emulator, call: Call, client: ClientRegistration, form: MultiDict[str, str]
) -> CodeGrant:
    """RFC 6749 4.1.3 and RFC 7636 4.6 (both endpoints); the code is not used up here."""
    code = form.get("code")
    if not code:
        raise _missing("code")
    grant, redeemed = emu.grants.code(code)
    if grant is None:
        raise fail("invalid_grant", 70008)
    if redeemed:
        raise fail("invalid_grant", 54005)
    if grant.client_id != client.client_id:
        raise fail("invalid_grant", 70000, "Provided grant is invalid or malformed. The "
                    "code was issued to a different client.")
    if call.now >= grant.expires_at:
        raise fail("invalid_grant", 70008)
    if grant.version != call.version:  # emulator choice: Azure's exact code is undocumented
        raise fail("invalid_grant", 70000, "Provided grant is invalid or malformed. The "
                    f"code was issued by the v{grant.version} authorize endpoint.")
    _check_tenant(call, grant.user.tenant_id)
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:  # RFC 6749 4.1.3: required when it was in the authorize request
        raise _missing("redirect_uri")
    if redirect_uri != grant.redirect_uri:
        raise fail("invalid_grant", 50011, f"The reply URL '{redirect_uri}' does not match "
                    "the reply URL used to request the authorization code.")
    _check_pkce(grant, form.get("code_verifier"))
    return grant


def _check_pkce(grant: CodeGrant, verifier: str | None) -> None:
    """RFC 7636 4.6; and RFC 9700 2.1.1: a verifier without a challenge is refused."""
    if grant.code_challenge is None:
        if verifier is not None:
            raise fail("invalid_grant", 501481, "The code_verifier was sent but the "
                        "authorization request had no code_challenge.")
        return
    if not verifier:
        raise fail("invalid_grant", 501481, "The code_verifier is missing; the "
                    "authorization request had a code_challenge.")
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER:
        raise fail("invalid_grant", 501481, "The code_verifier is malformed (RFC 7636 4.1).")
    if grant.code_challenge_method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    else:
        computed = verifier
    if not hmac.compare_digest(computed, grant.code_challenge):
        raise fail("invalid_grant", 501481)
