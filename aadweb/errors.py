"""The one exception tree of aadweb.

Every failure aadweb raises is an :class:`AadWebError`. Each class knows two things a web
page needs: the HTTP ``status`` to answer with, and ``user_message``, a sentence a person
can act on. ``str(exc)`` is the operator's message for the log. Neither ever contains a
secret: values that could be secret are carried as fingerprints (see ``aadweb.secret``).

Foreign exceptions (requests, json, pyjwt, cryptography, redis, sqlite3) are translated into
this tree at the one place that calls the foreign code, with ``raise ... from exc``.

    AadWebError
    ├── ConfigurationError            settings are wrong (start-up)
    ├── ProtocolError                 the remote side broke the protocol
    │   ├── InvalidResponse           a response could not be understood
    │   ├── CallbackError             the authorize callback is malformed
    │   └── StateMismatch             the callback's state is not one we issued
    ├── AuthorityError                the authority said no (AADSTS error body)
    │   ├── AuthorizationError        ... on the authorize redirect (error=...)
    │   ├── GrantRefused              ... to the grant the browser brought (invalid_grant): 400
    │   ├── ClientRefused             ... to the app itself (invalid_client, ...): 502
    │   └── AuthorityUnavailable      ... is busy or down (429/503, temporarily_unavailable): 503
    ├── TokenValidationError          an id_token failed a check (one subclass per check,
    │                                 carrying check, claim and the verdicts so far)
    ├── GraphError                    Graph answered with an error envelope
    ├── TransportError                the call failed us (an unusable answer, a refused redirect): 502
    │   ├── ConnectionFailed          ... could not reach the upstream (refused, DNS, TLS, reset): 503
    │   └── DeadlineExceeded          ... no complete answer in time: 504
    ├── SessionStoreError             the session store is unreachable or broken
    └── ReauthenticationRequired      the session cannot go on: the user must sign in again
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AadWebError",
    "AudienceMismatch",
    "AuthorityError",
    "AuthorityUnavailable",
    "AuthorizationError",
    "AuthorizedPartyMismatch",
    "BackChannelMismatch",
    "CallbackError",
    "ClaimMissing",
    "ClaimTypeInvalid",
    "ClientRefused",
    "CodeHashMismatch",
    "ConfigurationError",
    "ConnectionFailed",
    "ConsentRequired",
    "DeadlineExceeded",
    "GrantRefused",
    "GraphError",
    "InvalidResponse",
    "IssuedInFuture",
    "IssuerMismatch",
    "KeyNotFound",
    "KeyNotNamed",
    "MalformedToken",
    "NonceMismatch",
    "ProtocolError",
    "ReauthenticationRequired",
    "ResponseIssuerMismatch",
    "SessionStoreError",
    "SignatureInvalid",
    "StateMismatch",
    "TenantMismatch",
    "TenantNotAllowed",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenTooOld",
    "TokenValidationError",
    "TransportError",
    "UnsignedTokenRefused",
    "UnsupportedAlgorithm",
    "Verdict",
]


class AadWebError(Exception):
    """Root of every error aadweb raises."""

    status: int = 500
    user_message: str = "Something went wrong while signing you in. Please try again."

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        if user_message is not None:
            self.user_message = user_message


class ConfigurationError(AadWebError):
    """The configuration is invalid. ``problems`` lists every problem found, one sentence each."""

    status = 500
    user_message = "This application is not configured correctly. The operator has been told."

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        text = "; ".join(self.problems) if self.problems else "invalid configuration"
        super().__init__(f"invalid configuration: {text}")


# --- the remote side broke the protocol ---------------------------------------------------


class ProtocolError(AadWebError):
    """The other side sent something the protocol does not allow."""

    status = 502
    user_message = "The sign-in service sent an answer this application could not use."


class InvalidResponse(ProtocolError):
    """A response from the authority or Graph could not be parsed or lacks a required field."""


class CallbackError(ProtocolError):
    """The authorization response (callback) is malformed: a missing, empty or repeated field."""

    status = 400
    user_message = "The sign-in answer that reached this application was incomplete. Please sign in again."


class StateMismatch(ProtocolError):
    """The callback's ``state`` was not issued to this browser, was already used, or expired."""

    status = 400
    user_message = (
        "This sign-in link is not valid any more (it was already used, has expired, or was started "
        "in another browser). Please sign in again."
    )


# --- the authority said no ---------------------------------------------------------------


