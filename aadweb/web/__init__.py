"""The web layer: a Werkzeug WSGI app with the routes ``/``, ``/login``, ``/getAToken``,
``/graphcall``, ``/logout``, ``/healthz``.

``create_app(settings)`` builds everything once at start-up (the session store, the keep-alive
transport, :class:`~aadweb.authority.Authority`, :class:`~aadweb.graph.GraphClient`,
:class:`~aadweb.signin.SignIn`) and returns the WSGI application::

    from aadweb import create_app
    app = create_app()          # settings from the environment (AADWEB_*)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from werkzeug.middleware.proxy_fix import ProxyFix

from aadweb.authority import Authority
from aadweb.errors import ConfigurationError
from aadweb.graph import GraphClient
from aadweb.sessions import SessionStore, open_store
from aadweb.settings import Settings
from aadweb.signin import SignIn
from aadweb.transport import RecordingTransport, RequestsTransport, Transport
from aadweb.web.app import AadWebApp
from aadweb.web.wiretap import wire_tap

__all__ = ["AadWebApp", "create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    store: SessionStore | None = None,
    transport: Transport | None = None,
    clock: Callable[[], float] = time.time,
    key_cache_clock: Callable[[], float] = time.monotonic,
) -> AadWebApp:
    """The aadweb WSGI app for ``settings`` (default: ``Settings.from_env()``).

    ``store`` and ``transport`` are built from the settings unless given (tests give their
    own); ``clock`` drives session and token expiry; ``key_cache_clock`` (monotonic) drives the
    metadata/JWKS cache's TTL and its 5-minute refetch limit, so a test can step over it. Raises
    :class:`~aadweb.errors.ConfigurationError` when ``AADWEB_SECRET_KEY`` is missing: the app
    could not sign its cookies; or when ``AADWEB_WIRE_VIEW=1`` is asked for an app that is not
    on loopback (or without ``AADWEB_WIRE_LOG``). ``app.close()`` closes what was built here.

    With ``AADWEB_WIRE_LOG`` set, every outbound call goes through a
    :class:`~aadweb.transport.RecordingTransport` whose hook writes the wire transcript; without it
    nothing is wrapped.
    """
    if settings is None:
        settings = Settings.from_env()
    if settings.secret_key is None:
        raise ConfigurationError(
            ["AADWEB_SECRET_KEY is required to serve the web app: it signs the session cookies."]
        )
    wiretap = wire_tap(settings)
    closers: list[Callable[[], None]] = []
    if transport is None:
        proxies = {"http": settings.proxy, "https": settings.proxy} if settings.proxy else None
        requests_transport = RequestsTransport(timeout=settings.http_timeout, proxies=proxies)
        closers.append(requests_transport.close)
        transport = requests_transport
    if wiretap is not None:
        transport = RecordingTransport(transport, on_exchange=wiretap.transcript.on_exchange, keep=False)
        closers.append(wiretap.transcript.close)
    if store is None:
        store = open_store(settings.session_store, secret_key=settings.secret_key.reveal(), clock=clock)
        closers.append(store.close)
    authority = Authority(settings, transport, clock=clock, key_cache_clock=key_cache_clock)
    graph = GraphClient(settings, transport, clock=clock)
    signin = SignIn(settings, store, authority, graph, clock=clock, observer=wiretap)
    app = AadWebApp(settings, signin, close=closers, wiretap=wiretap)
    hops = settings.trusted_proxy_hops
    if hops > 0:
        # Werkzeug's ProxyFix with explicit trust counts; without it X-Forwarded-* are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app
