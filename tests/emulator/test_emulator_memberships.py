"""Graph's group memberships: /me/memberOf (paged) and getMemberObjects, with auth."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from aadweb.emulator import DEMO_API_RESOURCE, DEMO_GROUPS, DEMO_USERS, Emulator, Fault

from .support import TIMEOUT

ADELE, ALEX, MEGAN, LEE = DEMO_USERS
MEGAN_ALL = [g.object_id for g in DEMO_GROUPS[:8]]


def get(url: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=TIMEOUT)


def member_objects(base: str, token: str | None, body: Any = None, *,
                   who: str = "me") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = "me" if who == "me" else f"users/{who}"
    return requests.post(f"{base}/v1.0/{path}/getMemberObjects", headers=headers,
                         json={"securityEnabledOnly": True} if body is None else body,
                         timeout=TIMEOUT)


def test_member_of_pages_with_next_links(base: str, emu: Emulator) -> None:
    emu.member_of_page_size = 3
    token = emu.issue_access_token(user=MEGAN.upn)
    url: str | None = f"{base}/v1.0/me/memberOf"
    seen: list[dict[str, Any]] = []
    pages = 0
    while url:
        resp = get(url, token)
        assert resp.status_code == 200, resp.text
        assert resp.headers["request-id"]
        body = resp.json()
        assert body["@odata.context"].endswith("$metadata#directoryObjects")
        assert len(body["value"]) <= 3
        seen += body["value"]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3 and [g["id"] for g in seen] == MEGAN_ALL
    assert {g["@odata.type"] for g in seen} == {"#microsoft.graph.group"}
    assert [g["securityEnabled"] for g in seen] == [True] * 7 + [False]
    assert seen[0]["displayName"] == "Sales"


def test_member_of_top_overrides_the_page_size(base: str, emu: Emulator) -> None:
    token = emu.issue_access_token(user=MEGAN.upn)
    body = get(f"{base}/v1.0/me/memberOf?$top=5", token).json()
    assert len(body["value"]) == 5 and "$top=5" in body["@odata.nextLink"]
    everything = get(f"{base}/v1.0/me/memberOf", token).json()  # default page size 100
    assert len(everything["value"]) == 8 and "@odata.nextLink" not in everything
    for bad in ("0", "1000", "x"):
        resp = get(f"{base}/v1.0/me/memberOf?$top={bad}", token)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "Request_BadRequest"
    resp = get(f"{base}/v1.0/me/memberOf?$skiptoken=nonsense", token)
    assert resp.status_code == 400


def test_a_user_in_no_group_gets_an_empty_list(base: str, emu: Emulator) -> None:
    token = emu.issue_access_token(user=ALEX.upn)
    assert get(f"{base}/v1.0/me/memberOf", token).json()["value"] == []
    assert member_objects(base, token).json()["value"] == []


def test_get_member_objects_filters_security_groups(base: str, emu: Emulator) -> None:
    token = emu.issue_access_token(user=MEGAN.upn)
    only = member_objects(base, token, {"securityEnabledOnly": True})
    assert only.status_code == 200 and only.json()["value"] == MEGAN_ALL[:7]
    assert only.json()["@odata.context"].endswith("#Collection(Edm.String)")
    assert member_objects(base, token, {"securityEnabledOnly": False}).json()["value"] \
        == MEGAN_ALL
    lee = emu.issue_access_token(user=LEE.upn)
    assert member_objects(base, lee).json()["value"] == []


@pytest.mark.parametrize("body", [{}, {"securityEnabledOnly": "yes"}, [True]])
def test_get_member_objects_needs_its_parameter(base: str, emu: Emulator, body: Any) -> None:
    resp = member_objects(base, emu.issue_access_token(), body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Request_BadRequest"


def test_memberships_need_a_graph_token(base: str, emu: Emulator) -> None:
    api_token = emu.issue_access_token(resource=DEMO_API_RESOURCE)
    for token in (None, "not-a-jwt", api_token):
        for resp in (get(f"{base}/v1.0/me/memberOf", token), member_objects(base, token)):
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer ")


def test_memberships_need_a_permission_to_read_them(base: str, emu: Emulator) -> None:
    token = emu.issue_access_token(user=ADELE.upn, scp="Mail.Read")
    for resp in (get(f"{base}/v1.0/me/memberOf", token), member_objects(base, token)):
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "Authorization_RequestDenied"
    wider = emu.issue_access_token(user=ADELE.upn, scp="GroupMember.Read.All")
    assert get(f"{base}/v1.0/me/memberOf", wider).status_code == 200


def test_another_users_memberships_need_more_than_user_read(base: str, emu: Emulator) -> None:
    token = emu.issue_access_token(user=ADELE.upn)  # scp User.Read
    assert member_objects(base, token, who=ADELE.oid).status_code == 200  # herself
    assert member_objects(base, token, who=ADELE.upn).status_code == 200
    denied = member_objects(base, token, who=MEGAN.oid)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    admin = emu.issue_access_token(user=ADELE.upn, scp="User.Read Directory.Read.All")
    resp = get(f"{base}/v1.0/users/{MEGAN.upn}/memberOf", admin)
    assert resp.status_code == 200 and len(resp.json()["value"]) == 8
    missing = member_objects(base, admin, who="0b0b0b0b-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_graph_faults_apply_to_memberships(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="error", endpoint="graph", status=429, code="TooManyRequests",
                         retry_after="2", times=1))
    resp = get(f"{base}/v1.0/me/memberOf", emu.issue_access_token())
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert get(f"{base}/v1.0/me/memberOf", emu.issue_access_token()).status_code == 200
