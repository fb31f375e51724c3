from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from aadweb.protocol.logout import build_logout_url, logout_endpoint

END = "https://login.microsoftonline.com/contoso/oauth2/logout"


def test_build_logout_url_without_redirect_is_the_endpoint() -> None:
    assert build_logout_url(end_session_endpoint=END, post_logout_redirect_uri=None) == END


def test_build_logout_url_encodes_the_post_logout_redirect_uri() -> None:
    url = build_logout_url(end_session_endpoint=END, post_logout_redirect_uri="http://localhost:5000/?a=1&b=c%20d")
    assert url.startswith(END + "?post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A5000%2F%3Fa%3D1%26b%3Dc%2520d")
    assert parse_qs(urlsplit(url).query) == {"post_logout_redirect_uri": ["http://localhost:5000/?a=1&b=c%20d"]}


def test_build_logout_url_appends_to_an_existing_query() -> None:
    url = build_logout_url(end_session_endpoint=END + "?x=1", post_logout_redirect_uri="https://app.example/")
    assert parse_qs(urlsplit(url).query) == {"x": ["1"], "post_logout_redirect_uri": ["https://app.example/"]}


@pytest.mark.parametrize(
    ("endpoint", "redirect"),
    [
        ("http://login.example/logout", None),
        ("/oauth2/logout", None),
        (END, "javascript:alert(1)"),
        (END, "http://app.example/"),
        (END, "/relative"),
        (END, "https://app.example/a b"),
    ],
)
def test_build_logout_url_refuses_insecure_or_relative_urls(endpoint: str, redirect: str | None) -> None:
    with pytest.raises(ValueError):
        build_logout_url(end_session_endpoint=endpoint, post_logout_redirect_uri=redirect)


def test_logout_endpoint_is_the_v1_end_session_path_of_the_authority() -> None:
    assert logout_endpoint("https://login.microsoftonline.com/contoso") == END
