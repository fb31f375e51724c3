"""Signing keys and the JWKS document (RFC 7517), shaped like Azure AD's.

Azure publishes each signing key as ``{kty: RSA, use: sig, kid, x5t, n, e, x5c}``, where
``kid`` and ``x5t`` are both the base64url SHA-1 thumbprint of a self-signed certificate
carrying the key, and ``x5c`` holds that certificate (standard base64 DER, RFC 7517 4.7).
Azure publishes several keys at once (the one signing now, and others that signed before or
will sign next), all ``use: sig``, and no encryption key. The v2.0 key set adds ``issuer`` to
each key (the issuer template ``https://login.microsoftonline.com/{tenantid}/v2.0``, or the
tenant's own issuer on a tenant's key set). Keys roll over: a new key is published, and the
old one is kept for a while or dropped.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ._jws import b64url, sign_rs256

__all__ = ["SPARE_KEYS", "KeyRing", "SigningKey"]


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _new_rsa_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA-2048 key and the self-signed certificate that names it."""

    private_key: RSAPrivateKey
    certificate_der: bytes

    @classmethod
    def generate(cls, subject: str = "aadweb emulator signing key") -> SigningKey:
        key = _new_rsa_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=730))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert.public_bytes(Encoding.DER))

    @property
    def kid(self) -> str:
        """x5t = base64url(SHA-1(DER certificate)); Azure uses the same value as kid."""
        return b64url(hashlib.sha1(self.certificate_der).digest())  # noqa: S324 - x5t is SHA-1 by definition

    @property
    def public_key(self) -> RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, object]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _int_b64url(numbers.n),
            "e": _int_b64url(numbers.e),
            "x5c": [base64.b64encode(self.certificate_der).decode("ascii")],
        }

    def sign(
        self,
        claims: Mapping[str, object],
        header_overrides: Mapping[str, object] | None = None,
        *,
        kid: str | None = None,
        x5t: bool = True,
    ) -> str:
        """An RS256 JWT with Azure's header ``{typ, alg, x5t, kid}`` (v2.0 tokens: no ``x5t``,
        "a legacy claim emitted only in v1.0 ID tokens"); an override value of None removes
        that header parameter."""
        label = kid if kid is not None else self.kid
        header: dict[str, object] = {"typ": "JWT", "alg": "RS256", "x5t": label, "kid": label}
        if not x5t:
            del header["x5t"]
        for name, value in (header_overrides or {}).items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return sign_rs256(self.private_key, header, claims)


#: How many keys besides the signing one the key set publishes (Azure publishes a handful).
SPARE_KEYS = 2


@functools.cache
def _spare_keys() -> tuple[SigningKey, ...]:
    """Published keys that sign nothing now (made once per process: Azure's key set is
    shared by every tenant, and making RSA keys is slow)."""
    return tuple(SigningKey.generate("aadweb emulator published key") for _ in range(SPARE_KEYS))


class KeyRing:
    """The current signing key, the old keys still published, :data:`SPARE_KEYS` keys that
    are published but sign nothing, every key ever used (so an access token outlives a
    rollover, as Graph's do) and an unpublished rogue key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = SigningKey.generate()
        self._published: list[SigningKey] = [self._current]
        self._history: dict[str, RSAPublicKey] = {self._current.kid: self._current.public_key}
        self._rogue: SigningKey | None = None

    @property
    def current(self) -> SigningKey:
        with self._lock:
            return self._current

    def rotate(self, *, keep_old: bool = False) -> SigningKey:
        new = SigningKey.generate()
        with self._lock:
            self._published = [new, *self._published] if keep_old else [new]
            self._current = new
            self._history[new.kid] = new.public_key
        return new

    def rogue(self) -> SigningKey:
        """A key that is never published in the JWKS."""
        with self._lock:
            if self._rogue is None:
                self._rogue = SigningKey.generate("aadweb emulator unpublished key")
            return self._rogue

    def jwks(self, *, issuer: str | None = None) -> dict[str, object]:
        """The key set: the signing key first, then the old keys kept, then the spares;
        ``issuer`` (v2.0) is added to every key."""
        with self._lock:
            published = [*self._published, *_spare_keys()]
        keys = [k.public_jwk() for k in published]
        if issuer is not None:
            for key in keys:
                key["issuer"] = issuer
        return {"keys": keys}

    def verification_keys(self) -> dict[str, RSAPublicKey]:
        with self._lock:
            return dict(self._history)
