"""Every fault kind: it acts (times=1), then the endpoint is normal again."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
import requests

from aadweb.emulator import DEMO_CLIENT_ID, DEMO_TENANT_ID, Emulator, Fault, FaultSet

from .support import (
    ADELE,
    TIMEOUT,
    FakeClock,
    authorize_params,
    b64url_json,
    code_flow,
    error_codes,
    parse_form,
    redeem,
    sign_in,
    verify_front_channel,
)

METADATA = f"/{DEMO_TENANT_ID}/.well-known/openid-configuration"
KEYS = f"/{DEMO_TENANT_ID}/discovery/keys"


def get(base: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(base + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)


# ------------------------------------------------------------------ the Fault value

@pytest.mark.parametrize("spec", [
    {"kind": "nonsense", "endpoint": "token"},
    {"kind": "error"},
    {"kind": "error", "endpoint": "nowhere"},
    {"kind": "delay", "endpoint": "token"},
    {"kind": "set_field", "endpoint": "token"},
    {"kind": "error", "endpoint": "token", "times": 0},
    {"kind": "token_lifetime", "endpoint": "authorize", "seconds": 5},
    {"kind": "huge", "endpoint": "keys", "size": 1},
])
def test_bad_fault_specs_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**spec)


def test_fault_json_round_trip_and_type_checks() -> None:
    fault = Fault.from_json({"kind": "id_token_claims", "claims": {"aud": None}, "times": 2})
    assert fault.applies_to("authorize") and fault.applies_to("token")
    assert Fault.from_json(fault.to_json()) == fault
    for bad in ({"kind": "error", "endpoint": "token", "times": "1"},
                {"kind": "error", "endpoint": "token", "aadsts": True},
                {"kind": "error", "endpoint": "token", "surprise": 1}, ["not", "a", "dict"]):
        with pytest.raises(ValueError):
            Fault.from_json(bad)


def test_fault_set_counts_down_and_conveniences_work() -> None:
    faults = FaultSet()
    faults.add(Fault(kind="error", endpoint="token", times=2))
    faults.graph_error("TooManyRequests", retry_after="1")
    assert [n for _, n in faults.active()] == [2, 1]
    assert faults.take("token", ("error",)) is not None
    assert faults.take("graph", ("delay",)) is None
    assert len(faults.take_all("token", ("error",))) == 1 and len(faults) == 1
    faults.delay("keys", 0.1, times=None)
    assert faults.clear() == 2 and len(faults) == 0


# ------------------------------------------------------------------------ error

def test_token_error_fault_then_normal(base: str, emu: Emulator) -> None:
    code = code_flow(base)["code"]
    emu.faults.token_error(70008)
    resp = redeem(base, code)
    assert resp.status_code == 400 and error_codes(resp) == [70008]
    assert resp.json()["error"] == "invalid_grant"
    assert redeem(base, code).status_code == 200  # the fault answered; the code is unused


def test_error_fault_defaults_per_error(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="error", endpoint="keys", status=500, times=1))
    resp = get(base, KEYS)
    assert resp.status_code == 500 and resp.json()["error"] == "server_error"
    emu.faults.add(Fault(kind="error", endpoint="metadata", error="invalid_client", times=1))
    assert get(base, METADATA).status_code == 401
    assert get(base, KEYS).status_code == 200


@pytest.mark.parametrize(("code", "status", "retry_after"), [
    ("TooManyRequests", 429, "1.5"), ("serviceNotAvailable", 503, "garbage"),
    ("InvalidAuthenticationToken", 401, None),
])
def test_graph_error_fault(base: str, emu: Emulator, code: str, status: int,
                           retry_after: str | None) -> None:
    emu.faults.graph_error(code, retry_after=retry_after)
    resp = get(base, "/v1.0/me", headers={"client-request-id": "abc"})
    assert resp.status_code == status and resp.json()["error"]["code"] == code
    assert resp.headers.get("Retry-After") == retry_after
    assert resp.json()["error"]["innerError"]["client-request-id"] == "abc"
    assert ("WWW-Authenticate" in resp.headers) == (status == 401)
    assert get(base, "/v1.0/me").json()["error"]["code"] == "InvalidAuthenticationToken"


def test_authorize_error_fault_is_an_error_callback(base: str, emu: Emulator) -> None:
    emu.faults.authorize_error("consent_required")
    fields = sign_in(base, authorize_params())
    assert fields["error"] == "consent_required" and fields["state"] == "state-123"
    assert fields["error_description"].startswith("AADSTS65001: ")
    assert "code" in sign_in(base, authorize_params())


# --------------------------------------------------------------- transport faults

def test_delay_fault_sleeps_once(base: str, emu: Emulator) -> None:
    emu.faults.delay("metadata", 0.3)
    start = time.monotonic()
    assert get(base, METADATA).status_code == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    get(base, METADATA)
    assert time.monotonic() - start < 0.3


def test_drip_fault_sends_the_normal_body_slowly(base: str, emu: Emulator) -> None:
    normal = get(base, METADATA).content
    chunks = -(-len(normal) // 400)
    emu.faults.add(Fault(kind="drip", endpoint="metadata", chunk_bytes=400, interval=0.05, times=1))
    start = time.monotonic()
    resp = get(base, METADATA)
    elapsed = time.monotonic() - start
    assert json.loads(resp.content) == json.loads(normal)
    assert chunks * 0.05 * 0.9 <= elapsed < chunks * 0.05 + 2


def test_redirect_fault_points_at_the_recorded_target(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="redirect", endpoint="token", status=307, times=1))
    resp = redeem(base, "whatever")
    assert resp.status_code == 307
    assert resp.headers["Location"] == f"{base}/_emulator/redirect-target"
    assert emu.count("GET", "/_emulator/redirect-target") == 0
    assert requests.get(resp.headers["Location"], timeout=TIMEOUT).json()["redirect_target"]
    assert emu.count("GET", "/_emulator/redirect-target") == 1


def test_non_json_fault(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="non_json", endpoint="keys", times=1))
    resp = get(base, KEYS)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert get(base, KEYS).json()["keys"]


def test_huge_fault_is_exactly_size_bytes_of_json(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="huge", endpoint="graph", size=100_000, times=1))
    resp = get(base, "/v1.0/me")
    assert resp.headers["Content-Length"] == "100000" and len(resp.content) == 100_000
    assert set(json.loads(resp.content)) == {"padding"}


def test_gzip_bomb_fault_is_small_on_the_wire(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="gzip_bomb", endpoint="token", size=1 << 20, times=1))
    resp = requests.post(f"{base}/{DEMO_TENANT_ID}/oauth2/token", stream=True, timeout=TIMEOUT)
    assert resp.headers["Content-Encoding"] == "gzip"
    wire = resp.raw.read(decode_content=False)
    assert len(wire) < 10_000
    import gzip

    assert len(gzip.decompress(wire)) == 1 << 20


def test_drop_and_set_field_edit_only_successful_json(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="drop_field", endpoint="token", field="access_token", times=1))
    emu.faults.add(Fault(kind="set_field", endpoint="token", field="expires_in", value="abc",
                         times=1))
    emu.faults.add(Fault(kind="set_field", endpoint="token", field="token_type", value={"x": [1]},
                         times=1))
    assert redeem(base, "bad-code").json()["error"] == "invalid_grant"  # not used up by errors
    body = redeem(base, code_flow(base)["code"]).json()
    assert "access_token" not in body and body["expires_in"] == "abc"
    assert body["token_type"] == {"x": [1]}
    again = redeem(base, code_flow(base)["code"]).json()
    assert again["token_type"] == "Bearer" and "access_token" in again


# ------------------------------------------------------------------- token faults

def test_id_token_claims_fault_applies_to_both_channels(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="id_token_claims", claims={"aud": "someone-else", "nonce": None},
                         times=2))
    fields = sign_in(base, authorize_params())
    front = verify_front_channel(base, fields["id_token"], audience="someone-else")
    assert "nonce" not in front
    back = b64url_json(redeem(base, fields["code"]).json()["id_token"].split(".")[1])
    assert back["aud"] == "someone-else"
    fields = sign_in(base, authorize_params())
    assert verify_front_channel(base, fields["id_token"], audience=DEMO_CLIENT_ID)["nonce"]


def test_id_token_header_fault(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="id_token_header", endpoint="authorize", times=1,
                         header={"jku": "https://evil.example/keys", "crit": ["exp"],
                                 "alg": "HS256", "typ": None}))
    header = b64url_json(sign_in(base, authorize_params())["id_token"].split(".")[0])
    assert header["jku"] == "https://evil.example/keys" and header["crit"] == ["exp"]
    assert header["alg"] == "HS256" and "typ" not in header
    assert jwt.get_unverified_header(sign_in(base, authorize_params())["id_token"])["alg"] == "RS256"


@pytest.mark.parametrize("same_kid", [True, False])
def test_sign_with_unpublished_key(base: str, emu: Emulator, same_kid: bool) -> None:
    emu.faults.add(Fault(kind="sign_with_unpublished_key", same_kid=same_kid, times=1))
    token = sign_in(base, authorize_params())["id_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    assert (kid == emu.signing_jwk_public()["kid"]) == same_kid
    if same_kid:
        with pytest.raises(jwt.InvalidSignatureError):
            verify_front_channel(base, token, audience=DEMO_CLIENT_ID)
    else:
        with pytest.raises(AssertionError, match="kid not published"):
            verify_front_channel(base, token, audience=DEMO_CLIENT_ID)
    verify_front_channel(base, sign_in(base, authorize_params())["id_token"],
                         audience=DEMO_CLIENT_ID)


def test_signed_token_endpoint_id_token(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="signed_token_endpoint_id_token", times=1))
    token = redeem(base, code_flow(base)["code"]).json()["id_token"]
    assert verify_front_channel(base, token, audience=DEMO_CLIENT_ID)["upn"] == ADELE
    assert redeem(base, code_flow(base)["code"]).json()["id_token"].endswith(".")


def test_token_lifetime_fault(base: str, emu: Emulator, clock: FakeClock) -> None:
    emu.faults.add(Fault(kind="token_lifetime", seconds=60, times=1))
    body = redeem(base, code_flow(base)["code"]).json()
    assert body["expires_in"] == "60" and body["expires_on"] == str(int(clock.now) + 60)
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert get(base, "/v1.0/me", headers=auth).status_code == 200
    clock.now += 61
    assert get(base, "/v1.0/me", headers=auth).status_code == 401
    assert redeem(base, code_flow(base)["code"]).json()["expires_in"] == "3599"


def test_sign_in_page_still_answers_while_a_page_fault_waits(base: str, emu: Emulator) -> None:
    emu.faults.add(Fault(kind="non_json", endpoint="authorize", times=1))
    resp = get(base, f"/{DEMO_TENANT_ID}/oauth2/authorize", params=authorize_params())
    assert "non_json" in resp.text
    form = parse_form(get(base, f"/{DEMO_TENANT_ID}/oauth2/authorize",
                          params=authorize_params()).text)
    assert form.method == "post"
