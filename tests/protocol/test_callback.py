from __future__ import annotations

from collections.abc import Sequence

import pytest

from aadweb.errors import AuthorizationError, CallbackError, ResponseIssuerMismatch
from aadweb.protocol import callback as callback_module
from aadweb.protocol.callback import (
    MAX_CODE,
    MAX_ID_TOKEN,
    AuthorizationResponse,
    Callback,
    parse_callback,
    read_callback,
)
from aadweb.secret import Secret

ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
TRACE = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CORRELATION = "aaaa0000-bb11-2222-33cc-444444dddddd"


def fields(**values: str | Sequence[str]) -> dict[str, Sequence[str]]:
    return {k: [v] if isinstance(v, str) else v for k, v in values.items()}


def hybrid(**changes: str | Sequence[str]) -> dict[str, Sequence[str]]:
    values: dict[str, str | Sequence[str]] = {
        "code": "the-code",
        "id_token": ID_TOKEN,
        "state": "st-1",
        "session_state": "9b2f3e1c-0000-4000-8000-000000000000",
    }
    values.update(changes)
    return fields(**values)


def parse(params: dict[str, Sequence[str]], *, response_type: str) -> AuthorizationResponse:
    """Read the callback once, then parse it: what SignIn does with a query callback."""
    return parse_callback(read_callback(params), response_type=response_type)


def callback_state(params: dict[str, Sequence[str]]) -> str:
    return read_callback(params).state


# --- read_callback: the state first ---------------------------------------------------------


def test_callback_state_returns_the_single_state() -> None:
    assert callback_state(fields(state="st-1", code="x")) == "st-1"


def test_callback_state_refuses_a_missing_state() -> None:
    with pytest.raises(CallbackError, match="no state"):
        callback_state(fields(code="x"))


@pytest.mark.parametrize("values", [[], [""]])
def test_callback_state_refuses_an_empty_state(values: list[str]) -> None:
    with pytest.raises(CallbackError):
        callback_state({"state": values})


def test_callback_state_refuses_a_repeated_state() -> None:
    with pytest.raises(CallbackError, match="repeats"):
        callback_state({"state": ["a", "a"]})


def test_callback_state_refuses_a_state_over_512_characters() -> None:
    callback_state(fields(state="s" * 512))
    with pytest.raises(CallbackError, match="longer"):
        callback_state(fields(state="s" * 513))


@pytest.mark.parametrize("state", ["a\x00b", "a\nb", "caf\u00e9", "a\x7fb", "\u202eabc"])
def test_callback_state_refuses_non_printable_characters(state: str) -> None:
    with pytest.raises(CallbackError, match="printable"):
        callback_state(fields(state=state))


def test_callback_state_refuses_a_plain_string_mapping_as_a_caller_bug() -> None:
    with pytest.raises(TypeError, match="sequence"):
        callback_state({"state": "st-1"})


def test_read_callback_keeps_one_value_each_and_names_the_repeated_fields() -> None:
    callback = read_callback({"state": ["st-1"], "code": ["a", "b"], "empty": []})
    assert callback.state == "st-1" and dict(callback.fields) == {"state": "st-1"}
    assert callback.repeated == ("code",)
    with pytest.raises(CallbackError, match="repeats the field 'code'"):
        callback.fields_once()


def test_a_stashed_callback_reads_back_as_it_was_kept() -> None:
    kept = read_callback(hybrid()).fields_once()
    again = Callback.from_stash(kept)
    assert again.state == "st-1" and again.fields == kept and again.repeated == ()
    assert parse_callback(again, response_type="code id_token").code.reveal() == "the-code"


def test_a_callback_never_shows_its_fields_in_its_repr() -> None:
    shown = repr(read_callback(hybrid()))
    assert "the-code" not in shown and ID_TOKEN not in shown and "st-1" not in shown


# --- success -------------------------------------------------------------------------------


