"""The start-up checks: everything :func:`~aadweb.web.create_app` refuses to start with.

``Settings`` validates each value on its own when it is built. What is left needs more than
one value, or a look at the machine: the secret key the web app signs cookies with, the
session store URL (and whether its sqlite file can be created, or the redis package is
there), the wire transcript options (the transcript page only on loopback, a log file that
can be written). :func:`startup_problems` finds all of them *without opening anything*: no
file created, no connection, no port. ``create_app`` runs it before building anything and
``aadweb check-config`` runs the very same function, so "configuration OK" means the app
starts (DESIGN.md, "Entry points").
"""

from __future__ import annotations

import importlib.util

from aadweb.compose import SECRET_KEY_REQUIRED
from aadweb.errors import ConfigurationError
from aadweb.sessions import store_problems
from aadweb.settings import Settings
from aadweb.web.app import callback_problems, route_prefix
from aadweb.web.wiretap import wire_problems

__all__ = ["SECRET_KEY_REQUIRED", "check_startup", "startup_problems"]


def startup_problems(settings: Settings, *, store: bool = True, protected: bool = False) -> list[str]:
    """Every reason the web app would refuse to start with ``settings``, one sentence each.

    ``store=False`` skips the session store URL (``create_app`` was handed a store);
    ``protected``: an app is handed to the gate (``protect``), so aadweb's routes are under
    ``AADWEB_ROUTE_PREFIX`` even without ``AADWEB_APP``.
    """
    problems: list[str] = []
    if settings.secret_key is None:
        problems.append(SECRET_KEY_REQUIRED)
    if store:
        problems += store_problems(settings.session_store)
    gated = protected or settings.app is not None
    problems += callback_problems(settings.redirect_uri, prefix=route_prefix(settings, sample=not gated))
    if settings.app is not None:
        module = settings.app.partition(":")[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            problems.append(f"AADWEB_APP {settings.app}: no module {module} can be imported "
                            "(is it on the Python path, e.g. the directory gunicorn runs in?).")
    problems += wire_problems(settings)
    return problems


def check_startup(settings: Settings, *, store: bool = True, protected: bool = False) -> None:
    """Raise :class:`ConfigurationError` listing :func:`startup_problems`, if there are any."""
    problems = startup_problems(settings, store=store, protected=protected)
    if problems:
        raise ConfigurationError(problems)
