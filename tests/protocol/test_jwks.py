from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from aadweb.errors import InvalidResponse
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
        {k: v for k, v in s.jwk(kid="no-use").items() if k != "use"},
        s.jwk(kid="rs512", alg="RS512"),
        {**small, "kid": "small", "use": "sig"},
        {**ec_key, "kid": "ec", "use": "sig"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "RSA", "n": s.jwk()["n"], "e": "AQAB"},  # no kid nor x5t
        "not-an-object",
    ]
    keys = parse_jwks(answer({"keys": [s.jwk(), *extra]}))
    assert keys.kids == {"kid-one"} and keys.ignored == len(extra)


@pytest.mark.parametrize("body", [{"keys": []}, {"keys": "x"}, {}, [1]])
def test_parse_jwks_refuses_a_set_without_usable_keys(body: Any) -> None:
    with pytest.raises(InvalidResponse):
        parse_jwks(answer(body))


def test_parse_jwks_refuses_errors_and_non_json() -> None:
    with pytest.raises(InvalidResponse):
        parse_jwks(answer({"keys": []}, status=500))
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
