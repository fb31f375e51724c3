"""RSA keys for the hostile provider: generated once per test session, exported as JWKs."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class RsaKey:
    """A key pair with a ``kid``; ``x5t`` is the thumbprint of a self-signed certificate."""

    kid: str
    private: rsa.RSAPrivateKey = field(repr=False)
    cert_der: bytes = field(repr=False)

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    @property
    def x5t(self) -> str:
        return b64url(hashlib.sha1(self.cert_der).digest())

    @property
    def public_pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self, **overrides: object) -> dict[str, object]:
        """The public JWK as Azure AD publishes it (kty, use, kid, x5t, n, e, x5c)."""
        numbers = self.public.public_numbers()
        jwk: dict[str, object] = {
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.x5t,
            "n": _uint(numbers.n), "e": _uint(numbers.e),
            "x5c": [base64.b64encode(self.cert_der).decode("ascii")],
        }
        jwk.update(overrides)
        return jwk


def _self_signed(key: rsa.RSAPrivateKey, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@functools.cache
def rsa_key(kid: str, bits: int = 2048) -> RsaKey:
    """The key named ``kid`` (one per name and size for the whole test session)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return RsaKey(kid=kid, private=private, cert_der=_self_signed(private, f"hostile {kid}"))
