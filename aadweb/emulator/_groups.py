"""Groups, memberships and the authorization claims of a token: ``roles``, ``groups``, and
the group overage indications Azure AD sends instead of ``groups`` when there are too many.

Azure AD facts kept here (Microsoft identity platform, "Access tokens" / "ID tokens" claim
references, and "Configure group claims for applications"):

- the ``groups`` claim holds group object ids and appears only when the app registration
  asks for it (manifest ``groupMembershipClaims``: ``SecurityGroup`` or ``All``; Azure's
  default ``null`` means no claim). Which app: for an id_token the client; for an access
  token the resource (the audience), so tokens for Microsoft Graph never carry it;
- a token from the authorize endpoint (implicit or hybrid: the URL fragment or form_post)
  whose ``groups`` would hold six or more ids carries ``"hasgroups": true`` instead,
  telling the client to ask Graph (``getMemberObjects``); the emulator's default
  front-channel limit is therefore 5 ids (the docs say both "six or more groups" and
  "more than the overage limit (... 6 for the implicit flow)": the emulator follows the
  first; see :class:`OverageLimits`);
- a JWT from the token endpoint with more than 200 groups carries the distributed-claim
  form (OIDC Core 5.6.2) instead: ``"_claim_names": {"groups": "src1"}`` and
  ``"_claim_sources": {"src1": {"endpoint": ".../v1.0/users/{oid}/getMemberObjects"}}``.
  Azure names ``https://graph.microsoft.com/v1.0/users/{oid}/getMemberObjects`` (older v1
  tokens named ``https://graph.windows.net/{tid}/users/{oid}/getMemberObjects``); the
  emulator names its own Graph, so a client that follows the link reaches it;
- ``roles`` holds the app roles assigned to the user directly or through a group, and is
  absent (not empty) when there are none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._model import (
    DEMO_TENANT_ID,
    FABRIKAM_TENANT_ID,
    ClientRegistration,
    DemoUser,
)

__all__ = [
    "DEMO_GROUPS",
    "DEMO_MEMBERSHIPS",
    "Group",
    "GroupDirectory",
    "OverageLimits",
    "authorization_claims",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """A group of a tenant: a security group, or a mail-enabled distribution list
    (``security_enabled=False``), which only ``groupMembershipClaims: All`` reports."""

    object_id: str
    tenant_id: str
    display_name: str
    security_enabled: bool = True
    mail_enabled: bool = False
    mail: str | None = None

    def __post_init__(self) -> None:
        if not self.object_id or not self.tenant_id or not self.display_name:
            raise ValueError("a group needs an object_id, a tenant_id and a display_name")


@dataclass(frozen=True, slots=True, kw_only=True)
class OverageLimits:
    """The most group ids one token carries: ``front`` for an id_token from the authorize
    endpoint (Azure: fewer than six), ``back`` for a token from the token endpoint (Azure:
    200 for a JWT). One more and the token carries the overage indication instead."""

    front: int = 5
    back: int = 200

    def __post_init__(self) -> None:
        if self.front < 0 or self.back < 0:
            raise ValueError("overage limits must not be negative")


def _g(object_id: str, name: str, *, tenant: str = DEMO_TENANT_ID, security: bool = True) -> Group:
    mail = None if security else f"{name.lower().replace(' ', '')}@contoso.example"
    return Group(object_id=object_id, tenant_id=tenant, display_name=name,
                 security_enabled=security, mail_enabled=not security, mail=mail)


#: The demo tenants' groups: seven security groups and a distribution list in Contoso,
#: one security group in Fabrikam.
DEMO_GROUPS: tuple[Group, ...] = (
    _g("1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01", "Sales"),
    _g("1a2b3c4d-0002-4e5f-8a9b-0c1d2e3f4a02", "Retail"),
    _g("1a2b3c4d-0003-4e5f-8a9b-0c1d2e3f4a03", "Marketing"),
    _g("1a2b3c4d-0004-4e5f-8a9b-0c1d2e3f4a04", "Managers"),
    _g("1a2b3c4d-0005-4e5f-8a9b-0c1d2e3f4a05", "Building 12"),
    _g("1a2b3c4d-0006-4e5f-8a9b-0c1d2e3f4a06", "Project Mark 8"),
    _g("1a2b3c4d-0007-4e5f-8a9b-0c1d2e3f4a07", "Digital Initiative"),
    _g("1a2b3c4d-0008-4e5f-8a9b-0c1d2e3f4a08", "All Company", security=False),
    _g("2b3c4d5e-0001-4f6a-9b0c-1d2e3f4a5b01", "Fabrikam Directors",
       tenant=FABRIKAM_TENANT_ID),
)

#: Who is in which group (user oid -> group object ids), in the order Graph lists them:
#: Adele is in two security groups, Alex in none, Megan in all seven security groups
#: (front-channel overage by default) and the distribution list, Lee only in the
#: distribution list, Nestor in Fabrikam's one group.
DEMO_MEMBERSHIPS: Mapping[str, tuple[str, ...]] = {
    "8a1f3c2e-5b7d-4e9a-9c1b-2d3e4f5a6b70": tuple(g.object_id for g in DEMO_GROUPS[:2]),
    "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60": tuple(g.object_id for g in DEMO_GROUPS[:8]),
    "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c": (DEMO_GROUPS[7].object_id,),
    "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d": (DEMO_GROUPS[8].object_id,),
}


class GroupDirectory:
    """The groups of every tenant and their (direct) members; thread-safe, editable."""

    def __init__(self, groups: Iterable[Group], memberships: Mapping[str, Iterable[str]]) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, Group] = {}
        self._members: dict[str, list[str]] = {}
        for group in groups:
            self.add(group)
        for oid, group_ids in memberships.items():
            for group_id in group_ids:
                self.add_member(group_id, oid)

    def add(self, group: Group) -> None:
        with self._lock:
            self._groups[group.object_id.lower()] = group

    def get(self, object_id: str) -> Group | None:
        with self._lock:
            return self._groups.get(object_id.lower())

    def all(self) -> list[Group]:
        with self._lock:
            return list(self._groups.values())

    def add_member(self, group_id: str, oid: str) -> None:
        with self._lock:
            if group_id.lower() not in self._groups:
                raise KeyError(f"no group {group_id}")
            ids = self._members.setdefault(oid.lower(), [])
            if group_id.lower() not in ids:
                ids.append(group_id.lower())

    def remove_member(self, group_id: str, oid: str) -> bool:
        with self._lock:
            ids = self._members.get(oid.lower(), [])
            if group_id.lower() not in ids:
                return False
            ids.remove(group_id.lower())
            return True

    def groups_of(self, user: DemoUser) -> list[Group]:
        """The groups ``user`` is a direct member of, in its tenant, oldest first."""
        with self._lock:
            ids = list(self._members.get(user.oid.lower(), ()))
            found = [self._groups[i] for i in ids if i in self._groups]
        return [g for g in found if g.tenant_id == user.tenant_id]

    def memberships(self) -> dict[str, list[str]]:
        with self._lock:
            return {oid: [self._groups[i].object_id for i in ids if i in self._groups]
                    for oid, ids in self._members.items() if ids}


def authorization_claims(
    app: ClientRegistration | None, user: DemoUser, member_of: Sequence[Group], *,
    front_channel: bool, limits: OverageLimits, graph_base: str,
) -> dict[str, object]:
    """``roles`` and ``groups`` (or the overage indication) of a token issued for ``app``
    (the client for an id_token, the audience for an access token; None: a first-party
    resource such as Graph, whose tokens carry neither)."""
    claims: dict[str, object] = {}
    if app is None:
        return claims
    roles = app.roles_for([user.oid, *(g.object_id for g in member_of)])
    if roles:
        claims["roles"] = roles
    kind = app.group_membership_claims
    if kind is None:
        return claims
    ids = [g.object_id for g in member_of if kind == "All" or g.security_enabled]
    if not ids:
        return claims
    if front_channel and len(ids) > limits.front:
        claims["hasgroups"] = True
    elif not front_channel and len(ids) > limits.back:
        # OIDC Core 5.6.2: a distributed claim names its source
        claims["_claim_names"] = {"groups": "src1"}
        claims["_claim_sources"] = {"src1": {
            "endpoint": f"{graph_base}/v1.0/users/{user.oid}/getMemberObjects"}}
    else:
        claims["groups"] = ids
    return claims
