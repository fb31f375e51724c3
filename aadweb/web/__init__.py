"""The web layer: a Werkzeug WSGI app with the routes ``/``, ``/login``, the callback (the path of
``AADWEB_REDIRECT_URI``, ``/getAToken`` by default), ``/graphcall``, ``/logout``, ``/healthz``.

``create_app(settings)`` checks what serving needs (:func:`app_problems`), builds the sign-in
once at start-up with :func:`aadweb.compose.build_signin` (the session store, the keep-alive
transport, :class:`~aadweb.authority.Authority`, :class:`~aadweb.graph.GraphClient`,
:class:`~aadweb.signin.SignIn`) and returns the WSGI application::

    from aadweb import create_app
    app = create_app()          # settings from the environment (AADWEB_*)
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from werkzeug.middleware.proxy_fix import ProxyFix

from aadweb.compose import build_signin
from aadweb.errors import ConfigurationError
from aadweb.sessions import SessionStore
from aadweb.settings import Settings, env_values
from aadweb.transport import Transport
from aadweb.web.app import AadWebApp
from aadweb.web.startup import SECRET_KEY_REQUIRED, check_startup, startup_problems

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["AadWebApp", "app_settings", "check_startup", "create_app", "load_app", "protect", "startup_problems"]


def app_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """``Settings.from_env(environ)`` for serving the app: every problem at once, the start-up
    checks of :func:`~aadweb.web.startup.startup_problems` included (what ``aadweb serve``,
    ``aadweb.wsgi`` and ``check-config`` read)."""
    values, problems = env_values(environ)
    try:
        settings = Settings.from_mapping(values, problems=problems)
    except ConfigurationError as exc:
        missing_key = [] if values.get("AADWEB_SECRET_KEY", "").strip() else [SECRET_KEY_REQUIRED]
        raise ConfigurationError([*exc.problems, *missing_key]) from None
    check_startup(settings)
    return settings


def create_app(
    settings: Settings | None = None,
    *,
    store: SessionStore | None = None,
    transport: Transport | None = None,
    clock: Callable[[], float] = time.time,
    key_cache_clock: Callable[[], float] = time.monotonic,
    app: WSGIApplication | None = None,
) -> AadWebApp:
    """The aadweb WSGI app for ``settings`` (default: :func:`app_settings`, from the environment):
    the gate in front of ``app``, else of the app ``AADWEB_APP`` names, else of the seed's sample
    pages (with aadweb's routes at the root, as the original sample had them).

    ``store`` and ``transport`` are built from the settings unless given (tests give their
    own; a store given here keeps its own idle limit: open it with
    ``open_store(..., idle=settings.session_idle)`` to honour ``AADWEB_SESSION_IDLE``);
    ``clock`` drives session and token expiry; ``key_cache_clock`` (monotonic) drives the
    metadata/JWKS cache's TTL and its 5-minute refetch limit, so a test can step over it; all
    four go to :func:`~aadweb.compose.build_signin`. Raises
    :class:`~aadweb.errors.ConfigurationError` listing every problem
    :func:`~aadweb.web.startup.startup_problems` finds (``AADWEB_SECRET_KEY`` missing, a session
    store URL that cannot be opened, a callback path that is one of the app's own routes,
    ``AADWEB_WIRE_VIEW=1`` off loopback, ...), before anything is opened. ``app.close()``
    closes what was built here.
    """
    if settings is None:
        settings = app_settings()
    # Every refusal first, all at once, before anything is opened (aadweb check-config runs the same).
    check_startup(settings, store=store is None, protected=app is not None)
    if app is None and settings.app is not None:
        app = load_app(settings.app)
    signin = build_signin(settings, store=store, transport=transport, clock=clock, key_cache_clock=key_cache_clock)
    try:
        gate = AadWebApp(settings, signin, close=(signin.close,), transcript=signin.transcript, app=app)
    except BaseException:
        signin.close()
        raise
    hops = settings.trusted_proxy_hops
    if hops > 0:
        # Werkzeug's ProxyFix with explicit trust counts; without it X-Forwarded-* are ignored.
        gate.wsgi_app = ProxyFix(gate.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return gate


def protect(app: WSGIApplication, settings: Settings | None = None, **options: Any) -> AadWebApp:
    """``app`` behind the gate (DESIGN.md, "Protecting an app"): every request needs a signed-in
    user, who reaches ``app`` with ``REMOTE_USER``, ``environ["aadweb.user"]`` and
    ``environ["aadweb.access_token"]``; aadweb's routes live under ``AADWEB_ROUTE_PREFIX``.
    ``settings`` default to the environment; ``options`` are :func:`create_app`'s."""
    if not callable(app):
        raise TypeError("protect() needs a WSGI application (a callable taking environ and start_response)")
    return create_app(settings, app=app, **options)


def load_app(name: str) -> WSGIApplication:
    """The WSGI app ``AADWEB_APP`` names (``module:attribute``), imported now; ConfigurationError
    (naming what failed, never a value) if it cannot be."""
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the app's own import-time failure: the operator must see which
        raise ConfigurationError(
            [f"AADWEB_APP {name}: the module cannot be imported ({type(exc).__name__}: {str(exc)[:200]})."]
        ) from exc
    found = getattr(module, attribute, None)
    if found is None or not callable(found):
        raise ConfigurationError([f"AADWEB_APP {name}: {module_name} has no WSGI application called {attribute}."])
    return cast("WSGIApplication", found)
