"""``aadweb``: the command line (``python -m aadweb``, or the ``aadweb`` console script).

    aadweb serve [--host 127.0.0.1] [--port 5000]      the app, configured by AADWEB_* variables
    aadweb demo [--host] [--port 5000] [--emulator-port 5001] [--endpoint v1|v2]
                                                       emulator + app, nothing to configure
    aadweb emulator [...]                              the emulator alone (its own options)
    aadweb check-config                                validate AADWEB_* and print a summary
    aadweb wire FILE [--flow ID] [--har OUT] [--json]  print a wire transcript (AADWEB_WIRE_LOG)

``serve`` and ``demo`` run Werkzeug's development server (no debugger, no reloader, an access
log without query strings, see :mod:`aadweb._devserver`); production runs under gunicorn
(``gunicorn aadweb.wsgi:app``). A configuration problem is printed, one per line, never as a
traceback: exit status 2 from ``serve``/``demo``, 1 from ``check-config``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING, Final, TextIO

from aadweb._devserver import DevServer
from aadweb.errors import AadWebError, ConfigurationError
from aadweb.protocol.client_assertion import ClientCertificate
from aadweb.settings import Settings, redact_url

if TYPE_CHECKING:
    from aadweb.web import AadWebApp

__all__ = ["main", "print_problems", "settings_summary"]

_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)

PRODUCTION_HINT: Final = "This is a development server: in production run `gunicorn aadweb.wsgi:app`."


# --- shared helpers --------------------------------------------------------------------------


def print_problems(problems: Sequence[str], *, out: TextIO, heading: str = "configuration problems:") -> None:
    """Every configuration problem, one per line."""
    print(heading, file=out)
    for problem in problems:
        print(f"  - {problem}", file=out)
    out.flush()


def settings_summary(settings: Settings) -> list[str]:
    """``name: value`` lines for every setting; secrets appear only as fingerprints."""
    lines: list[str] = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, ClientCertificate):
            shown = f"{value.path} (x5t {value.x5t})"
        elif value is None:
            shown = "(not set)"
        elif isinstance(value, tuple):
            shown = ", ".join(value) if value else "(none)"
        elif f.name == "session_store":
            shown = redact_url(value)  # a redis URL may carry a password
        else:
            shown = str(value)  # a Secret's str() is its fingerprint
        lines.append(f"AADWEB_{f.name.upper()}: {shown}")
    return lines


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class _StopRequest:
    """What SIGINT (Ctrl-C) or SIGTERM asked for, recorded without taking any lock.

    A signal handler runs in the main thread between two bytecodes of whatever it interrupted,
    possibly inside another run of itself. A handler that takes a lock (``threading.Event.set``
    does) deadlocks when a second signal arrives while the first one holds it. This handler
    only stores the signal number in an attribute; the interpreter's C-level handler also
    writes a byte to a socket (:func:`signal.set_wakeup_fd`), which wakes :meth:`wait` at once.
    """

    def __init__(self) -> None:
        self.signum = 0
        self._wakeup: socket.socket | None = None

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum  # a plain store: no lock, safe however the signals nest

    def wait(self) -> None:
        """Return once a stop signal arrived (polls twice a second without a wake-up socket)."""
        while not self.signum:
            if self._wakeup is None:
                time.sleep(0.5)
                continue
            ready, _, _ = select.select([self._wakeup], [], [], 0.5)
            if ready:
                with suppress(OSError):
                    self._wakeup.recv(4096)


@contextmanager
def _stop_signals() -> Iterator[_StopRequest]:
    """A stop request recorded by SIGINT or SIGTERM.

    The handlers stay installed for the whole block, shutdown included. When no stop signal
    came, the previous handlers come back afterwards. Once one came, further SIGINT/SIGTERM are
    ignored (``SIG_IGN``, which the interpreter keeps through its own finalization, unlike a
    Python handler): the process is on its way out, and one more Ctrl-C or SIGTERM just after
    the block must not turn a clean stop into a traceback or a kill. Outside the main thread
    nothing is installed (signals reach only the main thread).
    """
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # the caller stops us another way
        return
    receive, send = socket.socketpair()
    receive.setblocking(False)
    send.setblocking(False)
    previous_fd = signal.set_wakeup_fd(send.fileno(), warn_on_full_buffer=False)
    stop._wakeup = receive
    previous = {sig: signal.signal(sig, stop.handler) for sig in _STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_IGN if stop.signum else old)
        signal.set_wakeup_fd(previous_fd)
        stop._wakeup = None
        receive.close()
        send.close()


def _create_app(settings: Settings) -> AadWebApp:
    from aadweb.web import create_app  # imported here: `aadweb emulator` needs no web layer

    return create_app(settings)


def _app_settings() -> Settings:
    """The settings from the environment, with what serving the app needs (every problem at once)."""
    from aadweb.web import app_settings

    return app_settings()


def _display_host(host: str) -> str:
    if host in ("127.0.0.1", "::1", "0.0.0.0", "::", "localhost"):
        return "localhost"
    return f"[{host}]" if ":" in host else host


# --- serve -----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        settings = _app_settings()
        app = _create_app(settings)
    except ConfigurationError as exc:
        print_problems(exc.problems, out=err, heading="aadweb serve: the configuration is not valid:")
        return 2
    except AadWebError as exc:
        print(f"aadweb serve: cannot start: {exc}", file=err)
        return 1
    _configure_logging()
    try:
        server = DevServer(args.host, args.port, app)
    except OSError as exc:
        print(f"aadweb serve: {exc}", file=err)
        return 1
    with _stop_signals() as stop:
        server.start()
        print(f"aadweb serving on http://{_display_host(server.host)}:{server.port}", file=out)
        print(f"  redirect URI: {settings.redirect_uri}", file=out)
        print(f"  {PRODUCTION_HINT}", file=out)
        print("  Press Ctrl-C to stop.", file=out)
        out.flush()
        try:
            stop.wait()
        finally:
            server.shutdown()
            app.close()
    print("aadweb serve: stopped", file=out)
    return 0


# --- demo ------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from aadweb.emulator import DEMO_TENANT_ID, Emulator, EmulatorServer
    from aadweb.testing import demo_settings, register_demo_redirect

    try:
        app_server = DevServer(args.host, args.port)
    except OSError as exc:
        print(f"aadweb demo: {exc}", file=err)
        return 1
    emulator = Emulator()
    try:
        emulator_server = EmulatorServer(emulator, "127.0.0.1", args.emulator_port)
    except (OSError, SystemExit, ValueError) as exc:  # Werkzeug exits on a bind error, after saying why
        app_server.shutdown()
        why = "" if isinstance(exc, SystemExit) else f": {exc}"
        print(f"aadweb demo: cannot start the emulator on 127.0.0.1:{args.emulator_port}{why}", file=err)
        return 1
    app: AadWebApp | None = None
    scratch = tempfile.mkdtemp(prefix="aadweb-demo-")  # the wire transcript, unless AADWEB_WIRE_LOG says
    # The stop handlers stay installed until both servers are down: a second Ctrl-C during
    # shutdown only repeats the request.
    with _stop_signals() as stop:
        try:
            redirect_uri = f"http://localhost:{app_server.port}/getAToken"
            register_demo_redirect(emulator, redirect_uri)
            try:
                settings = demo_settings(emulator_url=emulator_server.url, redirect_uri=redirect_uri,
                                         wire_log=os.path.join(scratch, "wire.jsonl"), endpoint=args.endpoint)
                app = _create_app(settings)
                app_server.set_app(app)
            except ConfigurationError as exc:
                print_problems(exc.problems, out=err, heading="aadweb demo: the configuration is not valid:")
                return 2
            except AadWebError as exc:
                print(f"aadweb demo: cannot start: {exc}", file=err)
                return 1
            _configure_logging()
            emulator_server.start()
            app_server.start()
            _demo_banner(out, app_url=f"http://localhost:{app_server.port}", emulator_url=emulator_server.url,
                         users=[(u.upn, u.name) for u in emulator.directory.users if u.tenant_id == DEMO_TENANT_ID],
                         settings=settings)
            stop.wait()
        finally:
            app_server.shutdown()
            emulator_server.shutdown()
            if app is not None:
                app.close()
            shutil.rmtree(scratch, ignore_errors=True)
    print("aadweb demo: stopped", file=out)
    return 0


def _demo_banner(out: TextIO, *, app_url: str, emulator_url: str, users: Sequence[tuple[str, str]],
                 settings: Settings) -> None:
    version = "v2.0" if settings.is_v2 else "v1"
    print(f"aadweb demo: the app and a local Azure AD {version} + Graph emulator, nothing to configure.", file=out)
    print(f"  Open {app_url} in your browser.", file=out)
    print(f"  Emulator (Azure AD v1 and v2.0 + Graph): {emulator_url}   endpoint used: {version}", file=out)
    print("  Demo users (pick one on the emulator's sign-in page):", file=out)
    width = max((len(upn) for upn, _ in users), default=0)
    for upn, name in users:
        print(f"    {upn.ljust(width)}  {name}", file=out)
    target = f"   scopes: {settings.token_target}" if settings.is_v2 else ""
    print(f"  Sessions: {redact_url(settings.session_store)}   response type: {settings.response_type}{target}",
          file=out)
    if settings.wire_view and settings.wire_log:
        print(f"  What went over the wire: {app_url}/_aadweb/wire once signed in, or `aadweb wire "
              f"{settings.wire_log}` (removed when the demo stops unless AADWEB_WIRE_LOG names a file)", file=out)
    print(f"  {PRODUCTION_HINT}", file=out)
    print("  Press Ctrl-C to stop.", file=out)
    out.flush()


# --- check-config ----------------------------------------------------------------------------


def _check_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Every check the app's start-up runs (the settings, then :func:`aadweb.web.startup_problems`:
    store URL, transcript options, secret key), without opening a file, a connection or a port."""
    from aadweb.web import startup_problems

    try:
        settings = _app_settings()
    except ConfigurationError as exc:
        print_problems(exc.problems, out=out, heading=f"configuration NOT OK ({len(exc.problems)} problems):")
        return 1
    problems = startup_problems(settings)
    if problems:
        print_problems(problems, out=out, heading=f"configuration NOT OK ({len(problems)} problems):")
        return 1
    print("configuration OK", file=out)
    for line in settings_summary(settings):
        print(f"  {line}", file=out)
    return 0


