"""aadweb.graph against the emulator's Graph over loopback."""

from __future__ import annotations

import secrets

import pytest

from aadweb.authority import Authority
from aadweb.emulator import Emulator, Fault
from aadweb.errors import GraphError
from aadweb.graph import GraphClient
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.transport import RequestsTransport
from tests.browserless import sign_in


@pytest.fixture
def access_token(settings: Settings) -> tuple[Secret, str]:
    """A real access token for Adele, and her oid from the validated id_token."""
    authority = Authority(settings, RequestsTransport())
    state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    nonce = Secret("nonce", secrets.token_urlsafe(16))
    fields = sign_in(authority.authorize_url(state=state, nonce=nonce, code_challenge=code_challenge_s256(verifier)))
    code = Secret("code", fields["code"])
    oid = authority.validate_front_channel(Secret("t", fields["id_token"]), nonce=nonce, code=code).claims.oid
    tokens = authority.redeem_code(code, code_verifier=Secret("v", verifier))
    return tokens.access_token, oid


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def graph(settings: Settings, sleeps: Sleeps) -> GraphClient:
    return GraphClient(settings, RequestsTransport(), sleep=sleeps)


def test_me_returns_the_signed_in_user(graph: GraphClient, access_token: tuple[Secret, str],
                                       emulator: Emulator) -> None:
    token, oid = access_token
    user = graph.me(token)
    assert user.id == oid and user.display_name == "Adele Vance"
    assert dict(user.fields)["userPrincipalName"] == "adele.vance@contoso.example"
    seen = [r for r in emulator.requests if r.path == "/v1.0/me"]
    assert len(seen) == 1 and seen[0].headers["authorization"] == f"Bearer {token.reveal()}"
    assert seen[0].headers.get("client-request-id")


def test_me_with_a_bad_token_is_a_graph_401(graph: GraphClient) -> None:
    with pytest.raises(GraphError) as info:
        graph.me(Secret("access_token", "not-a-token"))
    assert info.value.http_status == 401 and info.value.code == "InvalidAuthenticationToken"


def test_a_short_retry_after_is_honoured_once(graph: GraphClient, access_token: tuple[Secret, str],
                                              emulator: Emulator, sleeps: Sleeps) -> None:
    emulator.faults.add(Fault(kind="error", endpoint="graph", times=1, status=429, code="TooManyRequests",
                              retry_after="0.5"))
    assert graph.me(access_token[0]).id == access_token[1]
    assert sleeps == [0.5]
    ids = {r.headers.get("client-request-id") for r in emulator.requests if r.path == "/v1.0/me"}
    assert len(ids) == 1  # one logical call, retried with the same client-request-id


@pytest.mark.parametrize("retry_after", ["30", "garbage", None])
def test_a_long_or_invalid_retry_after_is_returned_to_the_caller(graph: GraphClient, access_token: tuple[Secret, str],
                                                                 emulator: Emulator, sleeps: Sleeps,
                                                                 retry_after: str | None) -> None:
    emulator.faults.add(Fault(kind="error", endpoint="graph", status=503, code="serviceNotAvailable",
                              retry_after=retry_after))
    with pytest.raises(GraphError) as info:
        graph.me(access_token[0])
    assert info.value.http_status == 503 and sleeps == []
    assert emulator.count("GET", "/v1.0/me") == 1


def test_throttled_twice_gives_up_after_one_retry(graph: GraphClient, access_token: tuple[Secret, str],
                                                  emulator: Emulator, sleeps: Sleeps) -> None:
    emulator.faults.add(Fault(kind="error", endpoint="graph", times=2,
                              status=429, code="TooManyRequests", retry_after="1"))
    with pytest.raises(GraphError):
        graph.me(access_token[0])
    assert sleeps == [1.0] and emulator.count("GET", "/v1.0/me") == 2
