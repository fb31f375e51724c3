"""Whether a file could be opened for writing, found by looking only (nothing is created)."""

from __future__ import annotations

import errno
import os

__all__ = ["why_not_writable"]


def why_not_writable(path: str) -> str | None:
    """Why the file ``path`` could not be opened for writing (created if missing), or None.

    Uses ``os.access`` and ``stat`` only, so a start-up check (``aadweb check-config``) can say
    what the first write would say (``strerror`` text) without creating the file.
    """
    if os.path.isdir(path):
        return os.strerror(errno.EISDIR)
    if os.path.exists(path):
        return None if os.access(path, os.R_OK | os.W_OK) else os.strerror(errno.EACCES)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return os.strerror(errno.ENOENT)
    return None if os.access(parent, os.W_OK | os.X_OK) else os.strerror(errno.EACCES)
