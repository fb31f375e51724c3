"""aadweb.secret: the wrapper that keeps secret values out of logs, pages and exceptions."""

from __future__ import annotations

import pickle

import pytest

from aadweb.secret import Secret, fingerprint


def test_secret_shows_only_its_fingerprint() -> None:
    s = Secret("code", "the-code-value")
    assert repr(s) == str(s) == f"{s}" == fingerprint("code", "the-code-value")
    assert "the-code-value" not in repr(s) and "the-code-value" not in repr([s])


def test_equal_secrets_have_equal_hashes_whatever_their_kind() -> None:
    # __eq__ compares the values only, so the hash must not depend on the kind either
    # (a == b implies hash(a) == hash(b), or sets and dicts misbehave).
    a, b = Secret("access_token", "same-value"), Secret("bearer", "same-value")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_secrets_with_different_values_are_not_equal() -> None:
    assert Secret("code", "a") != Secret("code", "b")


def test_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret("client_secret", "s3cr3t"))
