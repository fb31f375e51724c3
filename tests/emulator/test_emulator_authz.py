"""App roles and groups claims, with group overage in both channels (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from aadweb.emulator import (
    DEMO_API_RESOURCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_GROUPS,
    DEMO_USERS,
    ClientRegistration,
    Emulator,
    OverageLimits,
)

from .support import (
    REDIRECT_URI,
    TIMEOUT,
    authorize_params,
    b64url_json,
    redeem,
    sign_in,
    token_request,
    verify_front_channel,
)

ADELE, ALEX, MEGAN, LEE = DEMO_USERS
SALES, RETAIL = DEMO_GROUPS[0].object_id, DEMO_GROUPS[1].object_id
ALL_COMPANY = DEMO_GROUPS[7].object_id
MEGAN_SECURITY = [g.object_id for g in DEMO_GROUPS[:7]]
AUTHZ = ("roles", "groups", "hasgroups", "_claim_names", "_claim_sources")


def claims(token: str) -> dict[str, Any]:
    return b64url_json(token.split(".")[1])


def hybrid(base: str, user: str, client_id: str = DEMO_CLIENT_ID,
           secret: str = DEMO_CLIENT_SECRET) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Sign ``user`` in with the hybrid flow: (the verified front-channel id_token's
    claims, the token response, its refresh token)."""
    fields = sign_in(base, authorize_params(client_id=client_id), user=user)
    front = verify_front_channel(base, fields["id_token"], audience=client_id)
    resp = redeem(base, fields["code"], client_id=client_id, client_secret=secret)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return front, body, str(body["refresh_token"])


def authz(token_claims: dict[str, Any]) -> dict[str, Any]:
    return {k: token_claims[k] for k in AUTHZ if k in token_claims}


def test_a_registration_without_roles_or_group_claims_mints_neither(
    base: str, emu: Emulator
) -> None:
    emu.register_client(ClientRegistration(client_id="fresh-app", client_secret="s",
                                           redirect_uris=(REDIRECT_URI,)))
    for user in (ADELE, MEGAN):
        front, body, _ = hybrid(base, user.upn, "fresh-app", "s")
        assert authz(front) == {}
        assert authz(claims(body["id_token"])) == {}
        assert authz(claims(body["access_token"])) == {}


def test_demo_app_roles_are_in_its_id_tokens_for_assigned_users_only(base: str) -> None:
    expected = {ADELE.upn: None, ALEX.upn: None, MEGAN.upn: ["Admin", "Reader"],
                LEE.upn: ["Reader"]}
    for upn, roles in expected.items():
        front, body, _ = hybrid(base, upn)
        back = claims(body["id_token"])
        assert front.get("roles") == roles and back.get("roles") == roles, upn
        assert "roles" not in claims(body["access_token"])  # a Graph token


def test_a_role_assigned_to_a_group_reaches_its_members(base: str, emu: Emulator) -> None:
    emu.assign_app_role(DEMO_CLIENT_ID, SALES, "Reader")  # Adele and Megan are in Sales
    front, _, _ = hybrid(base, ADELE.upn)
    assert front["roles"] == ["Reader"]
    assert "roles" not in hybrid(base, ALEX.upn)[0]
    assert emu.unassign_app_role(DEMO_CLIENT_ID, SALES, "Reader")
    assert "roles" not in hybrid(base, ADELE.upn)[0]


def test_assigning_an_undefined_role_defines_it(base: str, emu: Emulator) -> None:
    emu.assign_app_role(DEMO_CLIENT_ID, ALEX.upn, "Auditor")
    assert hybrid(base, ALEX.upn)[0]["roles"] == ["Auditor"]
    with pytest.raises(KeyError):
        emu.assign_app_role(DEMO_CLIENT_ID, "nobody@contoso.example", "Auditor")


def test_registration_validates_its_roles_and_group_claims() -> None:
    with pytest.raises(ValueError, match="app_roles"):
        ClientRegistration(client_id="x", app_roles=("A",), role_assignments={"u": ("B",)})
    with pytest.raises(ValueError, match="group_membership_claims"):
        ClientRegistration(client_id="x", group_membership_claims="Everything")
    with pytest.raises(TypeError):
        ClientRegistration(client_id="x", app_roles="Admin")  # type: ignore[arg-type]


