"""The sign-in state machine itself: ``SignIn`` over the emulator, no web layer.

The emulator runs in-process behind :class:`~aadweb.transport.WSGITransport`; the store is the
memory store; the clock and the random tokens are injected (the emulator shares the clock),
and an observer records every event. The authority's answer is fetched from the emulator's
sign-in page the way a browser would, but nothing here is HTTP on the app's side: the tests
call ``begin``, ``stash_form_post``, ``complete``, ``access_token``, ``graph_me``, ``sign_out``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client

from aadweb.authority import Authority
from aadweb.emulator import Emulator, Fault
from aadweb.errors import CallbackError, NonceMismatch, ReauthenticationRequired, StateMismatch
from aadweb.events import (
    CallbackReceived,
    CallbackStashed,
    IdTokenChecked,
    SessionCreated,
    SessionEnded,
    SessionResumed,
    SignInBegun,
    SignInEvent,
    SignInRefused,
    TokenRefreshed,
)
from aadweb.flow import flow_id_for
from aadweb.graph import GraphClient
from aadweb.phases import AWAITING_FORM_POST, AWAITING_QUERY, STASHED, answer_for, phase_of
from aadweb.protocol.callback import read_callback
from aadweb.secret import Secret
from aadweb.sessions import MemorySessionStore, PendingSignIn, SessionRecord, TokenCipher
from aadweb.signin import SignIn
from aadweb.transport import WSGITransport
from tests.browserless import parse_form_post
from tests.conftest import emulator_settings

AUTHORITY = "http://127.0.0.1:9"  # never dialled: the WSGI transport calls the emulator in-process
ADELE = "adele.vance@contoso.example"
HYBRID, CODE = "code id_token", "code"
Params = dict[str, Sequence[str]]


class Clock:
    """Wall clock for the emulator, the store and SignIn alike; moved by the test, never slept on."""

    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


class Tokens:
    """``random_token(n)``: distinct, predictable, as long as ``secrets.token_urlsafe(n)``."""

    def __init__(self) -> None:
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, nbytes: int) -> str:
        with self._lock:
            n = next(self._count)
        return f"t{n:06d}-".ljust((nbytes * 4 + 2) // 3, "x")


@dataclass
class Heard:
    """An observer that keeps every event, in order."""

    events: list[SignInEvent] = field(default_factory=list)

    def on_event(self, event: SignInEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    def of(self, kind: type[SignInEvent]) -> list[SignInEvent]:
        return [e for e in self.events if isinstance(e, kind)]


class CountingStore(MemorySessionStore):
    """The memory store, counting how often a session is deleted."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        super().__init__(cipher=TokenCipher.from_secret("s" * 40), clock=clock)
        self.deletes = 0

    def delete_session(self, session_id: str) -> None:
        self.deletes += 1
        super().delete_session(session_id)


