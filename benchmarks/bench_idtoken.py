"""id_token validations per second with cached keys, as a ratio to a raw RSA verify.

Three contenders validate the same RS256 id_token, with the key already in hand:
- raw:    ``cryptography`` RSA-2048 PKCS#1 v1.5 SHA-256 verify of the signing input (the floor:
          no parsing, no claim checks) — the baseline;
- aadweb: ``validate_front_channel`` (strict parse, key by kid, verify, every claim, nonce, c_hash);
- pyjwt:  ``jwt.decode`` with RS256, audience, issuer, leeway and required claims (no nonce,
          c_hash, tid or kid checks).
Target (issue 2): aadweb >= 0.6x raw.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from aadweb.protocol.endpoint import v1_endpoint
from aadweb.protocol.http import HttpResponse
from aadweb.protocol.idtoken import IdTokenExpectations, SingleTenant, validate_front_channel
from aadweb.protocol.jwks import parse_jwks
from aadweb.secret import Secret
from benchmarks._timing import best_rate

TENANT = "6f3c1a52-9b7e-4d2a-8c1f-2a9e5b7d4c10"
CLIENT = "3c9d6b8e-1f2a-4b7c-9d0e-5a6b7c8d9e0f"
CODE = "OAQABAAIAAAB-benchmark-code"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def run(seconds: float = 6.0) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    now = time.time()
    header = {"typ": "JWT", "alg": "RS256", "x5t": "k1", "kid": "k1"}
    claims = {
        "aud": CLIENT, "iss": f"https://sts.windows.net/{TENANT}/", "iat": int(now), "nbf": int(now),
        "exp": int(now) + 3600, "amr": ["pwd"], "family_name": "Vance", "given_name": "Adele", "ipaddr": "127.0.0.1",
        "name": "Adele Vance", "nonce": "bench-nonce", "oid": "5f1c6e3a-8d2b-4c7e-9a1f-0e2d3c4b5a69",
        "sub": "pairwise", "tid": TENANT, "unique_name": "adele@contoso.example", "upn": "adele@contoso.example",
        "ver": "1.0", "c_hash": _b64(hashlib.sha256(CODE.encode()).digest()[:16]),
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    token = f"{signing_input.decode()}.{_b64(signature)}"

    jwk = {**json.loads(RSAAlgorithm.to_jwk(public)), "kid": "k1", "x5t": "k1", "use": "sig"}
    keys = parse_jwks(HttpResponse(status=200, body=json.dumps({"keys": [jwk]}).encode()))
    secret_token, secret_code = Secret("id_token", token), Secret("code", CODE)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def raw() -> None:
        public.verify(signature, signing_input, pkcs1, sha256)

    def aadweb() -> None:
        expected = IdTokenExpectations(client_id=CLIENT, endpoint=v1_endpoint("https://sts.windows.net/"),
                                       tenants=SingleTenant(tenant_id=TENANT), nonce=Secret("nonce", "bench-nonce"),
                                       now=time.time(), leeway=120)
        validate_front_channel(secret_token, keys=keys, expected=expected, code=secret_code)

    def pyjwt() -> None:
        jwt.decode(token, key=public, algorithms=["RS256"], audience=CLIENT,
                   issuer=f"https://sts.windows.net/{TENANT}/", leeway=120,
                   options={"require": ["exp", "iat", "nbf", "iss", "aud"]})

    aadweb()
    pyjwt()
    rates = best_rate({"raw": raw, "aadweb": aadweb, "pyjwt": pyjwt}, seconds=seconds)
    return {
        "name": "id_token validation (cached keys)",
        "unit": "validations/s",
        "rates": rates,
        "ratios": {k: v / rates["raw"] for k, v in rates.items()},
        "target": {"aadweb": 0.6},
        "baseline": "raw",
    }


if __name__ == "__main__":
    result = run()
    for name, rate in result["rates"].items():
        print(f"{name:8s} {rate:10.0f} /s  {result['ratios'][name]:.2f}x raw")
