from __future__ import annotations

import json
from typing import Any

import pytest

from aadweb.errors import (
    AudienceMismatch,
    AuthorizedPartyMismatch,
    BackChannelMismatch,
    ClaimMissing,
    ClaimTypeInvalid,
    CodeHashMismatch,
    IssuedInFuture,
    IssuerMismatch,
    KeyNotFound,
    KeyNotNamed,
    MalformedToken,
    NonceMismatch,
    SignatureInvalid,
    TenantMismatch,
    TenantNotAllowed,
    TokenExpired,
    TokenNotYetValid,
    TokenTooOld,
    TokenValidationError,
    UnsignedTokenRefused,
    UnsupportedAlgorithm,
)
from aadweb.protocol.idtoken import (
    AllowedTenants,
    c_hash_of,
    match_back_channel,
    validate_back_channel,
    validate_front_channel,
)
from aadweb.secret import Secret
from tests.protocol.tokenfactory import (
    CLIENT_ID,
    CODE,
    DROP,
    NOW,
    OTHER_TENANT,
    TENANT,
    b64,
    claims,
    encode,
    expectations,
    header,
    keyset,
    mint,
    signers,
)

CODE_SECRET = Secret("code", CODE)


def front(token: str, **exp: Any) -> Any:
    s, s2, _ = signers()
    return validate_front_channel(Secret("id_token", token), keys=keyset(s, s2), expected=expectations(**exp),
                                  code=CODE_SECRET)


NONE_HEADER = b64(b'{"typ":"JWT","alg":"none"}')


def unsigned(**overrides: Any) -> str:
    return f"{NONE_HEADER}.{b64(json.dumps(claims(**overrides)).encode())}."


def test_validate_front_channel_accepts_a_valid_token_and_names_every_check() -> None:
    s, _, _ = signers()
    result = front(mint(s))
    assert result.claims.tid == TENANT and result.claims.oid and result.claims.name == "Adele Vance"
    checks = [v.check for v in result.verdicts]
    assert checks == ["format", "alg", "kid", "key", "signature", "claims", "tid", "iss", "aud", "exp", "nbf", "iat",
                      "age", "nonce", "c_hash"]
    assert all(v.passed and v.reference for v in result.verdicts)


def test_validate_accepts_a_token_signed_by_the_second_published_key() -> None:
    _, s2, _ = signers()
    assert front(mint(s2)).claims.tid == TENANT


def test_validate_selects_the_key_by_x5t_when_kid_is_absent() -> None:
    _, s2, _ = signers()
    assert front(mint(s2, header_overrides={"kid": DROP})).claims.tid == TENANT


def test_validate_uses_the_only_key_for_a_token_without_kid_or_x5t() -> None:
    """OIDC Core 10.1: a token that names no key is checked against the set's one signing key."""
    s, s2, _ = signers()
    token = Secret("id_token", mint(s, header_overrides={"kid": DROP, "x5t": DROP}))
    result = validate_front_channel(token, keys=keyset(s), expected=expectations(), code=CODE_SECRET)
    assert result.claims.tid == TENANT and [v.check for v in result.verdicts][2:4] == ["kid", "key"]
    with pytest.raises(SignatureInvalid):  # the only key must still verify it
        validate_front_channel(token, keys=keyset(s2), expected=expectations(), code=CODE_SECRET)


def test_validate_refuses_a_token_without_kid_or_x5t_when_the_set_has_several_keys() -> None:
    s, _, _ = signers()
    with pytest.raises(KeyNotNamed) as info:
        front(mint(s, header_overrides={"kid": DROP, "x5t": DROP}))
    assert not isinstance(info.value, KeyNotFound)  # no refetch: a new key set cannot name it either
    failed = info.value.verdicts[-1]
    assert (failed.check, failed.passed) == ("kid", False) and "OIDC 10.1" in failed.reference
    assert info.value.check == "kid" and info.value.status == 401


