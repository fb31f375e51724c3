from __future__ import annotations

import pytest

from aadweb.protocol.pkce import check_verifier, code_challenge_s256
from aadweb.secret import Secret

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_code_challenge_s256_matches_rfc7636_appendix_b() -> None:
    assert code_challenge_s256(RFC7636_VERIFIER) == RFC7636_CHALLENGE


def test_code_challenge_s256_accepts_a_secret_verifier() -> None:
    assert code_challenge_s256(Secret("code_verifier", RFC7636_VERIFIER)) == RFC7636_CHALLENGE


@pytest.mark.parametrize("verifier", ["a" * 43, "A" * 128, "az-._~09" * 6])
def test_check_verifier_accepts_43_to_128_unreserved_characters(verifier: str) -> None:
    check_verifier(verifier)


@pytest.mark.parametrize(
    "verifier",
    ["", "a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "=", "a" * 42 + " ", "a" * 42 + "\u00e9", "a" * 43 + "\n"],
)
def test_check_verifier_refuses_wrong_length_or_characters(verifier: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 7636 4\.1"):
        check_verifier(verifier)


def test_code_challenge_s256_refuses_an_invalid_verifier() -> None:
    with pytest.raises(ValueError):
        code_challenge_s256("short")
