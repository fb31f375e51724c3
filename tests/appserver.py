"""Run the real aadweb app on a loopback socket (Werkzeug make_server in a thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server

from aadweb.emulator import DEMO_CLIENT, ClientRegistration, Emulator
from aadweb.secret import Secret
from aadweb.settings import Settings
from tests.conftest import emulator_settings


@dataclass
class RunningApp:
    url: str
    settings: Settings
    app: Any


def allow_redirect_uri(emulator: Emulator, redirect_uri: str) -> None:
    """Register ``redirect_uri`` for the demo client (keeping the ones it already has)."""
    current = emulator.directory.client(DEMO_CLIENT.client_id) or DEMO_CLIENT
    if redirect_uri not in current.redirect_uris:
        emulator.register_client(ClientRegistration(
            client_id=current.client_id, client_secret=current.client_secret,
            redirect_uris=(*current.redirect_uris, redirect_uri), certificate_pem=current.certificate_pem,
            allow_id_tokens=current.allow_id_tokens, home_tenant_id=current.home_tenant_id,
            multi_tenant=current.multi_tenant,
        ))


@contextmanager
def running_app(emulator: Emulator, emulator_url: str, *, hostname: str = "127.0.0.1",
                **changes: Any) -> Iterator[RunningApp]:
    """The app on 127.0.0.1:<free port>, its redirect URI registered at the emulator."""
    from aadweb.web import create_app

    server = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True)
    port = server.socket.getsockname()[1]
    base = f"http://{hostname}:{port}"
    values: dict[str, Any] = {"secret_key": Secret("secret_key", "test-secret-key-" + "x" * 32),
                              "redirect_uri": f"{base}/getAToken"}
    values.update(changes)
    settings = emulator_settings(emulator_url, **values)
    allow_redirect_uri(emulator, settings.redirect_uri)
    app = create_app(settings)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningApp(url=base, settings=settings, app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
