from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from aadweb.errors import AuthorityError, InvalidResponse
from aadweb.protocol.client_assertion import CLIENT_ASSERTION_TYPE, ClientCertificate
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.protocol.token import (
    ClientAssertionCredential,
    ClientCredential,
    ClientSecretPost,
    build_code_redemption,
    build_refresh,
    parse_token_response,
    token_endpoint_url,
)
from aadweb.secret import Secret

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ENDPOINT = "https://login.microsoftonline.com/contoso/oauth2/token"
NOW = 1_700_000_000.0
CODE = Secret("code", "OAQABAAIAAAB-the-code")
VERIFIER = Secret("code_verifier", "v" * 43 + "-verifier")
CLIENT_SECRET = Secret("client_secret", "s3cr3t~value")
REFRESH = Secret("refresh_token", "0.AAAA-refresh")
TRACE = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CORRELATION = "aaaa0000-bb11-2222-33cc-444444dddddd"
CLIENT_REQUEST_ID = "c0ffee00-0000-4000-8000-000000000000"


def certificate() -> ClientCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aadweb test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)
    return ClientCertificate.from_pem(pem)


def redeem(credential: ClientCredential, **changes: Any) -> HttpRequest:
    kwargs: dict[str, Any] = {
        "token_endpoint": ENDPOINT,
        "client_id": CLIENT_ID,
        "code": CODE,
        "redirect_uri": "http://localhost:5000/getAToken",
        "resource": "https://graph.microsoft.com",
        "code_verifier": VERIFIER,
        "credential": credential,
        "now": NOW,
        "jti": "jti-1",
        "client_request_id": CLIENT_REQUEST_ID,
    }
    kwargs.update(changes)
    return build_code_redemption(**kwargs)


def response(status: int, body: object | bytes, **headers: str) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status=status, headers=headers, body=raw)


def ok(**changes: object) -> HttpResponse:
    body: dict[str, object] = {
        "token_type": "Bearer",
        "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6IngifQ.access.sig",
        "expires_in": "3599",
        "ext_expires_in": "3599",
        "expires_on": "1",
        "not_before": "1699999700",
        "resource": "https://graph.microsoft.com",
        "scope": "User.Read",
        "refresh_token": "0.AAAA-refresh",
        "id_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.",
    }
    body.update(changes)
    return response(200, {k: v for k, v in body.items() if v is not ...})


# --- building requests ---------------------------------------------------------------------


def test_token_endpoint_url_appends_the_v1_path() -> None:
    assert token_endpoint_url("https://login.microsoftonline.com/contoso") == ENDPOINT
    assert token_endpoint_url("https://login.microsoftonline.com/contoso/") == ENDPOINT


def test_build_code_redemption_with_client_secret_post_sends_every_field() -> None:
    req = redeem(ClientSecretPost(secret=CLIENT_SECRET))
    assert req.method == "POST" and req.url == ENDPOINT
    assert req.revealed_form() == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": CODE.reveal(),
        "redirect_uri": "http://localhost:5000/getAToken",
        "resource": "https://graph.microsoft.com",
        "code_verifier": VERIFIER.reveal(),
        "client_secret": CLIENT_SECRET.reveal(),
    }
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in req.headers


def test_build_code_redemption_keeps_secrets_out_of_repr() -> None:
    req = redeem(ClientSecretPost(secret=CLIENT_SECRET))
    text = repr(req)
    for secret in (CODE, VERIFIER, CLIENT_SECRET):
        assert secret.reveal() not in text
        assert secret.fingerprint in text
    body = req.encoded_body()
    assert body is not None
    assert parse_qs(body.decode())["client_secret"] == [CLIENT_SECRET.reveal()]


def test_build_code_redemption_with_certificate_sends_a_client_assertion() -> None:
    req = redeem(ClientAssertionCredential(certificate=certificate()))
    assert req.form is not None
    assert req.form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assertion = req.form["client_assertion"]
    assert isinstance(assertion, Secret)
    assert assertion.reveal() not in repr(req)
    claims = jwt.decode(assertion.reveal(), options={"verify_signature": False})
    assert claims["aud"] == ENDPOINT and claims["jti"] == "jti-1" and claims["iat"] == 1_700_000_000
    assert "client_secret" not in req.form


