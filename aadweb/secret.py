"""A small wrapper for values that must never reach a log, a page or an exception message.

``Secret("code", value)`` prints as a fingerprint ``«code:3f9a1c2b7d4e len=812»``: the first
12 hex digits of SHA-256 of the value and its length, so one value can be followed across a
transcript without being revealed. ``.reveal()`` is the one way to get the value back and is
called only where the value goes on the wire or into encrypted storage. :func:`redact_url`
hides the password a URL may carry (a Redis URL in ``AADWEB_SESSION_STORE``).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["Secret", "fingerprint", "redact_url"]


def fingerprint(kind: str, value: str | bytes) -> str:
    """``«kind:sha256-prefix len=N»`` for a secret value (DESIGN.md, Wire transcript)."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return f"\u00ab{kind}:{digest} len={len(raw)}\u00bb"


class Secret:
    """A string that shows only its fingerprint. Equality is constant-time."""

    __slots__ = ("_kind", "_value")

    def __init__(self, kind: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret value must be a str")
        self._kind = kind
        self._value = value

    @property
    def kind(self) -> str:
        return self._kind

    def reveal(self) -> str:
        """The value itself. Call only to put it on the wire or into encrypted storage."""
        return self._value

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._kind, self._value)

    def __repr__(self) -> str:
        return self.fingerprint

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        # Only the value, as in __eq__: equal secrets must hash alike whatever their kind.
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:  # pickling would write the value in clear
        raise TypeError("Secret values cannot be pickled")


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``, for messages
    and reprs (e.g. a Redis password in ``AADWEB_SESSION_STORE``). Works on malformed URLs too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"
