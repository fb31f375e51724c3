from __future__ import annotations

import pytest

from aadweb.errors import AuthorityError
from aadweb.protocol.aadsts import (
    Explanation,
    clean_text,
    codes_in_description,
    correlation_id_in_description,
    explain,
    explain_error,
    is_valid_error_code,
    trace_id_in_description,
)

PROTOCOL_TABLE = [50011, 54005, 70008, 700082, 7000215, 7000222, 700016, 700054, 65001, 50194, 90002, 53003]
MORE = [50076, 50079, 50034, 50126, 50058, 65004, 90014, 900144, 9002313, 50148, 501481, 500011, 650057]
MORE += [7000218, 700024, 700027, 50001, 50020]


@pytest.mark.parametrize("code", PROTOCOL_TABLE + MORE)
def test_explain_knows_every_documented_code(code: int) -> None:
    found = explain(code)
    assert found is not None
    assert found.code == code
    assert found.title.endswith(".") and found.what_to_do.endswith(".")


def test_explain_reply_url_mismatch_says_what_to_register() -> None:
    found = explain(50011)
    assert found is not None and "redirect URI" in found.what_to_do


def test_explain_client_secret_says_use_the_value_not_the_id() -> None:
    found = explain(7000215)
    assert found is not None and "Value" in found.what_to_do and "Secret ID" in found.what_to_do


def test_explain_id_tokens_not_enabled_offers_the_code_flow() -> None:
    found = explain(700054)
    assert found is not None and "AADWEB_RESPONSE_TYPE=code" in found.what_to_do


@pytest.mark.parametrize("code", [None, 0, 1, 12345, 99999999])
def test_explain_returns_none_for_unknown_codes(code: int | None) -> None:
    assert explain(code) is None


def test_explain_error_uses_the_first_known_code() -> None:
    exc = AuthorityError("invalid_grant", error_codes=[1, 70008, 54005])
    found = explain_error(exc)
    assert found is not None and found.code == 70008


def test_explain_error_without_codes_is_none() -> None:
    assert explain_error(AuthorityError("server_error")) is None


def test_explanation_refuses_empty_text() -> None:
    with pytest.raises(ValueError):
        Explanation(code=1, title="", what_to_do="x")
    with pytest.raises(ValueError):
        Explanation(code=0, title="t", what_to_do="x")


def test_codes_in_description_reads_every_code_once_in_order() -> None:
    text = "AADSTS70008: expired. See also AADSTS50011 and AADSTS70008; not AADSTSx or XAADSTS"
    assert codes_in_description(text) == (70008, 50011)
    assert codes_in_description("") == ()


def test_ids_in_description_are_read_from_their_lines() -> None:
    text = (
        "AADSTS1: x\r\nTrace ID: 0F1E2D3C-4b5a-6978-8796-a5b4c3d2e1f0\r\n"
        "Correlation ID: aaaa0000-bb11-2222-33cc-444444dddddd"
    )
    assert trace_id_in_description(text) == "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert correlation_id_in_description(text) == "aaaa0000-bb11-2222-33cc-444444dddddd"
    assert trace_id_in_description("Trace ID: <script>") == ""


def test_clean_text_replaces_control_and_bidi_characters() -> None:
    assert clean_text("a\r\nb\x00c\x1b[31md\u202eE\u2028f") == "a b c [31md E f"


def test_clean_text_caps_the_length() -> None:
    text = clean_text("x" * 5000)
    assert len(text) == 2000 and text.endswith("\u2026")
    assert clean_text("abc", limit=2) == "a\u2026"


@pytest.mark.parametrize(("value", "valid"), [("invalid_grant", True), ("a b!", True), ("", False), ('a"b', False),
                                              ("a\\b", False), ("a\nb", False), ("\u00e9", False), (5, False),
                                              ("x" * 201, False)])
def test_is_valid_error_code_follows_rfc6749(value: object, valid: bool) -> None:
    assert is_valid_error_code(value) is valid