def test_build_code_redemption_sends_the_client_request_id_it_is_given() -> None:
    req = redeem(ClientSecretPost(secret=CLIENT_SECRET))
    assert req.headers["client-request-id"] == CLIENT_REQUEST_ID
    assert req.headers["return-client-request-id"] == "true"
    with pytest.raises(ValueError):
        redeem(ClientSecretPost(secret=CLIENT_SECRET), client_request_id="a\r\nb")


@pytest.mark.parametrize(
    "changes",
    [
        {"code_verifier": Secret("code_verifier", "short")},
        {"code": Secret("code", "")},
        {"resource": ""},
        {"redirect_uri": ""},
        {"client_id": ""},
    ],
)
def test_build_code_redemption_refuses_invalid_arguments(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        redeem(ClientSecretPost(secret=CLIENT_SECRET), **changes)


def test_client_secret_post_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        ClientSecretPost(secret=Secret("client_secret", ""))


def test_build_refresh_sends_the_refresh_grant() -> None:
    req = build_refresh(
        token_endpoint=ENDPOINT,
        client_id=CLIENT_ID,
        refresh_token=REFRESH,
        resource="https://graph.microsoft.com",
        credential=ClientSecretPost(secret=CLIENT_SECRET),
        now=NOW,
        jti="j",
        client_request_id=CLIENT_REQUEST_ID,
    )
    assert req.headers["client-request-id"] == CLIENT_REQUEST_ID
    assert req.revealed_form() == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "refresh_token": REFRESH.reveal(),
        "resource": "https://graph.microsoft.com",
        "client_secret": CLIENT_SECRET.reveal(),
    }
    assert REFRESH.reveal() not in repr(req)


# --- parsing success -----------------------------------------------------------------------


def test_parse_token_response_reads_v1_numbers_as_strings() -> None:
    t = parse_token_response(ok(), now=NOW)
    assert t.token_type == "Bearer"
    assert t.access_token.reveal().startswith("eyJ0eXAi")
    assert t.refresh_token == REFRESH
    assert t.expires_on == NOW + 3599
    assert t.not_before == 1_699_999_700
    assert t.resource == "https://graph.microsoft.com"
    assert t.scope == "User.Read"
    assert t.id_token is not None and t.id_token.kind == "id_token"


def test_parse_token_response_reads_json_numbers() -> None:
    t = parse_token_response(ok(expires_in=3599, not_before=1_699_999_700), now=NOW)
    assert t.expires_on == NOW + 3599
    assert t.not_before == 1_699_999_700
    assert parse_token_response(ok(expires_in=12.5), now=NOW).expires_on == NOW + 12.5
    assert parse_token_response(ok(expires_in="12.5"), now=NOW).expires_on == NOW + 12.5


def test_parse_token_response_ignores_the_servers_expires_on() -> None:
    assert parse_token_response(ok(expires_on="99999999999"), now=NOW).expires_on == NOW + 3599


def test_parse_token_response_without_expires_in_uses_the_servers_expires_on() -> None:
    """RFC 6749 5.1: expires_in is only RECOMMENDED; v1 also sends expires_on (epoch seconds)."""
    assert parse_token_response(ok(expires_in=..., expires_on="1700001800"), now=NOW).expires_on == 1_700_001_800
    assert parse_token_response(ok(expires_in=..., expires_on=1_700_000_900), now=NOW).expires_on == 1_700_000_900


def test_parse_token_response_without_expires_in_or_expires_on_assumes_the_short_default() -> None:
    t = parse_token_response(ok(expires_in=..., expires_on=...), now=NOW)
    assert t.expires_on == NOW + 600  # token.DEFAULT_EXPIRES_IN, the documented default


@pytest.mark.parametrize("value", ["soon", "-1", -5, True, [1], str(int(NOW) + 367 * 86400)])
def test_parse_token_response_without_expires_in_refuses_a_bad_expires_on(value: object) -> None:
    with pytest.raises(InvalidResponse, match="expires_on"):
        parse_token_response(ok(expires_in=..., expires_on=value), now=NOW)


