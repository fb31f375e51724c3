"""The real aadweb app on a loopback socket, pointed at the hostile provider, and the
assertions every security test shares.

A :class:`Rig` is one running app (``create_app`` with its real ``RequestsTransport``, a
memory store, a wall clock the provider shares and a key-cache clock the test steps by hand)
plus the browsers a test made. :meth:`Rig.assert_refused` is the one definition of "refused
cleanly": the status is in the expected range and came in time, no session was created,
Graph was never called, no unexpected error was logged, and none of the secrets that crossed
the provider (codes, tokens, the client secret, the PKCE verifiers), nor the app's secret
key, appear in the captured logs, in any page or header the app sent, or in the wire log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer

from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.web import AadWebApp, create_app
from tests.hostile.server import CLIENT_ID, CLIENT_SECRET, TENANT_ID, HostileIdP, QuietHandler
from tests.web.browser import Browser, Callback

SECRET_KEY = "hostile-suite-secret-key-" + "k" * 40
#: The outbound deadline the rigs run with: small, so deadline tests finish quickly.
HTTP_TIMEOUT = 2.0
#: How long any refusal may take, deadlines included.
TIME_LIMIT = HTTP_TIMEOUT + 3.0

_STATUS_RANGES = {"4xx": range(400, 500), "5xx": range(500, 600)}


class WallClock:
    """``time.time`` plus an offset the test can move; shared by the app and the provider."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class ManualClock:
    """A monotonic clock that moves only when told to (the app's JWKS cache runs on it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def settings_for(idp_url: str, redirect_uri: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "tenant": TENANT_ID, "client_id": CLIENT_ID, "client_secret": Secret("client_secret", CLIENT_SECRET),
        "authority_host": idp_url, "graph_url": f"{idp_url}/v1.0/me", "redirect_uri": redirect_uri,
        "secret_key": Secret("secret_key", SECRET_KEY), "session_store": "memory:", "http_timeout": HTTP_TIMEOUT,
    }
    values.update(changes)
    return Settings(**values)


@dataclass
class Rig:
    idp: HostileIdP
    app: AadWebApp
    url: str
    settings: Settings
    clock: WallClock
    keys_clock: ManualClock
    caplog: pytest.LogCaptureFixture
    wire_log: Path
    browsers: list[Browser] = field(default_factory=list)
    extra_secrets: set[str] = field(default_factory=set)
    elapsed: float = 0.0

    @property
    def store(self) -> Any:
        return self.app.store

    def browser(self) -> Browser:
        browser = Browser(self.url, timeout=TIME_LIMIT + 5)
        self.browsers.append(browser)
        return browser

    # --- driving a sign-in ------------------------------------------------------------------

    def attempt(self, browser: Browser | None = None, path: str = "/login") -> requests.Response:
        """A whole sign-in through the provider, as a browser does it; the app's last answer."""
        browser = browser or self.browser()
        start = time.monotonic()
        callback = browser.authenticate(browser.start(path))
        resp = browser.follow(browser.deliver(callback))
        self.elapsed = time.monotonic() - start
        return resp

    def deliver(self, browser: Browser, callback: Callback) -> requests.Response:
        """The authority's answer reaches the app (timed); the app's last answer after redirects."""
        start = time.monotonic()
        resp = browser.follow(browser.deliver(callback))
        self.elapsed = time.monotonic() - start
        return resp

    def get(self, browser: Browser, path: str) -> requests.Response:
        """A timed GET at the app, following the app's own redirects."""
        start = time.monotonic()
        resp = browser.follow(browser.get(path))
        self.elapsed = time.monotonic() - start
        return resp

    def sign_in(self, browser: Browser | None = None, path: str = "/login") -> Browser:
        """A sign-in that must succeed (the positive path); the signed-in browser."""
        browser = browser or self.browser()
        page = self.attempt(browser, path)
        assert page.status_code == 200 and "You are signed in" in page.text, (page.status_code, page.text[:400])
        return browser

    # --- the shared assertions ---------------------------------------------------------------

    def assert_refused(self, resp: requests.Response, status: str | range | int = "4xx", *, sessions: int = 0,
                       graph_calls: int = 0) -> None:
        """Refused cleanly: see the module docstring."""
        expected = _STATUS_RANGES.get(status, status) if isinstance(status, str) else status
        expected = range(expected, expected + 1) if isinstance(expected, int) else expected
        assert resp.status_code in expected, (resp.status_code, resp.text[:600])
        assert self.elapsed < TIME_LIMIT, f"the refusal took {self.elapsed:.2f} s"
        assert "Traceback" not in resp.text and 'File "' not in resp.text
        if resp.status_code >= 400:
            assert "<h1>" in resp.text and "text/html" in resp.headers.get("Content-Type", "")
        assert self.store.counts()["sessions"] == sessions
        assert self.idp.hits["graph"] == graph_calls
        self.assert_nothing_leaked()

    def secrets(self) -> set[str]:
        return {*self.idp.secrets, SECRET_KEY, *self.extra_secrets}

    def log_secrets(self) -> set[str]:
        """What may travel to the browser by design but must never be logged or recorded: the
        state and nonce of every sign-in, the session and browser ids, the CSRF tokens."""
        values = {*self.secrets()}
        for authz in self.idp.authorizations:
            values.update((authz.state, authz.nonce))
        for browser in self.browsers:
            for cookie in browser.cookies.values():
                values.update((cookie.value, cookie.value.rpartition(".")[0]))
            for hop in browser.hops:
                if 'name="csrf_token" value="' in hop.text:
                    values.add(hop.text.split('name="csrf_token" value="')[1].split('"')[0])
        return values

    def assert_nothing_leaked(self) -> None:
        """No secret in logs, in anything the app sent, or in the wire log; no unexpected error."""
        secrets = {s for s in self.secrets() if len(s) >= 12}
        hidden = {s for s in self.log_secrets() if len(s) >= 12}
        unexpected = [r for r in self.caplog.records if r.name.startswith("aadweb") and r.levelno >= logging.ERROR]
        assert not unexpected, [r.getMessage() for r in unexpected]
        logged = self.caplog.text + "\n".join(r.getMessage() for r in self.caplog.records)
        _assert_absent(hidden, logged, "the logs")
        for browser in self.browsers:
            for hop in browser.hops:
                if not browser._is_app(hop.url):
                    continue
                _assert_absent(secrets, hop.text, f"the page of {hop.request.method} {hop.url}")
                for name, value in hop.headers.items():
                    _assert_absent(secrets, value, f"the {name} header of {hop.url}")
        if self.wire_log.exists():
            _assert_absent(hidden, self.wire_log.read_text(errors="replace"), "the wire log")


