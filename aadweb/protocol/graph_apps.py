"""Microsoft Graph's application registration API, as ``aadweb register`` uses it (pure).

Graph v1.0 "Create application", "Update application", "application: addPassword", "Create
servicePrincipal", and ``$filter`` on ``displayName`` / ``appId``. Graph takes JSON bodies and
``PATCH``, which :class:`~aadweb.protocol.http.HttpRequest` (form POSTs to the authority) does
not describe, so a :class:`GraphCall` does. The bearer token travels as a
:class:`~aadweb.secret.Secret` and is revealed only by the sender.

What an application gets (:func:`application_body`): web redirect URIs; ID tokens from the
authorize endpoint only when the app uses the v1.0 hybrid flow (``code id_token``: AADSTS700054
otherwise); the delegated ``User.Read`` permission on Graph (what ``/graphcall``'s ``/me``
needs, nothing more); single tenant (``AzureADMyOrg``); and app roles when asked for, each with
an id derived from its value (uuid5), so re-running keeps the same ids.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote

from aadweb.errors import InvalidResponse
from aadweb.protocol.aadsts import clean_text
from aadweb.protocol.graph import raise_for_graph_error
from aadweb.protocol.http import FormValue, HttpResponse, client_request_id_headers
from aadweb.protocol.metadata import is_secure_url
from aadweb.secret import Secret

__all__ = [
    "GRAPH_APP_ID",
    "USER_READ_ID",
    "AppSpec",
    "Application",
    "GraphCall",
    "application_body",
    "build_add_password",
    "build_create_application",
    "build_create_service_principal",
    "build_find_applications",
    "build_find_service_principals",
    "build_set_certificate",
    "build_update_application",
    "expect_no_content",
    "parse_application",
    "parse_applications",
    "parse_password",
    "parse_service_principal_ids",
]

#: Microsoft Graph's application id, and the id of its delegated permission ``User.Read``.
GRAPH_APP_ID: Final = "00000003-0000-0000-c000-000000000000"
USER_READ_ID: Final = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
_ROLE_NAMESPACE: Final = uuid.UUID("9f3b1e0c-6a1d-4f5e-8c2b-7d4a5e6f7a8b")

GraphMethod = Literal["GET", "POST", "PATCH"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphCall:
    """One Graph request, described not sent: ``body`` is sent as JSON."""

    method: GraphMethod
    url: str
    headers: Mapping[str, FormValue] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not is_secure_url(self.url):
            raise ValueError("Graph URL must be https (http only on a loopback host)")
        if self.body is not None and self.method == "GET":
            raise ValueError("a GET has no body")

    def encoded_body(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body).encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSpec:
    """What ``aadweb register`` asks Graph for."""

    display_name: str
    redirect_uris: tuple[str, ...]
    id_tokens: bool
    app_roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.display_name.strip() or len(self.display_name) > 120:
            raise ValueError("the application name must be 1 to 120 characters")
        if not self.redirect_uris:
            raise ValueError("at least one redirect URI is needed")
        for uri in self.redirect_uris:
            # Azure AD: reply URLs are https, or http on localhost
            if not is_secure_url(uri) or len(uri) > 256:
                raise ValueError(f"redirect URI {uri!r} must be https (http only on localhost), at most 256 chars")


@dataclass(frozen=True, slots=True, kw_only=True)
class Application:
    """An application object: its object id (for Graph URLs) and app id (the client id)."""

    id: str
    app_id: str
    display_name: str


def _headers(token: Secret, client_request_id: str, *, json_body: bool) -> dict[str, FormValue]:
    headers: dict[str, FormValue] = {"Authorization": Secret("bearer", "Bearer " + token.reveal()),
                                     "Accept": "application/json", **client_request_id_headers(client_request_id)}
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


def _root(graph_root: str) -> str:
    return graph_root.rstrip("/") + "/v1.0"


def _odata_string(value: str) -> str:
    """An OData string literal: quotes doubled (OData ABNF ``SQUOTE-in-string``)."""
    return "'" + value.replace("'", "''") + "'"


def application_body(spec: AppSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": spec.display_name,
        "signInAudience": "AzureADMyOrg",
        "web": {"redirectUris": list(spec.redirect_uris),
                "implicitGrantSettings": {"enableIdTokenIssuance": spec.id_tokens,
                                          "enableAccessTokenIssuance": False}},
        "requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID,
                                    "resourceAccess": [{"id": USER_READ_ID, "type": "Scope"}]}],
    }
    if spec.app_roles:
        body["appRoles"] = [{"id": str(uuid.uuid5(_ROLE_NAMESPACE, v)), "value": v, "displayName": v,
                             "description": v, "allowedMemberTypes": ["User"], "isEnabled": True}
                            for v in spec.app_roles]
    return body


def build_find_applications(*, graph_root: str, token: Secret, name: str, client_request_id: str) -> GraphCall:
    query = quote(f"displayName eq {_odata_string(name)}", safe="")
    return GraphCall(method="GET", url=f"{_root(graph_root)}/applications?$filter={query}",
                     headers=_headers(token, client_request_id, json_body=False))


def build_create_application(*, graph_root: str, token: Secret, spec: AppSpec, client_request_id: str) -> GraphCall:
    return GraphCall(method="POST", url=f"{_root(graph_root)}/applications",
                     headers=_headers(token, client_request_id, json_body=True), body=application_body(spec))


def build_update_application(
    *, graph_root: str, token: Secret, object_id: str, spec: AppSpec, client_request_id: str,
) -> GraphCall:
    return GraphCall(method="PATCH", url=f"{_root(graph_root)}/applications/{quote(object_id, safe='')}",
                     headers=_headers(token, client_request_id, json_body=True), body=application_body(spec))


def build_add_password(
    *, graph_root: str, token: Secret, object_id: str, display_name: str, client_request_id: str,
) -> GraphCall:
    return GraphCall(method="POST", url=f"{_root(graph_root)}/applications/{quote(object_id, safe='')}/addPassword",
                     headers=_headers(token, client_request_id, json_body=True),
                     body={"passwordCredential": {"displayName": display_name}})


def build_set_certificate(
    *, graph_root: str, token: Secret, object_id: str, certificate_der_b64: str, display_name: str,
    client_request_id: str,
) -> GraphCall:
    """Graph: the first certificate of an app is uploaded by PATCHing ``keyCredentials``
    (``addKey`` needs a proof signed by a key the app already has). It replaces the list."""
    key = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": certificate_der_b64,
           "displayName": display_name}
    return GraphCall(method="PATCH", url=f"{_root(graph_root)}/applications/{quote(object_id, safe='')}",
                     headers=_headers(token, client_request_id, json_body=True), body={"keyCredentials": [key]})


def build_find_service_principals(*, graph_root: str, token: Secret, app_id: str, client_request_id: str) -> GraphCall:
    query = quote(f"appId eq {_odata_string(app_id)}", safe="")
    return GraphCall(method="GET", url=f"{_root(graph_root)}/servicePrincipals?$filter={query}",
                     headers=_headers(token, client_request_id, json_body=False))


def build_create_service_principal(
    *, graph_root: str, token: Secret, app_id: str, client_request_id: str,
) -> GraphCall:
    return GraphCall(method="POST", url=f"{_root(graph_root)}/servicePrincipals",
                     headers=_headers(token, client_request_id, json_body=True), body={"appId": app_id})


def _checked(resp: HttpResponse, *, expect: int, what: str, now: float) -> dict[str, Any]:
    if resp.status >= 300:
        raise_for_graph_error(resp, what=what, now=now)
    if resp.status != expect:
        raise InvalidResponse(f"{what}: HTTP {resp.status} instead of {expect}")
    return resp.json_object(what) if expect != 204 else {}


def _application(item: object, what: str) -> Application:
    if not isinstance(item, dict):
        raise InvalidResponse(f"{what}: an application is not an object")
    values = [item.get(k) for k in ("id", "appId", "displayName")]
    if not all(isinstance(v, str) and v for v in values):
        raise InvalidResponse(f"{what}: id, appId or displayName is missing")
    return Application(id=clean_text(str(values[0]), limit=64), app_id=clean_text(str(values[1]), limit=64),
                       display_name=clean_text(str(values[2]), limit=256))


def _values(body: dict[str, Any], what: str) -> list[Any]:
    value = body.get("value")
    if not isinstance(value, list):
        raise InvalidResponse(f"{what}: value is not a list")
    return value


def parse_applications(resp: HttpResponse, *, now: float) -> tuple[Application, ...]:
    what = "Graph applications list"
    return tuple(_application(i, what) for i in _values(_checked(resp, expect=200, what=what, now=now), what))


def parse_application(resp: HttpResponse, *, now: float) -> Application:
    what = "Graph create application"
    return _application(_checked(resp, expect=201, what=what, now=now), what)


def expect_no_content(resp: HttpResponse, *, what: str, now: float) -> None:
    _checked(resp, expect=204, what=what, now=now)


def parse_password(resp: HttpResponse, *, now: float) -> Secret:
    """The new client secret (``secretText``: Graph shows it in this answer only)."""
    what = "Graph addPassword"
    secret = _checked(resp, expect=200, what=what, now=now).get("secretText")
    if not isinstance(secret, str) or not secret:
        raise InvalidResponse(f"{what}: secretText is missing")
    return Secret("client_secret", secret)


def parse_service_principal_ids(resp: HttpResponse, *, now: float, expect: int = 200) -> tuple[str, ...]:
    """The ids of a list answer (200), or of the one created (201)."""
    what = "Graph servicePrincipals"
    body = _checked(resp, expect=expect, what=what, now=now)
    items = _values(body, what) if expect == 200 else [body]
    ids = tuple(i.get("id") for i in items if isinstance(i, dict))
    if not all(isinstance(i, str) and i for i in ids):
        raise InvalidResponse(f"{what}: a service principal has no id")
    return tuple(str(i) for i in ids)
