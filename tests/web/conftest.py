"""The real app on a real loopback socket, against the real emulator (tests/conftest.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from aadweb.emulator import DEMO_TENANT_ID, ClientRegistration, Emulator
from aadweb.secret import Secret
from aadweb.sessions import SessionStore
from aadweb.settings import Settings
from aadweb.web import AadWebApp, create_app
from tests.conftest import emulator_settings
from tests.web.browser import Browser

SECRET_KEY = "x" * 40


class QuietHandler(WSGIRequestHandler):
    """No access log: Werkzeug's would print query strings (the code flow's code)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _not_found(environ: Any, start_response: Any) -> Any:
    return Response("not the app", status=404)(environ, start_response)


@dataclass
class Served:
    """One running app: its URL (mount point included), the app, its store and settings."""

    url: str
    app: AadWebApp
    settings: Settings
    client_secret: str
    redirect_uri: str

    @property
    def store(self) -> SessionStore:
        return self.app.store

    def browser(self) -> Browser:
        return Browser(self.url)


@pytest.fixture
def serve(emulator: Emulator, emulator_url: str, tmp_path: Any) -> Iterator[Callable[..., Served]]:
    """``serve(mount="", store_url="memory:", callback="/getAToken", clock=None, app=None, **settings)``
    starts an app whose redirect URI is ``{mount}{callback}`` (on ``clock``, default ``time.time``;
    ``app``: a WSGI app behind the gate instead of the sample); all stop at teardown. The
    endpoint is a setting: ``serve(endpoint="v2")``.

    Each app gets an app registration of its own at the emulator (a fresh client id whose only
    redirect URI is this app's), so apps never share registrations.
    """
    running: list[tuple[BaseWSGIServer, threading.Thread, AadWebApp]] = []

    def start(
        *, mount: str = "", store_url: str = "memory:", callback: str = "/getAToken",
        clock: Callable[[], float] | None = None, app: Any = None, protect: Any = None, **changes: Any
    ) -> Served:
        server = make_server("127.0.0.1", 0, _not_found, threaded=True, request_handler=QuietHandler)
        base = f"http://127.0.0.1:{server.server_port}"
        redirect_uri = f"{base}{mount}{callback}"
        client_id, client_secret = str(uuid.uuid4()), f"secret-{uuid.uuid4()}"
        emulator.register_client(ClientRegistration(
            client_id=client_id, client_secret=client_secret, redirect_uris=(redirect_uri,),
            allow_id_tokens=True, home_tenant_id=DEMO_TENANT_ID,
        ))
        values: dict[str, Any] = {
            "client_id": client_id, "client_secret": Secret("client_secret", client_secret),
            "redirect_uri": redirect_uri, "secret_key": Secret("secret_key", SECRET_KEY),
            "session_store": store_url if store_url != "sqlite" else f"sqlite:///{tmp_path}/s-{uuid.uuid4()}.db",
        }
        values.update(changes)
        settings = emulator_settings(emulator_url, **values)
        options: dict[str, Any] = {} if clock is None else {"clock": clock}
        protected = app if app is not None else protect  # a WSGI app behind the gate (aadweb.protect)
        gate = create_app(settings, app=protected, **options)
        server.app = DispatcherMiddleware(_not_found, {mount: gate}) if mount else gate
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        running.append((server, thread, gate))
        return Served(url=f"{base}{mount}", app=gate, settings=settings, client_secret=client_secret,
                      redirect_uri=redirect_uri)

    yield start
    for server, thread, app in running:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        app.close()


@pytest.fixture(params=["v1", "v2"])
def endpoint(request: pytest.FixtureRequest) -> str:
    """``AADWEB_ENDPOINT``, for the tests whose behaviour is the same on both (DESIGN.md: parametrise)."""
    return str(request.param)


@pytest.fixture
def served(serve: Callable[..., Served]) -> Served:
    """The default app: hybrid flow, memory store, at the root."""
    return serve()
