"""Editing the emulated directory from tests: groups and their members, app roles and
their assignments, group claims, overage limits, consents. The same operations as Python
methods (:class:`DirectoryAdmin`, which :class:`~aadweb.emulator.Emulator` inherits) and as
control-plane routes (loopback only; JSON bodies; users by upn or oid)::

    GET    /_emulator/directory               -> {"groups", "memberships", "clients",
                                                  "consents", "overage_limits",
                                                  "member_of_page_size"}
    POST   /_emulator/groups                  {"displayName", "id"?, "securityEnabled"?,
                                               "tenant"?} -> 201 {"id"}
    POST   /_emulator/group-members           {"group", "user"}  (DELETE: remove)
    PUT    /_emulator/overage-limits          {"front"?, "back"?} -> {"front", "back"}
    PUT    /_emulator/member-of-page-size     {"size"}
    PUT    /_emulator/group-membership-claims {"client_id", "value": null|"SecurityGroup"|"All"}
    POST   /_emulator/app-roles               {"client_id", "principal", "role"}  (DELETE)
    POST   /_emulator/consents                {"client_id", "resource", "user"?}  (DELETE)

Unknown names answer 404, malformed bodies 400.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from ._consent import ANY, ConsentStore, has_consent, resolve_resource
from ._errors import json_response
from ._groups import Group, GroupDirectory, OverageLimits, authorization_claims
from ._keys import KeyRing
from ._mint import Minter
from ._model import (
    DEMO_CLIENT_ID,
    DEMO_TENANT_ID,
    GRAPH_RESOURCE,
    ClientRegistration,
    DemoUser,
    Directory,
)
from ._tokens import ACCESS_TOKEN_LIFETIME, access_token_claims, apply_overrides

__all__ = ["DirectoryAdmin", "admin_rules", "handle_admin"]

_edit_lock = threading.Lock()


class DirectoryAdmin:
    """The directory-editing half of the :class:`Emulator` API."""

    clock: Callable[[], float]
    directory: Directory
    groups: GroupDirectory
    consents: ConsentStore
    overage_limits: OverageLimits
    member_of_page_size: int
    keys: KeyRing
    minter: Minter

    # ------------------------------------------------------------ lookups

    def user(self, key: str) -> DemoUser:
        """A user of any tenant by upn (case-insensitive) or oid; KeyError otherwise."""
        wanted = key.strip().lower()
        for user in self.directory.users:
            if wanted in (user.upn.lower(), user.oid.lower()):
                return user
        raise KeyError(f"no user {key}")

    def _client(self, client_id: str) -> ClientRegistration:
        client = self.directory.client(client_id)
        if client is None:
            raise KeyError(f"no app registration {client_id}")
        return client

    def _edit_client(self, client_id: str, **changes: Any) -> ClientRegistration:
        with _edit_lock:
            client = dataclasses.replace(self._client(client_id), **changes)
            self.directory.register(client)
        return client

    # ------------------------------------------------------ groups and claims

    def add_group(
        self, display_name: str, *, object_id: str | None = None,
        tenant_id: str = DEMO_TENANT_ID, security_enabled: bool = True,
    ) -> str:
        """Create a group (a distribution list if not ``security_enabled``); its id."""
        group = Group(object_id=object_id or str(uuid.uuid4()), tenant_id=tenant_id,
                      display_name=display_name, security_enabled=security_enabled,
                      mail_enabled=not security_enabled)
        self.groups.add(group)
        return group.object_id

    def add_group_member(self, group_id: str, user: str) -> None:
        """Make ``user`` (upn or oid) a direct member of ``group_id``."""
        self.groups.add_member(group_id, self.user(user).oid)

    def remove_group_member(self, group_id: str, user: str) -> bool:
        return self.groups.remove_member(group_id, self.user(user).oid)

    def group_ids_of(self, user: str, *, security_only: bool = False) -> list[str]:
        """The object ids of the groups ``user`` is in, as Graph lists them."""
        return [g.object_id for g in self.groups.groups_of(self.user(user))
                if g.security_enabled or not security_only]

    def set_overage_limits(self, *, front: int | None = None,
                           back: int | None = None) -> OverageLimits:
        """Change the most group ids a front-channel (authorize) or back-channel (token
        endpoint) token carries; None keeps a limit."""
        changes = {k: v for k, v in (("front", front), ("back", back)) if v is not None}
        self.overage_limits = dataclasses.replace(self.overage_limits, **changes)
        return self.overage_limits

    def set_group_membership_claims(self, client_id: str, value: str | None) -> None:
        """The registration's manifest ``groupMembershipClaims``."""
        self._edit_client(client_id, group_membership_claims=value)

    def authorization_claims(
        self, app: ClientRegistration | None, user: DemoUser, *, front_channel: bool,
        graph_base: str,
    ) -> dict[str, object]:
        """``roles`` and ``groups`` (or overage) claims of a token for ``app``."""
        return authorization_claims(app, user, self.groups.groups_of(user),
                                    front_channel=front_channel, limits=self.overage_limits,
                                    graph_base=graph_base)

    # -------------------------------------------------------------- app roles

    def _principal(self, key: str) -> str:
        group = self.groups.get(key)
        return group.object_id if group is not None else self.user(key).oid

    def assign_app_role(self, client_id: str, principal: str, role: str) -> None:
        """Assign ``role`` of app ``client_id`` to a user (upn or oid) or a group (its
        members get it); the app defines ``role`` if it did not yet."""
        who = self._principal(principal).lower()
        client = self._client(client_id)
        assignments = dict(client.role_assignments)
        assignments[who] = tuple(dict.fromkeys((*assignments.get(who, ()), role)))
        roles = client.app_roles if role in client.app_roles else (*client.app_roles, role)
        self._edit_client(client_id, app_roles=roles, role_assignments=assignments)

    def unassign_app_role(self, client_id: str, principal: str, role: str) -> bool:
        who = self._principal(principal).lower()
        assignments = dict(self._client(client_id).role_assignments)
        held = assignments.get(who, ())
        if role not in held:
            return False
        assignments[who] = tuple(r for r in held if r != role)
        self._edit_client(client_id, role_assignments=assignments)
        return True

    # --------------------------------------------------------------- consent

    def _resource_key(self, resource: str) -> str:
        found = resolve_resource(self.directory, resource)
        if found is None:
            raise KeyError(f"no resource {resource}")
        return found.key

    def grant_consent(self, client_id: str, resource: str, *, user: str | None = None) -> None:
        """``user`` (upn or oid) consents for themselves; None: an administrator consents
        for every user of every tenant."""
        self._client(client_id)
        key = self._resource_key(resource)
        if user is None:
            self.consents.grant(ANY, ANY, client_id, key)
        else:
            who = self.user(user)
            self.consents.grant(who.tenant_id, who.oid, client_id, key)

    def revoke_consent(self, client_id: str, resource: str, *, user: str | None = None) -> None:
        """Withdraw ``user``'s own consent; None: every consent to ``resource``, the
        registration's default (``consented_resources``) one included."""
        self._client(client_id)
        key = self._resource_key(resource)
        if user is None:
            self.consents.revoke(ANY, ANY, client_id, key)
        else:
            who = self.user(user)
            self.consents.revoke(who.tenant_id, who.oid, client_id, key)

    def has_consent(self, client_id: str, resource: str, user: str) -> bool:
        found = resolve_resource(self.directory, resource)
        if found is None:
            raise KeyError(f"no resource {resource}")
        return has_consent(self.directory, self.consents, self._client(client_id),
                           self.user(user), found)

    # ------------------------------------------------------------------ tokens

    def issue_access_token(
        self, *, user: str | None = None, client_id: str = DEMO_CLIENT_ID,
        resource: str = GRAPH_RESOURCE, graph_base: str = "https://graph.microsoft.com",
        **claims: Any,
    ) -> str:
        """An access token as the token endpoint would mint it for ``user`` (default: the
        first demo user) and ``resource``, without consent checks; ``claims`` override
        (None removes; e.g. ``scp="Mail.Read"``). For tests of resource servers and Graph."""
        who = self.user(user) if user else self.directory.users[0]
        found = resolve_resource(self.directory, resource)
        if found is None:
            raise KeyError(f"no resource {resource}")
        body = access_token_claims(
            who, client_id, found.name, found.scope, self.clock(),
            lifetime=ACCESS_TOKEN_LIFETIME, ipaddr="127.0.0.1",
            extra=self.authorization_claims(found.app, who, front_channel=False,
                                            graph_base=graph_base),
        )
        apply_overrides(body, claims)
        token = self.keys.current.sign(body, {"nonce": secrets.token_urlsafe(32)})
        return self.minter.grants.remember(token)

    def directory_snapshot(self) -> dict[str, object]:
        """What ``GET /_emulator/directory`` answers."""
        return {
            "groups": [dataclasses.asdict(g) for g in self.groups.all()],
            "memberships": self.groups.memberships(),
            "clients": [{
                "client_id": c.client_id, "display_name": c.display_name,
                "app_id_uri": c.app_id_uri, "exposed_scope": c.exposed_scope,
                "app_roles": list(c.app_roles),
                "role_assignments": {k: list(v) for k, v in c.role_assignments.items()},
                "group_membership_claims": c.group_membership_claims,
                "consented_resources": None if c.consented_resources is None
                else sorted(c.consented_resources),
            } for c in self.directory.clients()],
            "consents": self.consents.records(),
            "overage_limits": dataclasses.asdict(self.overage_limits),
            "member_of_page_size": self.member_of_page_size,
        }


