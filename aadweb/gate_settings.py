"""The gate's settings, checked (DESIGN.md, "Protecting an app" and the configuration table).

``AADWEB_APP`` names the WSGI app to protect (``module:attribute``); ``AADWEB_ROUTE_PREFIX`` is
where aadweb's own routes live in front of it; ``AADWEB_PUBLIC_PATHS`` are path prefixes the
app serves without a sign-in; ``AADWEB_REQUIRE_ROLES`` / ``AADWEB_REQUIRE_GROUPS`` are what a
user needs one of. Each problem is one sentence, as :class:`~aadweb.settings.Settings` reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = ["gate_problems", "is_public"]

_GUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: ``package.module:attribute`` (dotted names, as gunicorn and ``AADWEB_APP`` take them).
_APP: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
#: A path of plain segments: RFC 3986 unreserved characters only, no empty, "." or ".." segment.
_PATH: Final = re.compile(r"(/[A-Za-z0-9._~-]+)+")
#: An app role's value (the manifest's ``value``): no spaces, no commas; at most 120 characters.
_ROLE: Final = re.compile(r"[!-~]{1,120}")


def _plain_path(path: str) -> bool:
    return bool(_PATH.fullmatch(path)) and not any(seg in (".", "..") for seg in path.split("/"))


def gate_problems(*, app: str | None, route_prefix: str, public_paths: Sequence[str],
                  require_roles: Sequence[str], require_groups: Sequence[str]) -> list[str]:
    p: list[str] = []
    if app is not None and not _APP.fullmatch(app):
        p.append(f"AADWEB_APP must name a WSGI app as module:attribute (e.g. myproject.wsgi:application), "
                 f"not {app[:80]!r}.")
    if not _plain_path(route_prefix):
        p.append("AADWEB_ROUTE_PREFIX must be a path like /.auth: it starts with '/', has no trailing '/', and "
                 "uses only letters, digits and . _ ~ -")
    for path in public_paths:
        if not _plain_path(path.rstrip("/") or "/"):
            p.append(f"AADWEB_PUBLIC_PATHS entry {path[:80]!r} must be a path like /static or /health "
                     "(letters, digits and . _ ~ - only; not '/', which would make every page public).")
        elif _within(route_prefix, path.rstrip("/")) or _within(path.rstrip("/"), route_prefix):
            p.append(f"AADWEB_PUBLIC_PATHS entry {path!r} overlaps AADWEB_ROUTE_PREFIX {route_prefix!r}.")
    for role in require_roles:
        if not _ROLE.fullmatch(role):
            p.append(f"AADWEB_REQUIRE_ROLES entry {role[:80]!r} is not an app role value (no spaces).")
    for group in require_groups:
        if not _GUID.fullmatch(group):
            p.append(f"AADWEB_REQUIRE_GROUPS entry {group[:80]!r} is not a group object id (a GUID).")
    return p


def _within(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it, segment-wise (``/static`` covers ``/static/a``, not ``/statics``)."""
    return path == prefix or path.startswith(prefix + "/")


def _plain_request_path(path: str) -> bool:
    """No ``.``, ``..`` or empty segment (a trailing ``/`` aside) and no backslash: a path that
    means only what it says. ``/static/../admin`` is not under ``/static`` for whatever resolves
    dot-segments below the gate (a proxy, a file server, traversal)."""
    if "\\" in path:
        return False
    segments = path.split("/")[1:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    return all(seg not in ("", ".", "..") for seg in segments)


def is_public(path: str, public_paths: Sequence[str]) -> bool:
    """Whether ``path`` (relative to the mount point, decoded) is under one of ``public_paths``;
    never a path with dot-segments, empty segments or backslashes."""
    return _plain_request_path(path) and any(_within(path, prefix.rstrip("/")) for prefix in public_paths)
