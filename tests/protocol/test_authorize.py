from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from aadweb.protocol.authorize import AuthorizeParams, build_authorize_url
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.secret import Secret

CHALLENGE = code_challenge_s256("v" * 43)


def params(**changes: Any) -> AuthorizeParams:
    values: dict[str, Any] = {
        "authority_url": "https://login.microsoftonline.com/contoso.onmicrosoft.com",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "redirect_uri": "http://localhost:5000/getAToken",
        "resource": "https://graph.microsoft.com",
        "response_type": "code id_token",
        "state": "state-123",
        "nonce": Secret("nonce", "nonce-456"),
        "code_challenge": CHALLENGE,
    }
    values.update(changes)
    return AuthorizeParams(**values)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


def test_build_authorize_url_hybrid_flow_sends_form_post_and_every_parameter() -> None:
    url = build_authorize_url(params())
    assert url.startswith("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/authorize?")
    assert query(url) == {
        "client_id": ["11111111-2222-3333-4444-555555555555"],
        "response_type": ["code id_token"],
        "redirect_uri": ["http://localhost:5000/getAToken"],
        "response_mode": ["form_post"],
        "scope": ["openid"],
        "resource": ["https://graph.microsoft.com"],
        "state": ["state-123"],
        "nonce": ["nonce-456"],
        "code_challenge": [CHALLENGE],
        "code_challenge_method": ["S256"],
    }


def test_build_authorize_url_encodes_spaces_as_percent_20() -> None:
    url = build_authorize_url(params())
    assert "response_type=code%20id_token" in url
    assert "+" not in url
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A5000%2FgetAToken" in url


def test_build_authorize_url_code_flow_sends_response_mode_query() -> None:
    q = query(build_authorize_url(params(response_type="code")))
    assert q["response_type"] == ["code"]
    assert q["response_mode"] == ["query"]
    assert q["nonce"] == ["nonce-456"]
    assert q["code_challenge_method"] == ["S256"]


def test_build_authorize_url_adds_prompt_and_hints_only_when_given() -> None:
    assert not {"prompt", "login_hint", "domain_hint"} & set(query(build_authorize_url(params())))
    q = query(build_authorize_url(params(prompt="select_account", login_hint="a@b.example", domain_hint="b.example")))
    assert q["prompt"] == ["select_account"]
    assert q["login_hint"] == ["a@b.example"]
    assert q["domain_hint"] == ["b.example"]


def test_build_authorize_url_round_trips_odd_values() -> None:
    odd = "a b&c=d+e%f/g?h#i \u00e9\u4e2d"
    p = params(
        state="s &=+%#?/x",
        login_hint=odd,
        redirect_uri="https://app.example/cb?x=1&y=a%20b",
        resource="https://api.example/a b&c=d",
    )
    url = build_authorize_url(p)
    assert " " not in url and "#" not in url
    q = query(url)
    assert q["login_hint"] == [odd]
    assert q["state"] == ["s &=+%#?/x"]
    assert q["redirect_uri"] == ["https://app.example/cb?x=1&y=a%20b"]
    assert q["resource"] == ["https://api.example/a b&c=d"]


def test_authorize_params_strips_a_trailing_slash_of_the_authority() -> None:
    p = params(authority_url="https://login.microsoftonline.com/common/")
    assert build_authorize_url(p).startswith("https://login.microsoftonline.com/common/oauth2/authorize?")


def test_authorize_params_allows_http_only_on_loopback() -> None:
    params(authority_url="http://127.0.0.1:5001/contoso")
    with pytest.raises(ValueError):
        params(authority_url="http://login.example/contoso")


@pytest.mark.parametrize(
    "changes",
    [
        {"prompt": "force"},
        {"prompt": ""},
        {"state": ""},
        {"state": "x" * 513},
        {"state": "bad\nstate"},
        {"nonce": Secret("nonce", "")},
        {"nonce": "plain-string-nonce"},
        {"code_challenge": "too-short"},
        {"code_challenge": "+" * 43},
        {"response_type": "id_token"},
        {"response_type": "token"},
        {"client_id": ""},
        {"resource": ""},
        {"redirect_uri": "/getAToken"},
        {"login_hint": ""},
        {"domain_hint": "x\r\ny"},
    ],
)
def test_authorize_params_refuses_invalid_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        params(**changes)


@pytest.mark.parametrize("prompt", ["login", "select_account", "consent", "admin_consent", "none"])
def test_authorize_params_accepts_every_known_prompt(prompt: str) -> None:
    assert query(build_authorize_url(params(prompt=prompt)))["prompt"] == [prompt]


def test_authorize_params_repr_does_not_show_the_nonce() -> None:
    p = params(nonce=Secret("nonce", "very-secret-nonce"))
    assert "very-secret-nonce" not in repr(p)
    assert "very-secret-nonce" not in repr(replace(p, state="other"))