def test_parse_callback_hybrid_returns_code_id_token_state_and_session_state() -> None:
    r = parse(hybrid(), response_type="code id_token")
    assert r.code == Secret("code", "the-code")
    assert r.id_token == Secret("id_token", ID_TOKEN)
    assert r.state == "st-1"
    assert r.session_state == "9b2f3e1c-0000-4000-8000-000000000000"
    assert "the-code" not in repr(r) and ID_TOKEN not in repr(r)


def test_parse_callback_code_flow_returns_no_id_token() -> None:
    r = parse(fields(code="c", state="s"), response_type="code")
    assert r.code.reveal() == "c"
    assert r.id_token is None
    assert r.session_state is None


def test_parse_callback_code_flow_ignores_an_unexpected_id_token() -> None:
    r = parse(hybrid(), response_type="code")
    assert r.id_token is None


def test_parse_callback_ignores_unknown_fields() -> None:
    r = parse(hybrid(extra="1", admin_consent="True"), response_type="code id_token")
    assert r.code.reveal() == "the-code"


def test_parse_callback_treats_an_empty_session_state_as_absent() -> None:
    assert parse(hybrid(session_state=""), response_type="code id_token").session_state is None


# --- malformed -----------------------------------------------------------------------------


def test_parse_callback_refuses_a_repeated_code() -> None:
    with pytest.raises(CallbackError, match="'code'"):
        parse(hybrid(code=["a", "b"]), response_type="code id_token")


def test_parse_callback_refuses_any_repeated_field() -> None:
    with pytest.raises(CallbackError, match="'extra'"):
        parse(hybrid(extra=["1", "1"]), response_type="code id_token")


@pytest.mark.parametrize("code", [None, ""])
def test_parse_callback_refuses_a_missing_or_empty_code(code: str | None) -> None:
    values = hybrid()
    if code is None:
        del values["code"]
    else:
        values["code"] = [code]
    with pytest.raises(CallbackError, match="no authorization code"):
        parse(values, response_type="code id_token")


def test_parse_callback_hybrid_refuses_a_missing_id_token() -> None:
    values = hybrid()
    del values["id_token"]
    with pytest.raises(CallbackError, match="id_token"):
        parse(values, response_type="code id_token")


def test_parse_callback_hybrid_refuses_an_empty_id_token() -> None:
    with pytest.raises(CallbackError, match="id_token"):
        parse(hybrid(id_token=""), response_type="code id_token")


def test_parse_callback_refuses_an_oversized_code() -> None:
    parse(hybrid(code="c" * MAX_CODE), response_type="code id_token")
    with pytest.raises(CallbackError, match="longer"):
        parse(hybrid(code="c" * (MAX_CODE + 1)), response_type="code id_token")


def test_parse_callback_refuses_an_oversized_id_token() -> None:
    with pytest.raises(CallbackError, match="longer"):
        parse(hybrid(id_token="a" * (MAX_ID_TOKEN + 1)), response_type="code id_token")


def test_parse_callback_refuses_a_code_with_control_characters() -> None:
    with pytest.raises(CallbackError, match="printable"):
        parse(hybrid(code="ab\r\ncd"), response_type="code id_token")


def test_parse_callback_refuses_an_id_token_that_is_not_compact() -> None:
    with pytest.raises(CallbackError, match="compact"):
        parse(hybrid(id_token="a b.c"), response_type="code id_token")


def test_parse_callback_refuses_an_unknown_response_type_as_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        parse(hybrid(), response_type="token")


def test_parse_callback_error_messages_never_contain_the_code() -> None:
    with pytest.raises(CallbackError) as info:
        parse(hybrid(code=["secret-code-1", "secret-code-2"]), response_type="code id_token")
    assert "secret-code" not in str(info.value)


# --- error answers -------------------------------------------------------------------------


def test_parse_callback_error_becomes_authorization_error_with_codes_and_ids() -> None:
    description = (
        "AADSTS50011: The redirect URI 'http://x/cb' specified in the request does not match.\r\n"
        f"Trace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}\r\nTimestamp: 2024-01-01 00:00:00Z"
    )
    values = fields(error="invalid_request", error_description=description, state="st-1")
    with pytest.raises(AuthorizationError) as info:
        parse(values, response_type="code id_token")
    exc = info.value
    assert exc.error == "invalid_request"
    assert exc.error_codes == (50011,)
    assert exc.trace_id == TRACE
    assert exc.correlation_id == CORRELATION
    assert "\r" not in exc.description and "\n" not in exc.description
    assert exc.description.startswith("AADSTS50011: The redirect URI")
    assert exc.status == 400


