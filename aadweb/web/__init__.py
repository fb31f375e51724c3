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

import time
from collections.abc import Callable, Mapping

from werkzeug.middleware.proxy_fix import ProxyFix

from aadweb.compose import SECRET_KEY_REQUIRED, build_signin
from aadweb.errors import ConfigurationError
from aadweb.sessions import SessionStore
from aadweb.settings import Settings, env_values
from aadweb.transport import Transport
from aadweb.web.app import AadWebApp, callback_problems
from aadweb.web.wiretap import wire_view_problems

__all__ = ["AadWebApp", "app_problems", "app_settings", "create_app"]


def app_problems(settings: Settings) -> list[str]:
    """What serving the app needs beyond valid settings, one sentence per problem: a secret key
    (it signs the cookies), a callback path of its own, and the transcript page only on loopback."""
    problems = [] if settings.secret_key is not None else [SECRET_KEY_REQUIRED]
    return problems + callback_problems(settings.redirect_uri) + wire_view_problems(settings)


def app_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """``Settings.from_env(environ)`` for serving the app: every problem at once, those of
    :func:`app_problems` included (what ``aadweb serve``, ``aadweb.wsgi`` and ``check-config`` read)."""
    values, problems = env_values(environ)
    try:
        settings = Settings.from_mapping(values, problems=problems)
    except ConfigurationError as exc:
        missing_key = [] if values.get("AADWEB_SECRET_KEY", "").strip() else [SECRET_KEY_REQUIRED]
        raise ConfigurationError([*exc.problems, *missing_key]) from None
    problems = app_problems(settings)
    if problems:
        raise ConfigurationError(problems)
    return settings


def create_app(
    settings: Settings | None = None,
    *,
    store: SessionStore | None = None,
    transport: Transport | None = None,
    clock: Callable[[], float] = time.time,
    key_cache_clock: Callable[[], float] = time.monotonic,
) -> AadWebApp:
    """The aadweb WSGI app for ``settings`` (default: :func:`app_settings`, from the environment).

    Raises :class:`~aadweb.errors.ConfigurationError` listing :func:`app_problems`: without
    ``AADWEB_SECRET_KEY`` the app could not sign its cookies; ``AADWEB_WIRE_VIEW=1`` is refused
    for an app that is not on loopback (or without ``AADWEB_WIRE_LOG``). ``store``,
    ``transport``, ``clock`` and ``key_cache_clock`` go to :func:`~aadweb.compose.build_signin`;
    ``app.close()`` closes what it built.
    """
    if settings is None:
        settings = app_settings()
    problems = app_problems(settings)
    if problems:
        raise ConfigurationError(problems)
    signin = build_signin(settings, store=store, transport=transport, clock=clock, key_cache_clock=key_cache_clock)
    try:
        app = AadWebApp(settings, signin, close=(signin.close,), transcript=signin.transcript)
    except BaseException:
        signin.close()
        raise
    hops = settings.trusted_proxy_hops
    if hops > 0:
        # Werkzeug's ProxyFix with explicit trust counts; without it X-Forwarded-* are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app
