"""id_token claims, on a token validly signed by the tenant's key: issuer, audience, times,
nonce, c_hash, required claims, claim types, size (OIDC Core 3.1.3.7 (2)-(11), 3.3.2.11,
RFC 7519 4.1, OpenID RP tests rp-id_token-iss-mismatch, -aud, -iat, -bad-c_hash,
rp-nonce-invalid, rp-nonce-unless-code-flow)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile.harness import Rig, failed_check
from tests.hostile.keys import b64url
from tests.hostile.mint import DELETE, c_hash
from tests.hostile.server import CLIENT_ID, OTHER_TENANT_ID, TENANT_ID, Authz, HostileIdP

LEEWAY = 120  # AADWEB_CLOCK_SKEW's default
OTHER_CLIENT = "0f0e0d0c-0b0a-4909-8807-060504030201"


def _refused(rig: Rig, claims: dict[str, Any], check: str | tuple[str, ...], status: int = 401) -> None:
    rig.idp.script.claims = claims
    page = rig.attempt()
    rig.assert_refused(page, status)
    checks = (check,) if isinstance(check, str) else check
    assert failed_check(page) in checks, failed_check(page)
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("iss", [
    f"https://sts.windows.net/{TENANT_ID}",                       # no trailing slash
    f"https://sts.windows.net/{OTHER_TENANT_ID}/",                # another tenant
    f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",        # the v2 form
    f"https://STS.windows.net/{TENANT_ID}/",                      # case
    f"http://sts.windows.net/{TENANT_ID}/",                       # scheme
    f"https://sts.windows.net/{TENANT_ID.upper()}/",
    f"https://sts.windows.net/{TENANT_ID}/ ",
    f"https://sts.chinacloudapi.cn/{TENANT_ID}/",                 # another cloud
    "https://sts.windows.net/{tenantid}/",                        # the common-metadata template
])
def test_id_token_with_wrong_issuer_is_refused(rig: Rig, iss: str) -> None:
    _refused(rig, {"iss": iss}, "iss")


@pytest.mark.parametrize("iss", [None, 42, [f"https://sts.windows.net/{TENANT_ID}/"], ""])
def test_id_token_with_missing_or_mistyped_issuer_is_refused(rig: Rig, iss: Any) -> None:
    _refused(rig, {"iss": DELETE if iss is None else iss}, "claims")


def test_id_token_from_another_tenant_is_refused(rig: Rig) -> None:
    """A consistent token (tid and iss agree) from a tenant that is not the configured one: TenantMismatch."""
    _refused(rig, {"tid": OTHER_TENANT_ID, "iss": f"https://sts.windows.net/{OTHER_TENANT_ID}/"}, "tid")


@pytest.mark.parametrize("claims", [
    {"aud": OTHER_CLIENT},
    {"aud": [CLIENT_ID, OTHER_CLIENT]},                 # an extra, untrusted audience
    {"aud": [OTHER_CLIENT, CLIENT_ID], "azp": CLIENT_ID},
    {"aud": []},
    {"aud": CLIENT_ID.upper()},
    {"aud": f"api://{CLIENT_ID}"},
    {"aud": CLIENT_ID, "azp": OTHER_CLIENT},            # azp names another client
    {"aud": [CLIENT_ID], "azp": OTHER_CLIENT},
    {"aud": DELETE},
    {"aud": 42},
    {"aud": {"client": CLIENT_ID}},
], ids=["other", "extra", "extra-azp", "empty-list", "case", "uri", "azp", "list-azp", "missing", "number",
        "object"])
def test_id_token_with_wrong_audience_is_refused(rig: Rig, claims: dict[str, Any]) -> None:
    _refused(rig, claims, ("aud", "claims"))


def _now(idp: HostileIdP) -> int:
    return int(idp.clock())


def test_expired_id_token_is_refused(rig: Rig) -> None:
    _refused(rig, {"exp": _now(rig.idp) - LEEWAY - 5}, "exp")


def test_id_token_expired_long_ago_is_refused(rig: Rig) -> None:
    _refused(rig, {"exp": 1_000_000_000, "iat": 999_996_400, "nbf": 999_996_400}, "exp")


def test_id_token_with_future_nbf_is_refused(rig: Rig) -> None:
    _refused(rig, {"nbf": _now(rig.idp) + LEEWAY + 10}, "nbf")


def test_id_token_issued_in_the_future_is_refused(rig: Rig) -> None:
    _refused(rig, {"iat": _now(rig.idp) + LEEWAY + 10}, "iat")  # IssuedInFuture


def test_id_token_issued_more_than_24_hours_ago_is_refused_whatever_its_exp(rig: Rig) -> None:
    """DESIGN.md: an old token (a replay, or a provider stamping far exps) is refused by its iat."""
    now = _now(rig.idp)
    _refused(rig, {"iat": now - 24 * 3600 - LEEWAY - 10, "nbf": now - 24 * 3600 - LEEWAY - 10,
                   "exp": now + 30 * 24 * 3600}, "age")


@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_id_token_without_a_time_claim_is_refused(rig: Rig, claim: str) -> None:
    _refused(rig, {claim: DELETE}, "claims")


def test_id_token_without_nbf_is_accepted(rig: Rig) -> None:
    """OIDC Core 2 does not require nbf: it is checked only when present."""
    rig.idp.script.claims = {"nbf": DELETE}
    rig.sign_in()
    rig.assert_nothing_leaked()



@pytest.mark.parametrize("claim", ["oid", "tid", "sub"])
def test_id_token_without_oid_or_tid_is_refused(rig: Rig, claim: str) -> None:
    _refused(rig, {claim: DELETE}, "claims")


@pytest.mark.parametrize("nonce", [DELETE, "not-the-nonce-we-sent", "", ["n"], None],
                         ids=["missing", "wrong", "empty", "list", "null"])
def test_id_token_with_wrong_nonce_is_refused(rig: Rig, nonce: Any) -> None:
    _refused(rig, {"nonce": nonce}, "nonce")


def test_id_token_replayed_into_another_sign_in_is_refused(rig: Rig) -> None:
    """A valid id_token from sign-in 1 posted into sign-in 2's callback (with sign-in 1's code,
    then with sign-in 2's own code): the nonce is sign-in 1's."""
    first = rig.browser()
    cb1 = first.authenticate(first.start())
    assert rig.deliver(first, cb1).status_code == 200
    for replayed in ({"id_token": cb1.fields["id_token"], "code": cb1.fields["code"]},
                     {"id_token": cb1.fields["id_token"]}):
        browser = rig.browser()
        cb = browser.authenticate(browser.start())
        page = rig.deliver(browser, dataclasses.replace(cb, fields={**cb.fields, **replayed}))
        rig.assert_refused(page, 401, sessions=1)
        assert failed_check(page) == "nonce"
    assert rig.idp.hits["token"] == 1


@pytest.mark.parametrize("value", [
    DELETE, "AAAAAAAAAAAAAAAAAAAAAA", "", 42, "full-hash", "padded", "other-code",
], ids=["missing", "wrong", "empty", "number", "full-hash", "padded", "other-code"])
def test_id_token_with_wrong_c_hash_is_refused(rig: Rig, value: Any) -> None:
    def rewrite(idp: HostileIdP, authz: Authz, code: str) -> str:
        claims = idp.claims_for(authz, code=code)
        if value is DELETE:
            del claims["c_hash"]
        elif value == "full-hash":
            claims["c_hash"] = b64url(hashlib.sha256(code.encode()).digest())
        elif value == "padded":
            claims["c_hash"] = claims["c_hash"] + "=="
        elif value == "other-code":
            claims["c_hash"] = c_hash(code + "x")
        else:
            claims["c_hash"] = value
        key = idp.script.signing_key
        return idp.mint({"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.x5t}, claims)

    rig.idp.script.id_token = rewrite
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "c_hash" and rig.idp.hits["token"] == 0


def _raw(**raw: str) -> Callable[[HostileIdP, Authz, str], str]:
    """An id_token whose payload is honest JSON text with some members replaced by raw JSON
    text (``1e400``, ``NaN``, duplicates: things json.dumps cannot write)."""
    def make(idp: HostileIdP, authz: Authz, code: str) -> str:
        claims = idp.claims_for(authz, code=code)
        members = [f"{json.dumps(k)}:{raw.get(k, json.dumps(v))}" for k, v in claims.items()]
        members += [text for name, text in raw.items() if name.startswith("_")]
        key = idp.script.signing_key
        return idp.mint({"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.x5t}, "{" + ",".join(members) + "}")
    return make


@pytest.mark.parametrize("raw", [
    {"exp": "1e400"}, {"exp": "-1e400"}, {"exp": "NaN"}, {"exp": "Infinity"}, {"exp": '"9999999999"'},
    {"exp": "null"}, {"exp": "true"}, {"exp": "[9999999999]"}, {"iat": '"now"'}, {"nbf": "{}"},
    {"tid": "42"}, {"oid": '["x"]'}, {"sub": '""'}, {"iss": "null"},
    {"_dup": '"nonce":"attacker-nonce"'}, {"_dup": '"exp":9999999999'},
], ids=lambda raw: "-".join(f"{k}={v}" for k, v in raw.items()))
def test_id_token_with_odd_claim_types_is_refused(rig: Rig, raw: dict[str, str]) -> None:
    rig.idp.script.id_token = _raw(**raw)
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) in ("claims", "format", "nonce")
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("pad", [17 * 1024, 40 * 1024, 80 * 1024], ids=["over-token-cap", "big", "over-body-cap"])
def test_oversized_id_token_is_refused(rig: Rig, pad: int) -> None:
    rig.idp.script.claims = {"groups": ["g" * 64] * (pad // 64)}
    page = rig.attempt()
    rig.assert_refused(page, "4xx")
    assert rig.idp.hits["token"] == 0 and rig.idp.hits["jwks"] == 0
