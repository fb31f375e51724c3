"""From a failure to a :class:`~aadweb.web.pages.Problem` a person can act on.

Every :class:`~aadweb.errors.AadWebError` already knows its HTTP ``status`` and a
``user_message``; this adds a title, what to do, and the ids support needs (AADSTS codes,
``trace_id``, ``correlation_id``, Graph's ``request-id``). Remote text is never shown as-is
except those ids and codes (and the pages escape them). HTTP-level refusals (404, 405, 413,
414, ...) get pages of their own.
"""

from __future__ import annotations

import math
from typing import Final

from aadweb.errors import (
    AadWebError,
    AuthorityError,
    AuthorityUnavailable,
    AuthorizationError,
    CallbackError,
    ClientRefused,
    ConfigurationError,
    ConnectionFailed,
    DeadlineExceeded,
    GrantRefused,
    GraphError,
    InvalidResponse,
    ReauthenticationRequired,
    SessionStoreError,
    StateMismatch,
    TenantNotAllowed,
    TokenValidationError,
    TransportError,
)
from aadweb.protocol import aadsts
from aadweb.web.pages import Problem

__all__ = ["describe", "http_problem", "unexpected_problem"]

_SUPPORT: Final = "If it keeps happening, give the details below to your administrator."
#: Retry-After for a store that is briefly unavailable (seconds).
STORE_RETRY: Final = 5


def _authority_details(exc: AuthorityError) -> tuple[tuple[str, str], ...]:
    details: list[tuple[str, str]] = [("Error", exc.error)]
    if exc.error_codes:
        details.append(("AADSTS", ", ".join(f"AADSTS{code}" for code in exc.error_codes)))
    if exc.trace_id:
        details.append(("Trace ID", exc.trace_id))
    if exc.correlation_id:
        details.append(("Correlation ID", exc.correlation_id))
    return tuple(details)


def _seconds(retry_after: float | None) -> int | None:
    return math.ceil(retry_after) if retry_after is not None else None


def _when(wait: int | None) -> str:
    return f"in {wait} second{'s' if wait != 1 else ''}" if wait is not None else "in a moment"


def _authority(exc: AuthorityError) -> Problem:
    details = _authority_details(exc)
    lookups = exc.error_codes
    if isinstance(exc, AuthorizationError) and exc.error == "access_denied":
        return Problem(
            status=exc.status, title="You cancelled the sign-in",
            message="The sign-in was cancelled, so you are not signed in.",
            what_to_do="Sign in again when you are ready.", details=details, action="sign_in", aadsts=lookups,
        )
    explanation = aadsts.explain_error(exc)
    if isinstance(exc, AuthorityUnavailable):
        wait = _seconds(exc.retry_after)
        return Problem(status=exc.status, title="The sign-in service is busy",
                       message=f"The sign-in service asked us to slow down. Try again {_when(wait)}.",
                       details=details, action="retry", retry_after=wait, aadsts=lookups)
    if isinstance(exc, ClientRefused):
        # The app itself was refused: signing in again cannot help; its operator must act.
        admin = f" For the administrator: {explanation.title} {explanation.what_to_do}" if explanation else ""
        return Problem(status=exc.status, title="This application is misconfigured", message=exc.user_message,
                       what_to_do="Tell the administrator of this application, and give them the error code and "
                                  f"the trace ID below.{admin}",
                       details=details, action="home", aadsts=lookups)
    if isinstance(exc, GrantRefused):
        title = explanation.title if explanation else "The sign-in could not be completed"
        todo = explanation.what_to_do if explanation else "Sign in again."
        return Problem(status=exc.status, title=title, message=exc.user_message, what_to_do=todo,
                       details=details, action="sign_in", aadsts=lookups)
    if explanation is not None:
        return Problem(status=exc.status, title=explanation.title, message=exc.user_message,
                       what_to_do=explanation.what_to_do, details=details, action="sign_in", aadsts=lookups)
    title = "The sign-in was not completed" if isinstance(exc, AuthorizationError) else "The sign-in service said no"
    return Problem(status=exc.status, title=title, message=exc.user_message,
                   what_to_do=f"Sign in again. {_SUPPORT}", details=details, action="sign_in", aadsts=lookups)


