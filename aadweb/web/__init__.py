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
from aadweb.graph import GraphClient
from aadweb.sessions import SessionStore, open_store
from aadweb.settings import Settings
from aadweb.signin import SignIn
from aadweb.transport import RecordingTransport, RequestsTransport, Transport
from aadweb.web.app import AadWebApp
from aadweb.web.startup import check_startup, startup_problems
from aadweb.web.wiretap import wire_transcript

__all__ = ["AadWebApp", "check_startup", "create_app", "startup_problems"]


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
    own; a store given here keeps its own idle limit: open it with
    ``open_store(..., idle=settings.session_idle)`` to honour ``AADWEB_SESSION_IDLE``);
    ``clock`` drives session and token expiry; ``key_cache_clock`` (monotonic) drives the
    metadata/JWKS cache's TTL and its 5-minute refetch limit, so a test can step over it. Raises
    :class:`~aadweb.errors.ConfigurationError` listing every problem
    :func:`~aadweb.web.startup.startup_problems` finds (``AADWEB_SECRET_KEY`` missing, a session
    store URL that cannot be opened, ``AADWEB_WIRE_VIEW=1`` off loopback, ...), before anything
    is opened. ``app.close()`` closes what was built here.

    With ``AADWEB_WIRE_LOG`` set, every outbound call goes through a
    :class:`~aadweb.transport.RecordingTransport` whose hook writes the wire transcript; without it
    nothing is wrapped.
    """
    if settings is None:
        settings = Settings.from_env()
    # Every refusal first, all at once, before anything is opened (aadweb check-config runs the same).
    check_startup(settings, store=store is None)
    assert settings.secret_key is not None  # check_startup refuses a missing one
    transcript = wire_transcript(settings)
    closers: list[Callable[[], None]] = []
    if transport is None:
        proxies = {"http": settings.proxy, "https": settings.proxy} if settings.proxy else None
        requests_transport = RequestsTransport(timeout=settings.http_timeout, proxies=proxies,
                                               ca_bundle=settings.ca_bundle)
        closers.append(requests_transport.close)
        transport = requests_transport
    if transcript is not None:
        transport = RecordingTransport(transport, on_exchange=transcript.on_exchange, keep=False)
        closers.append(transcript.close)
    if store is None:
        store = open_store(settings.session_store, secret_key=settings.secret_key.reveal(), clock=clock,
                           idle=settings.session_idle)
        closers.append(store.close)
    authority = Authority(settings, transport, clock=clock, key_cache_clock=key_cache_clock)
    graph = GraphClient(settings, transport, clock=clock)
    signin = SignIn(settings, store, authority, graph, clock=clock)
    app = AadWebApp(settings, signin, close=closers, transcript=transcript)
    hops = settings.trusted_proxy_hops
    if hops > 0:
        # Werkzeug's ProxyFix with explicit trust counts; without it X-Forwarded-* are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app
