"""Helpers for the wire transcript tests: a whole visit (sign in, Graph, sign out) through the
real app and emulator, the records it left, and every secret that must not be in them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aadweb.emulator import Emulator
from aadweb.transcript.reader import read_file
from aadweb.transcript.records import Record
from tests.web.browser import Browser
from tests.web.conftest import Served

HYBRID_LEGS = [
    "login", "authorize_redirect", "form_post", "form_post_redirect", "callback", "metadata", "jwks", "token",
    "validation", "signed_in", "graphcall", "graph", "graphcall_page", "logout", "logout_redirect",
]
# The code flow's id_token comes unsigned from the token endpoint: no metadata or keys needed.
CODE_LEGS = [
    "login", "authorize_redirect", "callback", "token", "validation", "signed_in", "graphcall", "graph",
    "graphcall_page", "logout", "logout_redirect",
]


def csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start: page.index('"', start)]


def visit(served: Served, *, logout: bool = True) -> Browser:
    """Sign in, call Graph, sign out: every recorded leg once."""
    browser = served.browser()
    assert browser.sign_in().status_code == 200
    assert browser.get("/graphcall").status_code == 200
    if logout:
        confirm = browser.get("/logout")
        assert browser.post("/logout", data={"csrf_token": csrf(confirm.text)}).status_code == 302
    return browser


def records(path: Path) -> list[Record]:
    """The records in ``path`` as JSON objects (read through the typed reader and given back)."""
    loaded = read_file(path)
    assert loaded.skipped == 0
    return [record.to_json() for record in loaded.records]


def legs(recs: list[Record]) -> list[str]:
    return [str(r["leg"]) for r in recs]


def one(recs: list[Record], leg: str) -> Record:
    found = [r for r in recs if r["leg"] == leg]
    assert len(found) == 1, (leg, legs(recs))
    return found[0]


def header(record: Record, section: str, name: str) -> str:
    values = [v for n, v in record[section]["headers"] if n == name]
    assert len(values) == 1, (name, record[section]["headers"])
    return str(values[0])


def secrets_sent(emulator: Emulator, served: Served, browsers: list[Browser]) -> set[str]:
    """Every value that must never reach the transcript: what the emulator minted (codes,
    tokens), the client secret, and what the app sent that binds a sign-in (state, nonce,
    PKCE verifier), and every cookie value and session id the browsers held."""
    found = set(emulator.minted_secrets()) | {served.client_secret}
    for seen in emulator.requests:
        for name, value in {**seen.query, **seen.form}.items():
            if name in ("state", "nonce", "code", "code_verifier", "client_secret", "refresh_token",
                        "client_assertion", "id_token") and value:
                found.add(value)
        auth = seen.headers.get("authorization", "")
        if auth:
            found.add(auth.partition(" ")[2])
    for browser in browsers:
        for hop in browser.hops:
            for cookie in hop.raw.headers.getlist("Set-Cookie"):
                value = cookie.split(";")[0].partition("=")[2]
                if value:
                    found.add(value)
                    found.add(value.rpartition(".")[0])  # the session / browser id itself
            query = urlsplit(hop.url).query
            for part in query.split("&"):
                name, _, value = part.partition("=")
                if name in ("state", "code") and value:
                    found.add(value)
    return {s for s in found if len(s) >= 8}


def assert_no_secrets(text: str, secrets: set[str]) -> None:
    leaked = sorted(s[:12] + "..." for s in secrets if s in text)
    assert not leaked, f"secrets in the transcript: {leaked}"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
