"""aadweb.authority against the real emulator over loopback sockets."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aadweb.authority import Authority
from aadweb.emulator import DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, FABRIKAM_TENANT_ID, Emulator, Fault
from aadweb.errors import (
    AuthorityError,
    AuthorityUnavailable,
    ClientRefused,
    DeadlineExceeded,
    GrantRefused,
    InvalidResponse,
    KeyNotFound,
    NonceMismatch,
    SignatureInvalid,
    TransportError,
)
from aadweb.protocol.idtoken import match_back_channel
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.transport import RequestsTransport
from tests.browserless import sign_in
from tests.conftest import emulator_settings


class FakeMonotonic:
    """The key cache's clock, advanced by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


def make_authority(settings: Settings, monotonic: FakeMonotonic | None = None) -> Authority:
    transport = RequestsTransport(timeout=settings.http_timeout)
    kwargs: dict[str, Any] = {"key_cache_clock": monotonic} if monotonic else {}
    return Authority(settings, transport, **kwargs)


@pytest.fixture
def authority(settings: Settings, monotonic: FakeMonotonic) -> Iterator[Authority]:
    a = make_authority(settings, monotonic)
    yield a
    a.transport.close()  # type: ignore[attr-defined]


class Flow:
    """One sign-in's secrets, as the app would keep them in the pending sign-in."""

    def __init__(self) -> None:
        self.state = secrets.token_urlsafe(24)
        self.nonce = Secret("nonce", secrets.token_urlsafe(24))
        self.verifier = Secret("code_verifier", secrets.token_urlsafe(48))

    def url(self, authority: Authority) -> str:
        return authority.authorize_url(state=self.state, nonce=self.nonce,
                                       code_challenge=code_challenge_s256(self.verifier.reveal()))


def hybrid_sign_in(authority: Authority, user: str = "adele.vance@contoso.example") -> tuple[Flow, dict[str, str]]:
    flow = Flow()
    fields = sign_in(flow.url(authority), user)
    assert fields["state"] == flow.state
    return flow, fields


def validate(authority: Authority, flow: Flow, fields: dict[str, str]) -> Any:
    """Validate the front-channel id_token of a hybrid sign-in's callback fields."""
    return authority.validate_front_channel(Secret("id_token", fields["id_token"]), nonce=flow.nonce,
                                            code=Secret("code", fields["code"]))


def test_hybrid_flow_validates_the_id_token_and_redeems_the_code(authority: Authority, emulator: Emulator) -> None:
    flow, fields = hybrid_sign_in(authority)
    code, id_token = Secret("code", fields["code"]), Secret("id_token", fields["id_token"])
    validated = authority.validate_front_channel(id_token, nonce=flow.nonce, code=code)
    assert validated.claims.display["upn"] == "adele.vance@contoso.example"
    tokens = authority.redeem_code(code, code_verifier=flow.verifier)
    assert tokens.token_type.lower() == "bearer" and tokens.access_token and tokens.refresh_token
    assert tokens.expires_on > time.time() + 60
    assert tokens.id_token is not None and tokens.id_token.reveal().endswith(".")  # v1: unsigned
    assert match_back_channel(tokens.id_token, validated.claims).passed
    token_posts = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/oauth2/token")]
    assert len(token_posts) == 1
    form = token_posts[0].form
    assert form["grant_type"] == "authorization_code" and form["code_verifier"] == flow.verifier.reveal()
    assert form["client_secret"] and form["resource"] == "https://graph.microsoft.com"
    assert token_posts[0].headers.get("client-request-id")
    # Every call the authority makes carries a fresh client-request-id of its own drawing.
    ids = [r.headers.get("client-request-id") for r in emulator.requests
           if r.path.endswith(("/oauth2/token", "/discovery/keys", "/openid-configuration"))]
    assert len(ids) >= 3 and all(ids) and len(set(ids)) == len(ids)


