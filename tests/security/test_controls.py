"""Positive controls: the same harness accepts honest sign-ins, so a suite that refused
everything could not pass; and the refusal assertion itself fails on a success."""

from __future__ import annotations

import logging

import pytest

from tests.hostile.harness import Rig
from tests.hostile.keys import rsa_key
from tests.hostile.server import USER

LEEWAY = 120


def test_valid_hybrid_sign_in_is_accepted(rig: Rig) -> None:
    browser = rig.sign_in()
    assert rig.store.counts()["sessions"] == 1
    assert rig.idp.hits["token"] == 1 and rig.idp.redeemed[0][2]  # PKCE verified by the provider
    page = browser.get("/graphcall")
    assert page.status_code == 200 and USER["upn"] in page.text
    assert rig.idp.hits["graph"] == 1
    rig.assert_nothing_leaked()


def test_valid_code_flow_sign_in_is_accepted(code_rig: Rig) -> None:
    browser = code_rig.sign_in()
    assert code_rig.idp.authorizations[0].response_type == "code"
    assert browser.get("/graphcall").status_code == 200
    code_rig.assert_nothing_leaked()


def test_refusal_assertion_fails_on_an_accepted_sign_in(rig: Rig) -> None:
    page = rig.attempt()
    with pytest.raises(AssertionError):
        rig.assert_refused(page, "4xx")


def test_key_rotation_is_accepted_after_one_refetch(rig: Rig) -> None:
    """The tenant rolls its key: once the 5-minute refetch limit has passed, the first token
    signed with the new key triggers exactly one refetch and is accepted."""
    rig.sign_in()
    assert rig.idp.hits["jwks"] == 1
    rig.idp.script.published = [rsa_key("hostile-k1"), rsa_key("hostile-k2")]
    rig.idp.script.signing_key = rsa_key("hostile-k2")
    rig.keys_clock.advance(301)
    rig.sign_in()
    rig.sign_in()
    assert rig.idp.hits["jwks"] == 2
    rig.assert_nothing_leaked()


@pytest.mark.parametrize("claims", [
    {"exp": -LEEWAY + 15}, {"nbf": LEEWAY - 15}, {"iat": LEEWAY - 15},
    {"iat": -24 * 3600 - LEEWAY + 15, "nbf": -24 * 3600 - LEEWAY + 15},
], ids=["exp", "nbf", "iat", "iat-24h"])
def test_times_inside_the_leeway_are_accepted(rig: Rig, claims: dict[str, int]) -> None:
    """The other side of the leeway boundary the refusal tests probe (AADWEB_CLOCK_SKEW=120)."""
    now = int(rig.clock())
    rig.idp.script.claims = {name: now + delta for name, delta in claims.items()}
    rig.sign_in()


@pytest.mark.parametrize("where", ["log", "wire-log"])
def test_leak_assertion_catches_a_leaked_secret(rig: Rig, where: str) -> None:
    """The leak check is not vacuous: a code written to a log or the wire log is caught."""
    rig.sign_in()
    code = next(s for s in rig.idp.secrets if s.startswith("hostile-code-"))
    if where == "log":
        logging.getLogger("aadweb.test").warning("leaked %s", code)
    else:
        with rig.wire_log.open("a") as fh:
            fh.write(code + "\n")
    with pytest.raises(AssertionError, match="leaked"):
        rig.assert_nothing_leaked()
