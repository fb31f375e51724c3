"""One refresh for many concurrent requests: the refresh lock works across threads and workers.

gunicorn with 2 workers x 4 threads serves 20 concurrent /graphcall requests of one session
whose access token is within 5 minutes of expiry: the emulator must see exactly one
refresh_token grant, and every request must show the user.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from aadweb.emulator import Emulator, Fault
from tests.appserver import allow_redirect_uri
from tests.browserless import Browser
from tests.test_gunicorn import free_port, gunicorn

pytestmark = pytest.mark.timeout(120)


def concurrent_graphcalls(url: str, browser: Browser, n: int = 20) -> list[requests.Response]:
    cookies = browser.http.cookies.get_dict()

    def one(_: int) -> requests.Response:
        return requests.get(f"{url}/graphcall", cookies=cookies, timeout=30, allow_redirects=False)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def check_single_refresh(emulator: Emulator, url: str) -> None:
    # The sign-in's access token lives 10 s: inside the 5-minute refresh margin from the start.
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    browser = Browser()
    assert browser.sign_in(url).status_code == 200
    answers = concurrent_graphcalls(url, browser)
    assert [r.status_code for r in answers] == [200] * len(answers)
    assert all("Adele Vance" in r.text for r in answers)
    grants = [r.form.get("grant_type") for r in emulator.requests if r.path.endswith("/oauth2/token")]
    assert grants == ["authorization_code", "refresh_token"], grants
    assert emulator.count("GET", "/v1.0/me") == len(answers)


def test_twenty_concurrent_requests_refresh_once_with_sqlite(emulator: Emulator, emulator_url: str,
                                                            tmp_path: Path) -> None:
    port = free_port()
    allow_redirect_uri(emulator, f"http://127.0.0.1:{port}/getAToken")
    with gunicorn(emulator_url, tmp_path / "s.db", port, log=tmp_path / "g.log",
                  args=("-k", "gthread", "--threads", "4")) as url:
        check_single_refresh(emulator, url)
