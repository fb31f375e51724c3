"""No secret reaches a log line: a full sign-in, a Graph call, a refresh and a sign-out,
with every ``aadweb`` logger (and the HTTP libraries) at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from aadweb.emulator import Emulator, Fault
from tests.web.conftest import SECRET_KEY, Served


def test_no_secret_in_any_log_record(served: Served, emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: aadweb.*, urllib3, requests, werkzeug
    browser = served.browser()
    authorize = browser.start("/login?next=/graphcall")
    query = parse_qs(urlsplit(authorize).query)
    cookies_seen = {c.value for c in browser.cookies.values()}
    emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))  # forces a refresh
    posted = browser.deliver(browser.authenticate(authorize))
    page = browser.follow(posted)
    assert page.status_code == 200 and "Adele Vance" in page.text
    assert browser.get(posted.headers["Location"]).status_code == 400  # a replay: refused and logged
    cookies_seen |= {c.value for c in browser.cookies.values()}
    emulator.faults.graph_error("InvalidAuthenticationToken", status=401, times=1)  # a 401, then a refresh
    assert browser.get("/graphcall").status_code == 200
    confirm = browser.get("/logout")
    marker = 'name="csrf_token" value="'
    csrf = confirm.text[confirm.text.index(marker) + len(marker):].split('"', 1)[0]
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302

    token_forms = [r.form for r in emulator.requests if r.path.endswith("/oauth2/token")]
    assert len(token_forms) == 3  # the code, and two refreshes
    secrets = {
        served.client_secret, SECRET_KEY, query["nonce"][0], query["state"][0], csrf,
        *emulator.minted_secrets(), *cookies_seen,
        *(form["code_verifier"] for form in token_forms if "code_verifier" in form),
        *(c.value.rpartition(".")[0] for c in browser.cookies.values()),
    }
    secrets |= {value.rpartition(".")[0] for value in cookies_seen}
    assert len([s for s in secrets if s]) >= 10
    # The app's records: aadweb.* (not the emulator's), and the HTTP libraries as used from the
    # server's threads (the test's own browser logs its URLs, states included, from MainThread).
    records = [r for r in caplog.records
               if (r.name.startswith("aadweb") and not r.name.startswith("aadweb.emulator"))
               or (r.name.startswith(("urllib3", "requests")) and r.threadName != "MainThread")]
    assert any(r.name == "aadweb.web" and r.levelname == "WARNING" for r in records)
    assert any(r.name.startswith("aadweb") for r in records) and any(r.name.startswith("urllib3") for r in records)
    for record in records:
        text = record.getMessage() + (caplog.handler.format(record) if record.exc_info else "")
        for secret in secrets:
            if secret:
                assert secret not in text, (record.name, record.levelname, "a secret reached the log")


def test_the_code_flow_callback_query_never_reaches_the_log(serve: Callable[..., Served], emulator: Emulator,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    served = serve(response_type="code")
    browser = served.browser()
    callback = browser.authenticate(browser.start())
    assert browser.follow(browser.deliver(callback)).status_code == 200
    replay = browser.get(callback.url)  # the code and state again, in the query string
    assert replay.status_code == 400
    code, state = callback.fields["code"], callback.fields["state"]
    app_records = [r for r in caplog.records
                   if r.name.startswith("aadweb") and not r.name.startswith("aadweb.emulator")]
    assert any(r.levelname == "WARNING" for r in app_records)
    for record in app_records:
        assert code not in record.getMessage() and state not in record.getMessage()
