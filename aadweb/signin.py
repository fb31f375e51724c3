"""The sign-in state machine: begin, complete, access token, Graph, sign out.

One flow in one place (DESIGN.md, "The sign-in flows"); the web layer only reads requests and
renders what this returns, and the protocol steps live in ``aadweb.protocol``. Each step is
reported to an observer as an event (``aadweb.events``); the wire transcript is one observer.

    begin ──► a pending sign-in {state, nonce, PKCE verifier, return path},   SignInBegun
      │       bound to the browser (server-side; 10 minutes; works once)
      ▼
    stash_form_post (hybrid only) ──► the authority's cross-site form_post,   CallbackReceived
      │       kept under its state; 303 to a same-site GET                    CallbackStashed
      ▼
    complete ──► take the pending sign-in (state + browser: consumed) ──►     CallbackReceived
              its phase gives the answer ──► its iss, if any (RFC 9207) ──►
              validate the id_token ──►                                       IdTokenChecked
              redeem the code ──► a NEW session (no fixation)                 SessionCreated
      ▼
    session ──► access_token / graph_me (refresh when due) ──► sign_out       SessionResumed,
                                                                              TokenRefreshed,
                                                                              SessionEnded
    any step that refuses what it was given                                   SignInRefused

A pending sign-in's phases, per response type (the table is :data:`aadweb.phases.PHASES`)::

    hybrid "code id_token":  awaiting form_post ──form_post──► stashed ──same-site GET──► completed
    code   "code":           awaiting query callback ──────────────────query GET──────► completed

States that were not issued to this browser are refused before anything else happens, and
are consumed even when refused, so a leaked state is spent. Sessions end in one place,
:meth:`SignIn.end_session`.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aadweb.authority import Authority
from aadweb.errors import (
    AadWebError,
    AuthorityError,
    ConsentRequired,
    GrantRefused,
    GraphError,
    InvalidResponse,
    ReauthenticationRequired,
    ResponseIssuerMismatch,
    SessionStoreError,
    StateMismatch,
    TokenValidationError,
    TransportError,
    Verdict,
)
from aadweb.events import (
    CallbackReceived,
    CallbackStashed,
    CallbackVia,
    EndReason,
    IdTokenChecked,
    SessionCreated,
    SessionEnded,
    SessionResumed,
    SignInBegun,
    SignInEvent,
    SignInObserver,
    SignInRefused,
    TokenRefreshed,
)
from aadweb.flow import flow_id_for
from aadweb.graph import GraphClient
from aadweb.phases import answer_for, phase_of
from aadweb.protocol.callback import (
    RESPONSE_ISSUER_REFERENCE,
    Callback,
    callback_error,
    callback_issuer,
    check_response_issuer,
    parse_callback,
    read_callback,
)
from aadweb.protocol.graph import GraphUser
from aadweb.protocol.idtoken import ValidatedIdToken, match_back_channel
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.protocol.token import TokenResponse
from aadweb.secret import Secret
from aadweb.sessions import (
    MAX_OTHER_TOKENS,
    PENDING_TTL,
    PendingSignIn,
    ResourceToken,
    SessionRecord,
    SessionStore,
    TokenSet,
)
from aadweb.settings import CLOUDS, Settings

if TYPE_CHECKING:
    from aadweb.transcript.writer import Transcript

__all__ = ["REFRESH_MARGIN", "Completed", "SignIn", "refresh_wait", "worst_case_seconds"]

log = logging.getLogger("aadweb.signin")

#: Refresh the access token when it expires within this many seconds (DESIGN.md: 5 minutes).
REFRESH_MARGIN: Final = 300.0
#: AADSTS codes that mean "the refresh token is dead: sign in again".
DEAD_REFRESH_TOKEN: Final = frozenset({70008, 700082, 50173, 70043, 700084})


def refresh_wait(http_timeout: float) -> float:
    """How long a request waits for another worker's refresh of the same session's token: the
    holder's one outbound call (``http_timeout``) and a second to store its result."""
    return http_timeout + 1