def test_security_group_claims_list_security_groups_only(base: str, emu: Emulator) -> None:
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "SecurityGroup")
    front, body, _ = hybrid(base, ADELE.upn)
    assert front["groups"] == [SALES, RETAIL]
    assert claims(body["id_token"])["groups"] == [SALES, RETAIL]
    assert "groups" not in claims(body["access_token"])  # Graph's registration asks for none
    for upn in (ALEX.upn, LEE.upn):  # no groups / only a distribution list
        front, body, _ = hybrid(base, upn)
        assert "groups" not in front and "hasgroups" not in front
        assert "groups" not in claims(body["id_token"])


def test_all_group_claims_include_distribution_lists(base: str, emu: Emulator) -> None:
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "All")
    front, body, _ = hybrid(base, LEE.upn)
    assert front["groups"] == [ALL_COMPANY] == claims(body["id_token"])["groups"]


def test_front_channel_overage_is_hasgroups_back_channel_lists_them(
    base: str, emu: Emulator
) -> None:
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "SecurityGroup")
    front, body, _ = hybrid(base, MEGAN.upn)  # seven security groups > 5
    assert front["hasgroups"] is True
    assert "groups" not in front and "_claim_names" not in front
    back = claims(body["id_token"])
    assert back["groups"] == MEGAN_SECURITY and "hasgroups" not in back


def test_back_channel_overage_names_graph_as_the_claim_source(
    base: str, emu: Emulator
) -> None:
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "SecurityGroup")
    assert emu.set_overage_limits(back=6) == OverageLimits(front=5, back=6)
    _, body, _ = hybrid(base, MEGAN.upn)
    back = claims(body["id_token"])
    endpoint = f"{base}/v1.0/users/{MEGAN.oid}/getMemberObjects"
    assert back["_claim_names"] == {"groups": "src1"}
    assert back["_claim_sources"] == {"src1": {"endpoint": endpoint}}
    assert "groups" not in back and "hasgroups" not in back
    # the source answers the groups with the sign-in's own Graph token
    resp = requests.post(endpoint, json={"securityEnabledOnly": True}, timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {body['access_token']}"})
    assert resp.status_code == 200 and resp.json()["value"] == MEGAN_SECURITY


def test_limits_are_inclusive_and_per_emulator(base: str, emu: Emulator) -> None:
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "SecurityGroup")
    emu.set_overage_limits(front=2, back=1)
    front, body, _ = hybrid(base, ADELE.upn)  # two groups: fits front, overflows back
    assert front["groups"] == [SALES, RETAIL]
    assert "_claim_names" in claims(body["id_token"])
    assert Emulator().overage_limits == OverageLimits()


def test_access_tokens_for_an_api_carry_its_roles_and_groups(base: str) -> None:
    _, _, refresh = hybrid(base, ADELE.upn)
    resp = token_request(base, {
        "grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "refresh_token": refresh,
        "resource": DEMO_API_RESOURCE})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["resource"] == DEMO_API_RESOURCE and body["scope"] == "access_as_user"
    access = claims(body["access_token"])
    assert access["aud"] == DEMO_API_RESOURCE and access["scp"] == "access_as_user"
    assert access["roles"] == ["Orders.Read"] and access["groups"] == [SALES, RETAIL]
    assert authz(claims(body["id_token"])) == {}  # the id_token is the client's


def test_an_app_may_get_a_token_for_itself(base: str) -> None:
    _, _, refresh = hybrid(base, MEGAN.upn)
    resp = token_request(base, {
        "grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "refresh_token": refresh,
        "resource": DEMO_CLIENT_ID})
    assert resp.status_code == 200, resp.text
    access = claims(resp.json()["access_token"])
    assert access["aud"] == DEMO_CLIENT_ID and access["roles"] == ["Admin", "Reader"]
    assert access["scp"] == "user_impersonation"


def test_group_membership_changes_show_in_the_next_token(base: str, emu: Emulator) -> None:
    emu.set_group_membership_claims(DEMO_CLIENT_ID, "SecurityGroup")
    group = emu.add_group("Night shift")
    emu.add_group_member(group, ALEX.upn)
    assert hybrid(base, ALEX.upn)[0]["groups"] == [group]
    assert emu.group_ids_of(ALEX.oid) == [group]
    assert emu.remove_group_member(group, ALEX.upn)
    assert "groups" not in hybrid(base, ALEX.upn)[0]
