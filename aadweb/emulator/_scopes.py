"""v2.0 scopes: which resource a ``scope`` parameter names, and what a token for it says.

The Microsoft identity platform's rules ("Scopes and permissions", v2.0 protocols):

- ``openid``, ``profile``, ``email`` and ``offline_access`` are OpenID Connect scopes: they
  shape the id_token (``profile``: ``name``, ``preferred_username``, ``oid``; ``email``:
  ``email``) and decide whether a refresh token is issued (``offline_access``). They name no
  resource.
- A permission without a resource prefix is Microsoft Graph's: ``User.Read`` is
  ``https://graph.microsoft.com/User.Read``, and the token's ``aud`` is then Graph's
  application id. ``{resource}/{permission}`` names the resource by App ID URI or
  application id (the token's ``aud`` is that name); ``{resource}/.default`` asks for every
  permission the app holds on it.
- An access token has one audience. The token endpoint refuses permissions of two resources
  in one request (AADSTS28000); the authorize endpoint accepts them (the user consents to all
  at once) and the token requests then name one resource each. Only OpenID Connect scopes:
  the access token is Graph's, carrying those scopes (what ``/oidc/userinfo`` needs).
- Unknown resource: AADSTS500011. A permission the resource does not expose: AADSTS650053.
  A malformed scope: AADSTS70011.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._consent import Resource, resolve_resource
from ._errors import GRAPH_APP_ID, AadError
from ._model import GRAPH_RESOURCE, ClientRegistration, Directory

__all__ = [
    "GRAPH_APP_ID",
    "GRAPH_PERMISSIONS",
    "OIDC_SCOPES",
    "ResourceScopes",
    "ScopeError",
    "ScopeRequest",
    "parse_scopes",
]

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
#: The Graph delegated permissions the emulator knows (Graph's names, canonical case).
GRAPH_PERMISSIONS: tuple[str, ...] = (
    "User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All",
    "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All", "GroupMember.Read.All",
    "Application.ReadWrite.All", "Mail.Read", "Mail.Send", "Calendars.Read", "Files.Read",
    "Files.ReadWrite", "Sites.Read.All",
)
_DEFAULT = ".default"
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 3.3 scope-token
_GRAPH_NAMES = {p.lower(): p for p in GRAPH_PERMISSIONS}


@dataclass(frozen=True, slots=True)
class ResourceScopes:
    """The permissions asked of one resource; ``resource.name`` is the token's ``aud``."""

    resource: Resource
    permissions: tuple[str, ...]

    @property
    def is_graph(self) -> bool:
        return self.resource.key == GRAPH_RESOURCE

    def answer_scope(self, oidc: tuple[str, ...]) -> str:
        """The token response's ``scope``: Graph's permissions by their short names plus
        the OpenID Connect scopes granted; another resource's qualified by its name, alone."""
        if self.is_graph:
            return " ".join([*self.permissions, *(s for s in oidc if s != "offline_access")])
        return " ".join(f"{self.resource.name}/{p}" for p in self.permissions)

    def scp(self, oidc: tuple[str, ...]) -> str:
        """The access token's ``scp``."""
        if self.is_graph:
            return " ".join([*self.permissions, *(s for s in oidc if s != "offline_access")])
        return " ".join(self.permissions)


@dataclass(frozen=True, slots=True)
class ScopeRequest:
    """A parsed ``scope``: the OpenID Connect scopes and the resources, in the order asked."""

    raw: str
    oidc: tuple[str, ...]
    resources: tuple[ResourceScopes, ...]

    def wants(self, scope: str) -> bool:
        return scope in self.oidc

    def single(self, directory: Directory) -> ResourceScopes:
        """The one resource a token is for (AADSTS28000 for several); Graph when only
        OpenID Connect scopes were asked."""
        if len(self.resources) > 1:
            raise _error("invalid_scope", 28000, "Provided value for the input parameter "
                         "scope is not valid because it contains more than one resource. "
                         f"Scope {self.raw} is not valid.")
        if self.resources:
            return self.resources[0]
        graph = resolve_resource(directory, GRAPH_APP_ID)
        assert graph is not None
        return ResourceScopes(graph, ())


class ScopeError(Exception):
    def __init__(self, error: AadError) -> None:
        super().__init__(f"AADSTS{error.aadsts}")
        self.error = error


def _error(error: str, aadsts: int, message: str) -> ScopeError:
    return ScopeError(AadError(error=error, aadsts=aadsts, message=message))


def _exposed(resource: Resource) -> tuple[str, ...]:
    return GRAPH_PERMISSIONS if resource.key == GRAPH_RESOURCE else (resource.scope,)


def _permission(client: ClientRegistration, resource: Resource, asked: str) -> tuple[str, ...]:
    """Canonical permission names for ``asked`` on ``resource`` (``.default``: what the
    app holds, which in the emulator is the resource's default delegated permission)."""
    if asked == _DEFAULT:
        return (resource.scope,)
    for known in _exposed(resource):
        if known.lower() == asked.lower():
            return (known,)
    owner = resource.app.client_id if resource.app is not None else resource.name
    raise _error("invalid_client", 650053, f"The application '{client.display_name}' asked "
                 f"for scope '{asked}' that doesn't exist on the resource '{owner}'. Contact "
                 "the app vendor.")


def parse_scopes(
    directory: Directory, client: ClientRegistration, raw: str, *, tenant: str
) -> ScopeRequest:
    """``raw`` split and resolved; raises :class:`ScopeError` (AADSTS70011, 500011,
    650053). ``tenant`` names the tenant in AADSTS500011's message."""
    oidc: list[str] = []
    grouped: dict[str, tuple[Resource, list[str]]] = {}
    for item in raw.split(" "):
        if not item:
            continue
        if not _SCOPE_TOKEN.match(item) or "," in item:
            raise _error("invalid_scope", 70011, "The provided value for the input parameter "
                         f"'scope' is not valid. The scope {raw} is not valid.")
        if item.lower() in OIDC_SCOPES:
            if item.lower() not in oidc:
                oidc.append(item.lower())
            continue
        prefix, slash, asked = item.rpartition("/")
        if not slash:
            prefix, asked = GRAPH_APP_ID, item
            if asked == _DEFAULT:
                raise _error("invalid_scope", 70011, "The provided value for the input "
                             f"parameter 'scope' is not valid. The scope {raw} is not valid.")
        resource = resolve_resource(directory, prefix)
        if resource is None:
            raise _error("invalid_resource", 500011, f"The resource principal named {prefix} "
                         f"was not found in the tenant named {tenant}. This can happen if the "
                         "application has not been installed by the administrator of the "
                         "tenant or consented to by any user in the tenant.")
        names = _permission(client, resource, asked)
        entry = grouped.setdefault(resource.key, (resource, []))
        entry[1].extend(n for n in names if n not in entry[1])
    resources = tuple(ResourceScopes(r, tuple(p)) for r, p in grouped.values())
    return ScopeRequest(raw=raw, oidc=tuple(oidc), resources=resources)