def test_code_flow_accepts_the_unsigned_token_endpoint_id_token_over_loopback(emulator_url: str,
                                                                            emulator: Emulator) -> None:
    authority = make_authority(emulator_settings(emulator_url, response_type="code"))
    flow = Flow()
    url = flow.url(authority)
    assert "response_mode=query" in url and "response_type=code&" in url
    fields = sign_in(url)
    assert "id_token" not in fields
    tokens = authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert tokens.id_token is not None
    validated = authority.validate_back_channel(tokens.id_token, nonce=flow.nonce)
    assert validated.claims.display["upn"] == "adele.vance@contoso.example"
    assert any("unsigned" in v.reference for v in validated.verdicts)
    assert emulator.count("GET", "/discovery/keys") == 0  # an unsigned token needs no keys


def test_code_flow_checks_the_nonce_of_the_token_endpoint_id_token(emulator_url: str) -> None:
    authority = make_authority(emulator_settings(emulator_url, response_type="code"))
    flow = Flow()
    tokens = authority.redeem_code(Secret("code", sign_in(flow.url(authority))["code"]), code_verifier=flow.verifier)
    assert tokens.id_token is not None
    with pytest.raises(NonceMismatch):
        authority.validate_back_channel(tokens.id_token, nonce=Secret("nonce", "another-sign-in"))


def test_refresh_returns_a_new_access_token(authority: Authority, emulator: Emulator) -> None:
    flow, fields = hybrid_sign_in(authority)
    tokens = authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert tokens.refresh_token is not None
    refreshed = authority.refresh(tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    grants = [r.form.get("grant_type") for r in emulator.requests if r.path.endswith("/oauth2/token")]
    assert grants == ["authorization_code", "refresh_token"]


def test_a_code_works_once(authority: Authority) -> None:
    flow, fields = hybrid_sign_in(authority)
    authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    with pytest.raises(AuthorityError) as info:
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert info.value.error == "invalid_grant" and 54005 in info.value.error_codes
    assert info.value.trace_id and info.value.correlation_id
    assert fields["code"] not in str(info.value)


def test_a_wrong_pkce_verifier_is_refused(authority: Authority) -> None:
    _, fields = hybrid_sign_in(authority)
    with pytest.raises(AuthorityError) as info:
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=Secret("v", secrets.token_urlsafe(48)))
    assert info.value.error == "invalid_grant"


def test_keys_are_fetched_once_for_many_validations(authority: Authority, emulator: Emulator) -> None:
    for _ in range(5):
        flow, fields = hybrid_sign_in(authority)
        for _ in range(10):
            validate(authority, flow, fields)
    assert emulator.count("GET", "/discovery/keys") == 1
    assert emulator.count("GET", "/.well-known/openid-configuration") == 1


def test_a_token_signed_after_key_rotation_is_accepted_after_one_refetch(
    authority: Authority, emulator: Emulator, monotonic: FakeMonotonic
) -> None:
    flow, fields = hybrid_sign_in(authority)
    validate(authority, flow, fields)
    emulator.rotate_keys(keep_old=False)
    monotonic.now += 301  # past the 5-minute limit on refetching for an unknown kid
    flow, fields = hybrid_sign_in(authority)
    validated = validate(authority, flow, fields)
    assert validated.claims.oid
    assert emulator.count("GET", "/discovery/keys") == 2


def test_a_key_rotated_just_after_start_up_is_accepted_at_once(authority: Authority, emulator: Emulator) -> None:
    """DESIGN.md: the cold first fetch does not count against the 5-minute unknown-kid limit."""
    flow, fields = hybrid_sign_in(authority)
    validate(authority, flow, fields)
    emulator.rotate_keys(keep_old=False)
    flow, fields = hybrid_sign_in(authority)
    assert validate(authority, flow, fields).claims.oid
    assert emulator.count("GET", "/discovery/keys") == 2


