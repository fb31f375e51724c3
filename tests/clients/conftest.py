"""Real client libraries (MSAL Python, ADAL Python) against the emulator served over https.

Each module gets one emulator on a loopback port with its own throwaway CA. The libraries
are used as their documentation shows, with two changes only: the authority URL (the
emulator's) and the CA bundle (``server.ca_file``). The "browser" is requests: it GETs the
authorize URL the library built, POSTs the sign-in page's form as a person's click would,
and reads the callback's query from the ``Location`` header (nothing listens at the
redirect URI, as in a CLI or test that pastes the URL back).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from aadweb.testing import Emulator, EmulatorServer
from tests.emulator.support import parse_form

ADELE = "adele.vance@contoso.example"
TIMEOUT = 15


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` override a Session's
    ``verify`` (psf/requests#3829), which is how MSAL passes its CA bundle on: a machine that
    sets them would silently replace the emulator's CA. Real deployments meet the same trap."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture(scope="module")
def https_server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator, tls=True) as server:
        yield server


def sign_in(auth_uri: str, ca_file: str, *, user: str = ADELE) -> dict[str, str]:
    """Open ``auth_uri``, pick ``user`` on the sign-in page, return the callback's fields
    (from the ``Location`` of a query/fragment answer, or the form_post page's fields)."""
    page = requests.get(auth_uri, verify=ca_file, timeout=TIMEOUT, allow_redirects=False)
    assert page.status_code == 200, page.text[:300]
    form = parse_form(page.text)
    assert form.method == "post" and form.action
    answer = requests.post(urljoin(auth_uri, form.action), data={**form.hidden, "user": user},
                           verify=ca_file, timeout=TIMEOUT, allow_redirects=False)
    if answer.status_code == 200:  # response_mode=form_post: the auto-submitting form
        posted = parse_form(answer.text)
        assert posted.method == "post" and posted.body_onload
        return posted.hidden
    assert answer.status_code == 302, answer.text[:300]
    parts = urlsplit(answer.headers["Location"])
    return {k: v[0] for k, v in parse_qs(parts.query or parts.fragment).items()}
