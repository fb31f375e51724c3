from __future__ import annotations

import base64
import datetime as dt

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from aadweb.errors import ConfigurationError
from aadweb.protocol.client_assertion import ClientCertificate, build_client_assertion

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TOKEN_ENDPOINT = "https://login.microsoftonline.com/contoso/oauth2/token"
NOW = 1_700_000_000.0
NOT_AFTER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def make_pem(not_after: dt.datetime = NOT_AFTER) -> tuple[bytes, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aadweb test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)
    return pem, cert


@pytest.fixture(scope="module")
def cert_and_x509() -> tuple[ClientCertificate, x509.Certificate]:
    pem, cert = make_pem()
    return ClientCertificate.from_pem(pem), cert


def decode(token: str, cert: x509.Certificate) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token,
        cert.public_key(),  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=TOKEN_ENDPOINT,
        issuer=CLIENT_ID,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    return claims


def test_build_client_assertion_is_rs256_signed_by_the_certificate_key(
    cert_and_x509: tuple[ClientCertificate, x509.Certificate],
) -> None:
    certificate, cert = cert_and_x509
    assertion = build_client_assertion(
        certificate=certificate, client_id=CLIENT_ID, token_endpoint=TOKEN_ENDPOINT, now=NOW, jti="jti-1"
    )
    claims = decode(assertion.reveal(), cert)
    assert claims == {
        "aud": TOKEN_ENDPOINT,
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "jti": "jti-1",
        "nbf": 1_700_000_000,
        "iat": 1_700_000_000,
        "exp": 1_700_000_600,
    }


def test_build_client_assertion_header_names_the_certificate_thumbprint(
    cert_and_x509: tuple[ClientCertificate, x509.Certificate],
) -> None:
    certificate, cert = cert_and_x509
    assertion = build_client_assertion(
        certificate=certificate, client_id=CLIENT_ID, token_endpoint=TOKEN_ENDPOINT, now=NOW, jti="j"
    )
    header = jwt.get_unverified_header(assertion.reveal())
    expected_x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode()
    assert header == {"alg": "RS256", "typ": "JWT", "x5t": expected_x5t}
    assert certificate.x5t == expected_x5t


def test_build_client_assertion_honours_the_lifetime(
    cert_and_x509: tuple[ClientCertificate, x509.Certificate],
) -> None:
    certificate, cert = cert_and_x509
    assertion = build_client_assertion(
        certificate=certificate, client_id=CLIENT_ID, token_endpoint=TOKEN_ENDPOINT, now=NOW + 0.9, jti="j", lifetime=60
    )
    claims = decode(assertion.reveal(), cert)
    assert claims["exp"] == 1_700_000_060
    assert claims["nbf"] == claims["iat"] == 1_700_000_000


def test_build_client_assertion_is_a_secret_whose_repr_is_a_fingerprint(
    cert_and_x509: tuple[ClientCertificate, x509.Certificate],
) -> None:
    certificate, _ = cert_and_x509
    assertion = build_client_assertion(
        certificate=certificate, client_id=CLIENT_ID, token_endpoint=TOKEN_ENDPOINT, now=NOW, jti="j"
    )
    assert assertion.kind == "client_assertion"
    assert assertion.reveal() not in repr(assertion)
    assert assertion.reveal().split(".")[0] not in str(assertion)


@pytest.mark.parametrize(
    "changes",
    [{"lifetime": 0}, {"lifetime": 3601}, {"jti": ""}, {"client_id": ""}, {"now": float("nan")}, {"now": float("inf")}],
)
def test_build_client_assertion_refuses_invalid_arguments(
    cert_and_x509: tuple[ClientCertificate, x509.Certificate], changes: dict[str, object]
) -> None:
    certificate, _ = cert_and_x509
    kwargs: dict[str, object] = {
        "certificate": certificate,
        "client_id": CLIENT_ID,
        "token_endpoint": TOKEN_ENDPOINT,
        "now": NOW,
        "jti": "j",
    }
    kwargs.update(changes)
    with pytest.raises(ValueError):
        build_client_assertion(**kwargs)  # type: ignore[arg-type]


def test_build_client_assertion_refuses_an_expired_certificate() -> None:
    pem, _ = make_pem(not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
    certificate = ClientCertificate.from_pem(pem, path="old.pem")
    with pytest.raises(ConfigurationError, match=r"old\.pem has expired"):
        build_client_assertion(
            certificate=certificate, client_id=CLIENT_ID, token_endpoint=TOKEN_ENDPOINT, now=NOW, jti="j"
        )