def admin_rules() -> list[Rule]:
    """Fresh rules (a Rule binds to one Map) for the routes above."""
    return [
        Rule("/_emulator/directory", endpoint="ctl_dir_directory", methods=["GET"]),
        Rule("/_emulator/groups", endpoint="ctl_dir_groups", methods=["POST"]),
        Rule("/_emulator/group-members", endpoint="ctl_dir_members", methods=["POST", "DELETE"]),
        Rule("/_emulator/overage-limits", endpoint="ctl_dir_limits", methods=["PUT"]),
        Rule("/_emulator/member-of-page-size", endpoint="ctl_dir_page", methods=["PUT"]),
        Rule("/_emulator/group-membership-claims", endpoint="ctl_dir_claims", methods=["PUT"]),
        Rule("/_emulator/app-roles", endpoint="ctl_dir_roles", methods=["POST", "DELETE"]),
        Rule("/_emulator/consents", endpoint="ctl_dir_consents", methods=["POST", "DELETE"]),
    ]


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{name}' must be a non-empty string")
    return value


def _count(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("a limit must be a non-negative integer")
    return value


def handle_admin(emu: DirectoryAdmin, endpoint: str, method: str, body: object) -> Response:
    if endpoint == "ctl_dir_directory":
        return json_response(emu.directory_snapshot())
    if not isinstance(body, dict):
        return json_response({"error": "invalid_body", "detail": "a JSON object"}, 400)
    try:
        return _admin(emu, endpoint, method, body)
    except KeyError as exc:
        return json_response({"error": "not_found", "detail": str(exc.args[0])}, 404)
    except (TypeError, ValueError) as exc:
        return json_response({"error": "invalid_body", "detail": str(exc)}, 400)


def _admin(emu: DirectoryAdmin, endpoint: str, method: str, body: dict[str, Any]) -> Response:
    remove = method == "DELETE"
    if endpoint == "ctl_dir_groups":
        security = body.get("securityEnabled", True)
        if not isinstance(security, bool):
            raise ValueError("'securityEnabled' must be a boolean")
        group_id = emu.add_group(_text(body, "displayName"), object_id=body.get("id") or None,
                                 tenant_id=body.get("tenant") or DEMO_TENANT_ID,
                                 security_enabled=security)
        return json_response({"id": group_id}, 201)
    if endpoint == "ctl_dir_members":
        group, user = _text(body, "group"), _text(body, "user")
        if remove:
            return json_response({"removed": emu.remove_group_member(group, user)})
        emu.add_group_member(group, user)
        return json_response({"added": True})
    if endpoint == "ctl_dir_limits":
        limits = emu.set_overage_limits(front=_count(body.get("front")),
                                        back=_count(body.get("back")))
        return json_response(dataclasses.asdict(limits))
    if endpoint == "ctl_dir_page":
        size = _count(body.get("size"))
        if not size:
            raise ValueError("'size' must be a positive integer")
        emu.member_of_page_size = size
        return json_response({"size": size})
    if endpoint == "ctl_dir_claims":
        value = body.get("value")
        emu.set_group_membership_claims(_text(body, "client_id"), value)
        return json_response({"value": value})
    if endpoint == "ctl_dir_roles":
        args = (_text(body, "client_id"), _text(body, "principal"), _text(body, "role"))
        if remove:
            return json_response({"removed": emu.unassign_app_role(*args)})
        emu.assign_app_role(*args)
        return json_response({"added": True})
    who = body.get("user")
    if who is not None and not isinstance(who, str):
        raise ValueError("'user' must be a upn or an oid")
    client_id, resource = _text(body, "client_id"), _text(body, "resource")
    if remove:
        emu.revoke_consent(client_id, resource, user=who)
    else:
        emu.grant_consent(client_id, resource, user=who)
    return json_response({"consented": not remove})
