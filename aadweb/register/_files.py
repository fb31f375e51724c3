"""What ``aadweb register`` writes: the TOML file of ``AADWEB_*`` keys ``AADWEB_CONFIG`` reads,
and the certificate it makes; both mode 0600, created that way (never readable by others, not
even for an instant)."""

from __future__ import annotations

import base64
import datetime
import os
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["make_certificate", "toml_text", "write_private"]


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def toml_text(values: Mapping[str, str], *, comment: str) -> str:
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"{key} = {_toml_string(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write_private(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (an existing file is replaced and re-moded)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def make_certificate(name: str, *, now: datetime.datetime) -> tuple[bytes, str]:
    """(PEM of key + certificate, base64 DER of the certificate): RSA 2048, self-signed, 2 years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64] or "aadweb")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=730)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
    return pem, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
