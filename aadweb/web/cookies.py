"""Signed-id cookies: the browser holds a random id and its HMAC, nothing else.

Value: ``<id>.<base64url(HMAC-SHA256(key, id))>``; ids are ``secrets.token_urlsafe(32)``
(256 bits). The key comes from ``AADWEB_SECRET_KEY`` by HKDF with a purpose of its own per
cookie (``aadweb.sessions.derive_key``), so neither cookie can stand in for the other and
neither key is the token-encryption key. A cookie that is missing, malformed, forged or
signed under another key reads as ``None``: "no session", never an error.

Two cookies, both ``HttpOnly; SameSite=Lax; Path=/`` with no ``Domain`` and no ``Max-Age``
(they end with the browser session; the server-side session expires on its own), and on
https ``Secure`` with the ``__Host-`` prefix (RFC 6265bis 4.1.3.2: only this origin can set it):

* ``aadweb_session`` — the signed-in session's id. A **new** id at every sign-in, so no id
  a browser held before signing in ever becomes a session (no session fixation).
* ``aadweb_browser`` — the browser id that pending sign-ins are bound to (``state`` works only
  for the browser that started it). It outlives a sign-in on purpose: two sign-ins started in
  two tabs of one browser can both finish, whichever finishes first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Final

from werkzeug.wrappers import Request, Response

from aadweb.secret import Secret
from aadweb.sessions import derive_key

__all__ = ["BROWSER_PURPOSE", "SESSION_PURPOSE", "SignedCookie", "new_id", "session_cookies"]

SESSION_PURPOSE: Final = b"aadweb cookie v1"
BROWSER_PURPOSE: Final = b"aadweb browser cookie v1"
_ID: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")
_MAC: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_VALUE: Final = 200


def new_id() -> str:
    """A fresh 256-bit random id."""
    return secrets.token_urlsafe(32)


class SignedCookie:
    """One cookie holding a signed id."""

    __slots__ = ("_keyed", "name", "secure")

    def __init__(self, *, name: str, key: bytes, secure: bool) -> None:
        self.name = name
        self.secure = secure
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)  # copied per use: the key set up once

    def __repr__(self) -> str:
        return f"SignedCookie(name={self.name!r}, secure={self.secure})"

    def _mac(self, ident: str) -> str:
        mac = self._keyed.copy()
        mac.update(ident.encode("ascii"))
        digest = mac.digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def value_for(self, ident: str) -> str:
        if not _ID.fullmatch(ident):
            raise ValueError("a cookie id is 16 to 128 base64url characters")
        return f"{ident}.{self._mac(ident)}"

    def verify(self, value: str | None) -> str | None:
        """The id a cookie value carries if its signature holds, else ``None`` (constant-time)."""
        if not value or len(value) > _MAX_VALUE:
            return None
        ident, dot, mac = value.rpartition(".")
        if not dot or not _ID.fullmatch(ident) or not _MAC.fullmatch(mac):
            return None
        if not hmac.compare_digest(self._mac(ident).encode("ascii"), mac.encode("ascii")):
            return None
        return ident

    def read(self, request: Request) -> str | None:
        return self.verify(_cookie(request.environ.get("HTTP_COOKIE", ""), self.name))

    def set(self, response: Response, ident: str) -> None:
        # No Max-Age/Expires (a browser-session cookie) and no Domain (host-only).
        response.set_cookie(
            self.name, self.value_for(ident), path="/", secure=self.secure, httponly=True, samesite="Lax"
        )

    def expire(self, response: Response) -> None:
        response.delete_cookie(self.name, path="/", secure=self.secure, httponly=True, samesite="Lax")


def _cookie(header: str, name: str) -> str | None:
    """The value of the first cookie called ``name`` in a ``Cookie`` header (RFC 6265 5.4:
    ``name=value`` pairs joined by ``"; "``); our values are never quoted. Reading just this one
    spares parsing every cookie of the site on every request."""
    if name not in header:
        return None
    for pair in header.split(";"):
        key, eq, value = pair.strip().partition("=")
        if eq and key == name:
            return value
    return None


def session_cookies(secret_key: Secret, *, secure: bool) -> tuple[SignedCookie, SignedCookie]:
    """The (session, browser) cookies for an app served over https (``secure``) or http."""
    prefix = "__Host-" if secure else ""
    key = secret_key.reveal()
    session = SignedCookie(name=f"{prefix}aadweb_session", key=derive_key(key, SESSION_PURPOSE), secure=secure)
    browser = SignedCookie(name=f"{prefix}aadweb_browser", key=derive_key(key, BROWSER_PURPOSE), secure=secure)
    return session, browser
