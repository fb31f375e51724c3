"""The certificate client credential: a signed JWT assertion (RFC 7523 2.2 and 3).

Azure AD calls this "certificate credentials": instead of a shared secret the client sends a
short-lived RS256 JWT signed with its private key, whose header ``x5t`` names the registered
certificate (base64url SHA-1 thumbprint). ``now`` and ``jti`` are parameters: this layer reads
no clock and draws no randomness.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Final

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aadweb.errors import ConfigurationError
from aadweb.secret import Secret

__all__ = ["CLIENT_ASSERTION_TYPE", "MAX_LIFETIME", "ClientCertificate", "build_client_assertion"]

# RFC 7523 2.2: the client_assertion_type of a JWT client assertion
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: An assertion is good for minutes; Azure AD refuses long-lived ones.
MAX_LIFETIME: Final = 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCertificate:
    """A client certificate for ``client_assertion`` (RFC 7523): private key and thumbprint.

    ``x5t`` is the base64url SHA-1 thumbprint (RFC 7515 4.1.7) Azure AD matches against the
    registered certificate. ``path`` only names the certificate in messages: this layer parses
    PEM bytes it is given; reading the file is the settings' job (``AADWEB_CLIENT_CERTIFICATE``).
    """

    path: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    x5t: str
    not_after: float

    @classmethod
    def from_pem(cls, pem: bytes, *, path: str = "<memory>") -> ClientCertificate:
        """Parse a PEM holding an unencrypted RSA private key and its certificate."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError("holds no readable unencrypted private key") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the private key must be RSA (Azure AD signs assertions with RS256)")
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise ValueError("holds no certificate") from exc
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != key.public_key().public_numbers():
            raise ValueError("the certificate does not match the private key")
        x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode()  # noqa: S303
        return cls(path=path, private_key=key, x5t=x5t, not_after=cert.not_valid_after_utc.timestamp())


def build_client_assertion(
    *,
    certificate: ClientCertificate,
    client_id: str,
    token_endpoint: str,
    now: float,
    jti: str,
    lifetime: int = 600,
) -> Secret:
    """An RS256 JWT ``{aud: token_endpoint, iss = sub = client_id, jti, nbf, iat, exp}``."""
    if not math.isfinite(now) or now < 0:
        raise ValueError("now must be a finite, non-negative epoch time")
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError(f"lifetime must be 1 to {MAX_LIFETIME} seconds")
    if not client_id or not token_endpoint:
        raise ValueError("client_id and token_endpoint must not be empty")
    # RFC 7519 4.1.7: jti is a unique identifier; Azure AD refuses a replayed assertion
    if not jti:
        raise ValueError("jti must not be empty")
    if certificate.not_after <= now:
        raise ConfigurationError(
            [f"The client certificate {certificate.path} has expired: create and register a new one."]
        )
    issued = int(now)
    claims = {
        # RFC 7523 3: aud MUST identify the authorization server (its token endpoint)
        "aud": token_endpoint,
        # RFC 7523 3: iss and sub MUST be the client_id for client authentication
        "iss": client_id,
        "sub": client_id,
        "jti": jti,
        "nbf": issued,
        "iat": issued,
        # RFC 7523 3: exp is REQUIRED
        "exp": issued + lifetime,
    }
    try:
        token = jwt.encode(
            claims,
            certificate.private_key,
            algorithm="RS256",
            headers={"x5t": certificate.x5t, "typ": "JWT"},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            [f"The client certificate {certificate.path} cannot sign a client assertion ({exc.__class__.__name__})."]
        ) from exc
    return Secret("client_assertion", token)
