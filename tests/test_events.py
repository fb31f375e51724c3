"""Sign-in events check themselves when built (as h11's do)."""

from __future__ import annotations

from typing import Any

import pytest

from aadweb.errors import StateMismatch, Verdict
from aadweb.events import (
    CallbackReceived,
    IdTokenChecked,
    IgnoreEvents,
    SessionEnded,
    SignInBegun,
    SignInRefused,
)

FLOW = "0123456789abcdef"


@pytest.mark.parametrize("flow", ["", "NOT-HEX", "f" * 65, "state=abc"])
def test_an_event_refuses_anything_but_a_flow_id(flow: str) -> None:
    with pytest.raises(ValueError):
        SignInBegun(flow=flow, response_type="code")


def test_events_are_frozen_values_compared_by_content() -> None:
    assert SignInBegun(flow=FLOW, response_type="code") == SignInBegun(flow=FLOW, response_type="code")
    event: Any = SessionEnded(flow=None, reason="replaced")
    with pytest.raises(AttributeError):
        event.reason = "signed_out"


def test_events_refuse_unknown_reasons_and_channels() -> None:
    with pytest.raises(ValueError):
        SessionEnded(flow=FLOW, reason="bored")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CallbackReceived(flow=FLOW, via="fragment")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SignInRefused(flow=FLOW, error=ValueError("not an AadWebError"))  # type: ignore[arg-type]
    assert SignInRefused(flow=None, error=StateMismatch("x")).flow is None


def test_id_token_checked_cannot_claim_a_pass_with_a_failed_verdict() -> None:
    ok, bad = Verdict("alg", True, "RFC 8725 3.1"), Verdict("nonce", False, "OIDC 3.1.3.7 (11)")
    assert IdTokenChecked(flow=FLOW, verdicts=(ok, bad), passed=False).verdicts[-1] is bad
    with pytest.raises(ValueError):
        IdTokenChecked(flow=FLOW, verdicts=(ok, bad), passed=True)


def test_the_default_observer_ignores_everything() -> None:
    assert IgnoreEvents().on_event(SignInBegun(flow=FLOW, response_type="code")) is None