def test_validate_rejects_unknown_kid_as_key_not_found() -> None:
    s, _, _ = signers()
    with pytest.raises(KeyNotFound) as info:
        front(mint(s, header_overrides={"kid": "unknown", "x5t": "unknown"}))
    assert info.value.verdicts[-1].check == "key" and not info.value.verdicts[-1].passed


def test_validate_rejects_a_token_signed_by_an_unpublished_key_with_a_known_kid() -> None:
    _, _, rogue = signers()
    with pytest.raises(SignatureInvalid):
        front(mint(rogue))


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512"])
def test_validate_rejects_alg_other_than_rs256(alg: str) -> None:
    s, _, _ = signers()
    with pytest.raises(UnsupportedAlgorithm):
        front(encode(s, header(s, alg=alg), claims()))


def test_validate_rejects_alg_none_token_on_the_front_channel() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        front(unsigned())


def test_validate_rejects_hs256_keyed_with_the_public_key() -> None:
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    s, _, _ = signers()
    pem = s.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64(json.dumps(header(s, alg='HS256')).encode())}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(UnsupportedAlgorithm):
        front(f"{signing_input}.{b64(mac)}")


def test_validate_ignores_embedded_jwk_and_jku_headers() -> None:
    _, _, rogue = signers()
    token = mint(rogue, header_overrides={"kid": "attacker", "jwk": rogue.jwk(), "jku": "https://evil.example/keys",
                                          "x5c": ["MIIB"], "x5u": "https://evil.example/cert"})
    with pytest.raises(KeyNotFound):
        front(token)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"iss": f"https://sts.windows.net/{TENANT}"}, IssuerMismatch),
        ({"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0"}, IssuerMismatch),
        ({"iss": f"https://sts.windows.net/{OTHER_TENANT}/"}, IssuerMismatch),
        ({"tid": OTHER_TENANT, "iss": f"https://sts.windows.net/{OTHER_TENANT}/"}, TenantMismatch),
        ({"aud": "another-client"}, AudienceMismatch),
        ({"aud": [CLIENT_ID, "another-client"]}, AudienceMismatch),
        ({"aud": []}, AudienceMismatch),
        ({"aud": 5}, ClaimTypeInvalid),
        ({"azp": "another-client"}, AuthorizedPartyMismatch),
        ({"aud": DROP}, ClaimMissing),
        ({"exp": NOW - 121}, TokenExpired),
        ({"nbf": NOW + 121}, TokenNotYetValid),
        ({"iat": NOW + 121}, IssuedInFuture),
        ({"iat": DROP}, ClaimMissing),
        ({"iat": NOW - 24 * 3600 - 121, "exp": NOW + 3600}, TokenTooOld),
        ({"nbf": None}, ClaimTypeInvalid),
        ({"nbf": "1790000000"}, ClaimTypeInvalid),
        ({"exp": DROP}, ClaimMissing),
        ({"exp": "1790003600"}, ClaimTypeInvalid),
        ({"exp": None}, ClaimMissing),
        ({"exp": True}, ClaimTypeInvalid),
        ({"nonce": "other"}, NonceMismatch),
        ({"nonce": DROP}, NonceMismatch),
        ({"nonce": 5}, NonceMismatch),
        ({"c_hash": c_hash_of("another-code")}, CodeHashMismatch),
        ({"c_hash": DROP}, CodeHashMismatch),
        ({"oid": DROP}, ClaimMissing),
        ({"tid": DROP}, ClaimMissing),
        ({"sub": ""}, ClaimTypeInvalid),
        ({"oid": ["x"]}, ClaimTypeInvalid),
    ],
)
def test_validate_rejects_bad_claims(overrides: dict[str, Any], error: type[TokenValidationError]) -> None:
    s, _, _ = signers()
    with pytest.raises(error) as info:
        front(mint(s, **overrides))
    assert type(info.value) is error
    failed = info.value.verdicts[-1]
    assert not failed.passed and failed.detail
    assert all(v.passed for v in info.value.verdicts[:-1])
    # The error names the check that failed (a missing or mistyped aud fails the aud check as a claim error).
    assert failed.check == info.value.check or (error in (ClaimMissing, ClaimTypeInvalid) and failed.check == "aud")
    # The claim the failed check looked at: the one the test changed (or the first it broke).
    assert info.value.claim in overrides