def test_unknown_kid_refetch_is_rate_limited(authority: Authority, emulator: Emulator,
                                             monotonic: FakeMonotonic) -> None:
    flow, fields = hybrid_sign_in(authority)
    validate(authority, flow, fields)
    emulator.rotate_keys(keep_old=False)
    validate(authority, *hybrid_sign_in(authority))  # the first unknown kid: one refetch, accepted
    emulator.rotate_keys(keep_old=False)
    monotonic.now += 299
    for _ in range(20):  # an unknown-kid flood within 5 minutes of the unknown-kid refetch
        flow, fields = hybrid_sign_in(authority)
        with pytest.raises(KeyNotFound):
            validate(authority, flow, fields)
    assert emulator.count("GET", "/discovery/keys") == 2


def test_a_token_signed_by_a_key_the_tenant_does_not_publish_is_refused(
    authority: Authority, emulator: Emulator
) -> None:
    authority.keys()
    emulator.faults.add(Fault(kind="sign_with_unpublished_key", endpoint="authorize", same_kid=True))
    flow, fields = hybrid_sign_in(authority)
    with pytest.raises(SignatureInvalid):
        validate(authority, flow, fields)


def test_jwks_down_with_keys_cached_still_validates(authority: Authority, emulator: Emulator,
                                                    monotonic: FakeMonotonic) -> None:
    authority.keys()
    emulator.faults.add(Fault(kind="error", endpoint="keys", times=None, status=500))
    monotonic.now += 2 * 24 * 3600  # the keys are past their TTL: a refresh is due and fails
    flow, fields = hybrid_sign_in(authority)
    assert validate(authority, flow, fields)
    # The refresh was really attempted (and failed): the last good keys carried the validation.
    assert authority.key_fetches == 2 and emulator.count("GET", "/discovery/keys") == 2


def test_jwks_down_cold_is_a_clear_error(authority: Authority, emulator: Emulator) -> None:
    emulator.faults.add(Fault(kind="error", endpoint="keys", times=None, status=500))
    flow, fields = hybrid_sign_in(authority)
    with pytest.raises(AuthorityError) as info:
        validate(authority, flow, fields)
    assert info.value.http_status == 500 and not isinstance(info.value, AuthorityUnavailable)


def test_a_key_set_without_a_usable_key_leaves_the_token_without_a_key(authority: Authority,
                                                                        emulator: Emulator) -> None:
    """DESIGN.md: "no usable key" is an id_token check that failed (401), not an upstream fault."""
    emulator.faults.add(Fault(kind="set_field", endpoint="keys", field="keys", value=[], times=None))
    flow, fields = hybrid_sign_in(authority)
    with pytest.raises(KeyNotFound):
        validate(authority, flow, fields)


@pytest.mark.parametrize(("aadsts", "error", "status"), [
    (70008, "invalid_grant", 400), (7000215, "invalid_client", 401), (50011, "invalid_grant", 400)])
def test_token_endpoint_errors_carry_aadsts_codes(authority: Authority, emulator: Emulator, aadsts: int, error: str,
                                                  status: int) -> None:
    flow, fields = hybrid_sign_in(authority)
    emulator.faults.add(Fault(kind="error", endpoint="token", times=1, aadsts=aadsts, error=error, status=status))
    with pytest.raises(AuthorityError) as info:
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert info.value.error == error and info.value.error_codes[0] == aadsts and info.value.http_status == status


