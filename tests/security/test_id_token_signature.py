"""id_token signature and key choice: alg pinned to RS256, the key only from the tenant's JWKS
by kid/x5t, token-carried keys (jku, jwk, x5u, x5c) never fetched nor trusted (OIDC Core
3.1.3.7 (6)-(8), RFC 8725 2.1-2.3 and 3.1, RFC 7515 4.1.11, OpenID RP tests
rp-id_token-sig-none, rp-id_token-bad-sig-rs256, rp-id_token-kid-absent-*)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.hostile.harness import Rig, failed_check
from tests.hostile.keys import b64url, rsa_key
from tests.hostile.mint import DELETE
from tests.hostile.server import Authz, HostileIdP

ATTACKER = rsa_key("attacker")


def _flip(segment: str, index: int = 10) -> str:
    ch = segment[index]
    return segment[:index] + ("B" if ch != "B" else "C") + segment[index + 1:]


def _tamper_signature(authz: Authz, fields: dict[str, str]) -> dict[str, str]:
    h, p, s = fields["id_token"].split(".")
    return {**fields, "id_token": f"{h}.{p}.{_flip(s)}"}


def _tamper_payload(authz: Authz, fields: dict[str, str]) -> dict[str, str]:
    h, p, s = fields["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["name"] = "Mallory"
    return {**fields, "id_token": f"{h}.{b64url(json.dumps(claims).encode())}.{s}"}


@pytest.mark.parametrize("tamper", [_tamper_signature, _tamper_payload], ids=["signature", "payload"])
def test_id_token_with_bad_signature_is_refused(rig: Rig, tamper: Any) -> None:
    rig.idp.script.callback = tamper
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "signature"
    assert rig.idp.hits["token"] == 0  # nothing redeemed on an unverified token


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("keep_signature", [False, True])
def test_id_token_with_alg_none_is_refused(rig: Rig, alg: str, keep_signature: bool) -> None:
    if keep_signature:
        # alg none in the header, the tenant's valid RS256 signature still attached
        def swap(authz: Authz, fields: dict[str, str]) -> dict[str, str]:
            _, p, s = fields["id_token"].split(".")
            header = b64url(json.dumps({"typ": "JWT", "alg": alg, "kid": "hostile-k1"}).encode())
            return {**fields, "id_token": f"{header}.{p}.{s}"}
        rig.idp.script.callback = swap
    else:
        rig.idp.script.header = {"alg": alg}
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "alg"


def _public_der() -> bytes:
    return rsa_key("hostile-k1").public.public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("hmac_key", ["pem", "der", "jwk", "n"])
@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_id_token_hs256_keyed_with_the_public_key_is_refused(rig: Rig, hmac_key: str, alg: str) -> None:
    """The classic key confusion: HMAC keyed with the tenant's *public* RSA key."""
    key = rsa_key("hostile-k1")
    rig.idp.script.hmac_key = {
        "pem": key.public_pem, "der": _public_der(), "jwk": json.dumps(key.jwk()).encode(),
        "n": base64.urlsafe_b64decode(str(key.jwk()["n"]) + "=="),
    }[hmac_key]
    rig.idp.script.header = {"alg": alg}
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "alg"


@pytest.mark.parametrize("alg", ["RS512", "RS384"])
def test_id_token_signed_with_another_rsa_algorithm_is_refused(rig: Rig, alg: str) -> None:
    rig.idp.script.header = {"alg": alg}  # validly signed with the tenant's key, under RS512
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "alg"


@pytest.mark.parametrize(("header", "check", "fetches"), [
    ({"kid": "attacker", "x5t": ATTACKER.x5t}, "key", 2),   # a key the tenant never published
    ({"kid": DELETE, "x5t": ATTACKER.x5t}, "key", 2),        # no kid, an unknown thumbprint
    ({"kid": DELETE, "x5t": DELETE}, "signature", 1),        # no key id: the only key, which does not verify
    ({"kid": 42}, "key", 2),                                 # a kid of the wrong type
], ids=["unknown-kid", "unknown-x5t", "no-key-id", "numeric-kid"])
def test_id_token_signed_by_a_key_not_in_the_tenants_jwks_is_refused(rig: Rig, header: dict[str, Any], check: str,
                                                                     fetches: int) -> None:
    """An unknown kid refetches once (the cold fetch does not count against the 5-minute limit)
    and is still unknown; a token naming no key is checked against the set's only key."""
    rig.idp.script.signing_key = ATTACKER
    rig.idp.script.header = header
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == check
    assert rig.idp.hits["jwks"] == fetches