def worst_case_seconds(http_timeout: float) -> float:
    """The longest one request can spend on outbound work, in seconds: ``6 * http_timeout + 2``.

    It is ``GET /graphcall`` with every step at its limit (each outbound call has the deadline
    ``http_timeout``, AADWEB_HTTP_TIMEOUT):

    1. the access token is due: wait for another worker's refresh (:func:`refresh_wait`), get
       the lock as it gives up, refresh it here (one call);
    2. Graph ``/me``: one deadline covers the call, the one short ``Retry-After`` wait (at most
       2 s, and only when it fits the deadline) and the retried call;
    3. Graph answers 401: a forced refresh, as in 1;
    4. Graph again, as in 2.

    A sign-in callback makes at most six calls in a row (metadata, keys, one keys refresh for an
    unknown ``kid``, token, and on groups overage a refresh for Graph and Graph's group pages under
    one deadline), ``6 * http_timeout``: less. Session store operations come on top
    (their own short timeouts). Deployment advice (README, SECURITY.md, examples/gunicorn.conf.py)
    quotes this formula; a test keeps them equal.
    """
    refresh = refresh_wait(http_timeout) + http_timeout
    graph = http_timeout
    return 2 * (refresh + graph)


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed:
    """A finished sign-in: the new session and where to send the browser."""

    session: SessionRecord
    return_path: str
    verdicts: tuple[Verdict, ...]


