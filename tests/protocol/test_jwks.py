from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from aadweb.errors import AuthorityError, AuthorityUnavailable, InvalidResponse, KeyNotFound
from aadweb.protocol.http import HttpResponse
from aadweb.protocol.jwks import build_jwks_request, parse_jwks
from tests.protocol.tokenfactory import signers


def answer(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status=status, body=json.dumps(body).encode())


def test_parse_jwks_keeps_rsa_signing_keys_by_kid_and_x5t() -> None:
    s, s2, _ = signers()
    keys = parse_jwks(answer({"keys": [s.jwk(), s2.jwk()]}))
    assert keys.kids == {"kid-one", "kid-two"}
    assert keys.find({"kid": "kid-two"}) is keys.find({"x5t": "kid-two"})
    assert keys.find({"kid": "nope", "x5t": "kid-one"}) is None  # kid wins when present


def test_parse_jwks_ignores_enc_keys_other_algs_small_keys_and_garbage() -> None:
    s, _, _ = signers()
    small = json.loads(RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()))
    ec_key = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    extra = [
        s.jwk(kid="enc", use="enc"),
        s.jwk(kid="rs512", alg="RS512"),
        {**small, "kid": "small", "use": "sig"},
        {**ec_key, "kid": "ec", "use": "sig"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "RSA", "kid": 42, "n": s.jwk()["n"], "e": "AQAB"},  # a kid that is not a string
        "not-an-object",
    ]
    keys = parse_jwks(answer({"keys": [s.jwk(), *extra]}))
    assert keys.kids == {"kid-one"} and keys.ignored == len(extra)


def test_parse_jwks_keeps_rsa_keys_without_use_as_signing_keys() -> None:
    """DESIGN.md: RSA keys with use "sig" or without use are signing keys (RFC 7517 4.2: OPTIONAL)."""
    s, s2, _ = signers()
    no_use = {k: v for k, v in s2.jwk().items() if k != "use"}
    keys = parse_jwks(answer({"keys": [s.jwk(), no_use]}))
    assert keys.kids == {"kid-one", "kid-two"} and keys.ignored == 0


def test_parse_jwks_keeps_a_key_without_kid_or_x5t_as_the_only_key() -> None:
    s, _, _ = signers()
    bare = {k: v for k, v in s.jwk().items() if k not in ("kid", "x5t", "use")}
    keys = parse_jwks(answer({"keys": [bare]}))
    assert keys.only_key is not None and keys.kids == frozenset() and keys.find({"kid": "kid-one"}) is None


@pytest.mark.parametrize("body", [{"keys": "x"}, {}, [1]])
def test_parse_jwks_refuses_an_answer_that_is_not_a_key_set(body: Any) -> None:
    with pytest.raises(InvalidResponse):
        parse_jwks(answer(body))


@pytest.mark.parametrize("keys", [[], [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}], ["not-an-object"]])
def test_parse_jwks_without_a_usable_key_leaves_tokens_without_a_key(keys: Any) -> None:
    """DESIGN.md: "no usable key" is an id_token check that failed (401), not a broken answer."""
    with pytest.raises(KeyNotFound):
        parse_jwks(answer({"keys": keys}))


def test_parse_jwks_refuses_errors_and_non_json() -> None:
    with pytest.raises(AuthorityError) as info:
        parse_jwks(answer({"keys": []}, status=500))
    assert info.value.error == "server_error" and info.value.status == 502
    with pytest.raises(AuthorityUnavailable):
        parse_jwks(HttpResponse(status=503, headers={"retry-after": "5"}, body=b"<html>"))
    with pytest.raises(InvalidResponse):
        parse_jwks(answer({"keys": []}, status=404))
    with pytest.raises(InvalidResponse):
        parse_jwks(HttpResponse(status=200, body=b"<html>"))


def test_build_jwks_request_adds_appid_when_asked() -> None:
    plain = build_jwks_request("https://login.example/t/discovery/keys", client_request_id="crid-1")
    assert plain.url.endswith("/discovery/keys")
    assert plain.headers["client-request-id"] == "crid-1" and plain.headers["return-client-request-id"] == "true"
    keys = "https://login.example/t/discovery/keys"
    assert build_jwks_request(keys, app_id="abc", client_request_id="c").url.endswith("keys?appid=abc")
    assert build_jwks_request("https://x.example/k?v=1", app_id="a b", client_request_id="c").url.endswith(
        "?v=1&appid=a+b")
