"""Security headers, set on every response the app sends (pages, redirects, errors, JSON).

- ``Content-Security-Policy``: nothing but this origin's stylesheet and images; forms post to
  this origin, plus the authority's origin because ``POST /logout`` answers with a redirect
  there (CSP 3 ``form-action`` also governs redirects after a form submission); no framing
  (clickjacking), no ``<base>``. No JavaScript anywhere, so no ``script-src`` at all.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (URLs of the
  sign-in carry a ``state``; they must not leak to other sites), ``X-Frame-Options: DENY`` for
  old browsers, ``Cross-Origin-Opener-Policy: same-origin``.
- ``Cache-Control: no-store`` and ``Vary: Cookie`` on everything except the versioned
  stylesheet: a signed-in page must never be kept by a shared cache or the browser's back
  button cache, and whatever depends on the session (pages, redirects, error pages, signed in
  or not) tells every cache that the cookie changes it (DESIGN.md, "What the browser gets").
- ``Strict-Transport-Security`` only when the app is served over https.
"""

from __future__ import annotations

from typing import Final

from werkzeug.wrappers import Response

__all__ = ["NO_STORE", "STATIC_CACHE", "SecurityHeaders"]

NO_STORE: Final = "no-store"
STATIC_CACHE: Final = "public, max-age=31536000, immutable"
HSTS: Final = "max-age=31536000"


class SecurityHeaders:
    """The fixed headers for one app, computed once."""

    def __init__(self, *, authority_origin: str, https: bool) -> None:
        csp = (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action 'self' {authority_origin}; frame-ancestors 'none'; base-uri 'none'"
        )
        headers = [
            ("Content-Security-Policy", csp),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        if https:
            headers.append(("Strict-Transport-Security", HSTS))
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
        self._no_store = (*self.headers, ("Cache-Control", NO_STORE), ("Vary", "Cookie"))
        self._cacheable = (*self.headers, ("Cache-Control", STATIC_CACHE))

    def apply(self, response: Response, *, cacheable: bool = False) -> Response:
        # No handler sets these headers, so they are appended in one go rather than each
        # replacing a previous value (this runs on every response).
        response.headers.extend(self._cacheable if cacheable else self._no_store)
        return response