def test_validate_rejects_exp_1e400_which_json_reads_as_infinity() -> None:
    s, _, _ = signers()
    payload = json.dumps(claims()).replace(f'"exp":{int(NOW) + 3600}', '"exp":1e400').replace(
        f'"exp": {int(NOW) + 3600}', '"exp": 1e400').encode()
    assert b"1e400" in payload
    with pytest.raises(ClaimTypeInvalid):
        front(encode(s, header(s), payload))


@pytest.mark.parametrize(("claim", "delta", "accepted"), [
    ("exp", -119, True), ("exp", -120, False), ("nbf", 120, True), ("nbf", 121, False),
    ("iat", 120, True), ("iat", 121, False),
])
def test_validate_applies_the_leeway_at_the_boundary(claim: str, delta: int, accepted: bool) -> None:
    s, _, _ = signers()
    token = mint(s, **{claim: NOW + delta})
    if accepted:
        assert front(token).claims
    else:
        with pytest.raises({"exp": TokenExpired, "nbf": TokenNotYetValid, "iat": IssuedInFuture}[claim]) as info:
            front(token)
        assert info.value.claim == claim == info.value.check


def test_validate_accepts_a_token_without_nbf() -> None:
    """OIDC Core 2 does not require nbf (RFC 7519 4.1.5: OPTIONAL): checked only when present."""
    s, _, _ = signers()
    result = front(mint(s, nbf=DROP))
    assert result.claims.nbf is None
    assert [v.check for v in result.verdicts if v.check == "nbf"] == ["nbf"]
    assert front(mint(s)).claims.nbf == NOW - 10


@pytest.mark.parametrize(("delta", "accepted"), [(-24 * 3600 - 120, True), (-24 * 3600 - 121, False)])
def test_validate_refuses_a_token_issued_more_than_24_hours_ago_whatever_its_exp(delta: int, accepted: bool) -> None:
    s, _, _ = signers()
    token = mint(s, iat=NOW + delta, nbf=NOW + delta, exp=NOW + 30 * 24 * 3600)
    if accepted:
        assert front(token).claims
        return
    with pytest.raises(TokenTooOld) as info:
        front(token)
    failed = info.value.verdicts[-1]
    assert (failed.check, failed.passed) == ("age", False) and "24 hours" in failed.reference
    assert info.value.check == "age" and info.value.status == 401


def test_validate_rejects_an_oversized_token() -> None:
    s, _, _ = signers()
    with pytest.raises(MalformedToken):
        front(mint(s, padding="x" * 20_000))


def test_multi_tenant_accepts_an_allowed_tenant_with_its_own_issuer() -> None:
    s, _, _ = signers()
    allowed = AllowedTenants(tenant_ids=frozenset({TENANT, OTHER_TENANT}))
    token = mint(s, tid=OTHER_TENANT, iss=f"https://sts.windows.net/{OTHER_TENANT}/")
    assert front(token, tenants=allowed).claims.tid == OTHER_TENANT


def test_multi_tenant_refuses_a_tenant_not_on_the_list() -> None:
    s, _, _ = signers()
    allowed = AllowedTenants(tenant_ids=frozenset({TENANT}))
    token = mint(s, tid=OTHER_TENANT, iss=f"https://sts.windows.net/{OTHER_TENANT}/")
    with pytest.raises(TenantNotAllowed):
        front(token, tenants=allowed)