def test_parse_token_response_accepts_bearer_in_any_case() -> None:
    assert parse_token_response(ok(token_type="bearer"), now=NOW).token_type == "Bearer"


def test_parse_token_response_allows_optional_fields_to_be_absent() -> None:
    t = parse_token_response(
        ok(refresh_token=..., id_token=..., not_before=..., resource=..., scope=..., expires_on=...), now=NOW
    )
    assert t.refresh_token is None and t.id_token is None and t.not_before is None
    assert t.resource is None and t.scope is None


def test_parse_token_response_repr_shows_no_token() -> None:
    t = parse_token_response(ok(), now=NOW)
    assert "access" not in repr(t).replace("access_token", "")
    assert "0.AAAA-refresh" not in repr(t)


# --- parsing refusals ----------------------------------------------------------------------


def test_parse_token_response_refuses_mac_token_type() -> None:
    with pytest.raises(InvalidResponse, match=r"token_type is not Bearer \(RFC 6749 7.1\)"):
        parse_token_response(ok(token_type="mac"), now=NOW)


@pytest.mark.parametrize("field", ["token_type", "access_token"])
def test_parse_token_response_refuses_a_missing_required_field(field: str) -> None:
    with pytest.raises(InvalidResponse, match=field):
        parse_token_response(ok(**{field: ...}), now=NOW)


def test_parse_token_response_refuses_an_empty_access_token() -> None:
    with pytest.raises(InvalidResponse, match="access_token"):
        parse_token_response(ok(access_token=""), now=NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("access_token", 987654321),
        ("access_token", ["leak-list"]),
        ("refresh_token", 7654321),
        ("id_token", {"leak": 1}),
        ("token_type", 1234567),
        ("resource", 2345678),
        ("scope", ["leak-scope"]),
        ("not_before", "leak-soon"),
    ],
)
def test_parse_token_response_refuses_a_mistyped_field_naming_it_but_not_its_value(field: str, value: object) -> None:
    with pytest.raises(InvalidResponse, match=field) as info:
        parse_token_response(ok(**{field: value}), now=NOW)
    message = str(info.value)
    assert "leak" not in message and "4567" not in message


@pytest.mark.parametrize("value", ["abc", "-1", -1, "1e3", "", " 5", "0x10", "\u0663", True, False, [1], {"a": 1}])
def test_parse_token_response_refuses_bad_expires_in(value: object) -> None:
    with pytest.raises(InvalidResponse, match="expires_in"):
        parse_token_response(ok(expires_in=value), now=NOW)


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"1e20", b"99999999999999999999999"])
def test_parse_token_response_refuses_non_finite_or_huge_expires_in(literal: bytes) -> None:
    body = b'{"token_type":"Bearer","access_token":"a","expires_in":' + literal + b"}"
    with pytest.raises(InvalidResponse, match="expires_in"):
        parse_token_response(HttpResponse(status=200, body=body), now=NOW)


def test_parse_token_response_refuses_expires_in_over_a_year() -> None:
    with pytest.raises(InvalidResponse, match="expires_in"):
        parse_token_response(ok(expires_in=str(367 * 86400)), now=NOW)


def test_parse_token_response_refuses_a_body_that_is_not_json() -> None:
    with pytest.raises(InvalidResponse, match="not JSON"):
        parse_token_response(response(200, b"<html>hi</html>"), now=NOW)


def test_parse_token_response_refuses_a_redirect() -> None:
    with pytest.raises(InvalidResponse, match="redirect, which is never followed"):
        parse_token_response(response(302, b"", location="https://evil.example/"), now=NOW)


def test_parse_token_response_refuses_a_2xx_other_than_200() -> None:
    with pytest.raises(InvalidResponse, match="HTTP 204"):
        parse_token_response(response(204, b""), now=NOW)


# --- error answers -------------------------------------------------------------------------


