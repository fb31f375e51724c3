"""The v1 / v2.0 endpoint value object, and the protocol steps it parametrises."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from aadweb.errors import IssuerMismatch, UnsignedTokenRefused
from aadweb.protocol.authorize import AuthorizeParams, build_authorize_url
from aadweb.protocol.endpoint import V1_PUBLIC, Endpoint, scope_target, scopes_for_resource, v1_endpoint, v2_endpoint
from aadweb.protocol.idtoken import validate_back_channel
from aadweb.protocol.logout import logout_endpoint
from aadweb.protocol.metadata import build_metadata_request
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.protocol.token import ClientSecretPost, build_code_redemption, build_refresh, token_endpoint_url
from aadweb.secret import Secret
from tests.protocol.tokenfactory import DROP, TENANT, b64, claims, expectations, keyset, mint, signers

V2 = v2_endpoint("https://login.microsoftonline.com")
AUTHORITY = "https://login.microsoftonline.com/contoso"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"


NONE_HEADER = b64(b'{"typ":"JWT","alg":"none"}')


def unsigned(**overrides: Any) -> str:
    return f"{NONE_HEADER}.{b64(json.dumps(claims(**overrides)).encode())}."


def test_v2_paths_and_issuer() -> None:
    assert V2.issuer(TENANT) == V2_ISSUER
    assert V2.issuer_template == "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert token_endpoint_url(AUTHORITY, V2) == f"{AUTHORITY}/oauth2/v2.0/token"
    assert logout_endpoint(AUTHORITY, V2) == f"{AUTHORITY}/oauth2/v2.0/logout"
    request = build_metadata_request(AUTHORITY, client_request_id="c", path=V2.metadata_path)
    assert request.url == f"{AUTHORITY}/v2.0/.well-known/openid-configuration"


def test_v1_keeps_its_paths_and_issuer() -> None:
    assert V1_PUBLIC.issuer(TENANT) == f"https://sts.windows.net/{TENANT}/"
    assert token_endpoint_url(AUTHORITY) == f"{AUTHORITY}/oauth2/token"
    assert logout_endpoint(AUTHORITY) == f"{AUTHORITY}/oauth2/logout"
    china = v1_endpoint("https://sts.chinacloudapi.cn/")
    assert china.issuer(TENANT) == f"https://sts.chinacloudapi.cn/{TENANT}/"


def test_tenant_from_issuer_reads_only_a_guid_in_the_template() -> None:
    assert V2.tenant_from_issuer(V2_ISSUER) == TENANT
    assert V2.tenant_from_issuer(f"https://sts.windows.net/{TENANT}/") is None
    assert V2.tenant_from_issuer("https://login.microsoftonline.com/contoso/v2.0") is None
    assert V2.tenant_from_issuer(V2_ISSUER + "/") is None
    assert V1_PUBLIC.tenant_from_issuer(f"https://sts.windows.net/{TENANT}/") == TENANT


def test_an_endpoint_needs_one_tenant_placeholder() -> None:
    with pytest.raises(ValueError):
        Endpoint(version="2.0", authorize_path="a", token_path="t", logout_path="l", metadata_path="m",
                 issuer_template="https://login.microsoftonline.com/v2.0")


def test_scope_target_sorts_dedupes_and_drops_oidc_scopes() -> None:
    assert scope_target(["User.Read", "openid", "Mail.Read", "User.Read"]) == "Mail.Read User.Read"
    assert scope_target(("api://x/access_as_user",)) == "api://x/access_as_user"
    assert scopes_for_resource("https://graph.microsoft.com/") == "https://graph.microsoft.com/.default"


@pytest.mark.parametrize("bad", [[], ["openid", "offline_access"], ["a b"], ['x"y'], ["x\\y"], [""]])
def test_scope_target_refuses_what_is_not_a_scope(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        scope_target(bad)


def _authorize(endpoint: Endpoint, target: str, response_type: str = "code") -> str:
    return build_authorize_url(AuthorizeParams(
        authority_url=AUTHORITY, client_id="c", redirect_uri="http://localhost:5000/getAToken", resource=target,
        response_type=response_type, state="s", nonce=Secret("nonce", "n"),
        code_challenge=code_challenge_s256("v" * 43), endpoint=endpoint,
    ))


def test_v2_authorize_url_asks_scopes_not_a_resource() -> None:
    url = _authorize(V2, "User.Read")
    assert url.startswith(f"{AUTHORITY}/oauth2/v2.0/authorize?")
    q = parse_qs(urlsplit(url).query)
    assert q["scope"] == ["openid profile offline_access User.Read"] and "resource" not in q
    assert q["response_mode"] == ["query"] and q["code_challenge_method"] == ["S256"] and q["nonce"] == ["n"]
    assert parse_qs(urlsplit(_authorize(V2, "User.Read", "code id_token")).query)["response_mode"] == ["form_post"]


def test_v1_authorize_url_is_unchanged() -> None:
    q = parse_qs(urlsplit(_authorize(V1_PUBLIC, "https://graph.microsoft.com")).query)
    assert q["scope"] == ["openid"] and q["resource"] == ["https://graph.microsoft.com"]


def _forms(endpoint: Endpoint, target: str) -> tuple[dict[str, Any], dict[str, Any]]:
    common: dict[str, Any] = {"client_id": "c", "credential": ClientSecretPost(secret=Secret("client_secret", "s")),
                              "now": 0.0, "jti": "j", "client_request_id": "r", "endpoint": endpoint}
    token_endpoint = token_endpoint_url(AUTHORITY, endpoint)
    redeem = build_code_redemption(token_endpoint=token_endpoint, code=Secret("code", "c"), redirect_uri="http://x",
                                   resource=target, code_verifier=Secret("code_verifier", "v" * 43), **common)
    refresh = build_refresh(token_endpoint=token_endpoint, refresh_token=Secret("refresh_token", "r"),
                            resource=target, **common)
    assert redeem.form is not None and refresh.form is not None
    return dict(redeem.form), dict(refresh.form)


def test_v2_token_requests_carry_scope() -> None:
    for form in _forms(V2, "api://x/access_as_user"):
        assert form["scope"] == "openid profile offline_access api://x/access_as_user" and "resource" not in form


def test_v1_token_requests_carry_resource() -> None:
    for form in _forms(V1_PUBLIC, "https://graph.microsoft.com"):
        assert form["resource"] == "https://graph.microsoft.com" and "scope" not in form


# --- the v2 id_token ---------------------------------------------------------------------------


def _v2_back(token: str) -> Any:
    s, _, _ = signers()
    return validate_back_channel(Secret("id_token", token), keys=keyset(s), expected=expectations(endpoint=V2),
                                 channel_is_secure=True)


def test_v2_signed_id_token_passes() -> None:
    s, _, _ = signers()
    result = _v2_back(mint(s, iss=V2_ISSUER, ver="2.0", c_hash=DROP, upn=DROP, preferred_username="adele@x"))
    assert result.claims.iss == V2_ISSUER and result.claims.display["preferred_username"] == "adele@x"


@pytest.mark.parametrize("changes", [
    {"iss": f"https://sts.windows.net/{TENANT}/", "ver": "2.0"},
    {"iss": V2_ISSUER, "ver": "1.0"},
    {"iss": V2_ISSUER, "ver": DROP},
    {"iss": V2_ISSUER + "/", "ver": "2.0"},
])
def test_v2_refuses_a_v1_issuer_or_version(changes: dict[str, Any]) -> None:
    s, _, _ = signers()
    with pytest.raises(IssuerMismatch) as info:
        _v2_back(mint(s, **changes))
    assert info.value.check == "iss"


def test_v1_refuses_a_v2_version() -> None:
    s, _, _ = signers()
    with pytest.raises(IssuerMismatch):
        validate_back_channel(Secret("t", mint(s, ver="2.0")), keys=keyset(s), expected=expectations(),
                              channel_is_secure=True)


def test_v2_never_accepts_an_unsigned_id_token_even_on_a_secure_channel() -> None:
    with pytest.raises(UnsignedTokenRefused) as info:
        _v2_back(unsigned(iss=V2_ISSUER, ver="2.0"))
    assert info.value.verdicts[-1].check == "signature" and "v2.0" in info.value.verdicts[-1].detail
