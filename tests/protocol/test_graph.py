from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aadweb.errors import GraphError, InvalidResponse
from aadweb.protocol.graph import (
    MAX_FIELDS,
    MAX_RETRY_AFTER,
    MAX_VALUE,
    build_me_request,
    parse_me_response,
    parse_retry_after,
)
from aadweb.protocol.http import HttpResponse
from aadweb.secret import Secret

GRAPH = "https://graph.microsoft.com/v1.0/me"
TOKEN = Secret("access_token", "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln")
CRID = "c0ffee00-0000-4000-8000-000000000000"
NOW = 1_700_000_000.0

ME = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
    "businessPhones": ["+1 425 555 0109"],
    "displayName": "Adele Vance",
    "givenName": "Adele",
    "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
    "jobTitle": None,
    "mail": "AdeleV@contoso.example",
    "mobilePhone": None,
    "officeLocation": "18/2111",
    "preferredLanguage": "en-US",
    "surname": "Vance",
    "userPrincipalName": "AdeleV@contoso.example",
}


def response(status: int, body: object | bytes, **headers: str) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status=status, headers=headers, body=raw)


# --- the request ---------------------------------------------------------------------------


def test_build_me_request_sends_a_bearer_token_as_a_secret_header() -> None:
    req = build_me_request(graph_url=GRAPH, access_token=TOKEN, client_request_id=CRID)
    assert req.method == "GET" and req.url == GRAPH and req.form is None
    assert isinstance(req.headers["Authorization"], Secret)
    assert req.revealed_headers()["Authorization"] == f"Bearer {TOKEN.reveal()}"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["client-request-id"] == CRID
    assert TOKEN.reveal() not in repr(req)


@pytest.mark.parametrize("token", ["", "a b", "abc\r\nX-Injected: 1", "t\u00e9"])
def test_build_me_request_refuses_a_token_that_is_not_a_bearer_token(token: str) -> None:
    with pytest.raises(ValueError, match="RFC 6750"):
        build_me_request(graph_url=GRAPH, access_token=Secret("access_token", token), client_request_id=CRID)


@pytest.mark.parametrize("crid", ["", "a\r\nb", "a b", "x" * 129])
def test_build_me_request_refuses_a_bad_client_request_id(crid: str) -> None:
    with pytest.raises(ValueError):
        build_me_request(graph_url=GRAPH, access_token=TOKEN, client_request_id=crid)


def test_build_me_request_refuses_plain_http_off_loopback() -> None:
    with pytest.raises(ValueError):
        build_me_request(graph_url="http://graph.example/v1.0/me", access_token=TOKEN, client_request_id=CRID)
    build_me_request(graph_url="http://localhost:5001/v1.0/me", access_token=TOKEN, client_request_id=CRID)


# --- success -------------------------------------------------------------------------------


def test_parse_me_response_keeps_every_field_in_order_as_display_strings() -> None:
    user = parse_me_response(response(200, ME), now=NOW)
    assert user.id == ME["id"]
    assert user.display_name == "Adele Vance"
    assert user.user_principal_name == "AdeleV@contoso.example"
    assert user.mail == "AdeleV@contoso.example"
    assert [k for k, _ in user.fields] == list(ME)
    values = dict(user.fields)
    assert values["businessPhones"] == '["+1 425 555 0109"]'
    assert values["jobTitle"] == ""
    assert values["officeLocation"] == "18/2111"


def test_parse_me_response_renders_non_strings_as_compact_json() -> None:
    body = {"id": "x", "n": 5, "f": 1.5, "b": True, "nested": {"a": [1, {"b": None}]}, "u": ["\u00e9"]}
    values = dict(parse_me_response(response(200, body), now=NOW).fields)
    assert values == {"id": "x", "n": "5", "f": "1.5", "b": "true", "nested": '{"a":[1,{"b":null}]}', "u": '["\u00e9"]'}


def test_parse_me_response_caps_values_and_the_number_of_fields() -> None:
    body: dict[str, object] = {"id": "x", "long": "v" * 10_000}
    body.update({f"k{i}": i for i in range(500)})
    user = parse_me_response(response(200, body), now=NOW)
    assert len(user.fields) == MAX_FIELDS
    assert len(dict(user.fields)["long"]) == MAX_VALUE


def test_parse_me_response_strips_control_characters_from_keys_and_values() -> None:
    body = {"id": "x", "na\nme": "a\r\nb\x00<b>"}
    assert parse_me_response(response(200, body), now=NOW).fields[1] == ("na me", "a b <b>")


def test_parse_me_response_treats_mistyped_display_fields_as_absent() -> None:
    body = {"id": "x", "displayName": 5, "mail": None, "userPrincipalName": ""}
    user = parse_me_response(response(200, body), now=NOW)
    assert user.display_name is None and user.mail is None and user.user_principal_name is None
    assert dict(user.fields)["displayName"] == "5"


