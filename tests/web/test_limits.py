"""aadweb.web.limits: return paths, hints and encodings, decided without a server."""

from __future__ import annotations

import pytest

from aadweb.web.limits import safe_return_path, sign_in_hints, well_encoded


@pytest.mark.parametrize("value", ["/", "/graphcall", "/graphcall?x=1&y=%20z", "/a/b#frag", "/%7Euser", "/a:b"])
def test_local_paths_are_kept(value: str) -> None:
    assert safe_return_path(value) == value


@pytest.mark.parametrize("value", [
    None, "", "graphcall", "//evil.example", "///evil.example", "/\\evil.example", "/x\\y", "\\\\evil",
    "https://evil.example", "javascript:alert(1)", " /graphcall", "/graph call", "/a\tb", "/a\nb", "/a\x00",
    "/%2F%2Fevil.example", "/%2F/evil.example", "/%2f/evil.example", "/%5Cevil.example", "/%5C%5Cevil",
    "/%252F%252Fevil.example", "/%25252F%25252Fevil", "/%0d%0aSet-Cookie:x=1", "/%00", "/\u00e9",
    "/%2525252525252F", "/" + "a" * 512,
])
def test_anything_else_becomes_the_root(value: str | None) -> None:
    assert safe_return_path(value) == "/"


def test_the_length_limit_is_512() -> None:
    assert safe_return_path("/" + "a" * 511) == "/" + "a" * 511


def test_hints() -> None:
    assert sign_in_hints({"prompt": "login", "login_hint": "a@b.example", "domain_hint": "b.example"}) == {
        "prompt": "login", "login_hint": "a@b.example", "domain_hint": "b.example"}
    assert sign_in_hints({"prompt": "admin_consent", "login_hint": "a b", "domain_hint": "b/c"}) == {
        "prompt": "admin_consent"}
    assert sign_in_hints({"prompt": "Admin_Consent"}) == {} and sign_in_hints({"prompt": "login consent"}) == {}
    assert sign_in_hints({"login_hint": "x" * 257, "domain_hint": "-bad.example"}) == {}
    assert sign_in_hints({"login_hint": "\u00e9l\u00e8ve@\u00e9cole.example"})["login_hint"].startswith("\u00e9")
    assert sign_in_hints({}) == {}


@pytest.mark.parametrize(("raw", "ok"), [
    (b"", True), (b"a=1&b=%20", True), (b"a=%C3%A9", True), (b"a=+b", True), (b"a=%", False),
    (b"a=%zz", False), (b"a=%FF", False), (b"a=%C3%28", False), (b"a=\xff", False), (b"a=%e9", False),
])
def test_well_encoded(raw: bytes, ok: bool) -> None:
    assert well_encoded(raw) is ok