def _assert_absent(secrets: Iterable[str], text: str, where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:10]}...) leaked into {where}"


@dataclass
class RigFactory:
    """Starts rigs (``make(**settings)``); stops them all at teardown."""

    idp: HostileIdP
    caplog: pytest.LogCaptureFixture
    tmp_path: Path
    clock: WallClock = field(default_factory=WallClock)
    keys_clock: ManualClock = field(default_factory=ManualClock)
    running: list[tuple[BaseWSGIServer, threading.Thread, AadWebApp]] = field(default_factory=list)

    def make(self, *, idp: HostileIdP | None = None, **changes: Any) -> Rig:
        """A running app; ``idp`` another provider than the session's (e.g. one behind TLS)."""
        idp = idp or self.idp
        idp.clock = self.clock
        server = _app_server()
        url = f"http://127.0.0.1:{server.server_port}"
        wire_log = self.tmp_path / f"wire-{len(self.running)}.jsonl"
        settings = settings_for(idp.url, f"{url}/getAToken", wire_log=str(wire_log), **changes)
        app = create_app(settings, clock=self.clock, key_cache_clock=self.keys_clock)
        server.app = app
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        self.running.append((server, thread, app))
        return Rig(idp=idp, app=app, url=url, settings=settings, clock=self.clock, keys_clock=self.keys_clock,
                   caplog=self.caplog, wire_log=wire_log)

    def close(self) -> None:
        for server, thread, app in self.running:
            server.shutdown()
            thread.join(timeout=5)
            server.server_close()
            app.close()


def _app_server() -> BaseWSGIServer:
    from werkzeug.serving import make_server

    return make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True,
                       request_handler=QuietHandler)


def failed_check(page: requests.Response) -> str:
    """The "Failed check" the refusal page names (the id_token check that failed), or ""."""
    marker = '<th scope="row">Failed check</th><td>'
    start = page.text.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    return page.text[start:page.text.find("</td>", start)]
