"""What a session store keeps: pending sign-ins, sessions and their tokens, as frozen values.

Values check themselves when built. Anything that would let someone act as the user (tokens,
nonce, PKCE verifier, the posted callback fields, the CSRF token, the session id and state
themselves) never appears in a ``repr``: secrets are :class:`~aadweb.secret.Secret`, and the
two keys (``state``, ``session_id``) print as fingerprints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from aadweb.protocol.authorize import RESPONSE_TYPES
from aadweb.secret import Secret, fingerprint

__all__ = ["PendingSignIn", "ResourceToken", "SessionRecord", "TokenSet"]

_MAX_KEY_LENGTH: Final = 512


_KEY: Final = re.compile(r"[!-~]+")


def check_key(value: object, what: str) -> str:
    """A store key (state, browser id, session id): 1..512 printable ASCII characters, no spaces."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_KEY_LENGTH:
        raise ValueError(f"{what} must be a non-empty str of at most {_MAX_KEY_LENGTH} characters")
    if _KEY.fullmatch(value) is None:  # on every session read: a compiled check, not a loop
        raise ValueError(f"{what} must be printable ASCII without spaces")
    return value


def is_key(value: object) -> bool:
    """Whether ``value`` could be a store key (see :func:`check_key`); for untrusted input."""
    try:
        check_key(value, "key")
    except ValueError:
        return False
    return True


def _check_time(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of seconds since the epoch")


def _check_secret(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Secret) or not value:
        raise ValueError(f"{what} must be a non-empty Secret")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceToken:
    """An access token for a resource other than the sign-in's, got with the session's refresh
    token (v1 refresh tokens are multi-resource)."""

    access_token: Secret
    expires_on: float

    def __post_init__(self) -> None:
        _check_secret(self.access_token, "access_token")
        _check_time(self.expires_on, "expires_on")


#: At most this many other resources' tokens are kept per session (the oldest-expiring go first).
MAX_OTHER_TOKENS: Final = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSet:
    """The tokens of one session (RFC 6749 5.1; v1 ``expires_on`` is epoch seconds)."""

    access_token: Secret
    refresh_token: Secret | None
    expires_on: float
    resource: str
    id_token: Secret | None = None
    #: Access tokens for other resources, by resource (``access_token(resource=...)``).
    others: Mapping[str, ResourceToken] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.others, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, ResourceToken) for k, v in self.others.items()
        ):
            raise ValueError("others must map resources to ResourceToken values")
        object.__setattr__(self, "others", MappingProxyType(dict(self.others)))
        _check_secret(self.access_token, "access_token")
        _check_secret(self.refresh_token, "refresh_token", optional=True)
        _check_secret(self.id_token, "id_token", optional=True)
        _check_time(self.expires_on, "expires_on")
        if not isinstance(self.resource, str) or not self.resource:
            raise ValueError("resource must be a non-empty str")


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PendingSignIn:
    """A sign-in between ``GET /login`` and the callback, keyed by its single-use ``state``.

    ``browser_id`` is the pre-sign-in session id of the browser that started it: the callback
    is accepted only from that browser. ``callback`` holds the fields of a ``form_post``
    callback (``code``, ``id_token``, ``state``, ...) stashed between the cross-site POST and
    the same-site GET; stores keep it encrypted, and it never appears in the ``repr``.
    """

    state: str
    browser_id: str
    nonce: Secret
    code_verifier: Secret
    return_path: str
    created_at: float
    response_type: str
    callback: Mapping[str, str] | None = None
    #: The resource this sign-in asks for (``None``: the configured one); a consent round trip
    #: for another resource sets it, and the code is redeemed for it.
    resource: str | None = None

    def __post_init__(self) -> None:
        if self.resource is not None and (not isinstance(self.resource, str) or not self.resource):
            raise ValueError("resource must be a non-empty str or None")
        check_key(self.state, "state")
        check_key(self.browser_id, "browser_id")
        _check_secret(self.nonce, "nonce")
        _check_secret(self.code_verifier, "code_verifier")
        # A return path is local: "/x" but never "//host" or "/\host" (an open redirect).
        rp = self.return_path
        if not isinstance(rp, str) or not rp.startswith("/") or rp[1:2] in ("/", "\\"):
            raise ValueError("return_path must be a local path starting with a single '/'")
        _check_time(self.created_at, "created_at")
        if self.response_type not in RESPONSE_TYPES:
            raise ValueError(f"response_type must be one of {sorted(RESPONSE_TYPES)}")
        if self.callback is not None:
            object.__setattr__(self, "callback", MappingProxyType(check_fields(self.callback)))

    def __repr__(self) -> str:
        posted = "None" if self.callback is None else f"<{len(self.callback)} fields>"
        return (
            f"PendingSignIn(state={fingerprint('state', self.state)}, browser_id="
            f"{fingerprint('browser', self.browser_id)}, nonce={self.nonce!r}, code_verifier="
            f"{self.code_verifier!r}, return_path={self.return_path!r}, created_at={self.created_at!r}, "
            f"response_type={self.response_type!r}, callback={posted}, resource={self.resource!r})"
        )


def check_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """A copy of posted callback fields, refusing anything but ``str`` keys and values."""
    if not isinstance(fields, Mapping):
        raise ValueError("callback fields must be a mapping of str to str")
    copied = dict(fields)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in copied.items()):
        raise ValueError("callback fields must be a mapping of str to str")
    return copied


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SessionRecord:
    """A signed-in session. The browser holds only (a signature of) ``session_id``.

    ``claims`` are the user's display claims (``tid``, ``oid``, ``name``, ``upn``, ...), JSON
    values only. ``tokens`` is ``None`` once they were dropped (e.g. a refresh was refused).
    ``version`` grows by one on every :meth:`SessionStore.update_tokens`: the compare-and-set
    that lets one worker refresh while the others notice and re-read.
    The session is alive while ``now < expires_at``.
    """

    session_id: str
    created_at: float
    expires_at: float
    last_seen: float
    claims: Mapping[str, Any]
    tokens: TokenSet | None
    csrf_token: str
    flow_id: str
    version: int = 0

    def __post_init__(self) -> None:
        check_key(self.session_id, "session_id")
        for name in ("created_at", "expires_at", "last_seen"):
            _check_time(getattr(self, name), name)
        if self.expires_at < self.created_at:
            raise ValueError("expires_at must not be before created_at")
        if not isinstance(self.claims, Mapping) or not all(isinstance(k, str) for k in self.claims):
            raise ValueError("claims must be a mapping with str keys")
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))
        if self.tokens is not None and not isinstance(self.tokens, TokenSet):
            raise ValueError("tokens must be a TokenSet or None")
        if not isinstance(self.csrf_token, str) or not self.csrf_token:
            raise ValueError("csrf_token must be a non-empty str")
        if not isinstance(self.flow_id, str):
            raise ValueError("flow_id must be a str")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise ValueError("version must be an int >= 0")

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at

    def __repr__(self) -> str:
        return (
            f"SessionRecord(session_id={fingerprint('session', self.session_id)}, created_at="
            f"{self.created_at!r}, expires_at={self.expires_at!r}, last_seen={self.last_seen!r}, "
            f"claims=<{len(self.claims)} claims>, tokens={self.tokens!r}, csrf_token="
            f"{fingerprint('csrf', self.csrf_token)}, flow_id={self.flow_id!r}, version={self.version})"
        )
