"""aadweb.web.cookies: signed ids, verified in constant time; anything else is "no cookie"."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Response

from aadweb.secret import Secret
from aadweb.web.cookies import new_id, session_cookies

KEY = Secret("secret_key", "k" * 40)


def test_a_signed_id_verifies_and_nothing_else_does() -> None:
    session, browser = session_cookies(KEY, secure=False)
    ident = new_id()
    value = session.value_for(ident)
    assert session.verify(value) == ident
    other_session, _ = session_cookies(Secret("secret_key", "o" * 40), secure=False)
    forged = [
        browser.value_for(ident),  # the other cookie's signature: another key
        other_session.value_for(ident),  # another AADWEB_SECRET_KEY
        ident, "." + value.split(".")[1], value + "x", value[:-1], value.replace(".", ".."),
        new_id() + "." + value.split(".")[1], "", None, "a" * 500, "\u00e9" * 60, value + "=",
    ]
    for candidate in forged:
        assert session.verify(candidate) is None, candidate


def test_ids_are_random_and_long() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 43 for i in ids)


def test_cookie_attributes_http() -> None:
    session, browser = session_cookies(KEY, secure=False)
    response = Response()
    session.set(response, new_id())
    header = response.headers["Set-Cookie"]
    assert header.startswith("aadweb_session=") and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Path=/" in header and "Secure" not in header and "Domain" not in header
    assert "Max-Age" not in header and "Expires" not in header
    expired = Response()
    browser.expire(expired)
    assert "aadweb_browser=;" in expired.headers["Set-Cookie"] and "Max-Age=0" in expired.headers["Set-Cookie"]


def test_cookie_attributes_https() -> None:
    session, _ = session_cookies(KEY, secure=True)
    response = Response()
    session.set(response, new_id())
    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-aadweb_session=") and "Secure" in header and "Path=/" in header
    assert "Domain" not in header


def test_value_for_refuses_a_bad_id() -> None:
    session, _ = session_cookies(KEY, secure=False)
    with pytest.raises(ValueError):
        session.value_for("short")
    assert "k" * 40 not in repr(session)