def test_id_token_without_kid_or_x5t_is_checked_against_the_only_key(rig: Rig) -> None:
    """OIDC Core 10.1 (OpenID RP test rp-id_token-kid-absent-single-jwks): accepted."""
    rig.idp.script.header = {"kid": DELETE, "x5t": DELETE}
    rig.sign_in()
    assert rig.idp.hits["jwks"] == 1
    rig.assert_nothing_leaked()


def test_id_token_without_kid_or_x5t_is_refused_when_the_jwks_has_several_keys(rig: Rig) -> None:
    """OIDC Core 10.1 (rp-id_token-kid-absent-multiple-jwks): refused with its own verdict, no refetch."""
    rig.idp.script.published = [rsa_key("hostile-k1"), rsa_key("hostile-k2")]
    rig.idp.script.header = {"kid": DELETE, "x5t": DELETE}
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "kid" and "could not be verified" in page.text
    assert rig.idp.hits["jwks"] == 1 and rig.idp.hits["token"] == 0


def test_id_token_naming_the_tenants_kid_but_signed_by_another_key_is_refused(rig: Rig) -> None:
    rig.idp.script.signing_key = ATTACKER
    rig.idp.script.header = {"kid": "hostile-k1", "x5t": rsa_key("hostile-k1").x5t}
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "signature"


def _token_keys(idp: HostileIdP, trick: str) -> dict[str, Any]:
    jwk: dict[str, Any] = ATTACKER.jwk()
    tricks: dict[str, dict[str, Any]] = {
        "jku": {"jku": f"{idp.url}/attacker/jwks"},
        "x5u": {"x5u": f"{idp.url}/attacker/cert.pem"},
        "jwk": {"jwk": {k: jwk[k] for k in ("kty", "n", "e", "kid")}},
        "x5c": {"x5c": jwk["x5c"]},
    }
    return tricks[trick]


@pytest.mark.parametrize("kid", ["attacker", "hostile-k1"])
@pytest.mark.parametrize("trick", ["jku", "x5u", "jwk", "x5c"])
def test_id_token_with_jku_header_is_not_fetched(rig: Rig, trick: str, kid: str) -> None:
    """jku / x5u / jwk / x5c name the attacker's key: never fetched, never trusted (RFC 8725 3.10)."""
    rig.idp.script.signing_key = ATTACKER
    rig.idp.script.header = {"kid": kid, "x5t": ATTACKER.x5t, **_token_keys(rig.idp, trick)}
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) in ("key", "signature")
    assert rig.idp.hits["jku"] == 0


def test_id_token_with_crit_header_is_refused(rig: Rig) -> None:
    rig.idp.script.header = {"crit": ["exp"], "exp": 1}  # validly signed by the tenant's key
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) == "alg"


@pytest.mark.parametrize("token", [
    "two.segments",
    "a.b.c.d",
    "....",
    "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",               # padding
    "eyJhbGciOiJSUzI1NiJ9.e30.c2l+",               # standard alphabet
    "eyJhbGciOiJSUzI1NiJ9.W10.c2ln",               # payload is a JSON array
    "bm90IGpzb24.e30.c2ln",                        # header is not JSON
], ids=["two", "four", "empty", "padding", "plus", "array", "not-json"])
def test_malformed_id_token_is_refused(rig: Rig, token: str) -> None:
    rig.idp.script.callback = lambda authz, fields: {**fields, "id_token": token}
    page = rig.attempt()
    rig.assert_refused(page, "4xx")
    assert rig.idp.hits["token"] == 0


@pytest.mark.parametrize("header", [
    '{"alg":"none","alg":"RS256","kid":"hostile-k1"}',
    '{"alg":"RS256","alg":"none","kid":"hostile-k1"}',
    '{"alg":"RS256","kid":"hostile-k1","kid":"attacker"}',
    '{"alg":"RS256 ","kid":"hostile-k1"}',
    '{"alg":["RS256"],"kid":"hostile-k1"}',
    '\ufeff{"alg":"RS256","kid":"hostile-k1"}',
], ids=["dup-alg-1", "dup-alg-2", "dup-kid", "alg-space", "alg-list", "bom"])
def test_id_token_with_ambiguous_header_is_refused(rig: Rig, header: str) -> None:
    """Two readers must never see two different headers (RFC 7515 5.2 (4), RFC 8725 3.1)."""
    rig.idp.script.id_token = lambda idp, authz, code: idp.mint(header, idp.claims_for(authz, code=code))
    page = rig.attempt()
    rig.assert_refused(page, 401)
    assert failed_check(page) in ("format", "alg")
