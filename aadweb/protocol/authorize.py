"""The authorization request: where ``/login`` sends the browser (RFC 6749 4.1.1, OIDC Core 3.3.2.1).

Two flows share one builder:

- ``code id_token`` (default, OpenID Connect hybrid): the id_token comes back through the
  browser signed and carrying ``nonce`` and ``c_hash``; ``response_mode=form_post`` because
  Azure AD refuses ``query`` when an id_token is requested.
- ``code`` (seed-compatible): ``response_mode=query``.

Both always send ``state`` (CSRF, RFC 6749 10.12), ``nonce`` (replay, OIDC Core 3.1.2.1) and a
PKCE S256 challenge (RFC 7636 4.3, RFC 9700 2.1.1). Every value is percent-encoded with
``%20`` for spaces, so ``response_type=code%20id_token``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode

from aadweb.protocol.endpoint import V1_PUBLIC, Endpoint
from aadweb.protocol.http import VSCHAR
from aadweb.protocol.metadata import is_secure_url
from aadweb.secret import Secret

__all__ = [
    "MAX_STATE",
    "PROMPTS",
    "RESPONSE_TYPES",
    "AuthorizeParams",
    "build_authorize_url",
    "is_valid_state",
    "response_mode_for",
]

#: The two flows of DESIGN.md: OpenID Connect hybrid (default, OIDC Core 3.3) and the
#: seed-compatible authorization code flow (OIDC Core 3.1, RFC 6749 4.1).
RESPONSE_TYPES: Final = ("code id_token", "code")
PROMPTS: Final = frozenset({"login", "select_account", "consent", "admin_consent", "none"})
#: The longest ``state`` this client issues or accepts back.
MAX_STATE: Final = 512
MAX_HINT: Final = 256

# RFC 6749 Appendix A.5: state = 1*VSCHAR, VSCHAR = %x20-7E
# RFC 7636 4.2: an S256 challenge is BASE64URL of 32 bytes: 43 characters, no padding
_S256_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def is_valid_state(value: str) -> bool:
    """True for 1 to :data:`MAX_STATE` printable ASCII characters (RFC 6749 Appendix A.5)."""
    return 0 < len(value) <= MAX_STATE and VSCHAR.fullmatch(value) is not None


def response_mode_for(response_type: str) -> str:
    """``form_post`` for the hybrid flow, ``query`` for the code flow."""
    if response_type == "code id_token":
        # OIDC Core 3.3.2.5 / Azure AD v1: an id_token must not travel in the query string
        return "form_post"
    if response_type == "code":
        return "query"
    raise ValueError(f"response_type must be one of {RESPONSE_TYPES}")


def _check_text(name: str, value: str, limit: int) -> None:
    if not value or len(value) > limit or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise ValueError(f"{name} must be 1 to {limit} characters without control characters")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeParams:
    """Everything one authorization request carries. ``authority_url`` is ``{host}/{tenant}``.

    ``resource`` is the token's target: the v1 resource, or on v2.0 the scopes (space
    separated, see :mod:`aadweb.protocol.endpoint`); ``endpoint`` says which.
    """

    authority_url: str
    client_id: str
    redirect_uri: str
    resource: str
    response_type: str
    state: str
    nonce: Secret
    code_challenge: str
    prompt: str | None = None
    login_hint: str | None = None
    domain_hint: str | None = None
    endpoint: Endpoint = V1_PUBLIC

    def __post_init__(self) -> None:
        object.__setattr__(self, "authority_url", self.authority_url.rstrip("/"))
        if not is_secure_url(self.authority_url) or "?" in self.authority_url:
            raise ValueError("authority_url must be an https URL {host}/{tenant} (http only on loopback)")
        _check_text("client_id", self.client_id, 256)
        if not is_secure_url(self.redirect_uri):
            raise ValueError("redirect_uri must be an absolute https URL (http only on loopback)")
        _check_text("resource", self.resource, 2048)
        response_mode_for(self.response_type)
        # RFC 6749 10.12: state is the CSRF binding; this client always sends one
        if not is_valid_state(self.state):
            raise ValueError(f"state must be 1 to {MAX_STATE} printable ASCII characters (RFC 6749 A.5)")
        # OIDC Core 3.1.2.1 / 3.3.2.11: nonce binds the id_token to this request; always sent
        if not isinstance(self.nonce, Secret) or not is_valid_state(self.nonce.reveal()):
            raise ValueError(f"nonce must be a Secret of 1 to {MAX_STATE} printable ASCII characters")
        # RFC 7636 4.2: S256 challenge
        if not _S256_CHALLENGE.fullmatch(self.code_challenge):
            raise ValueError("code_challenge must be an S256 challenge: 43 base64url characters (RFC 7636 4.2)")
        if self.prompt is not None and self.prompt not in PROMPTS:
            raise ValueError(f"prompt must be one of {sorted(PROMPTS)}")
        if self.login_hint is not None:
            _check_text("login_hint", self.login_hint, MAX_HINT)
        if self.domain_hint is not None:
            _check_text("domain_hint", self.domain_hint, MAX_HINT)

    @property
    def response_mode(self) -> str:
        return response_mode_for(self.response_type)


def build_authorize_url(p: AuthorizeParams) -> str:
    """``{authority_url}/oauth2/authorize?...`` (v2.0: ``/oauth2/v2.0/authorize``): the URL the
    browser is redirected to."""
    pairs: list[tuple[str, str]] = [
        ("client_id", p.client_id),
        ("response_type", p.response_type),
        ("redirect_uri", p.redirect_uri),
        ("response_mode", p.response_mode),
        # v1: scope=openid and resource; v2.0: scope=openid profile offline_access {scopes}
        *p.endpoint.target_params(p.resource),
        ("state", p.state),
        ("nonce", p.nonce.reveal()),
        ("code_challenge", p.code_challenge),
        # RFC 9700 2.1.1: S256, never plain
        ("code_challenge_method", "S256"),
    ]
    for name, value in (("prompt", p.prompt), ("login_hint", p.login_hint), ("domain_hint", p.domain_hint)):
        if value is not None:
            pairs.append((name, value))
    return f"{p.endpoint.url(p.authority_url, p.endpoint.authorize_path)}?{urlencode(pairs, quote_via=quote)}"