class SignIn:
    """The sign-in flows for one app. Thread-safe; one per process.

    ``observer`` hears every step as an event (``aadweb.events``), as does each one added later
    with :meth:`observe`; by default nobody listens.
    Build it with :func:`aadweb.compose.build_signin`, which also opens what it uses: ``close``
    are the closers of those, run by :meth:`close`; ``transcript`` is the wire transcript its
    outbound calls are written to (``AADWEB_WIRE_LOG``), if any.
    """

    def __init__(
        self,
        settings: Settings,
        store: SessionStore,
        authority: Authority,
        graph: GraphClient,
        *,
        clock: Callable[[], float] = time.time,
        random_token: Callable[[int], str] = secrets.token_urlsafe,
        session_ttl: float | None = None,
        observer: SignInObserver | None = None,
        transcript: Transcript | None = None,
        close: Iterable[Callable[[], None]] = (),
    ) -> None:
        """``session_ttl``: seconds a session lives at most (default ``AADWEB_SESSION_LIFETIME``).
        The idle limit (``AADWEB_SESSION_IDLE``) is the store's: see ``open_store(idle=...)``."""
        self.settings = settings
        self.store = store
        self.authority = authority
        self.graph = graph
        self.clock = clock
        self.random_token = random_token
        self.session_ttl = float(settings.session_lifetime if session_ttl is None else session_ttl)
        self.observers: tuple[SignInObserver, ...] = () if observer is None else (observer,)
        self.transcript = transcript
        self._closers = tuple(close)

    def close(self) -> None:
        """Close what :func:`~aadweb.compose.build_signin` opened (store, transport, transcript)."""
        for close in self._closers:
            close()

    # --- events -------------------------------------------------------------------------

    def observe(self, observer: SignInObserver) -> None:
        """Add ``observer``: from now on it hears every event too (set up before serving)."""
        self.observers = (*self.observers, observer)

    def _report(self, event: SignInEvent) -> None:
        for observer in self.observers:
            try:
                observer.on_event(event)
            except Exception as exc:  # watching a sign-in never changes it
                log.warning("sign-in observer %s failed on %s: %s", type(observer).__name__,
                            type(event).__name__, type(exc).__name__)

    @contextmanager
    def _refusals(self, flow: str | None) -> Iterator[None]:
        """Report an :class:`~aadweb.errors.AadWebError` leaving the block, then let it go on."""
        try:
            yield
        except AadWebError as exc:
            self._report(SignInRefused(flow=flow, error=exc))
            raise

    def _received(self, callback: Callback, *, via: CallbackVia) -> str:
        flow = flow_id_for(callback.state)
        self._report(CallbackReceived(flow=flow, via=via))
        return flow

    # --- 1. begin ---------------------------------------------------------------------

    def begin(
        self,
        *,
        browser_id: str,
        return_path: str = "/",
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
        resource: str | None = None,
    ) -> str:
        """Store a pending sign-in bound to ``browser_id``; return the authorize URL.

        ``resource`` asks for another resource than the configured one: the round trip that
        gives consent for it (with ``prompt="consent"``); the code is then redeemed for it.

        RFC 6749 10.12 / RFC 9700 4.7: ``state`` binds the callback to this browser; OIDC Core
        3.1.2.1: ``nonce`` binds the id_token to this sign-in; RFC 7636: PKCE binds the code.
        Reports :class:`~aadweb.events.SignInBegun` with the sign-in's flow once it is stored.
        """
        with self._refusals(None):  # no flow until the pending sign-in is stored
            state = self.random_token(32)
            nonce = Secret("nonce", self.random_token(32))
            verifier = Secret("code_verifier", self.random_token(48))  # 64 chars: RFC 7636 4.1
            url = self.authority.authorize_url(
                state=state, nonce=nonce, code_challenge=code_challenge_s256(verifier.reveal()),
                prompt=prompt, login_hint=login_hint, domain_hint=domain_hint, resource=resource,
            )
            response_type = self.settings.response_type
            self.store.put_pending(
                PendingSignIn(
                    state=state, browser_id=browser_id, nonce=nonce, code_verifier=verifier,
                    return_path=return_path, created_at=self.clock(), response_type=response_type,
                    resource=resource,
                ),
                ttl=PENDING_TTL,
            )
        self._report(SignInBegun(flow=flow_id_for(state), response_type=response_type))
        return url

    # --- 2. the authority's cross-site form_post ------------------------------------------

    def stash_form_post(self, fields: Mapping[str, Sequence[str]]) -> str:
        """Keep the posted callback under its state until the browser comes back same-site.

        Returns the state for the 303 to ``GET /getAToken?state=...``. The browser's cookie is
        not here (SameSite=Lax is not sent with a cross-site POST), so nothing is decided yet:
        the fields are only stored, once, against a live pending sign-in (phase "awaiting
        form_post" -> "stashed").
        """
        flow = None
        try:
            callback = read_callback(fields)
            flow = self._received(callback, via="form_post")
            # RFC 6749 3.1: no field twice (checked now: a stash holds one value per field).
            if not self.store.stash_callback(callback.state, callback.fields_once()):
                raise StateMismatch("form_post callback for an unknown, expired or already answered state")
        except AadWebError as exc:
            self._report(SignInRefused(flow=flow, error=exc))
            raise
        self._report(CallbackStashed(flow=flow))
        return callback.state

    # --- 3. complete ----------------------------------------------------------------------

    def complete(self, *, browser_id: str, params: Mapping[str, Sequence[str]]) -> Completed:
        """Finish the sign-in that ``browser_id`` started, from the callback's parameters.

        ``params`` is the browser's GET to the callback, read once. Its state selects the
        pending sign-in, which is taken (consumed) before anything else; the pending sign-in's
        :func:`phase <aadweb.phases.answer_for>` then says where the authority's answer is: the stash (hybrid:
        the GET carries only ``state``) or ``params`` itself (the code flow's query).
        """
        flow = None
        try:
            query = read_callback(params)
            flow = self._received(query, via="query")
            pending = self.store.take_pending(query.state, browser_id)
            if pending is None:
                raise StateMismatch("callback state not issued to this browser, already used, or expired")
            done = self._finish(pending, self._answer(pending, query), flow=flow)
        except TokenValidationError as exc:
            checked = tuple(v for v in exc.verdicts if isinstance(v, Verdict))  # up to the failed check
            if checked:
                self._report(IdTokenChecked(flow=flow, verdicts=checked, passed=False))
            self._report(SignInRefused(flow=flow, error=exc))
            raise
        except AadWebError as exc:
            self._report(SignInRefused(flow=flow, error=exc))
            raise
        self._report(SessionCreated(flow=flow))
        log.info("sign-in completed for tenant %s (flow %s)", done.session.claims.get("tid"), flow)
        return done

    def _answer(self, pending: PendingSignIn, query: Callback) -> Callback:
        """The authority's answer for ``pending`` (:func:`~aadweb.phases.answer_for`).

        A hybrid sign-in with nothing posted for its state may still have an answer: the
        authority sends some errors back by GET although form_post was asked. The state was
        this browser's and is now spent; the error is shown like any other (RFC 6749 4.1.2.1).
        Only the error is read from the query: a code or id_token there is not a hybrid answer.
        """
        if phase_of(pending).answer_from is None:
            error = callback_error(query)
            if error is not None:
                self._check_response_issuer(query)
                raise error
        return answer_for(pending, query)

    def _check_response_issuer(self, callback: Callback) -> tuple[str | None, tuple[Verdict, ...]]:
        """RFC 9207 2.4: the response's ``iss``, if it carries one, is an expected issuer
        (checked before an error is shown or a code redeemed)."""
        issuer = callback_issuer(callback)
        if issuer is None:
            return None, ()  # Azure AD does not send it (yet): nothing to check
        return issuer, (check_response_issuer(issuer, expected=self.authority.response_issuers()),)

    def _finish(self, pending: PendingSignIn, callback: Callback, *, flow: str) -> Completed:
        """Parse the answer, validate the id_token, redeem the code, and make the new session."""
        issuer, issuer_verdict = self._check_response_issuer(callback)
        answer = parse_callback(callback, response_type=pending.response_type)
        if answer.state != pending.state:
            raise StateMismatch("the callback's state changed between legs")
        nonce = pending.nonce
        if answer.id_token is not None:
            validated = self.authority.validate_front_channel(answer.id_token, nonce=nonce, code=answer.code)
            _same_issuer(issuer, issuer_verdict, validated)  # before the code is redeemed
            tokens = self.authority.redeem_code(answer.code, code_verifier=pending.code_verifier,
                                                resource=pending.resource)
            if tokens.id_token is None:
                # DESIGN step 5: the token response's id_token must name the validated user; Azure
                # AD always returns one for scope=openid, so its absence is a broken answer.
                raise InvalidResponse("the token endpoint returned no id_token (was scope=openid dropped?)")
            # OIDC Core 3.3.3.6: the token endpoint's id_token names the same user and client.
            verdicts = (*issuer_verdict, *validated.verdicts, match_back_channel(tokens.id_token, validated.claims))
        else:
            tokens = self.authority.redeem_code(answer.code, code_verifier=pending.code_verifier,
                                                resource=pending.resource)
            if tokens.id_token is None:
                raise InvalidResponse("the token endpoint returned no id_token (was scope=openid dropped?)")
            validated = self.authority.validate_back_channel(tokens.id_token, nonce=nonce)
            _same_issuer(issuer, issuer_verdict, validated)  # the code flow's id_token comes only now
            verdicts = (*issuer_verdict, *validated.verdicts)
        self._report(IdTokenChecked(flow=flow, verdicts=verdicts, passed=True))
        session = self._new_session(validated, tokens, flow_id=flow, resource=pending.resource)
        return Completed(session=session, return_path=pending.return_path, verdicts=verdicts)

    def _new_session(self, validated: ValidatedIdToken, response: TokenResponse, *, flow_id: str,
                     resource: str | None) -> SessionRecord:
        claims = validated.claims
        now = self.clock()
        tokens = _token_set(response, resource or self.settings.token_target, previous=None)
        kept: dict[str, Any] = {"tid": claims.tid, "oid": claims.oid, "sub": claims.sub, "iss": claims.iss,
                                **claims.display, "roles": list(claims.roles), "groups": list(claims.groups)}
        if claims.groups_overage:
            # Too many groups for the token: ask Graph, once, now (DESIGN.md: once per session).
            tokens, groups = self._groups_from_graph(tokens)
            if groups is None:
                kept["groups_unresolved"] = True
            else:
                kept["groups"] = list(groups)
        record = SessionRecord(
            session_id=self.random_token(32),  # a NEW id: no session fixation (RFC 9700 4.x, OWASP)
            created_at=now,
            expires_at=now + self.session_ttl,
            last_seen=now,
            claims=kept,
            tokens=tokens,
            csrf_token=self.random_token(32),
            flow_id=flow_id,  # the wire transcript's id of this sign-in, one-way from its state
        )
        self.store.create_session(record)
        return record

    def _groups_from_graph(self, tokens: TokenSet) -> tuple[TokenSet, tuple[str, ...] | None]:
        """The user's groups from Graph (groups overage), with a Graph token got from the refresh
        token when the sign-in's token is for another resource; ``None`` when Graph would not say
        (logged: the gate then refuses a group requirement rather than guess)."""
        graph = self.graph_resource
        try:
            if tokens.resource != graph:
                tokens = self._with_token_for(tokens, graph, self._refresh_for(tokens, graph))
            token = tokens.access_token if tokens.resource == graph else tokens.others[graph].access_token
            return tokens, self.graph.member_groups(token)
        except (AuthorityError, GraphError, TransportError, InvalidResponse, ConsentRequired,
                ReauthenticationRequired) as exc:
            log.warning("the user's groups could not be read from Graph (overage): %s: %s", type(exc).__name__, exc)
            return tokens, None

    # --- 4. using the session ---------------------------------------------------------------

    def session(self, session_id: str) -> SessionRecord | None:
        """The live session ``session_id``, or None; reports :class:`~aadweb.events.SessionResumed`."""
        with self._refusals(None):
            session = self.store.get_session(session_id)
        if session is not None:
            self._report(SessionResumed(flow=session.flow_id or None))
        return session

    @property
    def graph_resource(self) -> str:
        """What a Graph token is asked for: v1, Graph's resource in the configured cloud (its
        tokens' audience); v2, the sign-in's scopes when they are all Graph's (``User.Read``,
        the default), else ``User.Read``."""
        graph = CLOUDS[self.settings.cloud].graph_root
        if not self.settings.is_v2:
            return graph
        target = self.settings.token_target
        if all("/" not in scope or scope.startswith(f"{graph}/") for scope in target.split()):
            return target
        return "User.Read"

    def access_token(self, session: SessionRecord, *, resource: str | None = None,
                     force_refresh: bool = False) -> Secret:
        """An access token for ``resource`` (default: the configured one), refreshed first when
        it expires within 5 minutes; another resource's token comes from the session's refresh
        token (v1 refresh tokens are multi-resource) and is kept in the session, encrypted.

        One refresh at a time per session across threads, workers and hosts (the store's lease
        lock); a waiter re-reads the session and uses the token the holder stored. Raises
        :class:`ConsentRequired` when the user must consent to ``resource`` first (the session
        stays), and :class:`ReauthenticationRequired` when the session is over (and ends it).
        """
        with self._refusals(session.flow_id or None):
            return self._access_token(session, resource=resource, force_refresh=force_refresh)

    def _access_token(self, session: SessionRecord, *, resource: str | None = None,
                      force_refresh: bool = False) -> Secret:
        tokens = session.tokens
        if tokens is None:
            raise self._over(session, "the session holds no tokens")
        wanted = resource or self.settings.token_target
        held = _token_for(tokens, wanted)
        if not force_refresh and held is not None and held.expires_on - self.clock() > REFRESH_MARGIN:
            return held.access_token
        stale = None if held is None else held.access_token
        wait = refresh_wait(self.settings.http_timeout)
        with self.store.refresh_lock(session.session_id, lease=wait + 5, wait=wait) as mine:
            current = self.store.get_session(session.session_id)
            if current is None:
                raise ReauthenticationRequired("the session ended while its token was refreshed")
            if current.tokens is None:
                raise self._over(current, "the session ended while its token was refreshed")
            fresh = _token_for(current.tokens, wanted)
            if fresh is not None and fresh.access_token != stale and fresh.expires_on - self.clock() > REFRESH_MARGIN:
                return fresh.access_token  # another worker refreshed it meanwhile
            if not mine:
                raise SessionStoreError("another worker is still refreshing this session's token")
            return self._refresh(current, wanted)

    def _refresh(self, record: SessionRecord, resource: str) -> Secret:
        assert record.tokens is not None
        if record.tokens.refresh_token is None:
            raise self._over(record, "the session has no refresh token")
        try:
            response = self._refresh_for(record.tokens, resource)
        except ConsentRequired:
            raise  # the session stays: consenting is a round trip, then the same refresh token works
        except AuthorityError as exc:
            # invalid_grant, interaction_required, consent_required, login_required: the refresh
            # token cannot be used any more without the person (RFC 6749 5.2, OIDC Core 3.1.2.6).
            if isinstance(exc, GrantRefused) or DEAD_REFRESH_TOKEN.intersection(exc.error_codes):
                raise self._over(record, f"the refresh token was refused ({exc})") from exc
            raise
        tokens = self._with_token_for(record.tokens, resource, response)
        if not self.store.update_tokens(record.session_id, tokens, expected_version=record.version):
            # Someone else stored tokens first (a lease that ran out, or a sign-out): ours are
            # still valid for this request; the stored ones serve the next.
            log.info("refreshed tokens not stored: the session changed meanwhile")
        self._report(TokenRefreshed(flow=record.flow_id or None))
        return response.access_token  # what was just fetched, whatever the session keeps

    def _refresh_for(self, tokens: TokenSet, resource: str) -> TokenResponse:
        """RFC 6749 6 with the session's refresh token, for ``resource``. A consent the user has
        not given for another resource than the sign-in's is :class:`ConsentRequired`."""
        if tokens.refresh_token is None:
            raise ReauthenticationRequired("the session has no refresh token")
        try:
            return self.authority.refresh(tokens.refresh_token, resource=resource)
        except AuthorityError as exc:
            if resource != tokens.resource and _needs_consent(exc):
                # v2: the target is the scopes; the consent round trip asks exactly those.
                scopes = tuple(resource.split()) if self.settings.is_v2 else ()
                raise ConsentRequired(f"consent is needed for another resource ({exc})", resource=resource,
                                      scopes=scopes) from exc
            raise

    @staticmethod
    def _with_token_for(tokens: TokenSet, resource: str, response: TokenResponse) -> TokenSet:
        """``tokens`` with ``response`` (a refresh for ``resource``) in it."""
        if resource == tokens.resource:
            return _token_set(response, resource, previous=tokens)
        others = dict(tokens.others)
        others[resource] = ResourceToken(access_token=response.access_token, expires_on=response.expires_on)
        while len(others) > MAX_OTHER_TOKENS:  # keep the session small: drop what expires first
            del others[min((r for r in others if r != resource), key=lambda r: others[r].expires_on)]
        # RFC 6749 6: the authority MAY issue a new refresh token; if it does, it replaces the old.
        return dataclasses.replace(tokens, refresh_token=response.refresh_token or tokens.refresh_token,
                                   others=others)

    def graph_me(self, session: SessionRecord) -> GraphUser:
        """Graph ``/me`` for the session's user; on a 401, refresh once and try again.

        A second 401 ends the session (:class:`ReauthenticationRequired`): the user signs in again.
        """
        with self._refusals(session.flow_id or None):
            try:
                user = self.graph.me(self._access_token(session, resource=self.graph_resource))
            except GraphError as exc:
                if exc.http_status != 401:
                    raise
                refreshed = self.store.get_session(session.session_id) or session
                try:
                    user = self.graph.me(self._access_token(refreshed, resource=self.graph_resource,
                                                            force_refresh=True))
                except GraphError as again:
                    if again.http_status == 401:
                        raise self._over(session, "Graph refused the refreshed token") from again
                    raise
            if user.id != session.claims.get("oid"):
                # The access token must be the signed-in user's: Graph's id is the id_token's oid.
                raise InvalidResponse("Graph answered for another user than the one signed in")
            return user

    # --- 5. ending a session ----------------------------------------------------------------

    def end_session(self, session_id: str, *, reason: EndReason, flow: str | None = None) -> None:
        """End the session ``session_id`` server-side: the one place a session is deleted.

        ``flow`` is the session's flow when the caller knows it (a session replaced by a new
        sign-in is known only by the id in the browser's cookie).
        """
        with self._refusals(flow):
            self._end(session_id, reason=reason, flow=flow)

    def _end(self, session_id: str, *, reason: EndReason, flow: str | None) -> None:
        self.store.delete_session(session_id)
        self._report(SessionEnded(flow=flow, reason=reason))

    def _over(self, session: SessionRecord, why: str) -> ReauthenticationRequired:
        """End ``session`` (it can no longer get a token) and return the error to raise."""
        self._end(session.session_id, reason="reauthentication_required", flow=session.flow_id or None)
        return ReauthenticationRequired(why)

    def sign_out(self, session: SessionRecord | None, *, post_logout_redirect_uri: str | None) -> str:
        """End the session server-side; return the authority's logout URL for the browser."""
        if session is not None:
            self.end_session(session.session_id, reason="signed_out", flow=session.flow_id or None)
        return self.authority.logout_url(post_logout_redirect_uri)