@pytest.mark.parametrize(("error", "status", "kind"), [
    ("invalid_grant", 400, GrantRefused), ("interaction_required", 400, GrantRefused),
    ("consent_required", 400, GrantRefused), ("login_required", 400, GrantRefused),
    ("invalid_client", 401, ClientRefused), ("unauthorized_client", 400, ClientRefused),
    ("invalid_request", 400, ClientRefused), ("unsupported_grant_type", 400, ClientRefused),
    ("temporarily_unavailable", 503, AuthorityUnavailable), ("invalid_grant", 429, AuthorityUnavailable),
    ("server_error", 500, AuthorityError), ("something_new", 400, AuthorityError),
])
def test_token_endpoint_errors_say_whose_move_it_is(authority: Authority, emulator: Emulator, error: str,
                                                   status: int, kind: type[AuthorityError]) -> None:
    """The person's (GrantRefused: sign in again), the operator's (ClientRefused: the app is
    misconfigured), nobody's yet (AuthorityUnavailable: busy), or unknown (AuthorityError)."""
    flow, fields = hybrid_sign_in(authority)
    emulator.faults.add(Fault(kind="error", endpoint="token", times=1, aadsts=90014, error=error, status=status,
                              retry_after="7"))
    with pytest.raises(AuthorityError) as info:
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert type(info.value) is kind and info.value.error == error and info.value.retry_after == 7.0


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize(("retry_after", "slept"), [("0.5", [0.5]), ("2", [2.0])])
def test_a_refresh_waits_out_a_short_retry_after_once(settings: Settings, emulator: Emulator, retry_after: str,
                                                      slept: list[float]) -> None:
    sleeps = Sleeps()
    authority = Authority(settings, RequestsTransport(timeout=settings.http_timeout), sleep=sleeps)
    flow, fields = hybrid_sign_in(authority)
    tokens = authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert tokens.refresh_token is not None
    emulator.clear_requests()
    emulator.faults.add(Fault(kind="error", endpoint="token", times=1, status=503, error="temporarily_unavailable",
                              retry_after=retry_after))
    assert authority.refresh(tokens.refresh_token).access_token != tokens.access_token
    assert sleeps == slept and emulator.count("POST", "/oauth2/token") == 2


@pytest.mark.parametrize(("retry_after", "times"), [("30", 1), ("garbage", 1), (None, 1), ("1", 2)])
def test_a_refresh_does_not_wait_long_nor_twice(settings: Settings, emulator: Emulator, retry_after: str | None,
                                               times: int) -> None:
    sleeps = Sleeps()
    authority = Authority(settings, RequestsTransport(timeout=settings.http_timeout), sleep=sleeps)
    flow, fields = hybrid_sign_in(authority)
    tokens = authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert tokens.refresh_token is not None
    emulator.clear_requests()
    emulator.faults.add(Fault(kind="error", endpoint="token", times=times, status=429, error="temporarily_unavailable",
                              retry_after=retry_after))
    with pytest.raises(AuthorityUnavailable):
        authority.refresh(tokens.refresh_token)
    assert emulator.count("POST", "/oauth2/token") == times and len(sleeps) == times - 1


def test_a_refresh_does_not_wait_past_its_deadline(emulator_url: str, emulator: Emulator) -> None:
    settings = emulator_settings(emulator_url, http_timeout=1.5)
    sleeps = Sleeps()
    authority = Authority(settings, RequestsTransport(timeout=settings.http_timeout), sleep=sleeps)
    flow, fields = hybrid_sign_in(authority)
    tokens = authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert tokens.refresh_token is not None
    emulator.faults.add(Fault(kind="error", endpoint="token", times=1, status=503, error="temporarily_unavailable",
                              retry_after="2"))
    with pytest.raises(AuthorityUnavailable):
        authority.refresh(tokens.refresh_token)
    assert sleeps == []


def test_token_endpoint_redirect_is_never_followed(authority: Authority, emulator: Emulator) -> None:
    flow, fields = hybrid_sign_in(authority)
    emulator.faults.add(Fault(kind="redirect", endpoint="token", status=307))
    with pytest.raises(InvalidResponse, match="redirect"):
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert emulator.count("POST", "/oauth2/token") == 1
    assert not [r for r in emulator.requests if r.path == "/_emulator/redirect-target"]


def test_a_token_endpoint_that_drips_its_body_is_cut_off_at_the_deadline(emulator_url: str,
                                                                         emulator: Emulator) -> None:
    authority = make_authority(emulator_settings(emulator_url, http_timeout=1.5))
    flow, fields = hybrid_sign_in(authority)
    emulator.faults.add(Fault(kind="drip", endpoint="token", chunk_bytes=1, interval=0.5))
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert time.monotonic() - start < 1.5 + 1.5


