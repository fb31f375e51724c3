"""The WSGI entry point for production servers: ``gunicorn aadweb.wsgi:app``.

The app is built at import from the environment (``AADWEB_*``, ``AADWEB_CONFIG``). If the
configuration is invalid, the import fails with every problem listed, one per line, so
gunicorn refuses to boot instead of serving a broken app. See ``examples/gunicorn.conf.py``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from aadweb.errors import ConfigurationError
from aadweb.web import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["app"]


class InvalidConfiguration(ConfigurationError):
    """The import-time failure: its message lists every problem, one per line."""

    def __str__(self) -> str:
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"aadweb cannot start: the configuration is not valid (see `aadweb check-config`):\n{lines}"


def _load() -> WSGIApplication:
    try:
        return create_app()
    except ConfigurationError as exc:
        error = InvalidConfiguration(exc.problems)
        print(error, file=sys.stderr, flush=True)
        raise error from None


app: WSGIApplication = _load()
