"""Resources (what a v1 ``resource`` parameter names) and consent to them.

A v1 resource is named by its App ID URI or its application (client) id: Microsoft's own
(:data:`KNOWN_RESOURCES`, Graph by both names) or an app registration of the tenant that
exposes a scope. A token for a resource carries that resource's delegated scope in ``scp``.

Consent (Azure AD "Permissions and consent", v1): an app gets a token for a resource only
when an administrator consented for the whole tenant or the user consented for
themselves; otherwise the token endpoint answers ``invalid_grant`` with AADSTS65001 and
``suberror: consent_required``, and the app must send the user to the authorize endpoint
(``prompt=consent``), where signing in grants it. An app needs no consent to itself.
Emulator simplifications: a registration's ``consented_resources`` stand for an admin
consent in every tenant; consent covers a resource's whole exposed scope.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ._model import (
    GRAPH_RESOURCE,
    KNOWN_RESOURCES,
    UNCONSENTED_BY_DEFAULT,
    ClientRegistration,
    DemoUser,
    Directory,
)

__all__ = ["ANY", "ConsentStore", "Resource", "has_consent", "resolve_resource"]

#: Graph's application id names Graph too.
_ALIASES = {"00000003-0000-0000-c000-000000000000": GRAPH_RESOURCE}
#: A consent record's tenant or user that stands for all of them (an admin consent).
ANY = "*"


@dataclass(frozen=True, slots=True)
class Resource:
    """A resolved ``resource``: ``name`` as asked (the access token's ``aud``), ``key``
    the one name consent is recorded under, ``scope`` its ``scp``, ``app`` its registration
    (None for Microsoft's own resources)."""

    name: str
    key: str
    scope: str
    app: ClientRegistration | None


def resolve_resource(directory: Directory, name: str) -> Resource | None:
    if name in KNOWN_RESOURCES:
        return Resource(name, _ALIASES.get(name, name), KNOWN_RESOURCES[name], None)
    for app in directory.clients():
        if name in app.names():
            return Resource(name, app.client_id, app.exposed_scope, app)
    return None


def _key(directory: Directory, name: str) -> str:
    resource = resolve_resource(directory, name)
    return resource.key if resource is not None else name


class ConsentStore:
    """Consents granted at run time: (tenant, user, client, resource key), ``ANY`` for an
    admin consent; and the registrations' default consents an administrator revoked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._granted: set[tuple[str, str, str, str]] = set()
        self._revoked: set[tuple[str, str]] = set()

    def grant(self, tenant_id: str, oid: str, client_id: str, key: str) -> None:
        with self._lock:
            self._granted.add((tenant_id.lower(), oid.lower(), client_id, key))
            if tenant_id == ANY and oid == ANY:
                self._revoked.discard((client_id, key))

    def revoke(self, tenant_id: str, oid: str, client_id: str, key: str) -> None:
        """One user's consent; with ``ANY``/``ANY`` every consent to ``key``, the
        registration's default one included."""
        with self._lock:
            if tenant_id == ANY and oid == ANY:
                self._granted = {g for g in self._granted if g[2:] != (client_id, key)}
                self._revoked.add((client_id, key))
            else:
                self._granted.discard((tenant_id.lower(), oid.lower(), client_id, key))

    def granted(self, tenant_id: str, oid: str, client_id: str, key: str) -> bool:
        wanted = {(t, u, client_id, key) for t in (tenant_id.lower(), ANY)
                  for u in (oid.lower(), ANY)}
        with self._lock:
            return bool(wanted & self._granted)

    def revoked(self, client_id: str, key: str) -> bool:
        with self._lock:
            return (client_id, key) in self._revoked

    def records(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"tenant": t, "user": u, "client_id": c, "resource": k}
                    for t, u, c, k in sorted(self._granted)]


def has_consent(
    directory: Directory, store: ConsentStore, client: ClientRegistration, user: DemoUser,
    resource: Resource,
) -> bool:
    """May ``client`` get a token for ``resource`` on behalf of ``user``?"""
    if resource.app is not None and resource.app.client_id == client.client_id:
        return True
    if not store.revoked(client.client_id, resource.key):
        preset = client.consented_resources
        if preset is None:
            if resource.key not in {_key(directory, r) for r in UNCONSENTED_BY_DEFAULT}:
                return True
        elif resource.key in {_key(directory, r) for r in preset}:
            return True
    return store.granted(user.tenant_id, user.oid, client.client_id, resource.key)