def aad_error(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "error": "invalid_grant",
        "error_description": (
            f"AADSTS54005: OAuth2 Authorization code was already redeemed.\r\nTrace ID: {TRACE}\r\n"
            f"Correlation ID: {CORRELATION}\r\nTimestamp: 2024-01-01 00:00:00Z"
        ),
        "error_codes": [54005],
        "timestamp": "2024-01-01 00:00:00Z",
        "trace_id": TRACE,
        "correlation_id": CORRELATION,
        "error_uri": "https://login.microsoftonline.com/error?code=54005",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_parse_token_response_error_body_becomes_authority_error() -> None:
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(400, aad_error()), now=NOW)
    exc = info.value
    assert exc.error == "invalid_grant"
    assert exc.error_codes == (54005,)
    assert exc.aadsts == 54005
    assert exc.trace_id == TRACE and exc.correlation_id == CORRELATION
    assert exc.http_status == 400
    assert exc.description.startswith("AADSTS54005: OAuth2 Authorization code was already redeemed.")
    assert "\r" not in exc.description


def test_parse_token_response_401_invalid_client_becomes_authority_error() -> None:
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(401, aad_error(error="invalid_client", error_codes=[7000215])), now=NOW)
    assert info.value.error == "invalid_client" and info.value.http_status == 401


def test_parse_token_response_error_codes_ignore_non_integers() -> None:
    body = aad_error(error_codes=[70008, "50011", True, 1.5, None, -3, 700082])
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(400, body), now=NOW)
    assert info.value.error_codes == (70008, 700082)


def test_parse_token_response_error_ids_fall_back_to_the_description() -> None:
    body = aad_error(trace_id=..., correlation_id=...)
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(400, body), now=NOW)
    assert info.value.trace_id == TRACE and info.value.correlation_id == CORRELATION


def test_parse_token_response_error_ignores_malformed_ids() -> None:
    body = aad_error(trace_id="x\r\ninjected", correlation_id=5, error_description="none")
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(400, body), now=NOW)
    assert info.value.trace_id == "" and info.value.correlation_id == ""
    assert "injected" not in str(info.value)


def test_parse_token_response_keeps_markup_and_crlf_out_of_the_exception_message() -> None:
    description = "<script>alert(1)</script>\r\nX-Injected: yes\x1b[31m"
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(400, aad_error(error_description=description)), now=NOW)
    message = str(info.value)
    assert "<script>" not in message and "\r" not in message and "\n" not in message
    assert "\r" not in info.value.description and "\x1b" not in info.value.description


def test_parse_token_response_caps_the_description() -> None:
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(400, aad_error(error_description="d" * 50_000)), now=NOW)
    assert len(info.value.description) <= 2000


def test_parse_token_response_non_json_500_is_an_authority_fault() -> None:
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(500, b"<html>Internal Server Error</html>"), now=NOW)
    assert info.value.error == "server_error" and info.value.http_status == 500
    assert info.value.error_codes == ()


def test_parse_token_response_non_json_503_is_temporarily_unavailable() -> None:
    with pytest.raises(AuthorityError) as info:
        parse_token_response(response(503, b"busy"), now=NOW)
    assert info.value.error == "temporarily_unavailable" and info.value.http_status == 503


def test_parse_token_response_non_json_400_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponse, match=r"RFC 6749 5\.2"):
        parse_token_response(response(400, b"<html>Bad Request</html>"), now=NOW)


@pytest.mark.parametrize("error", ["", 'bad"quote', "back\\slash", "x\ny", 42, None])
def test_parse_token_response_refuses_an_error_outside_the_rfc6749_charset(error: object) -> None:
    with pytest.raises(InvalidResponse, match=r"RFC 6749 5\.2"):
        parse_token_response(response(400, aad_error(error=error)), now=NOW)


@pytest.mark.parametrize("endpoint", ["http://login.example/t/oauth2/token", "https://user:pw@login.example/t"])
def test_build_code_redemption_refuses_an_insecure_token_endpoint(endpoint: str) -> None:
    with pytest.raises(ValueError, match="https"):
        redeem(ClientSecretPost(secret=CLIENT_SECRET), token_endpoint=endpoint)


def test_build_code_redemption_allows_http_on_loopback_for_the_emulator() -> None:
    req = redeem(ClientSecretPost(secret=CLIENT_SECRET), token_endpoint="http://127.0.0.1:5001/t/oauth2/token")
    assert req.url == "http://127.0.0.1:5001/t/oauth2/token"