# --- sessions --------------------------------------------------------------------------------


def _sessions(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Counts of the store's sessions and pending sign-ins; ``--purge`` deletes expired ones."""
    from aadweb.compose import require_secret_key
    from aadweb.errors import SessionStoreError
    from aadweb.sessions import open_store

    try:
        settings = Settings.from_env()
        secret_key = require_secret_key(settings)  # the store's tokens are encrypted under it
    except ConfigurationError as exc:
        print_problems(exc.problems, out=err, heading=f"configuration NOT OK ({len(exc.problems)} problems):")
        return 2
    try:
        store = open_store(settings.session_store, secret_key=secret_key.reveal(),
                           idle=settings.session_idle)  # idle sessions count, and purge, as expired
        try:
            purged = store.purge_expired() if args.purge else None
            counts = store.counts()
        finally:
            store.close()
    except SessionStoreError as exc:
        print(f"aadweb sessions: {exc}", file=err)
        return 1
    print(f"store: {redact_url(settings.session_store)}", file=out)
    for key, value in counts.items():
        print(f"  {key}: {value}", file=out)
    if purged is not None:
        print(f"purged {purged} expired entries", file=out)
        if settings.session_store.startswith(("redis://", "rediss://")):
            print("  (Redis also expires keys by itself)", file=out)
    return 0


# --- wire ------------------------------------------------------------------------------------


def _wire(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from aadweb.transcript import har, reader, render

    try:
        loaded = reader.read_records(sys.stdin) if args.file == "-" else reader.read_file(args.file)
    except OSError as exc:
        print(f"aadweb wire: cannot read {args.file}: {exc.strerror or exc}", file=err)
        return 1
    records = loaded.records
    if loaded.skipped:
        print(f"aadweb wire: {loaded.skipped} lines are not transcript records; skipped", file=err)
    if args.flow:
        flow = reader.pick_flow(records, args.flow)
        if flow is None:
            flows = sorted({r.flow for r in records if r.flow is not None})
            print(f"aadweb wire: no single flow {args.flow!r} in {args.file}; its flows: "
                  f"{', '.join(flows) or '(none)'}", file=err)
            return 1
        records = [r for r in records if r.flow == flow]
    if args.har:
        document = har.to_har(records)
        try:
            with open(args.har, "w", encoding="utf-8") as fh:
                json.dump(document, fh, ensure_ascii=False, indent=1)
        except OSError as exc:
            print(f"aadweb wire: cannot write {args.har}: {exc.strerror or exc}", file=err)
            return 1
        har_log = document["log"]
        print(f"aadweb wire: {len(har_log['entries'])} HTTP exchanges of {len(har_log['pages'])} sign-ins written "
              f"to {args.har} (HAR 1.2)", file=err if args.json else out)
    if args.json:
        for record in records:
            out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    elif not args.har:
        # Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
        color = out.isatty() and not os.environ.get("NO_COLOR")
        out.write(render.render(records, color=color))
    out.flush()
    return 0


# --- the parser ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from aadweb.testing import DEMO_ENV_PASSTHROUGH  # here: `aadweb emulator` never builds this parser

    parser = argparse.ArgumentParser(
        prog="aadweb",
        description="Sign people in with Azure AD (v1, OpenID Connect) and call Microsoft Graph.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the app on the development server (settings from AADWEB_*)",
                           description=f"Run the app on Werkzeug's development server. {PRODUCTION_HINT}")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000; 0 picks one)")
    serve.set_defaults(handler=_serve)

    demo = sub.add_parser(
        "demo", help="run the emulator and the app together, nothing to configure",
        description="Start the local Azure AD v1 + Graph emulator and the app wired to it. Reads only "
                    + ", ".join(DEMO_ENV_PASSTHROUGH) + " from the environment.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address the app listens on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=5000, help="the app's port (default 5000; 0 picks one)")
    demo.add_argument("--emulator-port", type=int, default=5001,
                      help="the emulator's port (default 5001; 0 picks one)")
    demo.add_argument("--endpoint", choices=("v1", "v2"), default="v1",
                      help="sign in with Azure AD v1 (default, resource=) or the v2.0 endpoint (scopes, code flow)")
    demo.set_defaults(handler=_demo)

    sub.add_parser("emulator", help="run the Azure AD v1 + Graph emulator alone (see `aadweb emulator --help`)",
                   add_help=False)

    check = sub.add_parser("check-config", help="validate the AADWEB_* settings and print a summary",
                           description="Read AADWEB_* (and AADWEB_CONFIG) and report every problem.")
    check.set_defaults(handler=_check_config)

    sessions = sub.add_parser("sessions", help="count the session store's sessions; --purge deletes expired ones",
                              description="Open AADWEB_SESSION_STORE and print how many sessions, pending "
                                          "sign-ins and refresh locks it holds.")
    sessions.add_argument("--purge", action="store_true", help="delete expired sessions and pending sign-ins")
    sessions.set_defaults(handler=_sessions)

    wire = sub.add_parser(
        "wire", help="print a wire transcript (the file AADWEB_WIRE_LOG names) for people",
        description="Print the wire transcript: one block per leg of each sign-in, in order, with the "
                    "id_token verdicts; secrets appear only as fingerprints. Coloured on a terminal "
                    "unless NO_COLOR is set.",
    )
    wire.add_argument("file", metavar="FILE", help="the JSON Lines transcript ('-' reads standard input)")
    wire.add_argument("--flow", metavar="ID", help="only this sign-in (its flow id, or a unique prefix of it)")
    wire.add_argument("--har", metavar="OUT", help="write HAR 1.2 to OUT (browser dev tools open it)")
    wire.add_argument("--json", action="store_true", help="print the records themselves, as JSON Lines")
    wire.set_defaults(handler=_wire)

    from aadweb.register import add_parser as add_register  # `aadweb register` (its own module)

    add_register(sub)
    return parser


Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; the exit status is returned (``python -m aadweb`` exits with it)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "emulator":
        from aadweb.emulator import main as emulator_main

        return emulator_main(args_list[1:])
    args = _parser().parse_args(args_list)
    handler: Handler = args.handler
    return handler(args, sys.stdout, sys.stderr)
