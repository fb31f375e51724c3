"""Allowlist redaction: what is shown in clear, what becomes a fingerprint, and a generated proof
that no path of the redactor writes the value of an unknown field in clear."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aadweb.secret import fingerprint
from aadweb.transcript import redact as _redact
from aadweb.transcript.redact import SCHEMAS, Redactor, fp, withheld


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jwt(header: dict[str, Any], claims: dict[str, Any], signature: str = "c2ln") -> str:
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


def test_the_fingerprint_is_the_secret_modules() -> None:
    assert fp("code", "abc") == fingerprint("code", "abc") == "\u00abcode:ba7816bf8f01 len=3\u00bb"
    assert fp("weird name&=", "abc").startswith("\u00abfield:")  # kinds stay URL- and header-safe
    assert withheld("upn", "adele@contoso.example") == "\u00abupn:withheld len=21\u00bb"


def test_form_fields_are_clear_only_when_listed() -> None:
    red = Redactor()
    shown = red.fields([("grant_type", "authorization_code"), ("client_id", "cid"), ("code", "the-code"),
                        ("client_secret", "s3cret"), ("state", "st"), ("nonce", "n"), ("login_hint", "a@b.c"),
                        ("session_state", "ss"), ("resource", "https://graph"), ("scope", "openid"),
                        ("unheard_of", "value"), ("code", "again")])
    assert shown["grant_type"] == "authorization_code" and shown["client_id"] == "cid"
    assert shown["session_state"] == "ss" and shown["resource"] == "https://graph" and shown["scope"] == "openid"
    assert shown["client_secret"] == fp("client_secret", "s3cret") and shown["state"] == fp("state", "st")
    assert shown["nonce"] == fp("nonce", "n") and shown["unheard_of"] == fp("unheard_of", "value")
    assert shown["login_hint"] == withheld("login_hint", "a@b.c")
    assert shown["code"] == [fp("code", "the-code"), fp("code", "again")]  # a repeat keeps both
    assert Redactor(personal=True).field("login_hint", "a@b.c") == "a@b.c"


def test_urls_keep_their_public_parameters_and_lose_user_info() -> None:
    red = Redactor()
    url = red.url("https://user:pw@login.example:8443/t/oauth2/authorize?client_id=c&state=S&redirect_uri="
                  "https%3A%2F%2Fapp%2FgetAToken&response_type=code+id_token#code=C")
    assert url.startswith("https://login.example:8443/t/oauth2/authorize?client_id=c&state=\u00abstate:")
    assert "redirect_uri=https://app/getAToken" in url and "response_type=code%20id_token" in url
    assert url.endswith("#code=" + fp("code", "C")) and "pw" not in url and "user" not in url
    assert red.url("/getAToken?state=S") == "/getAToken?state=" + fp("state", "S")
    assert red.url("http://[::1]:5000/login") == "http://[::1]:5000/login"


def test_headers_by_allowlist_with_credentials_and_cookies_fingerprinted() -> None:
    red = Redactor()
    shown = dict(red.headers([
        ("Content-Type", "application/json"), ("client-request-id", "abc"), ("X-Forwarded-For", "10.0.0.1"),
        ("Authorization", "Bearer tok.en"), ("Cookie", "a=1; aadweb_session=sid.mac"),
        ("Location", "https://login.example/x?state=S&client_id=c"),
    ]))
    assert shown["content-type"] == "application/json" and shown["client-request-id"] == "abc"
    assert shown["x-forwarded-for"] == fp("x-forwarded-for", "10.0.0.1")
    assert shown["authorization"] == "Bearer " + fp("access_token", "tok.en")
    assert shown["cookie"] == f"a={fp('cookie', '1')}; aadweb_session={fp('cookie', 'sid.mac')}"
    assert shown["location"] == f"https://login.example/x?state={fp('state', 'S')}&client_id=c"
    assert red.header("authorization", "Basic Y2lkOnNlY3JldA==") == "Basic " + fp("client_secret_basic",
                                                                                   "Y2lkOnNlY3JldA==")
    assert red.header("authorization", "garbage") == fp("authorization", "garbage")
    cookie = red.header("Set-Cookie", "__Host-aadweb_session=sid.mac; HttpOnly; Path=/; SameSite=Lax; Secure; "
                                      "Odd=thing")
    assert cookie == (f"__Host-aadweb_session={fp('cookie', 'sid.mac')}; HttpOnly; Path=/; SameSite=Lax; Secure; "
                      f"Odd={fp('Odd', 'thing')}")


def test_a_token_response_shows_its_metadata_and_an_id_token_summary() -> None:
    red = Redactor()
    id_token = _jwt({"alg": "RS256", "kid": "k1", "typ": "JWT", "x5t": "k1", "jku": "https://evil"},
                    {"iss": "https://sts.windows.net/t/", "aud": "cid", "tid": "t", "exp": 2, "nbf": 1, "iat": 1,
                     "ver": "1.0", "nonce": "n", "c_hash": "h", "name": "Adele", "upn": "a@b", "oid": "o",
                     "sub": "s", "email": "a@b"})
    shown = red.json("token", {"token_type": "Bearer", "expires_in": "3599", "resource": "r", "scope": "User.Read",
                               "access_token": "AT", "refresh_token": "RT", "id_token": id_token,
                               "foo": {"nested": "x"}, "expires_on": {"not": "a scalar"}})
    assert shown["token_type"] == "Bearer" and shown["expires_in"] == "3599" and shown["scope"] == "User.Read"
    assert shown["access_token"] == fp("access_token", "AT") and shown["refresh_token"] == fp("refresh_token", "RT")
    assert shown["id_token"] == fp("id_token", id_token)
    assert shown["foo"].startswith("\u00abfoo:") and shown["expires_on"].startswith("\u00abexpires_on:")
    summary = red.jwts["response.json.id_token"]
    assert summary["fingerprint"] == fp("id_token", id_token) and summary["signed"] is True
    assert summary["header"] == {"alg": "RS256", "kid": "k1", "typ": "JWT", "x5t": "k1"}
    assert summary["claims"] == {"iss": "https://sts.windows.net/t/", "aud": "cid", "tid": "t", "exp": 2, "nbf": 1,
                                 "iat": 1, "ver": "1.0"}
    assert summary["nonce"] == "present" and summary["c_hash"] == "present"
    assert summary["other_claims"] == ["email", "name", "oid", "sub", "upn"]
    personal = Redactor(personal=True).jwt(id_token)["claims"]
    assert personal["name"] == "Adele" and personal["upn"] == "a@b" and personal["oid"] == "o"
    assert Redactor().jwt("not.a.jwt") == {"fingerprint": fp("id_token", "not.a.jwt"), "malformed": True}


def test_error_metadata_jwks_and_graph_bodies() -> None:
    red = Redactor()
    error = red.json("oauth_error", {"error": "invalid_grant", "error_description": "AADSTS70008: expired",
                                     "error_codes": [70008], "trace_id": "t", "correlation_id": "c",
                                     "timestamp": "2024", "error_uri": "https://e", "claims": "{...}"})
    assert error["error_codes"] == [70008] and error["trace_id"] == "t" and error["claims"].startswith("\u00ab")
    metadata = red.json("metadata", {"issuer": "https://sts/", "jwks_uri": "https://k", "x_secret": "v"})
    assert metadata == {"issuer": "https://sts/", "jwks_uri": "https://k", "x_secret": fp("x_secret", "v")}
    jwks = red.json("jwks", {"keys": [{"kid": "k", "kty": "RSA", "use": "sig", "e": "AQAB", "n": "n" * 342,
                                       "x5c": ["c" * 900], "d": "PRIVATE"}], "extra": 1})
    key = jwks["keys"][0]
    assert key["kid"] == "k" and key["n"] == "n" * 16 + "\u2026(342 chars)"
    assert key["x5c"] == ["c" * 16 + "\u2026(900 chars)"]
    assert key["d"] == fp("d", "PRIVATE") and jwks["extra"].startswith("\u00abextra:")
    me = red.json("graph_me", {"@odata.context": "https://graph/$metadata", "displayName": "Adele", "id": "o",
                               "mobilePhone": None, "businessPhones": ["+1"]})
    assert me == {"@odata.context": "https://graph/$metadata", "displayName": withheld("displayName", "Adele"),
                  "id": withheld("id", "o"), "mobilePhone": None,
                  "businessPhones": withheld("businessPhones", '["+1"]')}
    assert Redactor(personal=True).json("graph_me", {"displayName": "Adele"}) == {"displayName": "Adele"}
    graph_error = red.json("graph_error", {"error": {"code": "TooManyRequests", "message": "slow",
                                                     "innerError": {"request-id": "r", "date": "d", "x": "y"}}})
    assert graph_error == {"error": {"code": "TooManyRequests", "message": "slow",
                                     "innerError": {"request-id": "r", "date": "d", "x": fp("x", "y")}}}
    assert red.json("token", ["not", "an", "object"]).startswith("\u00abbody:")
    assert red.json("no-such-schema", {"a": 1}).startswith("\u00abbody:")


def test_every_allowlist_is_a_frozen_set_of_plain_names() -> None:
    lists = [getattr(_redact, name) for name in _redact.__all__ if name.isupper() and name != "SCHEMAS"]
    assert len(lists) >= 10
    for allow in lists:
        assert isinstance(allow, frozenset) and all(isinstance(n, str) and n == n.strip() for n in allow)
    # Names that carry secrets are on no list.
    secret_names = {"code", "client_secret", "code_verifier", "nonce", "state", "access_token", "refresh_token",
                    "id_token", "client_assertion", "cookie", "set-cookie", "authorization", "login_hint",
                    "csrf_token", "password", "name", "upn", "email", "oid"}
    clear = set().union(_redact.FORM_CLEAR, _redact.HEADER_CLEAR, _redact.TOKEN_CLEAR, _redact.ERROR_CLEAR,
                        _redact.METADATA_CLEAR, _redact.JWKS_KEY_CLEAR, _redact.JWT_HEADER_CLEAR,
                        _redact.JWT_CLAIMS_CLEAR, _redact.GRAPH_INNER_CLEAR)
    assert not secret_names & clear
    # Inside Graph's error envelope "code" is Graph's error name ("TooManyRequests"), not an OAuth code.
    assert frozenset({"code", "message"}) == _redact.GRAPH_ERROR_CLEAR


# --- generated: no unknown value ever appears in clear ----------------------------------------

_KNOWN = (_redact.FORM_CLEAR | _redact.HEADER_CLEAR | _redact.TOKEN_CLEAR | _redact.ERROR_CLEAR
          | _redact.METADATA_CLEAR | _redact.JWKS_KEY_CLEAR | _redact.GRAPH_ERROR_CLEAR | _redact.GRAPH_INNER_CLEAR
          | _redact.JWT_HEADER_CLEAR | _redact.JWT_CLAIMS_CLEAR | _redact.PERSONAL_CLAIMS | _redact.COOKIE_ATTRIBUTES
          | {"@odata.context", "keys", "error", "innerError", "innererror", "n", "x5c"}
          # headers the redactor reads by their own rules (a Location's path is shown by design)
          | {"authorization", "cookie", "set-cookie", "location"})
_names = st.text(alphabet=string.ascii_letters + string.digits + "_-@.#", min_size=1, max_size=12)
unknown_names = _names.filter(lambda n: n not in _KNOWN and n.lower() not in _KNOWN)
any_names = st.one_of(unknown_names, st.sampled_from(sorted(_KNOWN)))
# Each secret is a marker no allowlisted text could contain by chance.
secrets = st.integers(min_value=10**11, max_value=10**12 - 1).map(lambda i: f"SECRET{i}")


@st.composite
def documents(draw: st.DrawFn, depth: int = 2) -> tuple[dict[str, Any], set[str]]:
    """A JSON object where every value under an unknown name, at any depth, holds a secret;
    known names hold objects (which must be hidden too) or lists of objects with secrets."""
    planted: set[str] = set()
    doc: dict[str, Any] = {}
    for name in draw(st.lists(any_names, min_size=1, max_size=8, unique=True)):
        secret = draw(secrets)
        if name in _KNOWN:
            if depth > 0 and draw(st.booleans()):
                inner, more = draw(documents(depth=depth - 1))
                doc[name] = [inner] if draw(st.booleans()) else inner
                planted |= more
            else:
                doc[name] = {"v": secret}
                planted.add(secret)
        else:
            doc[name] = draw(st.sampled_from([secret, [secret], {"x": secret}, {"keys": [secret]}]))
            planted.add(secret)
    return doc, planted


@settings(max_examples=300, deadline=None)
@given(documents(), st.booleans())
def test_no_json_schema_writes_an_unknown_value_in_clear(case: tuple[dict[str, Any], set[str]],
                                                         personal: bool) -> None:
    doc, planted = case
    for schema in SCHEMAS:
        red = Redactor(personal=personal)
        shown = json.dumps([red.json(schema, doc), red.jwts], ensure_ascii=False)
        if schema == "graph_me" and personal:
            continue  # personal=True shows Graph's values by design
        leaked = [s for s in planted if s in shown]
        assert not leaked, (schema, leaked, shown[:500])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(unknown_names.filter(lambda n: n not in _redact.PERSONAL_FIELDS), secrets), min_size=1,
                max_size=8), st.booleans())
def test_no_form_query_or_header_writes_an_unknown_value_in_clear(pairs: list[tuple[str, str]],
                                                                  personal: bool) -> None:
    red = Redactor(personal=personal)
    query = "&".join(f"{n}={v}" for n, v in pairs)
    shown = json.dumps([
        red.fields(pairs, where="request.form"),
        red.url(f"https://h.example/p?{query}#{query}"),
        red.headers(pairs),
        red.header("Cookie", "; ".join(f"{n}={v}" for n, v in pairs)),
        red.header("Set-Cookie", "; ".join(f"{n}={v}" for n, v in pairs)),
        red.header("Authorization", f"Bearer {pairs[0][1]}"),
        red.header("Location", f"/x?{query}"),
    ], ensure_ascii=False)
    leaked = [v for _, v in pairs if v in shown]
    assert not leaked, (leaked, shown[:500])


@settings(max_examples=200, deadline=None)
@given(documents(depth=1), documents(depth=1))
def test_no_jwt_claim_or_header_outside_the_lists_is_shown(header: tuple[dict[str, Any], set[str]],
                                                           claims: tuple[dict[str, Any], set[str]]) -> None:
    token = _jwt(header[0], claims[0])
    shown = json.dumps(Redactor().jwt(token))
    leaked = [s for s in header[1] | claims[1] if s in shown]
    assert not leaked


def test_a_value_sent_where_a_name_goes_is_never_written_in_clear() -> None:
    secret = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.SECRET+TOKEN/VALUE=="
    r = Redactor()
    shown = [
        r.url(f"https://app.example/getAToken?{secret}", where="request"),
        r.url(f"https://app.example/getAToken?state=x&{secret}=1", where="request"),
        json.dumps(r.fields([(secret, ""), ("grant_type", "authorization_code")])),
        r.header("cookie", f"{secret}=1; aadweb_session=abc"),
        json.dumps(r.headers([(secret, "v"), ("Content-Type", "text/html")])),
    ]
    for text in shown:
        assert secret not in text and "SECRET" not in text, text
    assert "grant_type" in shown[2] and "authorization_code" in shown[2]  # plain names stay readable
    assert "aadweb_session=" in shown[3] and "content-type" in shown[4]