class AuthorityError(AadWebError):
    """The authority answered with an OAuth error body (RFC 6749 5.2) or an AADSTS error.

    Carries ``error`` (the OAuth error code), ``error_codes`` (AADSTS numbers), ``description``
    (the authority's text, for the log), ``trace_id`` and ``correlation_id`` (for support), and
    ``retry_after`` (seconds, from a ``Retry-After`` header) when the authority sent one.
    """

    status = 502
    user_message = "The sign-in service refused the request."

    def __init__(
        self,
        error: str,
        *,
        description: str = "",
        error_codes: Sequence[int] = (),
        trace_id: str = "",
        correlation_id: str = "",
        http_status: int | None = None,
        retry_after: float | None = None,
        user_message: str | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.error_codes: tuple[int, ...] = tuple(error_codes)
        self.trace_id = trace_id
        self.correlation_id = correlation_id
        self.http_status = http_status
        self.retry_after = retry_after
        codes = ",".join(f"AADSTS{c}" for c in self.error_codes)
        parts = [f"authority error {error!r}"]
        if codes:
            parts.append(codes)
        if trace_id:
            parts.append(f"trace_id={trace_id}")
        if correlation_id:
            parts.append(f"correlation_id={correlation_id}")
        super().__init__(" ".join(parts), user_message=user_message)

    @property
    def aadsts(self) -> int | None:
        """The first AADSTS code, if the authority sent one."""
        return self.error_codes[0] if self.error_codes else None


class AuthorizationError(AuthorityError):
    """The authorize endpoint redirected back with ``error=...`` (RFC 6749 4.1.2.1)."""

    status = 400
    user_message = "The sign-in was not completed."


class GrantRefused(AuthorityError):
    """The token endpoint refused the grant the browser brought (RFC 6749 5.2 ``invalid_grant``:
    a code expired, used or injected, a PKCE mismatch; or ``interaction_required``,
    ``consent_required``, ``login_required``): the person can sign in again."""

    status = 400
    user_message = "The sign-in service did not accept this sign-in. Please sign in again."


class ClientRefused(AuthorityError):
    """The token endpoint refused the app itself (``invalid_client``, ``unauthorized_client``,
    a wrong or expired secret, a disabled app) or a request only a bug or a wrong setting makes
    (``invalid_request``, ``unsupported_grant_type``, ...): nobody can sign in until its
    operator acts. Logged as an error."""

    status = 502
    user_message = "The sign-in service refused this application itself, so nobody can sign in until it is fixed."


class AuthorityUnavailable(AuthorityError):
    """The authority is busy or down: HTTP 429 or 503, or ``temporarily_unavailable``."""

    status = 503
    user_message = "The sign-in service is busy right now. Please try again in a moment."


# --- id_token validation: one class per check --------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """One check of one token: what was checked, whether it held, and where the rule comes from.

    ``aadweb.protocol.idtoken`` leaves one per check; the wire transcript shows them.
    """

    check: str
    passed: bool
    reference: str
    detail: str = ""


class TokenValidationError(AadWebError):
    """An id_token failed validation: one subclass per check, as PyJWT has one per claim.

    ``check`` names the check that failed (the name of its :class:`Verdict`); ``claim`` the
    claim it looked at (``None`` for checks of the token as a whole: format, alg, key,
    signature); ``verdicts`` the checks made up to and including the failed one.
    """

    status = 401
    user_message = "The sign-in could not be verified, so it was refused. Please sign in again."
    check: str = "token"
    claim: str | None = None
    verdicts: tuple[Verdict, ...] = ()

    def __init__(self, message: str, *, claim: str | None = None, verdicts: tuple[Verdict, ...] = (),
                 user_message: str | None = None) -> None:
        super().__init__(message, user_message=user_message)
        if claim is not None:
            self.claim = claim
        self.verdicts = verdicts


class MalformedToken(TokenValidationError):
    """Not a compact JWS of three strict base64url segments, too large, or not JSON inside."""

    check = "format"


class UnsupportedAlgorithm(TokenValidationError):
    """The JWS ``alg`` is not the pinned algorithm, or the header carries ``crit``."""

    check = "alg"


class KeyNotFound(TokenValidationError):
    """No key of the tenant's JWKS matches the token's ``kid`` (or ``x5t``)."""

    check = "key"


class KeyNotNamed(TokenValidationError):
    """The token names no key (no ``kid``, no ``x5t``) and the tenant's JWKS holds several.

    OIDC Core 10.1: with several keys in the set, a ``kid`` MUST be provided. Not a
    :class:`KeyNotFound`: refetching the key set cannot help, so it never triggers one.
    """

    check = "kid"


class SignatureInvalid(TokenValidationError):
    """The RS256 signature does not verify under the tenant's key."""

    check = "signature"


class UnsignedTokenRefused(TokenValidationError):
    """An unsigned (``alg: none``) id_token that did not come from the token endpoint over TLS or
    loopback (OIDC Core 3.1.3.7 (6))."""

    check = "signature"


class ClaimMissing(TokenValidationError):
    """A required claim is absent; ``claim`` names it."""

    check = "claims"


class ClaimTypeInvalid(TokenValidationError):
    """A claim has the wrong JSON type (e.g. ``exp`` as a string or a non-finite number); ``claim`` names it."""

    check = "claims"


class TenantMismatch(TokenValidationError):
    """Single-tenant sign-in: the token's ``tid`` is not the configured tenant."""

    check = "tid"
    claim = "tid"


class ResponseIssuerMismatch(TokenValidationError):
    """RFC 9207: the authorization response's ``iss`` parameter is not the expected issuer."""

    check = "response_iss"


class TenantNotAllowed(TokenValidationError):
    """Multi-tenant sign-in from a tenant that is not in ``AADWEB_ALLOWED_TENANTS``."""

    status = 403
    check = "tid"
    claim = "tid"
    user_message = "Your organisation is not allowed to sign in to this application."


class IssuerMismatch(TokenValidationError):
    """``iss`` is not exactly the expected issuer."""

    check = "iss"
    claim = "iss"


class AudienceMismatch(TokenValidationError):
    """``aud`` does not contain the client id, or contains an untrusted audience."""

    check = "aud"
    claim = "aud"


class AuthorizedPartyMismatch(TokenValidationError):
    """``azp`` is present and names another client (OIDC Core 3.1.3.7 (4)-(5))."""

    check = "aud"
    claim = "azp"


class TokenExpired(TokenValidationError):
    """``exp`` is in the past beyond the leeway."""

    check = "exp"
    claim = "exp"


class TokenNotYetValid(TokenValidationError):
    """``nbf`` is in the future beyond the leeway."""

    check = "nbf"
    claim = "nbf"


class IssuedInFuture(TokenValidationError):
    """``iat`` is in the future beyond the leeway."""

    check = "iat"
    claim = "iat"


class TokenTooOld(TokenValidationError):
    """``iat`` is more than 24 hours (plus the leeway) in the past, whatever ``exp`` says."""

    check = "age"
    claim = "iat"


class NonceMismatch(TokenValidationError):
    """``nonce`` is missing or differs from the pending sign-in's nonce."""

    check = "nonce"
    claim = "nonce"


class CodeHashMismatch(TokenValidationError):
    """``c_hash`` is missing or does not match the authorization code."""

    check = "c_hash"
    claim = "c_hash"


class BackChannelMismatch(TokenValidationError):
    """Hybrid flow: the token endpoint's id_token names another ``tid``, ``oid``, ``aud``, ``iss``
    or ``sub`` than the validated one (OIDC Core 3.3.3.6); ``claim`` names the first that differs."""

    check = "back-channel match"


# --- Graph --------------------------------------------------------------------------------


class GraphError(AadWebError):
    """Graph answered with an error envelope ``{"error": {"code", "message", "innerError"}}``."""

    status = 502
    user_message = "Microsoft Graph could not answer this request."

    def __init__(
        self,
        http_status: int,
        *,
        code: str = "",
        message: str = "",
        request_id: str = "",
        client_request_id: str = "",
        retry_after: float | None = None,
        user_message: str | None = None,
    ) -> None:
        self.http_status = http_status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.retry_after = retry_after
        text = f"graph error HTTP {http_status}"
        if code:
            text += f" {code!r}"
        if request_id:
            text += f" request-id={request_id}"
        super().__init__(text, user_message=user_message)


# --- transport and storage ----------------------------------------------------------------


class TransportError(AadWebError):
    """A call failed: its answer could not be used (body too large, undecodable), or it could not
    be made (an invalid URL or header). The subclasses say when the network or the time failed."""

    status = 502
    user_message = "The call to the sign-in service failed. Please try again in a moment."


class ConnectionFailed(TransportError):
    """The upstream could not be reached: connection refused or reset, host name not resolved,
    TLS handshake failed, the connection closed before a whole answer. Usually passes: 503, and
    ``retry_after`` seconds before trying again (DESIGN.md, "What the browser gets")."""

    status = 503
    user_message = "The sign-in service could not be reached."
    retry_after = 5


class DeadlineExceeded(TransportError):
    """An outbound call did not finish within ``AADWEB_HTTP_TIMEOUT`` seconds."""

    status = 504
    user_message = "The sign-in service took too long to answer. Please try again in a moment."


class SessionStoreError(AadWebError):
    """The session store is unreachable or failed."""

    status = 503
    user_message = "Sign-in is unavailable for a moment. Please try again shortly."


class ReauthenticationRequired(AadWebError):
    """The session's tokens can no longer be used (refresh refused, Graph 401 after a refresh)."""

    status = 401
    user_message = "Your sign-in has expired or was revoked. Please sign in again."


class ConsentRequired(AadWebError):
    """The user (or an administrator) must consent before a token for ``resource`` (v1) or
    ``scopes`` (v2) can be issued: AADSTS65001 and its kin (``consent_required``,
    ``interaction_required`` for that resource). The session stays: consenting is a round trip
    to the authority and back (the gate starts it for a browser; an API call gets a 401).
    """

    status = 401
    user_message = "This application needs your consent to continue. Sign in again to give it."

    def __init__(self, message: str, *, resource: str | None = None, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.resource = resource
        self.scopes = scopes
