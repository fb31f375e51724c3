"""RFC 8628 polling as ``aadweb register`` does it: the interval, slow_down, the end states.
A scripted sender answers; the clock and sleep are injected (nothing sleeps)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from aadweb.protocol.graph_apps import GraphCall
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.register import RegisterError, RegisterOptions, Registrar, Where

DEVICE = {"device_code": "dc-secret-value", "user_code": "ABCD-EFGH", "verification_uri": "https://microsoft.com/devicelogin",
          "expires_in": 900, "interval": 5}
TOKEN_HEAD = "eyJhbGciOiJub25lIn0"


def oauth_error(error: str, code: int) -> HttpResponse:
    return HttpResponse(status=400, headers={"content-type": "application/json"},
                        body=json.dumps({"error": error, "error_description": f"AADSTS{code}: x",
                                         "error_codes": [code]}).encode())


def ok(body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status=200, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


class Script:
    """The authority's answers in order; records the form posts."""

    def __init__(self, *polls: HttpResponse, device: dict[str, Any] | None = None) -> None:
        self.answers = [ok(device or DEVICE), *polls]
        self.sent: list[HttpRequest] = []

    def form(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        return self.answers.pop(0)

    def graph(self, call: GraphCall) -> HttpResponse:  # pragma: no cover - polling tests stop before Graph
        raise AssertionError("no Graph call expected")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def sign_in(script: Script, clock: Clock, endpoint: str = "v2") -> tuple[str, str]:
    out = io.StringIO()
    where = Where(authority_host="https://login.microsoftonline.com", graph_root="https://graph.microsoft.com",
                  public_client_id="14d82eec-204b-4c2f-b7e8-296a70dab67e")
    registrar = Registrar(RegisterOptions(endpoint=endpoint), where, stdout=out,  # type: ignore[arg-type]
                          sender=script, clock=clock, sleep=clock.sleep, wall=clock)  # type: ignore[arg-type]
    return registrar.sign_in().reveal(), out.getvalue()


def test_pending_keeps_the_interval_and_the_line_names_url_and_code() -> None:
    clock = Clock()
    pending = oauth_error("authorization_pending", 70016)
    token, out = sign_in(Script(pending, pending, ok({"access_token": TOKEN_HEAD + ".e30.x"})), clock)
    assert token.startswith(TOKEN_HEAD)
    assert clock.sleeps == [5, 5, 5]
    assert out == "To sign in, open https://microsoft.com/devicelogin and enter the code ABCD-EFGH.\n"
    assert "dc-secret-value" not in out


def test_slow_down_adds_five_seconds_to_every_later_poll() -> None:
    clock = Clock()
    script = Script(oauth_error("slow_down", 70016), oauth_error("authorization_pending", 70016),
                    oauth_error("slow_down", 70016), ok({"access_token": "a.b.c"}))
    sign_in(script, clock)
    assert clock.sleeps == [5, 10, 10, 15]


def test_missing_interval_means_five_seconds_and_v1_sends_code_too() -> None:
    clock = Clock()
    device = {k: str(v) for k, v in DEVICE.items() if k != "interval"}
    device["verification_url"] = device.pop("verification_uri")  # v1 spelling, numbers as strings
    script = Script(ok({"access_token": "a.b.c"}), device=device)
    sign_in(script, clock, endpoint="v1")
    assert clock.sleeps == [5]
    form = script.sent[1].revealed_form() or {}
    assert form == {"grant_type": "device_code", "client_id": "14d82eec-204b-4c2f-b7e8-296a70dab67e",
                    "code": "dc-secret-value"}  # v1.0: ADAL's form
    assert script.sent[0].url.endswith("/organizations/oauth2/devicecode")


def test_stops_polling_when_the_code_would_have_expired() -> None:
    clock = Clock()
    pending = oauth_error("authorization_pending", 70016)
    with pytest.raises(RegisterError, match="expired"):
        sign_in(Script(*[pending] * 200, device={**DEVICE, "expires_in": 12}), clock)
    assert clock.sleeps == [5, 5]  # a third wait would pass the 12 seconds


@pytest.mark.parametrize(("error", "code", "words"), [
    ("expired_token", 70020, "expired"),
    ("authorization_declined", 70018, "declined"),
    ("access_denied", 65004, "declined"),
    ("invalid_grant", 65001, "Consent is required"),
])
def test_end_states_stop_with_a_clear_message(error: str, code: int, words: str) -> None:
    clock = Clock()
    with pytest.raises(RegisterError, match=words) as caught:
        sign_in(Script(oauth_error("authorization_pending", 70016), oauth_error(error, code)), clock)
    assert "dc-secret-value" not in str(caught.value)
    assert len(clock.sleeps) == 2
