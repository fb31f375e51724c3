"""The composition root minus the web layer: :func:`build_signin`.

From the settings it builds, once per process, everything a sign-in needs — the session store,
the keep-alive transport (wrapped to write the wire transcript when ``AADWEB_WIRE_LOG`` is set),
:class:`~aadweb.authority.Authority` and :class:`~aadweb.graph.GraphClient` — and returns the
:class:`~aadweb.signin.SignIn`; ``signin.close()`` closes what was opened here. The web layer
(``aadweb.web.create_app``) calls it and adds cookies, routes and pages; a program with its own
front end can call it directly::

    from aadweb import Settings, build_signin
    signin = build_signin(Settings.from_env())
    try:
        url = signin.begin(browser_id=..., return_path="/")
        ...
    finally:
        signin.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from aadweb.authority import Authority
from aadweb.errors import ConfigurationError
from aadweb.events import SignInObserver
from aadweb.graph import GraphClient
from aadweb.secret import Secret
from aadweb.sessions import SessionStore, open_store
from aadweb.settings import Settings
from aadweb.signin import SignIn
from aadweb.transcript.writer import Transcript
from aadweb.transport import RecordingTransport, RequestsTransport, Transport

__all__ = ["SECRET_KEY_REQUIRED", "build_signin", "open_transcript", "require_secret_key"]

SECRET_KEY_REQUIRED: Final = (
    "AADWEB_SECRET_KEY is required: a long random value shared by all workers, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
)


def require_secret_key(settings: Settings) -> Secret:
    """``AADWEB_SECRET_KEY``, or :class:`ConfigurationError`: serving the app and opening a session
    store need it (it signs the cookies and derives the key that encrypts tokens at rest);
    :class:`Settings` itself does not require it."""
    if settings.secret_key is None:
        raise ConfigurationError([SECRET_KEY_REQUIRED])
    return settings.secret_key


def open_transcript(settings: Settings) -> Transcript | None:
    """The wire transcript ``settings`` ask for (None: ``AADWEB_WIRE_LOG`` unset), opened now so a
    path that cannot be written is a start-up error, not a silent gap."""
    if not settings.wire_log:
        return None
    transcript = Transcript(settings.wire_log, personal=settings.wire_personal)
    try:
        transcript.check_writable()
    except OSError as exc:
        raise ConfigurationError(
            [f"AADWEB_WIRE_LOG {settings.wire_log} cannot be opened for appending ({exc.strerror or exc})."]
        ) from None
    return transcript


def build_signin(
    settings: Settings,
    *,
    store: SessionStore | None = None,
    transport: Transport | None = None,
    clock: Callable[[], float] = time.time,
    key_cache_clock: Callable[[], float] = time.monotonic,
    observer: SignInObserver | None = None,
) -> SignIn:
    """The :class:`SignIn` for ``settings``, with everything it uses built from them.

    ``store`` and ``transport`` are built unless given (tests give their own; what is given is
    not closed by ``signin.close()``); building the store needs ``AADWEB_SECRET_KEY``. ``clock``
    drives session and token expiry; ``key_cache_clock`` (monotonic) the metadata/JWKS cache's
    TTL and its 5-minute refetch limit, so a test can step over it. With ``AADWEB_WIRE_LOG``
    every outbound call goes through a :class:`~aadweb.transport.RecordingTransport` that writes
    the transcript (``signin.transcript``); without it nothing is wrapped. ``observer`` hears
    every step of every sign-in (:mod:`aadweb.events`); more can be added with ``signin.observe``.
    """
    closers: list[Callable[[], None]] = []
    try:
        transcript = open_transcript(settings)
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
            secret_key = require_secret_key(settings)
            store = open_store(settings.session_store, secret_key=secret_key.reveal(), clock=clock,
                               idle=settings.session_idle)
            closers.append(store.close)
        authority = Authority(settings, transport, clock=clock, key_cache_clock=key_cache_clock)
        graph = GraphClient(settings, transport, clock=clock)
    except BaseException:
        for close in closers:
            close()
        raise
    return SignIn(settings, store, authority, graph, clock=clock, observer=observer, transcript=transcript,
                  close=closers)