#: AADSTS65001: the user or an administrator has not consented to the app for this resource.
_CONSENT_CODES: Final = frozenset({65001, 65004})


def _needs_consent(exc: AuthorityError) -> bool:
    """The authority answered that consent is missing (RFC 6749 5.2 ``invalid_grant`` with
    AADSTS65001, or ``consent_required`` / ``interaction_required``)."""
    return bool(_CONSENT_CODES.intersection(exc.error_codes)) or exc.error in ("consent_required",
                                                                              "interaction_required")


def _token_for(tokens: TokenSet, resource: str) -> TokenSet | ResourceToken | None:
    """The session's token for ``resource``: the sign-in's own, or one got later, or none."""
    if resource == tokens.resource:
        return tokens
    return tokens.others.get(resource)


def _token_set(response: TokenResponse, resource: str, *, previous: TokenSet | None) -> TokenSet:
    # RFC 6749 6: the authority MAY issue a new refresh token; if it does not, keep the old one.
    refresh = response.refresh_token or (previous.refresh_token if previous else None)
    # Keep the id_token that was validated at sign-in: a refresh's id_token is not validated
    # (nothing uses it), so it must not replace the one that was.
    id_token = previous.id_token if previous is not None else response.id_token
    others = previous.others if previous is not None else {}
    return TokenSet(access_token=response.access_token, refresh_token=refresh, expires_on=response.expires_on,
                    resource=response.resource or resource, id_token=id_token, others=others)


def _same_issuer(issuer: str | None, checked: tuple[Verdict, ...], validated: ValidatedIdToken) -> None:
    """RFC 9207 with ``common``/``organizations``: the response's iss is the signed-in tenant's
    (with a single tenant this always holds: both equal its one issuer)."""
    if issuer is not None and issuer != validated.claims.iss:
        mismatch = ResponseIssuerMismatch("the authorization response's iss is not the id_token's issuer")
        failed = Verdict("response_iss", False, RESPONSE_ISSUER_REFERENCE, str(mismatch))
        mismatch.verdicts = (*checked, *validated.verdicts, failed)
        raise mismatch
