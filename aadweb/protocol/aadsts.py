"""AADSTS errors: the authority's error bodies read safely, and explained for people.

Azure AD answers a failed request with an OAuth error (RFC 6749 4.1.2.1 on the authorize
redirect, RFC 6749 5.2 from the token endpoint) whose ``error_description`` embeds an
``AADSTSnnnnn:`` code, a trace id and a correlation id. Code branches on ``error`` and
``error_codes``; the description is for the log only. Everything here is text from the remote
side, so it is length-capped and stripped of control characters before it goes anywhere
(the web layer HTML-escapes it as well).

:func:`explain` turns a code into a sentence a person can act on; the table holds only codes
whose meaning is well established. Microsoft's own lookup is ``{host}/error?code=nnnnn``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aadweb.errors import AuthorityError, AuthorityUnavailable, ClientRefused, GrantRefused, InvalidResponse
from aadweb.protocol.http import DELAY_SECONDS, HttpResponse, parse_retry_after

__all__ = [
    "CLIENT_ERRORS",
    "GRANT_ERRORS",
    "LOOKUP_URL",
    "MAX_DESCRIPTION",
    "Explanation",
    "clean_text",
    "codes_in_description",
    "correlation_id_in_description",
    "error_from_response",
    "explain",
    "explain_error",
    "is_valid_error_code",
    "lookup_url",
    "trace_id_in_description",
]

#: Remote error text is cut to this many characters (it is for the log, not for parsing).
MAX_DESCRIPTION: Final = 2000
#: At most this many AADSTS codes are kept from one error.
MAX_CODES: Final = 16
#: Microsoft's own explanation of a code (README "Troubleshooting"); the same for every cloud.
LOOKUP_URL: Final = "https://login.microsoftonline.com/error?code="

#: RFC 6749 5.2 / OIDC Core 3.1.2.6 errors that refuse the grant the browser brought (a code
#: expired, used or injected, a PKCE mismatch; or the person must interact, consent or sign in
#: again): the person can do something, sign in again. ``GrantRefused``, 400.
GRANT_ERRORS: Final = frozenset({"invalid_grant", "interaction_required", "consent_required", "login_required"})
#: Errors that refuse the app itself (its credential, its registration) or a request that only a
#: bug or a wrong setting makes: nobody can sign in until the operator acts. ``ClientRefused``, 502.
#: (``invalid_tenant`` is Azure AD's answer for a tenant that does not exist.)
CLIENT_ERRORS: Final = frozenset({
    "invalid_client", "unauthorized_client", "invalid_request", "unsupported_grant_type", "invalid_scope",
    "invalid_resource", "unsupported_response_type", "invalid_tenant",
})
#: HTTP statuses that mean "busy, come back later" (RFC 6585 4, RFC 9110 15.6.4).
_BUSY: Final = frozenset({429, 503})

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi controls that can
# make a log line or a page lie about what it says.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
# RFC 6749 4.1.2.1 / 5.2: error = 1*( %x20-21 / %x23-5B / %x5D-7E )
_ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,200}")
_AADSTS = re.compile(r"AADSTS(\d{1,10})\b")
_ID = r"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"
_TRACE_ID = re.compile(r"Trace ID:\s*" + _ID)
_CORRELATION_ID = re.compile(r"Correlation ID:\s*" + _ID)
_GUID = re.compile(_ID)


def clean_text(value: str, *, limit: int = MAX_DESCRIPTION) -> str:
    """Remote text made safe to log: control characters become one space, length capped."""
    text = _CONTROL.sub(" ", value).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def is_valid_error_code(value: object) -> bool:
    """True when ``value`` is an OAuth ``error`` string of the allowed characters."""
    return isinstance(value, str) and _ERROR_CODE.fullmatch(value) is not None


def codes_in_description(description: str) -> tuple[int, ...]:
    """The ``AADSTSnnnnn`` numbers named in a description, in order, without repeats."""
    seen: dict[int, None] = {}
    for match in _AADSTS.finditer(description):
        seen.setdefault(int(match.group(1)), None)
    return tuple(seen)[:MAX_CODES]


def trace_id_in_description(description: str) -> str:
    """The GUID after ``Trace ID:`` in a description, or ``""``."""
    match = _TRACE_ID.search(description)
    return match.group(1).lower() if match else ""


def correlation_id_in_description(description: str) -> str:
    """The GUID after ``Correlation ID:`` in a description, or ``""``."""
    match = _CORRELATION_ID.search(description)
    return match.group(1).lower() if match else ""


def _guid_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if isinstance(value, str) and _GUID.fullmatch(value):
        return value.lower()
    return ""


def _int_codes(value: object) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    codes = [c for c in value if isinstance(c, int) and not isinstance(c, bool) and 0 < c < 10**10]
    return tuple(dict.fromkeys(codes))[:MAX_CODES]


def error_from_response(resp: HttpResponse, *, what: str, now: float | None = None) -> AuthorityError | InvalidResponse:
    """The exception for a non-success answer of the authority (the caller raises it).

    - A JSON object with a well-formed ``error`` (RFC 6749 5.2) becomes an
      :class:`AuthorityError` carrying ``error_codes`` (ints only; anything else in the list is
      ignored), ``trace_id`` and ``correlation_id`` (from their fields, else from the
      description's ``Trace ID:`` / ``Correlation ID:`` lines) and the cleaned description. Its
      class says whose move it is: :class:`AuthorityUnavailable` for HTTP 429/503 or
      ``temporarily_unavailable``; :class:`GrantRefused` for :data:`GRANT_ERRORS`;
      :class:`ClientRefused` for :data:`CLIENT_ERRORS`; a plain :class:`AuthorityError` else.
    - Without such a body, a 429 or 503 is :class:`AuthorityUnavailable`
      (``temporarily_unavailable``) and another 5xx an :class:`AuthorityError` ``server_error``,
      with the HTTP status, so the user sees 503/502 and a "try again"; a 4xx (or anything else)
      broke RFC 6749 5.2, which requires the JSON error body: :class:`InvalidResponse`.

    ``retry_after`` comes from a ``Retry-After`` header (RFC 9110 10.2.3; an HTTP-date only
    when ``now`` is given).
    """
    value = resp.header("retry-after")
    if now is None and value is not None and not DELAY_SECONDS.fullmatch(value.strip()):
        value = None  # an HTTP-date needs the time, which this caller did not give
    retry_after = parse_retry_after(value, now=0.0 if now is None else now)
    try:
        body: Mapping[str, Any] | None = resp.json_object(what)
    except InvalidResponse:
        body = None
    if body is not None and is_valid_error_code(body.get("error")):
        error = str(body["error"])
        raw_description = body.get("error_description")
        raw = raw_description if isinstance(raw_description, str) else ""
        cls: type[AuthorityError] = AuthorityError
        if resp.status in _BUSY or error == "temporarily_unavailable":
            cls = AuthorityUnavailable
        elif error in GRANT_ERRORS:
            cls = GrantRefused
        elif error in CLIENT_ERRORS:
            cls = ClientRefused
        return cls(
            error,
            description=clean_text(raw),
            error_codes=_int_codes(body.get("error_codes")),
            trace_id=_guid_field(body, "trace_id") or trace_id_in_description(raw),
            correlation_id=_guid_field(body, "correlation_id") or correlation_id_in_description(raw),
            http_status=resp.status,
            retry_after=retry_after,
        )
    if resp.status in _BUSY:
        return AuthorityUnavailable(
            "temporarily_unavailable",
            description=f"{what}: HTTP {resp.status} without an OAuth error body",
            http_status=resp.status,
            retry_after=retry_after,
        )
    if 500 <= resp.status <= 599:
        return AuthorityError(
            "server_error",
            description=f"{what}: HTTP {resp.status} without an OAuth error body",
            http_status=resp.status,
            user_message="The sign-in service is having trouble right now. Please try again in a moment.",
        )
    # RFC 6749 5.2: an error response carries a JSON object with an "error" member
    return InvalidResponse(f"{what}: HTTP {resp.status} without an OAuth error body (RFC 6749 5.2)")


def lookup_url(code: int) -> str:
    """Microsoft's page about one AADSTS code (``https://login.microsoftonline.com/error?code=N``)."""
    if code <= 0:
        raise ValueError("an AADSTS code is a positive number")
    return f"{LOOKUP_URL}{code}"


# --- explanations -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """What an AADSTS code means and what a person can do about it."""

    code: int
    title: str
    what_to_do: str

    def __post_init__(self) -> None:
        if self.code <= 0:
            raise ValueError("an AADSTS code is a positive number")
        if not self.title or not self.what_to_do:
            raise ValueError("an explanation needs a title and what to do")


_TABLE: Final[tuple[tuple[int, str, str], ...]] = (
    # --- the app registration -----------------------------------------------------------
    (50011, "The reply URL does not match the app registration.",
     "Register the exact redirect URI (scheme, host, port and path) under the Web platform, "
     "or set AADWEB_REDIRECT_URI to the one that is registered."),
    (500113, "The app registration has no reply URL.",
     "Add the redirect URI (AADWEB_REDIRECT_URI) to the app registration under the Web platform."),
    (700016, "The application was not found in the tenant.",
     "Check AADWEB_CLIENT_ID and AADWEB_TENANT; the app must be registered in (or consented to by) that tenant."),
    (700054, "The app registration does not allow ID tokens from the authorize endpoint.",
     "Enable 'ID tokens' under Authentication in the app registration, or set AADWEB_RESPONSE_TYPE=code."),
    (50194, "The application is single-tenant but was used with a multi-tenant endpoint.",
     "Set AADWEB_TENANT to your tenant's ID or domain instead of common/organizations."),
    (90002, "The tenant was not found.", "Check AADWEB_TENANT: the tenant GUID or a verified domain of the tenant."),
    (7000112, "The application is disabled.", "Ask the tenant administrator to enable the application."),
    (500011, "The resource was not found in the tenant.",
     "Check AADWEB_RESOURCE (for Graph: https://graph.microsoft.com); the resource must exist in the tenant."),
    (50001, "The resource is disabled or does not exist.",
     "Check AADWEB_RESOURCE and ask the tenant administrator whether the resource is enabled."),
    (650057, "The requested resource is not among the app registration's API permissions.",
     "Add the permission (for Graph: User.Read) under API permissions in the app registration."),
    (700025, "The app is registered as a public client, so it must not send a client credential.",
     "Register the redirect URI under the Web platform (not Mobile and desktop) and turn off public client flows."),
    (9002326, "The redirect URI is registered as a single-page application.",
     "Register the redirect URI under the Web platform, not Single-page application."),
    (50146, "The application requires an application-specific signing key.",
     "Configure a signing key for the app and set AADWEB_APP_SIGNING_KEYS=1, or remove the requirement."),
    # --- the client credential ----------------------------------------------------------
    (7000215, "The client secret is not valid.",
     "Set AADWEB_CLIENT_SECRET to the secret's Value (shown once when created), not its Secret ID."),
    (7000222, "The client secret has expired.",
     "Create a new client secret in the app registration and update AADWEB_CLIENT_SECRET."),
    (7000218, "The request carried no client credential.",
     "Set AADWEB_CLIENT_SECRET or AADWEB_CLIENT_CERTIFICATE."),
    (700024, "The client assertion is not within its valid time range.",
     "Check that this server's clock is correct (use NTP)."),
    (700027, "The client assertion's signature could not be verified.",
     "Upload the certificate of AADWEB_CLIENT_CERTIFICATE to the app registration (Certificates & secrets)."),
    # --- codes, refresh tokens and PKCE -------------------------------------------------
    (54005, "The authorization code was already redeemed.", "Sign in again."),
    (70008, "The authorization code or refresh token has expired or was revoked.", "Sign in again."),
    (700082, "The refresh token expired because it was not used for too long.", "Sign in again."),
    (50148, "The PKCE code_verifier does not match the code_challenge.", "Start the sign-in again."),
    (501481, "The PKCE code_verifier does not match the code_challenge.", "Start the sign-in again."),
    (90014, "A required field is missing from the request.", "Start the sign-in again; if it persists, report it."),
    (900144, "A required parameter is missing from the request.",
     "Start the sign-in again; if it persists, report it."),
    (9002313, "The request was malformed or not valid.", "Start the sign-in again; if it persists, report it."),
    (50089, "The sign-in took too long and its flow expired.", "Sign in again."),
    # --- consent ------------------------------------------------------------------------
    (65001, "Consent for this application is missing.",
     "Sign in again and accept the permissions, or ask an administrator to grant consent for the tenant."),
    (65004, "You declined to consent to the application's permissions.",
     "Sign in again and accept the permissions, or ask an administrator to grant consent."),
    (90094, "An administrator must consent to this application's permissions.",
     "Ask the tenant administrator to grant admin consent to the application."),
    # --- the user -----------------------------------------------------------------------
    (50034, "The user account does not exist in this tenant.",
     "Sign in with an account of the tenant, or ask an administrator to add you."),
    (50126, "The user name or password is wrong.", "Sign in again with the right credentials."),
    (50053, "The account is locked after too many failed sign-ins.",
     "Wait a while and try again, or contact your administrator."),
    (50055, "The password has expired.", "Change your password, then sign in again."),
    (50057, "The user account is disabled.", "Contact your administrator."),
    (50058, "A silent sign-in was requested but nobody is signed in.", "Sign in interactively."),
    (50020, "The account is not a member (or invited guest) of this tenant.",
     "Sign in with an account of the tenant, or ask an administrator to invite you."),
    (50105, "The account is not assigned to this application.",
     "Ask your administrator to assign you to the application."),
    (50076, "Multi-factor authentication is required.", "Sign in again and complete multi-factor authentication."),
    (50074, "Strong authentication is required.", "Sign in again and complete multi-factor authentication."),
    (50079, "You must register for multi-factor authentication.",
     "Sign in again and complete the multi-factor registration."),
    # --- policy -------------------------------------------------------------------------
    (53003, "Access was blocked by a Conditional Access policy.", "Contact your tenant administrator."),
    (53000, "Conditional Access requires a compliant or managed device.",
     "Sign in from a compliant device, or contact your tenant administrator."),
)

_EXPLANATIONS: Final[Mapping[int, Explanation]] = {
    code: Explanation(code=code, title=title, what_to_do=what_to_do) for code, title, what_to_do in _TABLE
}


def explain(code: int | None) -> Explanation | None:
    """The explanation of one AADSTS code, or None when the code is unknown (or None)."""
    if code is None:
        return None
    return _EXPLANATIONS.get(code)


def explain_error(exc: AuthorityError) -> Explanation | None:
    """The explanation of the first of an error's AADSTS codes that has one."""
    for code in exc.error_codes:
        found = explain(code)
        if found is not None:
            return found
    return None