def test_a_token_endpoint_that_is_slow_to_answer_is_cut_off_at_the_deadline(emulator_url: str,
                                                                             emulator: Emulator) -> None:
    authority = make_authority(emulator_settings(emulator_url, http_timeout=1.0))
    flow, fields = hybrid_sign_in(authority)
    emulator.faults.add(Fault(kind="delay", endpoint="token", seconds=4))
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert time.monotonic() - start < 1.0 + 1.5


@pytest.mark.parametrize(("kind", "params", "error"), [
    ("non_json", {}, (InvalidResponse, AuthorityError)),
    ("huge", {"size": 3 << 20}, TransportError),
    ("gzip_bomb", {"size": 64 << 20}, TransportError),
    ("drop_field", {"field": "access_token"}, InvalidResponse),
    ("set_field", {"field": "token_type", "value": "mac"}, InvalidResponse),
    ("set_field", {"field": "expires_in", "value": "abc"}, InvalidResponse),
])
def test_malformed_token_answers_become_clear_errors(authority: Authority, emulator: Emulator, kind: str,
                                                     params: dict[str, Any], error: Any) -> None:
    flow, fields = hybrid_sign_in(authority)
    emulator.faults.add(Fault(kind=kind, endpoint="token", times=1, **params))
    with pytest.raises(error) as info:
        authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert fields["code"] not in str(info.value)


def test_connection_refused_is_a_transport_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    authority = make_authority(emulator_settings(f"http://127.0.0.1:{port}"))
    with pytest.raises(TransportError):
        authority.metadata()


def test_client_assertion_credential_is_accepted(emulator_url: str, emulator: Emulator, tmp_path: Any) -> None:
    from aadweb.emulator import DEMO_CLIENT_ID, ClientRegistration
    from aadweb.protocol.client_assertion import ClientCertificate
    from tests.certs import make_certificate_pem

    pem, cert_pem = make_certificate_pem()
    client_id = "7d2c4e6a-8b0f-4a1c-9e3d-5f7a9b1c3d5e"
    emulator.register_client(ClientRegistration(client_id=client_id, client_secret=None,
                                                redirect_uris=("http://localhost:5000/getAToken",),
                                                certificate_pem=cert_pem, allow_id_tokens=True))
    assert client_id != DEMO_CLIENT_ID
    settings = emulator_settings(emulator_url, client_id=client_id, client_secret=None,
                                 client_certificate=ClientCertificate.from_pem(pem))
    authority = make_authority(settings)
    flow, fields = hybrid_sign_in(authority)
    tokens = authority.redeem_code(Secret("code", fields["code"]), code_verifier=flow.verifier)
    assert tokens.access_token
    form = next(r.form for r in emulator.requests if r.path.endswith("/oauth2/token"))
    assert "client_secret" not in form and form["client_assertion_type"].endswith("jwt-bearer")


@pytest.mark.parametrize("tenant", ["guid", "domain", "organizations"])
def test_response_issuers_are_the_expected_issuers_of_the_configured_tenant(emulator_url: str, tenant: str) -> None:
    """RFC 9207's expected issuer: the tenant's GUID issuer (a verified domain resolved through its
    metadata), or with organizations/common every allowed tenant's."""
    other = FABRIKAM_TENANT_ID
    changes: dict[str, Any] = {
        "guid": {"tenant": DEMO_TENANT_ID},
        "domain": {"tenant": DEMO_TENANT_DOMAIN},
        "organizations": {"tenant": "organizations", "allowed_tenants": (DEMO_TENANT_ID, other)},
    }[tenant]
    authority = make_authority(emulator_settings(emulator_url, **changes))
    expected = {f"https://sts.windows.net/{DEMO_TENANT_ID}/"}
    if tenant == "organizations":
        expected.add(f"https://sts.windows.net/{other}/")
    try:
        assert authority.response_issuers() == expected
    finally:
        authority.transport.close()  # type: ignore[attr-defined]