def test_parse_callback_error_wins_over_a_code() -> None:
    with pytest.raises(AuthorizationError):
        parse(hybrid(error="access_denied"), response_type="code id_token")


def test_parse_callback_error_without_description_has_no_codes() -> None:
    with pytest.raises(AuthorizationError) as info:
        parse(fields(error="access_denied", state="s"), response_type="code")
    assert info.value.error_codes == ()
    assert info.value.trace_id == "" and info.value.description == ""


def test_parse_callback_error_keeps_markup_out_of_the_exception_message() -> None:
    description = "<script>alert(1)</script>\r\nSet-Cookie: x=y AADSTS65004: declined"
    with pytest.raises(AuthorizationError) as info:
        parse(fields(error="access_denied", error_description=description, state="s"), response_type="code")
    assert "<script>" not in str(info.value)
    assert "\n" not in str(info.value) and "\n" not in info.value.description
    assert info.value.error_codes == (65004,)


def test_parse_callback_error_description_is_capped() -> None:
    with pytest.raises(AuthorizationError) as info:
        parse(fields(error="server_error", error_description="x" * 100_000, state="s"), response_type="code")
    assert len(info.value.description) <= 2000


@pytest.mark.parametrize("error", ["", 'bad"quote', "back\\slash", "new\nline", "caf\u00e9"])
def test_parse_callback_refuses_an_error_outside_the_rfc6749_charset(error: str) -> None:
    with pytest.raises(CallbackError, match=r"4\.1\.2\.1"):
        parse(fields(error=error, state="s"), response_type="code")


def test_parse_callback_error_still_needs_a_state() -> None:
    with pytest.raises(CallbackError, match="no state"):
        parse(fields(error="access_denied"), response_type="code")


def test_callback_error_reads_only_the_error_fields() -> None:
    """A hybrid-flow error that came back by GET: the error, never a code or id_token."""
    callback_error = callback_module.callback_error
    description = "AADSTS65004: User declined.\r\nTrace ID: 0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
    found = callback_error(read_callback(fields(error="consent_required", error_description=description, code="c",
                                                state="s")))
    assert isinstance(found, AuthorizationError) and found.error_codes == (65004,) and found.trace_id
    assert callback_error(read_callback(fields(code="c", id_token="a.b.c", state="s"))) is None
    assert isinstance(callback_error(read_callback(fields(error="bad\u00e4", state="s"))), CallbackError)
    with pytest.raises(CallbackError):
        callback_error(read_callback(fields(error=["a", "b"], state="s")))


def test_check_response_issuer_compares_exact_strings() -> None:
    """RFC 9207 2.4: a response's iss must be the expected issuer (simple string comparison)."""
    check, issuer_of = callback_module.check_response_issuer, callback_module.callback_issuer
    expected = {"https://sts.windows.net/t1/"}
    assert issuer_of(read_callback(fields(state="s"))) is None
    assert issuer_of(read_callback(fields(state="s", iss="https://sts.windows.net/t1/"))) == "https://sts.windows.net/t1/"
    verdict = check("https://sts.windows.net/t1/", expected=expected)
    assert verdict.check == "response_iss" and verdict.passed and "RFC 9207" in verdict.reference
    for wrong in ("https://sts.windows.net/t1", "https://STS.windows.net/t1/", "https://sts.windows.net/t2/", ""):
        with pytest.raises(ResponseIssuerMismatch) as info:
            check(wrong, expected=expected)
        assert info.value.status == 401 and info.value.check == "response_iss"
        assert not wrong or wrong[8:] not in str(info.value)  # the value never reaches a message
        assert [v.passed for v in info.value.verdicts] == [False]  # type: ignore[attr-defined]
    with pytest.raises(CallbackError):
        issuer_of(read_callback(fields(state="s", iss=["a", "b"])))