@dataclass
class Rig:
    signin: SignIn
    store: CountingStore
    emulator: Emulator
    clock: Clock
    heard: Heard

    def answer(self, authorize_url: str, user: str = ADELE) -> Params:
        """What the authority sends to the redirect URI once ``user`` signs in (every value of each field)."""
        parts = urlsplit(authorize_url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        resp = Client(self.emulator).post(parts.path, base_url=AUTHORITY, data={**params, "user": user})
        if resp.status_code == 302:
            return parse_qs(urlsplit(resp.headers["Location"]).query, keep_blank_values=True)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return {k: [v] for k, v in parse_form_post(resp.get_data(as_text=True))[1].items()}

    def sign_in(self, browser_id: str = "browser-1") -> SessionRecord:
        """One whole sign-in in the configured flow; the new session."""
        answer = self.answer(self.signin.begin(browser_id=browser_id))
        if self.signin.settings.response_type == HYBRID:
            state = self.signin.stash_form_post(answer)
            answer = {"state": [state]}
        return self.signin.complete(browser_id=browser_id, params=answer).session

    def refresh_grants(self) -> int:
        return sum(1 for r in self.emulator.requests
                   if r.path.endswith("/oauth2/token") and r.form.get("grant_type") == "refresh_token")


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    return Emulator(clock=Clock())  # one per module: its RSA keys are not free to make


def make_rig(emulator: Emulator, response_type: str) -> Rig:
    clock = Clock()
    emulator.clock = clock
    emulator.faults.clear()
    emulator.requests.clear()
    settings = emulator_settings(AUTHORITY, response_type=response_type)
    transport = WSGITransport(emulator)
    store = CountingStore(clock=clock)
    heard = Heard()
    signin = SignIn(settings, store, Authority(settings, transport, clock=clock, key_cache_clock=clock),
                    GraphClient(settings, transport, clock=clock), clock=clock, random_token=Tokens(),
                    observer=heard)
    return Rig(signin=signin, store=store, emulator=emulator, clock=clock, heard=heard)


@pytest.fixture
def hybrid(emulator: Emulator) -> Iterator[Rig]:
    yield make_rig(emulator, HYBRID)
    emulator.faults.clear()


@pytest.fixture
def code(emulator: Emulator) -> Iterator[Rig]:
    yield make_rig(emulator, CODE)
    emulator.faults.clear()


def state_of(authorize_url: str) -> str:
    return parse_qs(urlsplit(authorize_url).query)["state"][0]


# --- begin ---------------------------------------------------------------------------------


def test_begin_stores_a_pending_sign_in_bound_to_the_browser(hybrid: Rig) -> None:
    url = hybrid.signin.begin(browser_id="browser-1", return_path="/reports?q=1")
    state = state_of(url)
    assert url.startswith(f"{AUTHORITY}/") and "response_mode=form_post" in url
    pending = hybrid.store.take_pending(state, "browser-1")
    assert pending is not None and pending.return_path == "/reports?q=1" and pending.response_type == HYBRID
    assert pending.created_at == hybrid.clock.now and pending.callback is None
    assert hybrid.heard.events == [SignInBegun(flow=flow_id_for(state), response_type=HYBRID)]


# --- the two flows, whole ------------------------------------------------------------------


def test_the_hybrid_flow_stashes_the_form_post_then_completes_from_the_stash(hybrid: Rig) -> None:
    url = hybrid.signin.begin(browser_id="browser-1", return_path="/after")
    flow = flow_id_for(state_of(url))
    state = hybrid.signin.stash_form_post(hybrid.answer(url))
    assert state == state_of(url)
    done = hybrid.signin.complete(browser_id="browser-1", params={"state": [state]})
    assert done.return_path == "/after" and done.session.flow_id == flow
    assert hybrid.store.get_session(done.session.session_id) is not None
    assert [v.check for v in done.verdicts][-1] == "back-channel match" and all(v.passed for v in done.verdicts)
    assert hybrid.heard.events == [
        SignInBegun(flow=flow, response_type=HYBRID),
        CallbackReceived(flow=flow, via="form_post"),
        CallbackStashed(flow=flow),
        CallbackReceived(flow=flow, via="query"),
        IdTokenChecked(flow=flow, verdicts=done.verdicts, passed=True),
        SessionCreated(flow=flow),
    ]


def test_the_code_flow_completes_from_the_query(code: Rig) -> None:
    url = code.signin.begin(browser_id="browser-1")
    assert "response_mode=query" in url
    answer = code.answer(url)
    assert set(answer) >= {"code", "state"} and "id_token" not in answer
    done = code.signin.complete(browser_id="browser-1", params=answer)
    flow = flow_id_for(state_of(url))
    assert done.session.claims["oid"] and done.session.tokens is not None
    assert code.heard.kinds() == ["SignInBegun", "CallbackReceived", "IdTokenChecked", "SessionCreated"]
    assert {e.flow for e in code.heard.events} == {flow}


# --- the state: single-use, this browser's, read once ----------------------------------------


@pytest.mark.parametrize("flow_kind", [HYBRID, CODE])
def test_a_state_works_once(emulator: Emulator, flow_kind: str) -> None:
    rig = make_rig(emulator, flow_kind)
    url = rig.signin.begin(browser_id="browser-1")
    answer = rig.answer(url)
    params = {"state": [rig.signin.stash_form_post(answer)]} if flow_kind == HYBRID else answer
    rig.signin.complete(browser_id="browser-1", params=params)
    with pytest.raises(StateMismatch):
        rig.signin.complete(browser_id="browser-1", params=params)
    refused = rig.heard.events[-1]
    assert isinstance(refused, SignInRefused) and isinstance(refused.error, StateMismatch)
    assert refused.flow == flow_id_for(state_of(url))


@pytest.mark.parametrize("flow_kind", [HYBRID, CODE])
def test_a_state_from_another_browser_is_refused_and_spent(emulator: Emulator, flow_kind: str) -> None:
    rig = make_rig(emulator, flow_kind)
    url = rig.signin.begin(browser_id="browser-1")
    answer = rig.answer(url)
    params = {"state": [rig.signin.stash_form_post(answer)]} if flow_kind == HYBRID else answer
    with pytest.raises(StateMismatch):
        rig.signin.complete(browser_id="browser-2", params=params)
    with pytest.raises(StateMismatch):  # consumed by the refusal: the right browser cannot use it now
        rig.signin.complete(browser_id="browser-1", params=params)
    assert not any(r.path.endswith("/oauth2/token") for r in rig.emulator.requests)  # no code was redeemed


def test_the_hybrid_flow_without_a_stash_is_refused_and_spent(hybrid: Rig) -> None:
    url = hybrid.signin.begin(browser_id="browser-1")
    answer = hybrid.answer(url)
    with pytest.raises(CallbackError, match="never arrived"):
        hybrid.signin.complete(browser_id="browser-1", params={"state": [state_of(url)]})
    with pytest.raises(StateMismatch):  # the pending sign-in was taken: the late form_post finds nothing
        hybrid.signin.stash_form_post(answer)


def test_the_hybrid_flow_reads_nothing_but_the_state_from_the_same_site_get(hybrid: Rig) -> None:
    url = hybrid.signin.begin(browser_id="browser-1")
    state = hybrid.signin.stash_form_post(hybrid.answer(url))
    injected = {"state": [state], "code": ["attacker-code"], "id_token": ["a.b.c"], "error": ["x", "y"]}
    done = hybrid.signin.complete(browser_id="browser-1", params=injected)
    assert done.session.claims["oid"]


def test_a_form_post_is_stashed_once(hybrid: Rig) -> None:
    answer = hybrid.answer(hybrid.signin.begin(browser_id="browser-1"))
    hybrid.signin.stash_form_post(answer)
    with pytest.raises(StateMismatch):
        hybrid.signin.stash_form_post(answer)


def test_a_callback_whose_state_cannot_be_read_names_no_flow_and_spends_nothing(code: Rig) -> None:
    url = code.signin.begin(browser_id="browser-1")
    answer = code.answer(url)
    with pytest.raises(CallbackError, match="repeats the field 'state'"):
        code.signin.complete(browser_id="browser-1", params={**answer, "state": [state_of(url)] * 2})
    refused = code.heard.events[-1]
    assert isinstance(refused, SignInRefused) and refused.flow is None
    assert code.signin.complete(browser_id="browser-1", params=answer).session  # the state is still live


def test_a_repeated_field_is_refused_after_the_state_is_spent(code: Rig) -> None:
    url = code.signin.begin(browser_id="browser-1")
    answer = code.answer(url)
    with pytest.raises(CallbackError, match="repeats the field 'code'"):
        code.signin.complete(browser_id="browser-1", params={**answer, "code": [*answer["code"], "x"]})
    with pytest.raises(StateMismatch):
        code.signin.complete(browser_id="browser-1", params=answer)


# --- the phase table -----------------------------------------------------------------------


def _pending(response_type: str, callback: dict[str, str] | None) -> PendingSignIn:
    return PendingSignIn(state="st-1", browser_id="b", nonce=Secret("nonce", "n"), response_type=response_type,
                         code_verifier=Secret("code_verifier", "v" * 43), return_path="/", created_at=0.0,
                         callback=callback)


def test_each_pending_sign_in_is_in_the_phase_the_table_gives() -> None:
    stash = {"state": "st-1", "code": "stashed-code"}
    query = read_callback({"state": ["st-1"], "code": ["query-code"]})
    assert phase_of(_pending(HYBRID, None)) is AWAITING_FORM_POST
    assert phase_of(_pending(HYBRID, stash)) is STASHED
    assert phase_of(_pending(CODE, None)) is AWAITING_QUERY
    assert phase_of(_pending(CODE, stash)) is AWAITING_QUERY  # a stray form_post is never read
    with pytest.raises(CallbackError):
        answer_for(_pending(HYBRID, None), query)
    assert answer_for(_pending(HYBRID, stash), query).fields["code"] == "stashed-code"
    assert answer_for(_pending(CODE, stash), query) is query


# --- id_token verdicts -----------------------------------------------------------------------


def test_a_failed_id_token_check_reports_the_checks_up_to_the_failure(hybrid: Rig) -> None:
    hybrid.emulator.faults.add(Fault(kind="id_token_claims", endpoint="authorize", claims={"nonce": "forged"}))
    url = hybrid.signin.begin(browser_id="browser-1")
    state = hybrid.signin.stash_form_post(hybrid.answer(url))
    with pytest.raises(NonceMismatch):
        hybrid.signin.complete(browser_id="browser-1", params={"state": [state]})
    assert hybrid.heard.kinds()[-2:] == ["IdTokenChecked", "SignInRefused"]
    checked = hybrid.heard.events[-2]
    assert isinstance(checked, IdTokenChecked) and not checked.passed
    assert checked.verdicts[-1].check == "nonce" and not checked.verdicts[-1].passed
    assert all(v.passed for v in checked.verdicts[:-1])
    assert not any(r.path.endswith("/oauth2/token") for r in hybrid.emulator.requests)  # refused before redeeming


# --- using the session: resumed, refreshed, ended once ---------------------------------------


def test_a_session_looked_up_reports_its_flow(code: Rig) -> None:
    session = code.sign_in()
    assert code.signin.session(session.session_id) == session
    assert code.heard.events[-1] == SessionResumed(flow=session.flow_id)
    assert code.signin.session("no-such-session") is None and len(code.heard.of(SessionResumed)) == 1


def test_a_token_due_is_refreshed_once_and_the_stored_one_serves_the_next_caller(code: Rig) -> None:
    code.emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    session = code.sign_in()
    fresh = code.signin.access_token(session)
    assert session.tokens is not None and fresh != session.tokens.access_token
    assert code.refresh_grants() == 1 and code.heard.of(TokenRefreshed) == [TokenRefreshed(flow=session.flow_id)]
    # Another request still holding the stale record finds the stored token: no second refresh.
    assert code.signin.access_token(session) == fresh and code.refresh_grants() == 1


def test_concurrent_callers_refresh_once(code: Rig) -> None:
    code.emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    session = code.sign_in()
    got: list[Secret] = []
    threads = [threading.Thread(target=lambda: got.append(code.signin.access_token(session))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(got) == 6 and len({g.reveal() for g in got}) == 1
    assert code.refresh_grants() == 1


def test_a_refused_refresh_token_ends_the_session_once(code: Rig) -> None:
    code.emulator.faults.add(Fault(kind="token_lifetime", endpoint="token", seconds=10, times=1))
    session = code.sign_in()
    code.emulator.faults.token_error(70008)
    with pytest.raises(ReauthenticationRequired):
        code.signin.graph_me(session)
    assert code.store.get_session(session.session_id) is None and code.store.deletes == 1
    assert code.heard.of(SessionEnded) == [SessionEnded(flow=session.flow_id, reason="reauthentication_required")]
    assert isinstance(code.heard.events[-1], SignInRefused)


def test_graph_refusing_a_fresh_token_ends_the_session_once(code: Rig) -> None:
    session = code.sign_in()
    code.emulator.faults.graph_error("InvalidAuthenticationToken", status=401, times=2)
    with pytest.raises(ReauthenticationRequired):
        code.signin.graph_me(session)
    assert code.refresh_grants() == 1 and code.store.deletes == 1
    assert code.heard.kinds()[-3:] == ["TokenRefreshed", "SessionEnded", "SignInRefused"]


def test_graph_me_answers_for_the_signed_in_user(code: Rig) -> None:
    session = code.sign_in()
    assert code.signin.graph_me(session).id == session.claims["oid"]


# --- ending a session ----------------------------------------------------------------------


def test_sign_out_ends_the_session_once_and_returns_the_authority_logout(hybrid: Rig) -> None:
    session = hybrid.sign_in()
    url = hybrid.signin.sign_out(session, post_logout_redirect_uri="http://localhost:5000/")
    assert url.startswith(f"{AUTHORITY}/") and "/oauth2/logout" in url
    assert hybrid.store.get_session(session.session_id) is None and hybrid.store.deletes == 1
    assert hybrid.heard.events[-1] == SessionEnded(flow=session.flow_id, reason="signed_out")


def test_sign_out_without_a_session_only_returns_the_logout_url(hybrid: Rig) -> None:
    assert "/oauth2/logout" in hybrid.signin.sign_out(None, post_logout_redirect_uri=None)
    assert hybrid.store.deletes == 0 and hybrid.heard.events == []


def test_a_replaced_session_is_ended_by_id(hybrid: Rig) -> None:
    first = hybrid.sign_in()
    hybrid.signin.end_session(first.session_id, reason="replaced")
    assert hybrid.store.get_session(first.session_id) is None
    assert hybrid.heard.events[-1] == SessionEnded(flow=None, reason="replaced")


# --- the observer --------------------------------------------------------------------------


def test_an_observer_that_fails_never_changes_the_sign_in(emulator: Emulator,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def on_event(self, event: SignInEvent) -> None:
            raise RuntimeError("secret-looking message")

    rig = make_rig(emulator, CODE)
    rig.signin.observe(Broken())  # beside the rig's own observer: failing changes nothing
    with caplog.at_level(logging.WARNING, logger="aadweb.signin"):
        assert rig.sign_in().session_id
    assert "Broken" in caplog.text and "RuntimeError" in caplog.text
    assert "secret-looking message" not in caplog.text


def test_events_carry_no_secret(hybrid: Rig) -> None:
    session = hybrid.sign_in()
    hybrid.signin.sign_out(session, post_logout_redirect_uri=None)
    shown = repr(hybrid.heard.events)
    assert session.session_id not in shown and session.csrf_token not in shown
    assert session.tokens is not None and session.tokens.access_token.reveal() not in shown
