"""Who is signed in, as a protected app sees it: :class:`User` (``environ["aadweb.user"]``).

Built from the claims of the id_token validated at sign-in (and, on group overage, the groups
resolved through Graph once per session). The user is identified by ``(tid, oid)``, never by
a name or an email address, which can change or be reassigned (DESIGN.md, id_token validation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["User"]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """The signed-in user. ``username`` is the UPN (v1) or ``preferred_username`` (v2): what
    ``REMOTE_USER`` holds. ``roles`` are the app roles of the ``roles`` claim; ``groups`` the
    group object ids (from the ``groups`` claim, or from Graph when the token had too many)."""

    tid: str
    oid: str
    sub: str
    name: str | None = None
    username: str | None = None
    email: str | None = None
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in ("tid", "oid", "sub"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field):
                raise ValueError(f"a user needs a non-empty {field}")
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "groups", tuple(self.groups))

    @property
    def remote_user(self) -> str:
        """What ``REMOTE_USER`` carries: the username, else the object id (never empty)."""
        return self.username or self.oid

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, groups: Iterable[str] | None = None) -> User:
        """The user of a session's claims. ``groups`` (resolved through Graph on overage)
        replaces the ``groups`` claim when given."""
        username = _text(claims.get("upn")) or _text(claims.get("preferred_username")) \
            or _text(claims.get("unique_name"))
        return cls(
            tid=str(claims.get("tid", "")), oid=str(claims.get("oid", "")), sub=str(claims.get("sub", "")),
            name=_text(claims.get("name")), username=username, email=_text(claims.get("email")),
            roles=_strings(claims.get("roles")),
            groups=_strings(claims.get("groups") if groups is None else groups),
        )
