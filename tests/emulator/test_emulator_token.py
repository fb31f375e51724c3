"""The token endpoint: client authentication, grants, PKCE, the v1 answer and its errors."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from aadweb.emulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    DEMO_USERS,
    GRAPH_RESOURCE,
    ClientRegistration,
    Emulator,
)
from tests.certs import make_certificate_pem

from .support import (
    REDIRECT_URI,
    FakeClock,
    Pkce,
    b64url,
    b64url_json,
    code_flow,
    error_codes,
    redeem,
    token_request,
)

CERT_CLIENT = "7d2c4e6a-8b0f-4a1c-9e3d-5f7a9b1c3d5e"


def test_secret_in_form_gets_a_v1_answer_with_numbers_as_strings(base: str, emu: Emulator) -> None:
    resp = redeem(base, code_flow(base)["code"])
    assert resp.status_code == 200 and resp.headers["Cache-Control"].startswith("no-store")
    body = resp.json()
    assert list(body) == ["token_type", "scope", "expires_in", "ext_expires_in", "expires_on",
                          "not_before", "resource", "access_token", "refresh_token", "id_token"]
    assert body["token_type"] == "Bearer" and body["scope"] == "User.Read"
    assert body["expires_in"] == "3599" and body["ext_expires_in"] == "3599"
    assert body["expires_on"] == str(1_760_000_000 + 3599) and body["not_before"] == "1760000000"
    assert body["resource"] == GRAPH_RESOURCE
    minted = emu.minted_secrets()
    assert {body["access_token"], body["refresh_token"], body["id_token"]} <= minted


def test_token_endpoint_id_token_is_unsigned(base: str) -> None:
    id_token = redeem(base, code_flow(base)["code"]).json()["id_token"]
    assert id_token.endswith(".") and id_token.count(".") == 2
    header, claims = (b64url_json(part) for part in id_token.split(".")[:2])
    assert header == {"typ": "JWT", "alg": "none"}
    assert claims["aud"] == DEMO_CLIENT_ID and claims["tid"] == DEMO_TENANT_ID
    assert claims["oid"] == DEMO_USERS[0].oid and claims["ver"] == "1.0"
    assert "nonce" not in claims and "c_hash" not in claims


def test_token_endpoint_id_token_repeats_the_authorize_nonce_but_not_on_refresh(base: str) -> None:
    body = redeem(base, code_flow(base, nonce="n-789")["code"]).json()
    claims = b64url_json(body["id_token"].split(".")[1])
    assert claims["nonce"] == "n-789" and "c_hash" not in claims
    refreshed = token_request(base, {
        "grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET, "refresh_token": body["refresh_token"]}).json()
    assert "nonce" not in b64url_json(refreshed["id_token"].split(".")[1])


def test_access_token_is_a_graph_style_jwt(base: str, emu: Emulator) -> None:
    token = redeem(base, code_flow(base)["code"]).json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["nonce"]
    key = jwt.PyJWK(emu.signing_jwk_public()).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=GRAPH_RESOURCE,
                        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert claims["scp"] == "User.Read" and claims["oid"] == DEMO_USERS[0].oid
    assert claims["exp"] == 1_760_000_000 + 3599 and claims["appid"] == DEMO_CLIENT_ID


def test_client_secret_basic_is_accepted_and_form_urlencoded(base: str, emu: Emulator) -> None:
    emu.register_client(ClientRegistration(client_id="basic-app", client_secret="p@ss:w rd+=",
                                           redirect_uris=(REDIRECT_URI,), multi_tenant=True))
    code = code_flow(base, client_id="basic-app")["code"]
    # RFC 6749 2.3.1: id and secret are form-urlencoded, then base64'd
    auth = ("basic-app", "p%40ss%3Aw+rd%2B%3D")
    resp = redeem(base, code, client_id=None, client_secret=None, auth=auth)
    assert resp.status_code == 200, resp.text


def test_using_two_authentication_methods_is_refused(base: str) -> None:
    code = code_flow(base)["code"]
    resp = redeem(base, code, auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_wrong_secret_is_401_with_the_azure_error_body(base: str) -> None:
    request_id = str(uuid.uuid4())
    resp = redeem(base, code_flow(base)["code"], client_secret="wrong",
                  headers={"client-request-id": request_id, "return-client-request-id": "true"})
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id",
                         "correlation_id", "error_uri"}
    assert body["correlation_id"] == request_id and body["timestamp"] == "2025-10-09 08:53:20Z"
    assert body["error_description"] == (
        f"AADSTS7000215: {body['error_description'].split(': ', 1)[1].split(chr(13))[0]}\r\n"
        f"Trace ID: {body['trace_id']}\r\nCorrelation ID: {request_id}\r\n"
        f"Timestamp: {body['timestamp']}")
    assert resp.headers["client-request-id"] == request_id
    assert resp.headers["x-ms-request-id"] == body["trace_id"]


def test_no_echo_without_return_client_request_id(base: str) -> None:
    resp = redeem(base, "nope", headers={"client-request-id": str(uuid.uuid4())})
    assert "client-request-id" not in resp.headers


@pytest.mark.parametrize(("form", "status", "error", "aadsts"), [
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 400, "unauthorized_client", 700016),
    ({"client_secret": None}, 401, "invalid_client", 7000218),
    ({"grant_type": None}, 400, "invalid_request", 900144),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"code": None}, 400, "invalid_request", 900144),
    ({"code": "AQABAAIAAAunknown"}, 400, "invalid_grant", 70008),
    ({"redirect_uri": "http://127.0.0.1:5000/getAToken"}, 400, "invalid_grant", 50011),
    ({"redirect_uri": None}, 400, "invalid_request", 900144),
    ({"resource": "https://management.azure.com/"}, 400, "invalid_grant", 70000),
    ({"resource": "https://nosuch.example"}, 400, "invalid_grant", 70000),
    ({"code_verifier": "x" * 43}, 400, "invalid_grant", 501481),
])
def test_token_errors_are_azure_shaped(
    base: str, form: dict[str, Any], status: int, error: str, aadsts: int
) -> None:
    resp = redeem(base, code_flow(base)["code"], **form)
    assert (resp.status_code, resp.json()["error"], error_codes(resp)) == (status, error, [aadsts])


def test_unknown_resource_without_one_at_authorize_is_invalid_resource(base: str) -> None:
    code = code_flow(base, resource=None)["code"]
    resp = redeem(base, code, resource="https://nosuch.example")
    assert resp.json()["error"] == "invalid_resource" and error_codes(resp) == [500011]
    assert redeem(base, code, resource=None).json()["error"] == "invalid_request"
    assert redeem(base, code).status_code == 200


def test_a_code_works_once(base: str) -> None:
    code = code_flow(base)["code"]
    assert redeem(base, code).status_code == 200
    again = redeem(base, code)
    assert again.json()["error"] == "invalid_grant" and error_codes(again) == [54005]


def test_a_failed_redemption_does_not_use_the_code_up(base: str) -> None:
    code = code_flow(base)["code"]
    assert redeem(base, code, client_secret="wrong").status_code == 401
    assert redeem(base, code).status_code == 200


def test_a_code_expires_after_ten_minutes_on_the_emulator_clock(base: str, clock: FakeClock) -> None:
    code = code_flow(base)["code"]
    clock.now += 601
    assert error_codes(redeem(base, code)) == [70008]


def test_pkce_s256_and_plain(base: str) -> None:
    pkce = Pkce.make()
    code = code_flow(base, pkce)["code"]
    assert error_codes(redeem(base, code, code_verifier=None)) == [501481]
    assert error_codes(redeem(base, code, code_verifier=Pkce.make().verifier)) == [501481]
    assert redeem(base, code, code_verifier=pkce.verifier).status_code == 200
    plain = "p" * 50
    code = code_flow(base, code_challenge=plain, code_challenge_method="plain")["code"]
    assert redeem(base, code, code_verifier=plain).status_code == 200


def test_refresh_is_multi_resource_and_keeps_the_old_refresh_token(base: str) -> None:
    first = redeem(base, code_flow(base)["code"]).json()
    form = {"grant_type": "refresh_token", "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET, "refresh_token": first["refresh_token"]}
    again = token_request(base, form).json()
    assert again["refresh_token"] != first["refresh_token"]
    assert again["resource"] == GRAPH_RESOURCE and again["access_token"] != first["access_token"]
    assert again["id_token"].endswith(".")
    other = token_request(base, {**form, "resource": "https://management.azure.com/"}).json()
    assert other["resource"] == "https://management.azure.com/"
    assert other["scope"] == "user_impersonation"
    assert token_request(base, {**form, "refresh_token": "AQAB-unknown"}).json()["error_codes"] == [70008]
    assert token_request(base, {**form, "client_secret": "bad"}).status_code == 401


def test_a_refresh_token_belongs_to_its_client(base: str, emu: Emulator) -> None:
    emu.register_client(ClientRegistration(client_id="other", client_secret="s",
                                           redirect_uris=(REDIRECT_URI,)))
    token = redeem(base, code_flow(base)["code"]).json()["refresh_token"]
    resp = token_request(base, {"grant_type": "refresh_token", "client_id": "other",
                                "client_secret": "s", "refresh_token": token})
    assert resp.json()["error"] == "invalid_grant"


def test_public_client_sends_no_credential(base: str, emu: Emulator) -> None:
    emu.register_client(ClientRegistration(client_id="public", redirect_uris=(REDIRECT_URI,)))
    code = code_flow(base, client_id="public")["code"]
    assert error_codes(redeem(base, code, client_id="public")) == [700025]
    assert redeem(base, code, client_id="public", client_secret=None).status_code == 200


# ----------------------------------------------------------------- client_assertion

@pytest.fixture
def cert_client(emu: Emulator) -> RSAPrivateKey:
    pem, cert_pem = make_certificate_pem()
    emu.register_client(ClientRegistration(client_id=CERT_CLIENT, redirect_uris=(REDIRECT_URI,),
                                           certificate_pem=cert_pem))
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


def assertion(base: str, key: RSAPrivateKey, emu: Emulator, **changes: Any) -> str:
    client = emu.directory.client(CERT_CLIENT)
    assert client is not None
    prints = client.thumbprints()
    assert prints is not None
    claims = {"aud": f"{base}/{DEMO_TENANT_ID}/oauth2/token", "iss": CERT_CLIENT,
              "sub": CERT_CLIENT, "jti": str(uuid.uuid4()), "nbf": int(emu.clock()),
              "exp": int(emu.clock()) + 600}
    header = {"x5t": changes.pop("x5t", prints[0])}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key,
                      algorithm="RS256", headers=header)


def redeem_with_assertion(base: str, token: str) -> requests.Response:
    code = code_flow(base, client_id=CERT_CLIENT)["code"]
    return redeem(base, code, client_id=CERT_CLIENT, client_secret=None,
                  client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                  client_assertion=token)


def test_client_assertion_signed_with_the_registered_certificate(
    base: str, emu: Emulator, cert_client: RSAPrivateKey
) -> None:
    assert redeem_with_assertion(base, assertion(base, cert_client, emu)).status_code == 200


@pytest.mark.parametrize(("changes", "aadsts"), [
    ({"aud": "https://login.microsoftonline.com/x/oauth2/token"}, 50027),
    ({"x5t": b64url(b"\x00" * 20)}, 700027),
    ({"exp": 1_000}, 700024),
    ({"iss": "someone-else"}, 700021),
    ({"jti": None}, 50027),
])
def test_bad_client_assertions_are_invalid_client(
    base: str, emu: Emulator, cert_client: RSAPrivateKey, changes: dict[str, Any], aadsts: int
) -> None:
    resp = redeem_with_assertion(base, assertion(base, cert_client, emu, **changes))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert error_codes(resp) == [aadsts]


def test_client_assertion_signed_by_another_key_is_refused(
    base: str, emu: Emulator, cert_client: RSAPrivateKey
) -> None:
    other_pem, _ = make_certificate_pem()
    other = load_pem_private_key(other_pem, password=None)
    assert isinstance(other, RSAPrivateKey)
    token = assertion(base, other, emu)  # the registered cert's x5t, the wrong key
    resp = redeem_with_assertion(base, token)
    assert resp.status_code == 401 and error_codes(resp) == [700027]