@pytest.mark.parametrize("body", [{"displayName": "x"}, {"id": ""}, {"id": 5}, {"id": None}])
def test_parse_me_response_refuses_an_answer_without_a_string_id(body: dict[str, object]) -> None:
    with pytest.raises(InvalidResponse, match="id"):
        parse_me_response(response(200, body), now=NOW)


def test_parse_me_response_refuses_a_body_that_is_not_a_json_object() -> None:
    with pytest.raises(InvalidResponse):
        parse_me_response(response(200, b"[1]"), now=NOW)
    with pytest.raises(InvalidResponse):
        parse_me_response(response(200, b"<html>"), now=NOW)


# --- errors --------------------------------------------------------------------------------


def envelope(code: str, message: str) -> dict[str, object]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2024-01-01T00:00:00", "request-id": "req-1", "client-request-id": CRID},
        }
    }


def test_parse_me_response_401_envelope_becomes_graph_error() -> None:
    resp = response(401, envelope("InvalidAuthenticationToken", "Access token has expired."),
                    **{"WWW-Authenticate": 'Bearer realm=""'})
    with pytest.raises(GraphError) as info:
        parse_me_response(resp, now=NOW)
    exc = info.value
    assert exc.http_status == 401
    assert exc.code == "InvalidAuthenticationToken"
    assert exc.message == "Access token has expired."
    assert exc.request_id == "req-1" and exc.client_request_id == CRID
    assert exc.retry_after is None


def test_parse_me_response_429_carries_a_fractional_retry_after() -> None:
    resp = response(429, envelope("TooManyRequests", "slow down"), **{"Retry-After": "1.5"})
    with pytest.raises(GraphError) as info:
        parse_me_response(resp, now=NOW)
    assert info.value.http_status == 429 and info.value.retry_after == 1.5


def test_parse_me_response_non_json_503_has_only_what_the_headers_say() -> None:
    resp = response(503, b"<html>Service Unavailable</html>", **{"Retry-After": "10", "request-id": "req-9"})
    with pytest.raises(GraphError) as info:
        parse_me_response(resp, now=NOW)
    exc = info.value
    assert exc.http_status == 503 and exc.code == "" and exc.message == ""
    assert exc.retry_after == 10.0 and exc.request_id == "req-9"


def test_parse_me_response_error_with_odd_envelope_still_is_a_graph_error() -> None:
    for body in ({"error": "string"}, {"error": {"code": 5, "message": ["x"], "innerError": "y"}}, [1]):
        with pytest.raises(GraphError) as info:
            parse_me_response(response(403, body), now=NOW)
        assert info.value.code == "" and info.value.message == ""


def test_parse_me_response_error_text_is_cleaned_and_capped() -> None:
    resp = response(403, envelope("Authorization_Request\r\nDenied", "<script>" + "m" * 10_000))
    with pytest.raises(GraphError) as info:
        parse_me_response(resp, now=NOW)
    assert info.value.code == "Authorization_Request Denied"
    assert len(info.value.message) <= 2000
    assert "\n" not in str(info.value) and "<script>" not in str(info.value)


def test_parse_me_response_refuses_a_redirect() -> None:
    with pytest.raises(InvalidResponse, match="never followed"):
        parse_me_response(response(302, b"", Location="https://evil.example/"), now=NOW)


def test_parse_me_response_refuses_a_2xx_other_than_200() -> None:
    with pytest.raises(InvalidResponse, match="HTTP 204"):
        parse_me_response(response(204, b""), now=NOW)


# --- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("99999999", MAX_RETRY_AFTER),
        (None, None),
        ("", None),
        ("-5", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("Infinity", None),
        ("1e3", None),
        ("+5", None),
        ("\u0663", None),
        ("soon", None),
        ("Wed, 99 Foo 2024 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after_variants(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_reads_an_http_date_relative_to_now() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 90, tz=UTC), usegmt=True)
    assert parse_retry_after(when, now=NOW) == 90.0


def test_parse_retry_after_treats_a_past_http_date_as_now() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW - 90, tz=UTC), usegmt=True)
    assert parse_retry_after(when, now=NOW) == 0.0


def test_parse_retry_after_caps_a_far_http_date() -> None:
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=NOW) == MAX_RETRY_AFTER


@given(st.text(max_size=100), st.floats(allow_nan=True, allow_infinity=True))
def test_parse_retry_after_never_raises_on_arbitrary_text(value: str, now: float) -> None:
    result = parse_retry_after(value, now=now)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER


@given(st.from_regex(r"\A[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,5} [0-9:]{1,8}( [A-Z+\-0-9]{0,5})?\Z"))
def test_parse_retry_after_never_raises_on_date_shaped_text(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER
