"""Microsoft Graph for the emulator's access tokens: ``GET /v1.0/me`` (the signed-in user),
``/oidc/userinfo`` (OpenID Connect UserInfo, which Azure hosts on Graph) and the user's group
memberships, which a client reads when a token says the groups did not fit (``hasgroups``
or ``_claim_names``)::

    GET  /v1.0/me/memberOf                 GET  /v1.0/users/{id|upn}/memberOf
    POST /v1.0/me/getMemberObjects         POST /v1.0/users/{id|upn}/getMemberObjects

Graph checks the bearer token (signature, ``aud`` = ``https://graph.microsoft.com`` or
Graph's application id, as v2.0 scopes without a prefix give, lifetime) and answers 401
``InvalidAuthenticationToken`` with a ``WWW-Authenticate`` challenge when it fails; a token
without ``User.Read`` gets 403 ``Authorization_RequestDenied``. Success is the user with Graph's default ``$select``
set, absent values as ``null``, and ``request-id`` / ``client-request-id`` headers.

Memberships (Graph v1.0 "List a user's direct memberships" and "getMemberObjects"):
``memberOf`` lists group objects, ``$top`` per page (default: the emulator's
``member_of_page_size``, Graph's is 100; at most 999), further pages by
``@odata.nextLink``; ``getMemberObjects`` takes ``{"securityEnabledOnly": bool}`` and
answers every id at once. Permissions as Graph documents them: for the signed-in user's
own memberships ``User.Read`` is enough (or ``User.Read.All``, ``Directory.Read.All``,
``GroupMember.Read.All`` ...); for another user's, ``User.Read`` is not (403
``Authorization_RequestDenied``). An unknown user is 404 ``Request_ResourceNotFound``.
The emulator has no nested groups, directory roles or administrative units, so both
answer the same groups.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from ._context import Call
from ._errors import GRAPH_APP_ID, graph_error_response, json_response
from ._groups import Group
from ._jws import BadToken, verify_rs256
from ._model import GRAPH_RESOURCE, DemoUser
from ._tokens import pairwise_sub

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["handle_me", "handle_member_objects", "handle_member_of", "handle_userinfo"]

_GRAPH_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
               "IEEE754Compatible=false;charset=utf-8")


#: Graph accepts a token whose ``aud`` names it by URL (v1.0 ``resource``, or a v2.0 scope
#: written ``https://graph.microsoft.com/...``) or by its application id (a v2.0 scope
#: without a prefix, e.g. ``User.Read``).
_GRAPH_AUDIENCES = frozenset({GRAPH_RESOURCE, f"{GRAPH_RESOURCE}/", GRAPH_APP_ID})


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _caller(emu: Emulator, call: Call) -> tuple[DemoUser, set[str]]:
    """The signed-in user and the delegated scopes of the bearer token; 401
    ``InvalidAuthenticationToken`` unless it is a valid Graph token for a known user."""
    user, claims = _verified(emu, call)
    return user, set(str(claims.get("scp", "")).split())


def _verified(emu: Emulator, call: Call) -> tuple[DemoUser, dict[str, object]]:

    def unauthorized(message: str) -> _Refused:
        return _Refused(graph_error_response("InvalidAuthenticationToken", message,
                                             call.diag, base_url=call.base_url))

    header = call.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Access token is empty.")
    try:
        _, claims = verify_rs256(token.strip(), emu.keys.verification_keys())
    except BadToken as exc:
        raise unauthorized(f"IDX14100: JWT is not well formed or not valid: {exc}.") from exc
    if claims.get("aud") not in _GRAPH_AUDIENCES:
        raise unauthorized("Access token validation failure. Invalid audience.")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or not isinstance(nbf, int):
        raise unauthorized("Access token validation failure.")
    if call.now >= exp:
        raise unauthorized("Lifetime validation failed, the token is expired.")
    if call.now < nbf:
        raise unauthorized("Lifetime validation failed, the token is not yet valid.")
    tid, oid = claims.get("tid"), claims.get("oid")
    user = emu.directory.user_by_oid(str(tid), str(oid))
    if user is None:
        raise unauthorized("Access token validation failure. Unknown user.")
    return user, claims


def _denied(call: Call) -> Response:
    return graph_error_response("Authorization_RequestDenied",
                                "Insufficient privileges to complete the operation.",
                                call.diag, base_url=call.base_url)


def _headers(call: Call) -> dict[str, str]:
    return {
        "request-id": call.diag.trace_id,
        "client-request-id": call.diag.client_request_id or call.diag.trace_id,
        "Cache-Control": "private",
    }


def handle_me(emu: Emulator, call: Call) -> Response:
    try:
        user, scopes = _caller(emu, call)
    except _Refused as refused:
        return refused.response
    if "User.Read" not in scopes:
        return _denied(call)
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
    return json_response(body, 200, _headers(call), mimetype=_GRAPH_JSON)


def handle_userinfo(emu: Emulator, call: Call) -> Response:
    """OpenID Connect Core 5.3 UserInfo, hosted by Graph (v2.0 ``userinfo_endpoint``): a
    Graph token with ``openid``; ``sub`` as in the app's id_token, names with ``profile``,
    ``email`` with ``email``."""
    try:
        user, claims = _verified(emu, call)
    except _Refused as refused:
        return refused.response
    scopes = set(str(claims.get("scp", "")).split())
    if "openid" not in scopes:
        return _denied(call)
    body: dict[str, object] = {"sub": pairwise_sub(str(claims.get("appid", "")), user)}
    if "profile" in scopes:
        body.update({"name": user.name, "family_name": user.family_name,
                     "given_name": user.given_name})
    if "email" in scopes and user.mail:
        body["email"] = user.mail
    return json_response(body, 200, _headers(call))


#: Delegated permissions that read the signed-in user's own memberships, and another's.
_SELF = frozenset({"User.Read", "User.ReadWrite", "User.Read.All", "User.ReadWrite.All",
                   "Directory.Read.All", "Directory.ReadWrite.All", "GroupMember.Read.All"})
_OTHERS = _SELF - {"User.Read", "User.ReadWrite"}
_MAX_TOP = 999


def _subject(emu: Emulator, call: Call) -> tuple[DemoUser, list[Group]]:
    """The user whose memberships are asked for (``/me`` or ``/users/{id|upn}``, in the
    caller's tenant) and their groups; the permission checks on the way."""
    caller, scopes = _caller(emu, call)
    parts = call.request.path.strip("/").split("/")
    subject = caller
    if parts[1] == "users":
        key = parts[2].lower()
        found = next((u for u in emu.directory.users if u.tenant_id == caller.tenant_id
                      and key in (u.oid.lower(), u.upn.lower())), None)
        if found is None:
            raise _Refused(graph_error_response(
                "Request_ResourceNotFound", f"Resource '{parts[2]}' does not exist or one of "
                "its queried reference-property objects are not present.", call.diag,
                base_url=call.base_url))
        subject = found
    needed = _SELF if subject == caller else _OTHERS
    if not scopes & needed:
        raise _Refused(_denied(call))
    return subject, emu.groups.groups_of(subject)


def _bad_request(call: Call, message: str) -> Response:
    return graph_error_response("Request_BadRequest", message, call.diag,
                                base_url=call.base_url)


def handle_member_objects(emu: Emulator, call: Call) -> Response:
    try:
        _, groups = _subject(emu, call)
    except _Refused as refused:
        return refused.response
    try:
        body = json.loads(call.request.get_data() or b"null")
    except ValueError:
        return _bad_request(call, "Invalid JSON in the request body.")
    only = body.get("securityEnabledOnly") if isinstance(body, dict) else None
    if not isinstance(only, bool):
        return _bad_request(call, "The parameter 'securityEnabledOnly' is missing or not "
                                  "a boolean.")
    ids = [g.object_id for g in groups if g.security_enabled or not only]
    answer = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata"
                                "#Collection(Edm.String)", "value": ids}
    return json_response(answer, 200, _headers(call), mimetype=_GRAPH_JSON)


