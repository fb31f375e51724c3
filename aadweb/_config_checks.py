"""Checks of single configuration values, each giving the problems as sentences a person can
act on (``aadweb check-config`` prints them all): identifiers, secret keys, session times, the
CA bundle, URLs. :meth:`aadweb.settings.Settings.problems` calls them, field by field.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509

from aadweb.protocol.hosts import is_loopback_host
from aadweb.secret import redact_url

__all__ = [
    "DOMAIN_RE",
    "GUID_RE",
    "MAX_CA_BUNDLE_BYTES",
    "MAX_SESSION_LIFETIME",
    "MIN_SECRET_KEY_LENGTH",
    "MIN_SESSION_IDLE",
    "MIN_SESSION_LIFETIME",
    "WEAK_SECRET_KEYS",
    "ca_bundle_problems",
    "session_time_problems",
    "url_problems",
]

GUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DOMAIN_RE: Final = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
WEAK_SECRET_KEYS: Final = frozenset({"development", "secret", "changeme", "change-me", "dev", "test"})
MIN_SECRET_KEY_LENGTH: Final = 32
#: AADWEB_CA_BUNDLE is read whole at start-up; system bundles are well under 1 MiB.
MAX_CA_BUNDLE_BYTES: Final = 16 << 20
#: ``AADWEB_SESSION_LIFETIME`` bounds: 5 minutes to 90 days (Azure AD's refresh tokens end after
#: 90 days of inactivity: a session cannot outlive that).
MIN_SESSION_LIFETIME: Final = 300
MAX_SESSION_LIFETIME: Final = 90 * 86400
#: ``AADWEB_SESSION_IDLE`` is 0 (off) or at least a minute: shorter would end sessions while
#: the user reads one page.
MIN_SESSION_IDLE: Final = 60


def session_time_problems(lifetime: int, idle: int) -> list[str]:
    """DESIGN.md, Sessions: a session ends ``AADWEB_SESSION_LIFETIME`` seconds after sign-in and,
    when ``AADWEB_SESSION_IDLE`` is set, that many seconds after its last request."""
    p: list[str] = []
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not (
        MIN_SESSION_LIFETIME <= lifetime <= MAX_SESSION_LIFETIME
    ):
        p.append(
            f"AADWEB_SESSION_LIFETIME must be a whole number of seconds from {MIN_SESSION_LIFETIME} (5 minutes) "
            f"to {MAX_SESSION_LIFETIME} (90 days)."
        )
    if isinstance(idle, bool) or not isinstance(idle, int) or not (idle == 0 or idle >= MIN_SESSION_IDLE):
        p.append(f"AADWEB_SESSION_IDLE must be 0 (off) or a whole number of seconds, at least {MIN_SESSION_IDLE}.")
    elif not p and idle > lifetime:
        p.append(
            f"AADWEB_SESSION_IDLE ({idle}) is longer than AADWEB_SESSION_LIFETIME ({lifetime}), so it would never "
            "end a session: lower it, or set 0 to turn the idle limit off."
        )
    return p


def ca_bundle_problems(path: str) -> list[str]:
    """AADWEB_CA_BUNDLE must be a readable PEM file holding at least one certificate: the roots
    outbound https is verified against instead of certifi's (e.g. a TLS-inspecting proxy's CA)."""
    try:
        with open(path, "rb") as fh:
            pem = fh.read(MAX_CA_BUNDLE_BYTES + 1)
    except OSError as exc:
        return [f"AADWEB_CA_BUNDLE {path} cannot be read ({exc.strerror or exc.__class__.__name__})."]
    if len(pem) > MAX_CA_BUNDLE_BYTES:
        return [f"AADWEB_CA_BUNDLE {path} is larger than {MAX_CA_BUNDLE_BYTES >> 20} MiB: not a CA bundle."]
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError:
        return [f"AADWEB_CA_BUNDLE {path} holds no readable PEM certificate: it must be a PEM file of CA certificates "
                "(-----BEGIN CERTIFICATE-----)."]
    return []


def url_problems(name: str, url: str, *, allow_path: bool, allow_http: bool = False) -> list[str]:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return [f"{name} {redact_url(url)!r} is not a valid URL."]
    if parts.scheme not in ("https", "http") or not host:
        return [f"{name} must be an absolute https:// URL, not {redact_url(url)!r}."]
    if parts.scheme == "http" and not (allow_http or is_loopback_host(host)):
        return [f"{name} must use https:// (plain http is allowed only for localhost / 127.0.0.1 / ::1)."]
    if parts.fragment or (parts.query and name != "AADWEB_GRAPH_URL"):
        return [f"{name} must not carry a query string or fragment."]
    if parts.username or parts.password:
        return [f"{name} must not carry a user name or password."]
    if not allow_path and parts.path not in ("", "/"):
        return [f"{name} must be scheme://host[:port] only, without a path."]
    return []
