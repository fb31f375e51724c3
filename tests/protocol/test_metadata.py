from __future__ import annotations

import json

import pytest

from aadweb.errors import AuthorityError, InvalidResponse
from aadweb.protocol.http import HttpResponse
from aadweb.protocol.metadata import (
    AuthorityMetadata,
    build_metadata_request,
    check_tenant_issuer,
    is_secure_url,
    parse_metadata,
    same_origin,
    tenant_id_from_issuer,
)

HOST = "https://login.microsoftonline.com"
TID = "6f3c1a52-9b7e-4d2a-8c1f-2a9e5b7d4c10"


def document(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "authorization_endpoint": f"{HOST}/{TID}/oauth2/authorize",
        "token_endpoint": f"{HOST}/{TID}/oauth2/token",
        "jwks_uri": f"{HOST}/common/discovery/keys",
        "end_session_endpoint": f"{HOST}/{TID}/oauth2/logout",
        "issuer": f"https://sts.windows.net/{TID}/",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not ...}


def ok(**changes: object) -> HttpResponse:
    return HttpResponse(status=200, body=json.dumps(document(**changes)).encode())


def test_build_metadata_request_gets_the_well_known_document() -> None:
    req = build_metadata_request(f"{HOST}/contoso", client_request_id="crid-1")
    assert req.method == "GET"
    assert req.url == f"{HOST}/contoso/.well-known/openid-configuration"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["client-request-id"] == "crid-1" and req.headers["return-client-request-id"] == "true"
    assert build_metadata_request(f"{HOST}/contoso/", client_request_id="crid-1").url == req.url
    with pytest.raises(ValueError):
        build_metadata_request(f"{HOST}/contoso", client_request_id="a\r\nb")


def test_build_metadata_request_refuses_plain_http_off_loopback() -> None:
    with pytest.raises(ValueError):
        build_metadata_request("http://login.example/contoso", client_request_id="c")
    assert build_metadata_request("http://127.0.0.1:5001/t", client_request_id="c").url.startswith(
        "http://127.0.0.1:5001/t/")


def test_parse_metadata_reads_the_endpoints() -> None:
    m = parse_metadata(ok(), authority_host=HOST)
    assert m == AuthorityMetadata(
        issuer=f"https://sts.windows.net/{TID}/",
        authorization_endpoint=f"{HOST}/{TID}/oauth2/authorize",
        token_endpoint=f"{HOST}/{TID}/oauth2/token",
        jwks_uri=f"{HOST}/common/discovery/keys",
        end_session_endpoint=f"{HOST}/{TID}/oauth2/logout",
    )


def test_parse_metadata_allows_no_end_session_endpoint() -> None:
    assert parse_metadata(ok(end_session_endpoint=...), authority_host=HOST).end_session_endpoint is None


def test_parse_metadata_accepts_http_on_loopback_for_the_emulator() -> None:
    local = "http://127.0.0.1:5001"
    doc = {
        "issuer": f"https://sts.windows.net/{TID}/",
        "authorization_endpoint": f"{local}/{TID}/oauth2/authorize",
        "token_endpoint": f"{local}/{TID}/oauth2/token",
        "jwks_uri": f"{local}/{TID}/discovery/keys",
    }
    m = parse_metadata(HttpResponse(status=200, body=json.dumps(doc).encode()), authority_host=local)
    assert m.token_endpoint == f"{local}/{TID}/oauth2/token"


@pytest.mark.parametrize("field", ["token_endpoint", "jwks_uri", "authorization_endpoint", "end_session_endpoint"])
@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/t/oauth2/token",
        "https://login.microsoftonline.com.evil.example/t",
        "https://login.microsoftonline.com:8443/t/oauth2/token",
        "https://login.microsoftonline.com@evil.example/t",
        "http://login.microsoftonline.com/t/oauth2/token",
        "//evil.example/t",
        "/t/oauth2/token",
        "javascript:alert(1)",
    ],
)
def test_parse_metadata_pins_every_endpoint_to_the_authority_host(field: str, url: str) -> None:
    with pytest.raises(InvalidResponse, match=field):
        parse_metadata(ok(**{field: url}), authority_host=HOST)


@pytest.mark.parametrize("field", ["token_endpoint", "jwks_uri", "authorization_endpoint"])
def test_parse_metadata_refuses_a_missing_required_endpoint(field: str) -> None:
    with pytest.raises(InvalidResponse, match=field):
        parse_metadata(ok(**{field: ...}), authority_host=HOST)


def test_parse_metadata_compares_hosts_case_insensitively() -> None:
    m = parse_metadata(ok(token_endpoint="https://LOGIN.microsoftonline.com:443/t/oauth2/token"), authority_host=HOST)
    assert m.token_endpoint.startswith("https://LOGIN.")


