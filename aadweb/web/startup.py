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

from aadweb.compose import SECRET_KEY_REQUIRED
from aadweb.errors import ConfigurationError
from aadweb.sessions import store_problems
from aadweb.settings import Settings
from aadweb.web.app import callback_problems
from aadweb.web.wiretap import wire_problems

__all__ = ["SECRET_KEY_REQUIRED", "check_startup", "startup_problems"]


def startup_problems(settings: Settings, *, store: bool = True) -> list[str]:
    """Every reason the web app would refuse to start with ``settings``, one sentence each.

    ``store=False`` skips the session store URL (``create_app`` was handed a store).
    """
    problems: list[str] = []
    if settings.secret_key is None:
        problems.append(SECRET_KEY_REQUIRED)
    if store:
        problems += store_problems(settings.session_store)
    problems += callback_problems(settings.redirect_uri)
    problems += wire_problems(settings)
    return problems


def check_startup(settings: Settings, *, store: bool = True) -> None:
    """Raise :class:`ConfigurationError` listing :func:`startup_problems`, if there are any."""
    problems = startup_problems(settings, store=store)
    if problems:
        raise ConfigurationError(problems)
