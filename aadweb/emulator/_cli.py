"""``python -m aadweb.emulator``: serve the emulator for a browser or another process.

Prints ``aadweb emulator listening on http://HOST:PORT`` first (so a parent process can
read the real port when ``--port 0``), then the demo users and the app registration. With
``--tls`` it serves https with a certificate of its own making and prints the CA file to
trust (``--tls-dir`` keeps the files there; otherwise they go with the process). SIGINT and
SIGTERM stop it cleanly ("aadweb emulator: stopped", status 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from ._app import Emulator
from ._model import (
    DEMO_CLIENT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REDIRECT_URIS,
    DEMO_TENANT_DOMAIN,
    DEMO_TENANT_ID,
    ClientRegistration,
)
from ._server import EmulatorServer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aadweb.emulator",
        description="A local Azure AD (v1.0 and v2.0) authority and Microsoft Graph "
                    "(for development).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001, help="0 picks a free port")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (the emulator is not secure)")
    parser.add_argument("--redirect-uri", action="append", default=None, metavar="URI",
                        help="a registered redirect URI (repeat for more)")
    parser.add_argument("--client-id", default=None)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--client-certificate", default=None, metavar="PEM",
                        help="public certificate for client_assertion")
    parser.add_argument("--tls", action="store_true",
                        help="serve https with a certificate from a throwaway CA; prints the "
                             "CA file to trust")
    parser.add_argument("--tls-dir", default=None, metavar="DIR",
                        help="with --tls: write the CA and server files here and keep them")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


class _Stop:
    """The stop signal that arrived; the handler only stores it (no lock: signals may nest)."""

    def __init__(self) -> None:
        self.signum = 0

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum


def _serve_until_signal(server: EmulatorServer) -> None:
    """Serve in a thread until SIGINT or SIGTERM (Ctrl-C) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        server.serve_forever()  # no signals here: the caller stops the process another way
        return
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        while not stop.signum:
            time.sleep(0.1)
    finally:
        for sig in previous:  # one more signal during shutdown must not kill it halfway
            signal.signal(sig, signal.SIG_IGN if stop.signum else previous[sig])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    client_id = args.client_id or DEMO_CLIENT_ID
    secret = args.client_secret
    if secret is None and client_id == DEMO_CLIENT_ID and args.client_certificate is None:
        secret = DEMO_CLIENT_SECRET
    cert = Path(args.client_certificate).read_bytes() if args.client_certificate else None
    client = ClientRegistration(
        client_id=client_id, client_secret=secret,
        redirect_uris=tuple(args.redirect_uri or DEMO_REDIRECT_URIS),
        certificate_pem=cert, allow_id_tokens=True, home_tenant_id=DEMO_TENANT_ID,
        multi_tenant=True, display_name=DEMO_CLIENT.display_name,
    )
    emulator = Emulator(clients=(client,))
    if args.tls_dir and not args.tls:
        print("aadweb emulator: --tls-dir needs --tls", file=sys.stderr)
        return 2
    try:
        server = EmulatorServer(emulator, args.host, args.port,
                                allow_remote=args.allow_remote, quiet=not args.verbose,
                                tls=args.tls, tls_dir=args.tls_dir)
    except (ValueError, OSError) as exc:
        print(f"aadweb emulator: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    print(f"aadweb emulator listening on {server.url}", file=out)
    print(f"  authority: {server.url}/{DEMO_TENANT_ID} (or /{DEMO_TENANT_DOMAIN}, /common)",
          file=out)
    print(f"  v2.0: {server.url}/{DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration",
          file=out)
    if server.ca_file is not None:
        print(f"  CA certificate to trust: {server.ca_file}", file=out)
        print(f"    (requests/MSAL verify=..., ADAL verify_ssl=..., "
              f"AADWEB_CA_BUNDLE={server.ca_file})", file=out)
    print(f"  client_id: {client.client_id}", file=out)
    if client.client_secret and client.client_secret == DEMO_CLIENT_SECRET:
        print(f"  client_secret: {client.client_secret}", file=out)
    print(f"  redirect URIs: {', '.join(client.redirect_uris)}", file=out)
    print("  users:", file=out)
    for user in emulator.directory.users:
        print(f"    {user.upn}  ({user.name}, oid {user.oid})", file=out)
    out.flush()
    try:
        _serve_until_signal(server)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    print("aadweb emulator: stopped", file=out)
    return 0
