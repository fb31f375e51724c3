"""``GET /v1.0/me``: Microsoft Graph's signed-in user, for the emulator's access tokens.

Graph checks the bearer token (signature, ``aud`` = ``https://graph.microsoft.com``,
lifetime) and answers 401 ``InvalidAuthenticationToken`` with a ``WWW-Authenticate``
challenge when it fails; a token without ``User.Read`` gets 403
``Authorization_RequestDenied``. Success is the user with Graph's default ``$select``
set, absent values as ``null``, and ``request-id`` / ``client-request-id`` headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from ._context import Call
from ._errors import graph_error_response, json_response
from ._jws import BadToken, verify_rs256
from ._model import GRAPH_RESOURCE

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["handle_me"]

_GRAPH_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
               "IEEE754Compatible=false;charset=utf-8")


def handle_me(emu: Emulator, call: Call) -> Response:
    def unauthorized(message: str) -> Response:
        return graph_error_response("InvalidAuthenticationToken", message, call.diag,
                                    base_url=call.base_url)

    header = call.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        return unauthorized("Access token is empty.")
    try:
        _, claims = verify_rs256(token.strip(), emu.keys.verification_keys())
    except BadToken as exc:
        return unauthorized(f"IDX14100: JWT is not well formed or not valid: {exc}.")
    if claims.get("aud") != GRAPH_RESOURCE:
        return unauthorized("Access token validation failure. Invalid audience.")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or not isinstance(nbf, int):
        return unauthorized("Access token validation failure.")
    if call.now >= exp:
        return unauthorized("Lifetime validation failed, the token is expired.")
    if call.now < nbf:
        return unauthorized("Lifetime validation failed, the token is not yet valid.")
    tid, oid = claims.get("tid"), claims.get("oid")
    user = emu.directory.user_by_oid(str(tid), str(oid))
    if user is None:
        return unauthorized("Access token validation failure. Unknown user.")
    scopes = str(claims.get("scp", "")).split()
    if "User.Read" not in scopes:
        return graph_error_response("Authorization_RequestDenied",
                                    "Insufficient privileges to complete the operation.",
                                    call.diag, base_url=call.base_url)
    body = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "businessPhones": list(user.business_phones),
        "displayName": user.name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": user.mobile_phone,
        "officeLocation": user.office_location,
        "preferredLanguage": user.preferred_language,
        "surname": user.family_name,
        "userPrincipalName": user.upn,
        "id": user.oid,
    }
    headers = {
        "request-id": call.diag.trace_id,
        "client-request-id": call.diag.client_request_id or call.diag.trace_id,
        "Cache-Control": "private",
    }
    return json_response(body, 200, headers, mimetype=_GRAPH_JSON)
