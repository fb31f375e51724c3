"""Metadata, JWKS, key rollover, logout and the index page."""

from __future__ import annotations

import base64
import hashlib

import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from aadweb.emulator import DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, Emulator
from aadweb.emulator._keys import SPARE_KEYS

from .support import REDIRECT_URI, TIMEOUT, b64url


def get(url: str, **kwargs: object) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)  # type: ignore[arg-type]


def test_metadata_names_the_tenant_guid_even_when_asked_by_domain(base: str) -> None:
    meta = get(f"{base}/{DEMO_TENANT_DOMAIN}/.well-known/openid-configuration").json()
    root = f"{base}/{DEMO_TENANT_ID}"
    assert meta["issuer"] == f"https://sts.windows.net/{DEMO_TENANT_ID}/"
    assert meta["authorization_endpoint"] == f"{root}/oauth2/authorize"
    assert meta["token_endpoint"] == f"{root}/oauth2/token"
    assert meta["jwks_uri"] == f"{base}/common/discovery/keys"  # Azure's v1.0 metadata says so
    assert meta["end_session_endpoint"] == f"{root}/oauth2/logout"
    assert meta["response_modes_supported"] == ["query", "fragment", "form_post"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "code id_token" in meta["response_types_supported"]
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]


def test_metadata_on_common_has_the_issuer_template(base: str) -> None:
    for alias in ("common", "organizations"):
        meta = get(f"{base}/{alias}/.well-known/openid-configuration").json()
        assert meta["issuer"] == "https://sts.windows.net/{tenantid}/"
        assert meta["jwks_uri"] == f"{base}/common/discovery/keys"


def test_unknown_tenant_is_aadsts90002(base: str) -> None:
    resp = get(f"{base}/nosuch.example/.well-known/openid-configuration")
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "invalid_tenant" and body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nosuch.example' not found")
    assert get(f"{base}/nosuch.example/discovery/keys").status_code == 400


def test_jwks_publishes_several_azure_shaped_signing_keys_and_no_enc_key(base: str) -> None:
    keys = get(f"{base}/{DEMO_TENANT_ID}/discovery/keys?appid=x").json()["keys"]
    assert len(keys) == 1 + SPARE_KEYS and all(k["use"] == "sig" for k in keys)
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert set(key) == {"kty", "use", "kid", "x5t", "n", "e", "x5c"} and key["kty"] == "RSA"
        der = base64.b64decode(key["x5c"][0])
        assert key["kid"] == key["x5t"] == b64url(hashlib.sha1(der).digest())
        public = x509.load_der_x509_certificate(der).public_key()
        assert isinstance(public, RSAPublicKey)
        n = int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4)), "big")
        assert n == public.public_numbers().n and key["e"] == "AQAB"
        assert "=" not in key["n"] + key["x5t"]


def test_rotate_keys_drops_or_keeps_the_old_key(base: str, emu: Emulator) -> None:
    def kids() -> list[str]:
        keys = get(f"{base}/common/discovery/keys").json()["keys"]
        return [k["kid"] for k in keys]

    first = kids()
    spares = first[1:]
    assert first[0] == emu.signing_jwk_public()["kid"] and len(spares) == SPARE_KEYS
    second = emu.rotate_keys(keep_old=True)
    assert kids() == [second, first[0], *spares]
    third = emu.rotate_keys()
    assert kids() == [third, *spares] and emu.signing_jwk_public()["kid"] == third


def test_logout_redirects_only_to_a_registered_origin(base: str) -> None:
    ok = get(f"{base}/{DEMO_TENANT_ID}/oauth2/logout",
             params={"post_logout_redirect_uri": "http://localhost:5000/"})
    assert ok.status_code == 302 and ok.headers["Location"] == "http://localhost:5000/"
    evil = get(f"{base}/{DEMO_TENANT_ID}/oauth2/logout",
               params={"post_logout_redirect_uri": "https://evil.example/<x>"})
    assert evil.status_code == 200 and "You signed out" in evil.text
    assert 'href="https://evil.example' not in evil.text and "&lt;x&gt;" in evil.text
    plain = get(f"{base}/{DEMO_TENANT_ID}/oauth2/logout")
    assert plain.status_code == 200 and "You signed out" in plain.text


def test_index_page_lists_users_and_redirect_uris(base: str) -> None:
    page = get(f"{base}/").text
    assert "adele.vance@contoso.example" in page and REDIRECT_URI in page


def test_unknown_path_is_404_json(base: str, emu: Emulator) -> None:
    resp = get(f"{base}/nothing/here/at/all")
    assert resp.status_code == 404 and resp.json()["status"] == 404
    assert emu.count("GET", "/nothing/here/at/all") == 1
