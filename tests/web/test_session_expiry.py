"""AADWEB_SESSION_IDLE and AADWEB_SESSION_LIFETIME through the real app, the real emulator and
real sockets: the app runs on a clock the test moves (no sleeping)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from aadweb.sessions._base import idle_limit
from tests.web.browser import Browser
from tests.web.conftest import Served


class SteppedClock:
    """``time.time()`` plus whatever the test has stepped over."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def signed_in(serve: Callable[..., Served], clock: SteppedClock, **settings: object) -> tuple[Served, Browser]:
    served = serve(clock=clock, **settings)
    browser = served.browser()
    home = browser.sign_in("/login")
    assert home.status_code == 200 and "Adele Vance" in home.text
    return served, browser


def asked_to_sign_in(browser: Browser) -> bool:
    resp = browser.get("/")
    return resp.status_code == 302 and resp.headers["Location"] == "/login"


@pytest.mark.parametrize("store_url", ["memory:", "sqlite"])
def test_a_browser_idle_past_the_idle_limit_is_asked_to_sign_in_again(
    serve: Callable[..., Served], store_url: str
) -> None:
    clock = SteppedClock()
    served, browser = signed_in(serve, clock, store_url=store_url, session_idle=600)
    for _ in range(5):  # used every 599 s: never idles out, well past one idle period
        clock.advance(599)
        assert browser.get("/").status_code == 200
    assert served.store.counts()["sessions"] == 1
    clock.advance(idle_limit(600))  # the documented bound: idle + min(idle / 10, 60) s
    assert asked_to_sign_in(browser)
    assert served.store.counts()["sessions"] == 0  # ended server-side, not only hidden
    assert "Adele Vance" in browser.sign_in("/login").text  # and signing in again works


def test_an_active_browser_past_the_lifetime_is_asked_to_sign_in_again(serve: Callable[..., Served]) -> None:
    clock = SteppedClock()
    served, browser = signed_in(serve, clock, session_lifetime=3600, session_idle=600)
    for _ in range(7):  # active every 500 s, up to 3500 s after sign-in
        clock.advance(500)
        assert browser.get("/").status_code == 200
    clock.advance(100)  # 3600 s after sign-in
    assert asked_to_sign_in(browser)
    assert served.store.counts()["sessions"] == 0