def test_multi_tenant_refuses_an_issuer_naming_another_tenant_than_tid() -> None:
    s, _, _ = signers()
    allowed = AllowedTenants(tenant_ids=frozenset({TENANT, OTHER_TENANT}))
    with pytest.raises(IssuerMismatch):
        front(mint(s, tid=OTHER_TENANT), tenants=allowed)


def test_expectations_cannot_be_built_without_a_nonce_or_tenants() -> None:
    with pytest.raises(ValueError):
        expectations(nonce=Secret("nonce", ""))
    with pytest.raises(ValueError):
        AllowedTenants(tenant_ids=frozenset())


def test_back_channel_accepts_unsigned_token_only_on_a_secure_channel() -> None:
    s, _, _ = signers()
    kw: dict[str, Any] = {"keys": keyset(s), "expected": expectations()}
    result = validate_back_channel(Secret("id_token", unsigned()), channel_is_secure=True, **kw)
    assert result.claims.tid == TENANT
    assert any(v.check == "signature" and "unsigned" in v.reference for v in result.verdicts)
    with pytest.raises(UnsignedTokenRefused) as info:
        validate_back_channel(Secret("id_token", unsigned()), channel_is_secure=False, **kw)
    assert info.value.check == "signature" and info.value.claim is None
    refused = info.value.verdicts[-1]
    assert refused.check == "signature" and not refused.passed and "insecure" in refused.detail


def test_back_channel_checks_claims_of_an_unsigned_token() -> None:
    s, _, _ = signers()
    with pytest.raises(NonceMismatch):
        validate_back_channel(Secret("id_token", unsigned(nonce="x")), keys=keyset(s), expected=expectations(),
                              channel_is_secure=True)


def test_back_channel_verifies_a_signed_token() -> None:
    s, _, rogue = signers()
    assert validate_back_channel(Secret("t", mint(s)), keys=keyset(s), expected=expectations(), channel_is_secure=True)
    with pytest.raises(SignatureInvalid):
        validate_back_channel(Secret("t", mint(rogue)), keys=keyset(s), expected=expectations(), channel_is_secure=True)


def test_match_back_channel_requires_the_same_user_and_audience() -> None:
    s, _, _ = signers()
    validated = front(mint(s)).claims
    assert match_back_channel(Secret("t", unsigned()), validated).passed
    for change in ({"oid": "someone-else"}, {"tid": OTHER_TENANT}, {"aud": "other"}, {"sub": "x"},
                   {"iss": f"https://sts.windows.net/{OTHER_TENANT}/"}):
        with pytest.raises(BackChannelMismatch) as info:
            match_back_channel(Secret("t", unsigned(**change)), validated)
        assert info.value.claim == next(iter(change))
        assert [(v.check, v.passed) for v in info.value.verdicts] == [("back-channel match", False)]


def test_errors_never_contain_the_token_or_the_nonce() -> None:
    s, _, _ = signers()
    token = mint(s, nonce="other-nonce-value")
    with pytest.raises(NonceMismatch) as info:
        front(token)
    text = str(info.value) + repr(info.value.verdicts)
    assert token not in text and "other-nonce-value" not in text and "n-0S6_WzA2Mj" not in text


@pytest.mark.parametrize("claim", ["nonce", "c_hash"])
def test_a_lone_surrogate_in_nonce_or_c_hash_is_a_mismatch_not_a_crash(claim: str) -> None:
    s, _, _ = signers()
    payload = json.dumps(claims(**{claim: "PLACEHOLDER"})).replace("PLACEHOLDER", "\\ud800").encode()
    with pytest.raises(NonceMismatch if claim == "nonce" else CodeHashMismatch):
        front(encode(s, header(s), payload))


def test_every_id_token_check_failure_is_401_but_a_tenant_not_allowed_is_403() -> None:
    import aadweb.errors as errors

    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, TokenValidationError) and c is not TokenValidationError]
    assert len(classes) >= 18
    assert {c: c.status for c in classes} == {c: 403 if c is TenantNotAllowed else 401 for c in classes}
