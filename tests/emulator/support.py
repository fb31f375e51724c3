"""Helpers for the emulator's own tests: a fake clock, the sign-in POST, token requests."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from aadweb.emulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    GRAPH_RESOURCE,
)

REDIRECT_URI = "http://localhost:5000/getAToken"
ADELE = "adele.vance@contoso.example"
TIMEOUT = 10


class FakeClock:
    """The emulator's clock: starts at a fixed instant, moves only when told."""

    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(segment: str) -> dict[str, Any]:
    import json

    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


class FormParser(HTMLParser):
    """The first form's method/action, hidden inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.method: str | None = None
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.buttons: list[tuple[str | None, str | None]] = []
        self.body_onload: str | None = None
        self.in_noscript = False
        self.noscript_buttons = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body_onload = a.get("onload")
        if tag == "form" and self.action is None:
            self.method, self.action = a.get("method"), a.get("action")
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a.get("name") or ""] = a.get("value") or ""
        if tag == "button":
            self.buttons.append((a.get("name"), a.get("value")))
            if self.in_noscript:
                self.noscript_buttons += 1
        if tag == "noscript":
            self.in_noscript = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "noscript":
            self.in_noscript = False


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def make(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        return cls(verifier, b64url(hashlib.sha256(verifier.encode()).digest()))


def authorize_params(**changes: str | None) -> dict[str, str]:
    """A hybrid form_post request like aadweb's (None removes a parameter)."""
    params: dict[str, str | None] = {
        "client_id": DEMO_CLIENT_ID, "response_type": "code id_token",
        "redirect_uri": REDIRECT_URI, "response_mode": "form_post", "scope": "openid",
        "resource": GRAPH_RESOURCE, "state": "state-123", "nonce": "nonce-456",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def sign_in(base: str, params: dict[str, str], *, user: str = ADELE,
            tenant: str = DEMO_TENANT_ID) -> dict[str, str]:
    """POST the documented sign-in contract; the callback's fields (query, fragment or form)."""
    resp = requests.post(f"{base}/{tenant}/oauth2/authorize", data={**params, "user": user},
                         allow_redirects=False, timeout=TIMEOUT)
    if resp.status_code == 302:
        parts = urlsplit(resp.headers["Location"])
        raw = parts.fragment or parts.query
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    assert resp.status_code == 200, resp.text[:300]
    return parse_form(resp.text).hidden


def code_flow(base: str, pkce: Pkce | None = None, /, **changes: str | None) -> dict[str, str]:
    """Sign Adele in with the plain code flow (query mode); the callback's fields."""
    extra = {"code_challenge": pkce.challenge, "code_challenge_method": "S256"} if pkce else {}
    merged: dict[str, str | None] = {"response_type": "code", "response_mode": "query",
                                     "nonce": None, **extra, **changes}
    params = authorize_params(**merged)
    return sign_in(base, params)


def redeem(base: str, code: str, /, *, tenant: str = DEMO_TENANT_ID, auth: Any = None,
           headers: dict[str, str] | None = None, **form: str | None) -> requests.Response:
    data: dict[str, str | None] = {
        "grant_type": "authorization_code", "client_id": DEMO_CLIENT_ID, "code": code,
        "redirect_uri": REDIRECT_URI, "resource": GRAPH_RESOURCE,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    data.update(form)
    return requests.post(f"{base}/{tenant}/oauth2/token",
                         data={k: v for k, v in data.items() if v is not None},
                         auth=auth, headers=headers, allow_redirects=False, timeout=TIMEOUT)


def token_request(base: str, form: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.post(f"{base}/{DEMO_TENANT_ID}/oauth2/token", data=form,
                         allow_redirects=False, timeout=TIMEOUT, **kwargs)


def verify_front_channel(base: str, token: str, **kwargs: Any) -> dict[str, Any]:
    """Verify an id_token against the emulator's published JWKS, with pyjwt."""
    jwks = requests.get(f"{base}/{DEMO_TENANT_ID}/discovery/keys", timeout=TIMEOUT).json()
    kid = jwt.get_unverified_header(token)["kid"]
    matches = [k for k in jwks["keys"] if k.get("kid") == kid and k.get("use") == "sig"]
    assert matches, "kid not published"
    key = jwt.PyJWK(matches[0]).key
    options: Any = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
    return dict(jwt.decode(token, key, algorithms=["RS256"], options=options, **kwargs))


def error_codes(resp: requests.Response) -> list[int]:
    return list(resp.json()["error_codes"])
