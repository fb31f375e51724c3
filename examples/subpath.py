"""aadweb mounted under ``/auth`` beside another WSGI app, with Werkzeug's DispatcherMiddleware.

    python examples/subpath.py --demo      # against the local emulator, nothing to configure

or against your tenant (register the redirect URI ``http://localhost:5000/auth/getAToken``)::

    AADWEB_REDIRECT_URI=http://localhost:5000/auth/getAToken AADWEB_TENANT=... \\
        AADWEB_CLIENT_ID=... AADWEB_CLIENT_SECRET=... AADWEB_SECRET_KEY=... python examples/subpath.py

Then open http://localhost:5000/. aadweb builds every link and redirect relative to its mount
point (``SCRIPT_NAME``), so under ``/auth`` its routes are ``/auth/login``, ``/auth/getAToken``,
``/auth/graphcall`` ...; the redirect URI is the one setting that must name the full path.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from aadweb.errors import ConfigurationError
from aadweb.settings import Settings
from aadweb.testing import DevServer
from aadweb.web import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MOUNT = "/auth"


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The other app: a page that links to the aadweb part of the site."""
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>The main site</title></head><body>"
        "<h1>The main site</h1>"
        f"<p>This page is served by another WSGI app. <a href='{MOUNT}/'>Sign in with Azure AD</a> "
        f"or <a href='{MOUNT}/graphcall'>call Microsoft Graph</a>.</p></body></html>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def build_app(settings: Settings | None = None) -> WSGIApplication:
    """``hello`` at ``/`` and aadweb at ``/auth`` (settings default: the environment)."""
    return DispatcherMiddleware(hello, {MOUNT: create_app(settings)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--demo", action="store_true", help="use the local emulator (nothing to configure)")
    args = parser.parse_args(argv)
    server = DevServer("127.0.0.1", args.port)
    redirect_uri = f"http://localhost:{server.port}{MOUNT}/getAToken"
    emulator_server = None
    if args.demo:
        from aadweb.emulator import Emulator, EmulatorServer
        from aadweb.testing import demo_settings, register_demo_redirect

        emulator = Emulator()
        register_demo_redirect(emulator, redirect_uri)  # the app registration must know the path
        emulator_server = EmulatorServer(emulator).start()
        settings = demo_settings(emulator_url=emulator_server.url, redirect_uri=redirect_uri)
    else:
        try:
            settings = Settings.from_env()
        except ConfigurationError as exc:
            print("the configuration is not valid:", *(f"  - {p}" for p in exc.problems), sep="\n", file=sys.stderr)
            server.shutdown()
            return 2
        if settings.redirect_uri != redirect_uri:
            print(f"note: AADWEB_REDIRECT_URI is {settings.redirect_uri}; under {MOUNT} it is usually "
                  f"{redirect_uri}", file=sys.stderr)
    server.set_app(build_app(settings))
    server.start()
    print(f"Open http://localhost:{server.port}/  (aadweb is at {MOUNT}/; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        if emulator_server is not None:
            emulator_server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
