"""The stored values check themselves and never print a secret."""

from __future__ import annotations

import dataclasses

import pytest

from aadweb.secret import Secret
from tests.sessions.conftest import make_pending, make_record, make_tokens


def test_reprs_show_fingerprints_not_secrets() -> None:
    p = dataclasses.replace(make_pending("STATE-SENTINEL"), callback={"code": "CODE-SENTINEL"})
    r = make_record("SESSION-SENTINEL")
    text = repr(p) + repr(r) + str(r) + repr(make_tokens())
    for secret in (
        "STATE-SENTINEL",
        "CODE-SENTINEL",
        "SESSION-SENTINEL",
        "CSRF-SENTINEL",
        "ACCESS-SENTINEL",
        "REFRESH-SENTINEL",
        "IDTOKEN-SENTINEL",
        "NONCE-SENTINEL",
        "VERIFIER-SENTINEL",
    ):
        assert secret not in text
    assert "\u00abstate:" in text and "\u00absession:" in text


@pytest.mark.parametrize("return_path", ["//evil.example/", "/\\evil.example", "https://evil.example/", ""])
def test_pending_refuses_a_non_local_return_path(return_path: str) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(make_pending(), return_path=return_path)


@pytest.mark.parametrize(
    "change",
    [
        {"state": ""},
        {"state": "has space"},
        {"state": "x" * 513},
        {"browser_id": "nul\x00"},
        {"nonce": Secret("nonce", "")},
        {"nonce": "plain str"},
        {"response_type": "token"},
        {"created_at": float("nan")},
        {"callback": {"code": 1}},
    ],
)
def test_pending_validates_its_fields(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(make_pending(), **change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"session_id": ""},
        {"expires_at": 0.0},
        {"version": -1},
        {"version": True},
        {"csrf_token": ""},
        {"claims": {1: "x"}},
        {"tokens": "token"},
    ],
)
def test_record_validates_its_fields(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(make_record(), **change)  # type: ignore[arg-type]


def test_values_are_immutable() -> None:
    r = make_record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.version = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.claims["tid"] = "other"  # type: ignore[index]
    p = dataclasses.replace(make_pending(), callback={"code": "c"})
    with pytest.raises(TypeError):
        p.callback["code"] = "d"  # type: ignore[index]


def test_token_set_requires_an_access_token_secret() -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(make_tokens(), access_token="plain")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dataclasses.replace(make_tokens(), expires_on=float("inf"))