def _group_json(group: Group) -> dict[str, object]:
    return {
        "@odata.type": "#microsoft.graph.group",
        "id": group.object_id,
        "deletedDateTime": None,
        "description": None,
        "displayName": group.display_name,
        "groupTypes": [],
        "mail": group.mail,
        "mailEnabled": group.mail_enabled,
        "mailNickname": (group.mail or group.display_name).split("@")[0].replace(" ", ""),
        "securityEnabled": group.security_enabled,
    }


def _skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"emu-offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "emu-offset" and number.isdigit() else None


def handle_member_of(emu: Emulator, call: Call) -> Response:
    try:
        _, groups = _subject(emu, call)
    except _Refused as refused:
        return refused.response
    args = call.request.args
    top_text = args.get("$top")
    top = emu.member_of_page_size
    if top_text is not None:
        if not top_text.isdigit() or not 1 <= int(top_text) <= _MAX_TOP:
            return _bad_request(call, f"Invalid page size specified: '{top_text}'. Must be "
                                      f"between 1 and {_MAX_TOP} inclusive.")
        top = int(top_text)
    start = 0
    if "$skiptoken" in args:
        found = _offset(args["$skiptoken"])
        if found is None:
            return _bad_request(call, "Invalid $skiptoken.")
        start = found
    page = groups[start : start + top]
    answer: dict[str, object] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
        "value": [_group_json(g) for g in page],
    }
    if start + top < len(groups):
        query = f"$top={top}&$skiptoken={_skiptoken(start + top)}"
        answer["@odata.nextLink"] = f"{call.base_url}{call.request.path}?{query}"
    return json_response(answer, 200, _headers(call), mimetype=_GRAPH_JSON)
