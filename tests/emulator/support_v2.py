"""Helpers for the v2.0 endpoint's tests: authorize with scopes, redeem, refresh."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID

from .support import ADELE, REDIRECT_URI, TIMEOUT, Pkce, b64url_json, parse_form

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
API_SCOPE = "api://aadweb-demo-api/access_as_user"
SIGN_IN_SCOPES = "openid profile offline_access User.Read"


def v2_params(**changes: str | None) -> dict[str, str]:
    """A v2.0 code-flow request like MSAL's (None removes a parameter)."""
    params: dict[str, str | None] = {
        "client_id": DEMO_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI,
        "response_mode": "query", "scope": SIGN_IN_SCOPES, "state": "state-v2",
        "nonce": "nonce-v2",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def authorize_v2(base: str, params: dict[str, str], *, user: str | None = ADELE,
                 tenant: str = DEMO_TENANT_ID) -> requests.Response:
    data = {**params, "user": user} if user else params
    return requests.post(f"{base}/{tenant}/oauth2/v2.0/authorize", data=data,
                         allow_redirects=False, timeout=TIMEOUT)


def callback(resp: requests.Response) -> dict[str, str]:
    """The authorization response's fields (query, fragment or form_post)."""
    if resp.status_code == 302:
        parts = urlsplit(resp.headers["Location"])
        return {k: v[0] for k, v in parse_qs(parts.fragment or parts.query).items()}
    assert resp.status_code == 200, resp.text[:300]
    return parse_form(resp.text).hidden


def sign_in_v2(base: str, pkce: Pkce | None = None, /, **changes: str | None) -> dict[str, str]:
    extra = {"code_challenge": pkce.challenge, "code_challenge_method": "S256"} if pkce else {}
    return callback(authorize_v2(base, v2_params(**{**extra, **changes})))


def token_v2(base: str, form: dict[str, str | None], *, tenant: str = DEMO_TENANT_ID,
             **kwargs: Any) -> requests.Response:
    data: dict[str, str | None] = {"client_id": DEMO_CLIENT_ID,
                                   "client_secret": DEMO_CLIENT_SECRET, **form}
    return requests.post(f"{base}/{tenant}/oauth2/v2.0/token",
                         data={k: v for k, v in data.items() if v is not None},
                         allow_redirects=False, timeout=TIMEOUT, **kwargs)


def redeem_v2(base: str, code: str, /, **form: str | None) -> requests.Response:
    return token_v2(base, {"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT_URI, **form})


def refresh_v2(base: str, refresh_token: str, /, **form: str | None) -> requests.Response:
    return token_v2(base, {"grant_type": "refresh_token", "refresh_token": refresh_token,
                           **form})


def payload(token: str) -> dict[str, Any]:
    return b64url_json(token.split(".")[1])


def header(token: str) -> dict[str, Any]:
    return b64url_json(token.split(".")[0])
