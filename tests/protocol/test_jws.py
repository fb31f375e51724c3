from __future__ import annotations

import json

import pytest

from aadweb.errors import MalformedToken, SignatureInvalid, UnsupportedAlgorithm
from aadweb.protocol.jws import MAX_TOKEN_BYTES, b64url_decode, parse_compact, parse_unsigned, peek_header, verify_rs256
from tests.protocol.tokenfactory import b64, claims, encode, header, mint, signers


def test_parse_compact_accepts_a_well_formed_rs256_token() -> None:
    s, _, _ = signers()
    jws = parse_compact(mint(s))
    assert jws.header["kid"] == "kid-one"
    assert jws.payload["tid"]
    verify_rs256(jws, s.key.public_key())


@pytest.mark.parametrize("segment", ["abc=", "ab+c", "ab/c", "a", "ab c", "ab\nc", "é"])
def test_b64url_decode_refuses_non_base64url(segment: str) -> None:
    with pytest.raises(MalformedToken):
        b64url_decode(segment)


def test_b64url_decode_refuses_non_canonical_trailing_bits() -> None:
    assert b64url_decode("QQ") == b"A"
    with pytest.raises(MalformedToken):
        b64url_decode("QR")  # same bytes, other trailing bits


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "..", "a..c"])
def test_parse_compact_refuses_wrong_segment_counts_and_empty_parts(token: str) -> None:
    with pytest.raises((MalformedToken, UnsupportedAlgorithm)):
        parse_compact(token)


def test_parse_compact_refuses_oversized_token_before_decoding() -> None:
    with pytest.raises(MalformedToken, match="larger"):
        parse_compact("a" * (MAX_TOKEN_BYTES + 1))


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512", "PS256", "ES256", "rs256", None, 256])
def test_parse_compact_refuses_any_alg_but_rs256(alg: object) -> None:
    s, _, _ = signers()
    with pytest.raises(UnsupportedAlgorithm):
        parse_compact(encode(s, header(s, alg=alg), claims()))


def test_parse_compact_refuses_crit_header() -> None:
    s, _, _ = signers()
    with pytest.raises(UnsupportedAlgorithm, match="crit"):
        parse_compact(encode(s, header(s, crit=["exp"]), claims()))


def test_parse_compact_refuses_duplicate_member_names() -> None:
    s, _, _ = signers()
    payload = b'{"tid":"a","tid":"b"}'
    with pytest.raises(MalformedToken):
        parse_compact(encode(s, header(s), payload))


@pytest.mark.parametrize("payload", [b'{"exp": NaN}', b'{"exp": Infinity}', b"[1,2]", b'"str"', b"{", b"\xff\xfe"])
def test_parse_compact_refuses_non_object_or_non_standard_json(payload: bytes) -> None:
    s, _, _ = signers()
    with pytest.raises(MalformedToken):
        parse_compact(encode(s, header(s), payload))


def test_parse_compact_refuses_trailing_data_after_json() -> None:
    s, _, _ = signers()
    with pytest.raises(MalformedToken):
        parse_compact(encode(s, header(s), json.dumps(claims()).encode() + b" {}"))


def test_verify_rs256_refuses_a_token_signed_by_another_key() -> None:
    s, _, rogue = signers()
    with pytest.raises(SignatureInvalid):
        verify_rs256(parse_compact(mint(rogue)), s.key.public_key())


def test_verify_rs256_refuses_a_modified_payload() -> None:
    s, _, _ = signers()
    h, _, sig = mint(s).split(".")
    forged = f"{h}.{b64(json.dumps(claims(name='Mallory')).encode())}.{sig}"
    with pytest.raises(SignatureInvalid):
        verify_rs256(parse_compact(forged), s.key.public_key())


def test_parse_unsigned_accepts_alg_none_with_empty_signature_only() -> None:
    s, _, _ = signers()
    none_header = b64(b'{"typ":"JWT","alg":"none"}')
    unsigned = f"{none_header}.{b64(json.dumps(claims()).encode())}."
    assert parse_unsigned(unsigned).payload["tid"]
    with pytest.raises(UnsupportedAlgorithm):
        parse_unsigned(mint(s))
    with pytest.raises(UnsupportedAlgorithm):
        parse_unsigned(unsigned + "c2ln")


def test_peek_header_reads_the_header_without_trusting_it() -> None:
    s, _, _ = signers()
    assert peek_header(mint(s))["alg"] == "RS256"
