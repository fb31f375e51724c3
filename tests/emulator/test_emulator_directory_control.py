"""The control plane's directory routes: groups, app roles, group claims, limits, consents."""

from __future__ import annotations

from typing import Any

import requests
from werkzeug.test import Client

from aadweb.emulator import (
    DEMO_CLIENT_ID,
    DEMO_REPORTS_RESOURCE,
    DEMO_USERS,
    Emulator,
    OverageLimits,
)

from .support import TIMEOUT

CTL = "/_emulator"
ADELE, ALEX, MEGAN, LEE = DEMO_USERS


def call(base: str, method: str, route: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{base}{CTL}/{route}", json=body, timeout=TIMEOUT)


def test_the_directory_snapshot(base: str) -> None:
    snap = call(base, "GET", "directory").json()
    assert snap["overage_limits"] == {"front": 5, "back": 200}
    assert snap["member_of_page_size"] == 100
    assert len(snap["memberships"][MEGAN.oid]) == 8 and ALEX.oid not in snap["memberships"]
    demo = next(c for c in snap["clients"] if c["client_id"] == DEMO_CLIENT_ID)
    assert demo["app_roles"] == ["Admin", "Reader"]
    assert demo["role_assignments"][MEGAN.oid] == ["Admin", "Reader"]
    assert demo["group_membership_claims"] is None and demo["consented_resources"] is None
    assert {c["app_id_uri"] for c in snap["clients"]} >= {DEMO_REPORTS_RESOURCE}
    assert snap["consents"] == []


def test_groups_and_members_over_http(base: str, emu: Emulator) -> None:
    created = call(base, "POST", "groups", {"displayName": "Auditors"})
    assert created.status_code == 201
    group = created.json()["id"]
    assert call(base, "POST", "group-members", {"group": group, "user": ALEX.upn}) \
        .json() == {"added": True}
    assert emu.group_ids_of(ALEX.upn) == [group]
    assert call(base, "DELETE", "group-members", {"group": group, "user": ALEX.oid}) \
        .json() == {"removed": True}
    assert emu.group_ids_of(ALEX.upn) == []
    missing = call(base, "POST", "group-members", {"group": "no-such-group", "user": ALEX.upn})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_limits_claims_and_page_size_over_http(base: str, emu: Emulator) -> None:
    assert call(base, "PUT", "overage-limits", {"front": 1}).json() == {"front": 1, "back": 200}
    assert emu.overage_limits == OverageLimits(front=1, back=200)
    assert call(base, "PUT", "overage-limits", {"back": -1}).status_code == 400
    assert call(base, "PUT", "member-of-page-size", {"size": 2}).json() == {"size": 2}
    assert emu.member_of_page_size == 2
    assert call(base, "PUT", "member-of-page-size", {"size": 0}).status_code == 400
    put = call(base, "PUT", "group-membership-claims",
               {"client_id": DEMO_CLIENT_ID, "value": "All"})
    assert put.status_code == 200
    client = emu.directory.client(DEMO_CLIENT_ID)
    assert client is not None and client.group_membership_claims == "All"
    bad = call(base, "PUT", "group-membership-claims",
               {"client_id": DEMO_CLIENT_ID, "value": "Some"})
    assert bad.status_code == 400


def test_app_roles_and_consents_over_http(base: str, emu: Emulator) -> None:
    spec = {"client_id": DEMO_CLIENT_ID, "principal": ADELE.upn, "role": "Reader"}
    assert call(base, "POST", "app-roles", spec).json() == {"added": True}
    client = emu.directory.client(DEMO_CLIENT_ID)
    assert client is not None and client.roles_for([ADELE.oid]) == ["Reader"]
    assert call(base, "DELETE", "app-roles", spec).json() == {"removed": True}
    assert call(base, "DELETE", "app-roles", spec).json() == {"removed": False}
    consent = {"client_id": DEMO_CLIENT_ID, "resource": DEMO_REPORTS_RESOURCE,
               "user": ADELE.upn}
    assert call(base, "POST", "consents", consent).json() == {"consented": True}
    assert emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, ADELE.oid)
    assert call(base, "GET", "directory").json()["consents"][0]["user"] == ADELE.oid
    assert call(base, "DELETE", "consents", consent).json() == {"consented": False}
    assert not emu.has_consent(DEMO_CLIENT_ID, DEMO_REPORTS_RESOURCE, ADELE.oid)
    unknown = call(base, "POST", "consents", {**consent, "resource": "api://nothing"})
    assert unknown.status_code == 404
    assert call(base, "POST", "consents", [consent]).status_code == 400
    assert call(base, "POST", "consents", {"client_id": DEMO_CLIENT_ID}).status_code == 400


def test_directory_routes_answer_loopback_only(emu: Emulator) -> None:
    client = Client(emu)
    resp = client.get(f"{CTL}/directory", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert resp.status_code == 403
    resp = client.put(f"{CTL}/overage-limits", json={"front": 0},
                      environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert resp.status_code == 403 and emu.overage_limits == OverageLimits()
