"""TokenCipher and derive_key: AES-256-GCM bound to its place, keys by HKDF per purpose."""

from __future__ import annotations

import pytest

from aadweb.errors import SessionStoreError
from aadweb.sessions import TOKENS_PURPOSE, CiphertextInvalid, TokenCipher, derive_key

SECRET = "a" * 40


def test_derive_key_is_deterministic_256_bit_and_separated_by_purpose() -> None:
    key = derive_key(SECRET, TOKENS_PURPOSE)
    assert len(key) == 32 and key == derive_key(SECRET, TOKENS_PURPOSE)
    assert key != derive_key(SECRET, b"aadweb session cookie v1")
    assert key != derive_key("b" * 40, TOKENS_PURPOSE)


def test_derive_key_refuses_empty_inputs() -> None:
    with pytest.raises(ValueError):
        derive_key("", TOKENS_PURPOSE)
    with pytest.raises(ValueError):
        derive_key(SECRET, b"")


def test_round_trip() -> None:
    cipher = TokenCipher.from_secret(SECRET)
    blob = cipher.encrypt(b"access token", bound_to="session-1")
    assert cipher.decrypt(blob, bound_to="session-1") == b"access token"
    assert b"access token" not in blob and blob[0] == 1


def test_ciphertext_is_bound_to_its_session_id() -> None:
    cipher = TokenCipher.from_secret(SECRET)
    blob = cipher.encrypt(b"access token", bound_to="session-1")
    with pytest.raises(CiphertextInvalid, match="failed authentication"):
        cipher.decrypt(blob, bound_to="session-2")


def test_every_encryption_draws_a_new_nonce() -> None:
    cipher = TokenCipher.from_secret(SECRET)
    blobs = {cipher.encrypt(b"same", bound_to="s") for _ in range(1000)}
    assert len(blobs) == 1000
    assert len({b[5:17] for b in blobs}) == 1000


def test_a_wrong_key_fails_and_says_so() -> None:
    blob = TokenCipher.from_secret(SECRET).encrypt(b"x", bound_to="s")
    with pytest.raises(CiphertextInvalid, match="another key"):
        TokenCipher.from_secret("b" * 40).decrypt(blob, bound_to="s")


def test_a_key_from_another_purpose_fails() -> None:
    blob = TokenCipher.from_secret(SECRET).encrypt(b"x", bound_to="s")
    with pytest.raises(CiphertextInvalid):
        TokenCipher.from_secret(SECRET, purpose=b"other purpose").decrypt(blob, bound_to="s")


def test_previous_keys_decrypt_after_rotation() -> None:
    old, new = derive_key(SECRET, TOKENS_PURPOSE), derive_key("b" * 40, TOKENS_PURPOSE)
    blob = TokenCipher(old).encrypt(b"x", bound_to="s")
    rotated = TokenCipher(new, previous=[old])
    assert rotated.decrypt(blob, bound_to="s") == b"x"
    with pytest.raises(CiphertextInvalid):
        TokenCipher(old).decrypt(rotated.encrypt(b"y", bound_to="s"), bound_to="s")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # tag
        lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:],  # body
        lambda b: b[:6] + bytes([b[6] ^ 1]) + b[7:],  # nonce
        lambda b: bytes([2]) + b[1:],  # version
        lambda b: b[:10],  # truncated
        lambda b: b"",
    ],
)
def test_any_change_to_a_ciphertext_fails_as_a_session_store_error(mutate: object) -> None:
    cipher = TokenCipher.from_secret(SECRET)
    blob = cipher.encrypt(b"access token", bound_to="s")
    with pytest.raises(SessionStoreError) as caught:
        cipher.decrypt(mutate(blob), bound_to="s")  # type: ignore[operator]
    assert isinstance(caught.value, CiphertextInvalid)
    assert "access token" not in str(caught.value)


def test_keys_must_be_256_bit_and_repr_shows_no_key() -> None:
    with pytest.raises(ValueError):
        TokenCipher(b"short")
    key = derive_key(SECRET, TOKENS_PURPOSE)
    assert key.hex() not in repr(TokenCipher(key))
