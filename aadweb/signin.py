"""The sign-in state machine: begin, complete, access token, Graph, sign out.

One flow in one place (DESIGN.md, "The sign-in flows"); the web layer only reads requests and
renders what this returns, and the protocol steps live in ``aadweb.protocol``.

    begin ──► pending sign-in {state, nonce, PKCE verifier, return path}, bound to the browser
       │          (stored server-side; 10 minutes; works once)
       ▼
    authority ──► form_post callback (hybrid) ──► stash_callback(state)
       │          or query callback (code flow)       │ 303 to a same-site GET
       ▼                                               ▼
    complete ──► take the pending sign-in (state + browser) ─► its iss, if any (RFC 9207)
                 ─► parse the callback ─► validate the id_token ─► redeem the code ─► a NEW
                 session (no fixation)

States that were not issued to this browser are refused before anything else happens, and
are consumed even when refused, so a leaked state is spent.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aadweb.authority import Authority
from aadweb.errors import (
    AuthorityError,
    CallbackError,
    GrantRefused,
    GraphError,
    InvalidResponse,
    ReauthenticationRequired,
    ResponseIssuerMismatch,
    SessionStoreError,
    StateMismatch,
    Verdict,
)
from aadweb.flow import flow_id_for
from aadweb.graph import GraphClient
from aadweb.protocol.callback import (
    RESPONSE_ISSUER_REFERENCE,
    CallbackParams,
    callback_error,
    callback_issuer,
    callback_state,
    check_response_issuer,
    parse_callback,
)
from aadweb.protocol.graph import GraphUser
from aadweb.protocol.idtoken import ValidatedIdToken, match_back_channel
from aadweb.protocol.pkce import code_challenge_s256
from aadweb.protocol.token import TokenResponse
from aadweb.secret import Secret
from aadweb.sessions import PENDING_TTL, PendingSignIn, SessionRecord, SessionStore, TokenSet
from aadweb.settings import Settings

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

    A sign-in callback makes at most four calls in a row (metadata, keys, one keys refresh for an
    unknown ``kid``, token), ``4 * http_timeout``: less. Session store operations come on top
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
        self.transcript = transcript
        self._closers = tuple(close)

    def close(self) -> None:
        """Close what :func:`~aadweb.compose.build_signin` opened (store, transport, transcript)."""
        for close in self._closers:
            close()

    # --- 1. begin ---------------------------------------------------------------------

    def begin(
        self,
        *,
        browser_id: str,
        return_path: str = "/",
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> str:
        """Store a pending sign-in bound to ``browser_id``; return the authorize URL.

        RFC 6749 10.12 / RFC 9700 4.7: ``state`` binds the callback to this browser; OIDC Core
        3.1.2.1: ``nonce`` binds the id_token to this sign-in; RFC 7636: PKCE binds the code.
        """
        state = self.random_token(32)
        nonce = Secret("nonce", self.random_token(32))
        verifier = Secret("code_verifier", self.random_token(48))  # 64 chars: RFC 7636 4.1
        url = self.authority.authorize_url(
            state=state, nonce=nonce, code_challenge=code_challenge_s256(verifier.reveal()),
            prompt=prompt, login_hint=login_hint, domain_hint=domain_hint,
        )
        self.store.put_pending(
            PendingSignIn(
                state=state, browser_id=browser_id, nonce=nonce, code_verifier=verifier, return_path=return_path,
                created_at=self.clock(), response_type=self.settings.response_type,
            ),
            ttl=PENDING_TTL,
        )
        return url

    # --- 2. the authority's cross-site form_post ------------------------------------------

    def stash_form_post(self, fields: Mapping[str, Sequence[str]]) -> str:
        """Keep the posted callback under its state until the browser comes back same-site.

        Returns the state for the 303 to ``GET /getAToken?state=...``. The browser's cookie is
        not here (SameSite=Lax is not sent with a cross-site POST), so nothing is decided yet:
        the fields are only stored, once, against a live pending sign-in.
        """
        state = callback_state(fields)
        single: dict[str, str] = {}
        for name, values in fields.items():
            if len(values) != 1:
                # RFC 6749 3.1: request and response parameters MUST NOT be included more than once.
                raise CallbackError(f"the callback repeats the field {name[:40]!r}")
            single[name] = values[0]
        if not self.store.stash_callback(state, single):
            raise StateMismatch("form_post callback for an unknown, expired or already answered state")
        return state

    # --- 3. complete ----------------------------------------------------------------------

    def complete(self, *, browser_id: str, params: Mapping[str, Sequence[str]]) -> Completed:
        """Finish the sign-in that ``browser_id`` started, from the callback's parameters.

        Hybrid flow: ``params`` is the same-site GET carrying only ``state``; the fields come from
        the stash. Code flow: ``params`` is the authority's query callback itself.
        """
        state = callback_state(params)
        pending = self.store.take_pending(state, browser_id)
        if pending is None:
            raise StateMismatch("callback state not issued to this browser, already used, or expired")
        if pending.response_type == "code id_token":
            if pending.callback is None:
                # Nothing was posted for this state: the authority may have sent an error back
                # by GET although form_post was asked. The state was this browser's and is now
                # spent; show the error like any other (RFC 6749 4.1.2.1). Only the error is
                # read from the query: a code or id_token there is not a hybrid-flow answer.
                error = callback_error(params)
                if error is None:
                    raise CallbackError("the authority's answer for this sign-in never arrived")
                self._check_response_issuer(params)
                raise error
            fields: CallbackParams = {k: (v,) for k, v in pending.callback.items()}
        else:
            fields = params
        # RFC 9207 2.4: checked before an error is shown or a code redeemed.
        issuer, issuer_verdict = self._check_response_issuer(fields)
        answer = parse_callback(fields, response_type=pending.response_type)
        if answer.state != state:
            raise StateMismatch("the callback's state changed between legs")
        nonce = pending.nonce
        if answer.id_token is not None:
            validated = self.authority.validate_front_channel(answer.id_token, nonce=nonce, code=answer.code)
            _same_issuer(issuer, issuer_verdict, validated)  # before the code is redeemed
            tokens = self.authority.redeem_code(answer.code, code_verifier=pending.code_verifier)
            if tokens.id_token is None:
                # DESIGN step 5: the token response's id_token must name the validated user; Azure
                # AD always returns one for scope=openid, so its absence is a broken answer.
                raise InvalidResponse("the token endpoint returned no id_token (was scope=openid dropped?)")
            # OIDC Core 3.3.3.6: the token endpoint's id_token names the same user and client.
            verdicts = (*issuer_verdict, *validated.verdicts, match_back_channel(tokens.id_token, validated.claims))
        else:
            tokens = self.authority.redeem_code(answer.code, code_verifier=pending.code_verifier)
            if tokens.id_token is None:
                raise InvalidResponse("the token endpoint returned no id_token (was scope=openid dropped?)")
            validated = self.authority.validate_back_channel(tokens.id_token, nonce=nonce)
            _same_issuer(issuer, issuer_verdict, validated)  # the code flow's id_token comes only now
            verdicts = (*issuer_verdict, *validated.verdicts)
        session = self._new_session(validated, tokens, flow_id=flow_id_for(state))
        log.info("sign-in completed for tenant %s (flow %s)", validated.claims.tid, session.flow_id)
        return Completed(session=session, return_path=pending.return_path, verdicts=verdicts)

    def _check_response_issuer(self, fields: CallbackParams) -> tuple[str | None, tuple[Verdict, ...]]:
        """RFC 9207: the response's ``iss``, if it carries one, is an expected issuer."""
        issuer = callback_issuer(fields)
        if issuer is None:
            return None, ()  # Azure AD does not send it (yet): nothing to check
        return issuer, (check_response_issuer(issuer, expected=self.authority.response_issuers()),)

    def _new_session(self, validated: ValidatedIdToken, tokens: TokenResponse, *, flow_id: str) -> SessionRecord:
        claims = validated.claims
        now = self.clock()
        record = SessionRecord(
            session_id=self.random_token(32),  # a NEW id: no session fixation (RFC 9700 4.x, OWASP)
            created_at=now,
            expires_at=now + self.session_ttl,
            last_seen=now,
            claims={"tid": claims.tid, "oid": claims.oid, "sub": claims.sub, "iss": claims.iss, **claims.display},
            tokens=_token_set(tokens, self.settings.resource, previous=None),
            csrf_token=self.random_token(32),
            flow_id=flow_id,  # the wire transcript's id of this sign-in, one-way from its state
        )
        self.store.create_session(record)
        return record

    # --- 4. using the session ---------------------------------------------------------------

    def session(self, session_id: str) -> SessionRecord | None:
        return self.store.get_session(session_id)

    def access_token(self, session: SessionRecord, *, force_refresh: bool = False) -> Secret:
        """The session's access token, refreshed first when it expires within 5 minutes.

        One refresh at a time per session across threads, workers and hosts (the store's lease
        lock); a waiter re-reads the session and uses the token the holder stored.
        """
        tokens = session.tokens
        if tokens is None:
            raise ReauthenticationRequired("the session holds no tokens")
        if not force_refresh and tokens.expires_on - self.clock() > REFRESH_MARGIN:
            return tokens.access_token
        stale = tokens.access_token
        wait = refresh_wait(self.settings.http_timeout)
        with self.store.refresh_lock(session.session_id, lease=wait + 5, wait=wait) as mine:
            current = self.store.get_session(session.session_id)
            if current is None or current.tokens is None:
                raise ReauthenticationRequired("the session ended while its token was refreshed")
            fresh = current.tokens
            if fresh.access_token != stale and fresh.expires_on - self.clock() > REFRESH_MARGIN:
                return fresh.access_token  # another worker refreshed it meanwhile
            if not mine:
                raise SessionStoreError("another worker is still refreshing this session's token")
            return self._refresh(current)

    def _refresh(self, record: SessionRecord) -> Secret:
        assert record.tokens is not None
        if record.tokens.refresh_token is None:
            raise ReauthenticationRequired("the session has no refresh token")
        try:
            response = self.authority.refresh(record.tokens.refresh_token, resource=record.tokens.resource)
        except AuthorityError as exc:
            # invalid_grant, interaction_required, consent_required, login_required: the refresh
            # token cannot be used any more without the person (RFC 6749 5.2, OIDC Core 3.1.2.6).
            if isinstance(exc, GrantRefused) or DEAD_REFRESH_TOKEN.intersection(exc.error_codes):
                self.store.delete_session(record.session_id)
                raise ReauthenticationRequired(f"the refresh token was refused ({exc})") from exc
            raise
        tokens = _token_set(response, record.tokens.resource, previous=record.tokens)
        if not self.store.update_tokens(record.session_id, tokens, expected_version=record.version):
            # Someone else stored tokens first (a lease that ran out, or a sign-out): ours are
            # still valid for this request; the stored ones serve the next.
            log.info("refreshed tokens not stored: the session changed meanwhile")
        return tokens.access_token

    def graph_me(self, session: SessionRecord) -> GraphUser:
        """Graph ``/me`` for the session's user; on a 401, refresh once and try again."""
        try:
            user = self.graph.me(self.access_token(session))
        except GraphError as exc:
            if exc.http_status != 401:
                raise
            refreshed = self.store.get_session(session.session_id) or session
            try:
                user = self.graph.me(self.access_token(refreshed, force_refresh=True))
            except GraphError as again:
                if again.http_status == 401:
                    self.store.delete_session(session.session_id)
                    raise ReauthenticationRequired("Graph refused the refreshed token") from again
                raise
        if user.id != session.claims.get("oid"):
            # The access token must be the signed-in user's: Graph's id is the id_token's oid.
            raise InvalidResponse("Graph answered for another user than the one signed in")
        return user

    # --- 5. sign out ------------------------------------------------------------------------

    def sign_out(self, session_id: str | None, *, post_logout_redirect_uri: str | None) -> str:
        """End the session server-side; return the authority's logout URL for the browser."""
        if session_id:
            self.store.delete_session(session_id)
        return self.authority.logout_url(post_logout_redirect_uri)


def _same_issuer(issuer: str | None, checked: tuple[Verdict, ...], validated: ValidatedIdToken) -> None:
    """RFC 9207 with ``common``/``organizations``: the response's iss is the signed-in tenant's
    (with a single tenant this always holds: both equal its one issuer)."""
    if issuer is not None and issuer != validated.claims.iss:
        mismatch = ResponseIssuerMismatch("the authorization response's iss is not the id_token's issuer")
        failed = Verdict("response_iss", False, RESPONSE_ISSUER_REFERENCE, str(mismatch))
        mismatch.verdicts = (*checked, *validated.verdicts, failed)
        raise mismatch


def _token_set(response: TokenResponse, resource: str, *, previous: TokenSet | None) -> TokenSet:
    # RFC 6749 6: the authority MAY issue a new refresh token; if it does not, keep the old one.
    refresh = response.refresh_token or (previous.refresh_token if previous else None)
    # Keep the id_token that was validated at sign-in: a refresh's id_token is not validated
    # (nothing uses it), so it must not replace the one that was.
    id_token = previous.id_token if previous is not None else response.id_token
    return TokenSet(access_token=response.access_token, refresh_token=refresh, expires_on=response.expires_on,
                    resource=response.resource or resource, id_token=id_token)