def _graph(exc: GraphError) -> Problem:
    details: list[tuple[str, str]] = [("HTTP status", str(exc.http_status))]
    if exc.code:
        details.append(("Code", exc.code))
    if exc.request_id:
        details.append(("request-id", exc.request_id))
    if exc.client_request_id:
        details.append(("client-request-id", exc.client_request_id))
    if exc.http_status in (429, 503):
        wait = _seconds(exc.retry_after)
        return Problem(status=503, title="Microsoft Graph is busy",
                       message=f"Microsoft Graph asked us to slow down. Try again {_when(wait)}.",
                       details=tuple(details), action="retry", retry_after=wait)
    if exc.http_status == 403:
        # Authorization_RequestDenied and friends: the app lacks the permission or the consent.
        return Problem(status=403, title="This application is not allowed to read this",
                       message="Microsoft Graph refused: this application does not have the permission, or "
                               "nobody has consented to it reading this for you.",
                       what_to_do="Ask an administrator of your organisation to grant consent to this application "
                                  "(admin consent) for the Microsoft Graph permission it needs (User.Read).",
                       details=tuple(details), action="admin_consent")
    return Problem(status=502, title="Microsoft Graph could not answer", message=exc.user_message,
                   what_to_do=f"Try again. {_SUPPORT}", details=tuple(details), action="retry")


def describe(exc: AadWebError) -> Problem:
    """The page for a refused or failed request."""
    if isinstance(exc, AuthorityError):
        return _authority(exc)
    if isinstance(exc, StateMismatch | CallbackError):
        return Problem(status=400, title="This sign-in link is not valid any more", message=exc.user_message,
                       what_to_do="Start the sign-in again from this site.", action="sign_in")
    if isinstance(exc, TenantNotAllowed):
        return Problem(status=exc.status, title="Your organisation is not allowed", message=exc.user_message,
                       what_to_do="Sign in with an account of an organisation this application accepts.",
                       action="sign_in")
    if isinstance(exc, TokenValidationError):
        return Problem(status=exc.status, title="The sign-in could not be verified", message=exc.user_message,
                       details=(("Failed check", exc.check),), action="sign_in")
    if isinstance(exc, ReauthenticationRequired):
        return Problem(status=exc.status, title="Please sign in again", message=exc.user_message, action="sign_in")
    if isinstance(exc, GraphError):
        return _graph(exc)
    if isinstance(exc, ConnectionFailed):  # down, refusing connections: 503 with Retry-After
        wait = exc.retry_after
        return Problem(status=exc.status, title="The sign-in service could not be reached",
                       message=f"{exc.user_message} Try again {_when(wait)}.", action="retry", retry_after=wait)
    if isinstance(exc, DeadlineExceeded):  # 504
        return Problem(status=exc.status, title="The sign-in service did not answer in time",
                       message=exc.user_message, action="retry")
    if isinstance(exc, TransportError):  # an answer that cannot be used: 502
        return Problem(status=exc.status, title="The sign-in service could not be used",
                       message=exc.user_message, action="retry")
    if isinstance(exc, SessionStoreError):
        return Problem(status=exc.status, title="Please try again shortly", message=exc.user_message,
                       action="retry", retry_after=STORE_RETRY)
    if isinstance(exc, InvalidResponse):
        # Most often permanent (a changed or broken service): no "try again in a moment".
        return Problem(status=exc.status, title="The service sent an answer this application cannot use",
                       message=exc.user_message,
                       what_to_do="If it keeps happening, tell the administrator of this application.")
    if isinstance(exc, ConfigurationError):
        return Problem(status=500, title="This application is not configured", message=exc.user_message)
    status = exc.status if 400 <= exc.status <= 599 else 500
    return Problem(status=status, title="Something went wrong", message=exc.user_message,
                   what_to_do="Try again in a moment.", action="retry")


_HTTP: Final[dict[int, tuple[str, str]]] = {
    400: ("This request could not be understood",
          "The address or form that reached this site was malformed. Go back and try again."),
    404: ("Page not found", "There is no page at this address."),
    405: ("This page cannot be used that way", "The page exists, but not for this kind of request."),
    413: ("The request is too large", "What your browser sent is larger than this site accepts."),
    414: ("The address is too long", "The address (URL) is longer than this site accepts."),
    415: ("Unsupported form", "This site accepts only ordinary HTML form submissions here."),
}


def http_problem(status: int) -> Problem:
    """The page for an HTTP-level refusal (404, 405, 413, ...)."""
    title, message = _HTTP.get(status, ("This request was refused", "This site could not answer this request."))
    return Problem(status=status if 400 <= status <= 599 else 400, title=title, message=message)


def unexpected_problem() -> Problem:
    return Problem(status=500, title="Something went wrong",
                   message="This site ran into an unexpected problem. It has been logged.",
                   what_to_do="Try again in a moment.", action="retry")