@pytest.mark.parametrize("issuer", [..., "", 5, "https://sts.windows.net/x/ y", "a\nb"])
def test_parse_metadata_refuses_a_bad_issuer(issuer: object) -> None:
    with pytest.raises(InvalidResponse, match="issuer"):
        parse_metadata(ok(issuer=issuer), authority_host=HOST)


def test_parse_metadata_refuses_a_redirect() -> None:
    with pytest.raises(InvalidResponse, match="never followed"):
        parse_metadata(HttpResponse(status=301, headers={"Location": "https://evil.example/"}), authority_host=HOST)


def test_parse_metadata_refuses_a_body_that_is_not_a_json_object() -> None:
    with pytest.raises(InvalidResponse):
        parse_metadata(HttpResponse(status=200, body=b"[1, 2]"), authority_host=HOST)
    with pytest.raises(InvalidResponse):
        parse_metadata(HttpResponse(status=200, body=b"<html>"), authority_host=HOST)


def test_parse_metadata_unknown_tenant_becomes_authority_error() -> None:
    body = {
        "error": "invalid_tenant",
        "error_description": "AADSTS90002: Tenant 'nope' not found.\r\nTrace ID: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "error_codes": [90002],
    }
    with pytest.raises(AuthorityError) as info:
        parse_metadata(HttpResponse(status=400, body=json.dumps(body).encode()), authority_host=HOST)
    assert info.value.error_codes == (90002,)
    assert info.value.trace_id == "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_parse_metadata_refuses_an_insecure_authority_host_argument() -> None:
    with pytest.raises(ValueError):
        parse_metadata(ok(), authority_host="http://login.microsoftonline.com")


@pytest.mark.parametrize(
    ("url", "secure"),
    [
        ("https://a.example/x", True),
        ("http://localhost:5000/x", True),
        ("http://127.0.0.2/x", True),
        ("http://[::1]:8080/x", True),
        ("http://a.example/x", False),
        ("https://a.example/x#frag", False),
        ("https://user:pw@a.example/x", False),
        ("https://a.example:99999/x", False),
        ("https:///x", False),
        ("ftp://a.example/x", False),
        ("https://a.example/x y", False),
    ],
)
def test_is_secure_url(url: str, secure: bool) -> None:
    assert is_secure_url(url) is secure


def test_same_origin_uses_default_ports() -> None:
    assert same_origin("https://a.example:443/x", "https://a.example")
    assert not same_origin("https://a.example:444/x", "https://a.example")
    assert not same_origin("http://a.example/x", "https://a.example")


def test_check_tenant_issuer_accepts_exactly_the_tenant_s_v1_issuer() -> None:
    metadata = parse_metadata(ok(), authority_host=HOST)
    check_tenant_issuer(metadata, issuer_prefix="https://sts.windows.net/", tenant_id=TID)


@pytest.mark.parametrize("issuer", [
    "https://sts.windows.net/00000000-0000-4000-8000-000000000001/",
    f"https://sts.windows.net/{TID}",
    "https://sts.windows.net/{tenantid}/",
    f"https://login.microsoftonline.com/{TID}/v2.0",
], ids=["other-tenant", "no-slash", "template", "v2"])
def test_check_tenant_issuer_refuses_another_issuer(issuer: str) -> None:
    metadata = parse_metadata(ok(issuer=issuer), authority_host=HOST)
    with pytest.raises(InvalidResponse, match="unexpected issuer"):
        check_tenant_issuer(metadata, issuer_prefix="https://sts.windows.net/", tenant_id=TID)


def test_tenant_id_from_issuer_reads_the_guid_of_a_v1_issuer() -> None:
    assert tenant_id_from_issuer(f"https://sts.windows.net/{TID}/", issuer_prefix="https://sts.windows.net/") == TID
    china = f"https://sts.chinacloudapi.cn/{TID}/"
    assert tenant_id_from_issuer(china, issuer_prefix="https://sts.chinacloudapi.cn/") == TID


@pytest.mark.parametrize("issuer", [
    "https://sts.windows.net/{tenantid}/",
    f"https://sts.windows.net/{TID}",
    f"https://sts.windows.net/{TID.upper()}/",
    f"https://sts.windows.net/{TID}/x/",
    f"https://sts.chinacloudapi.cn/{TID}/",
], ids=["template", "no-slash", "upper", "path", "other-cloud"])
def test_tenant_id_from_issuer_refuses_an_issuer_that_names_no_tenant_guid(issuer: str) -> None:
    with pytest.raises(InvalidResponse, match="does not name a tenant GUID"):
        tenant_id_from_issuer(issuer, issuer_prefix="https://sts.windows.net/")
