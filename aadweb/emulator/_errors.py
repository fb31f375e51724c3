"""Azure-shaped error answers: OAuth (AADSTS) errors and Graph error envelopes.

An Azure AD error body (RFC 6749 section 5.2 plus Microsoft's fields) looks like::

    {"error": "invalid_grant",
     "error_description": "AADSTS70008: ...\\r\\nTrace ID: ...\\r\\nCorrelation ID: ..."
                          "\\r\\nTimestamp: 2024-01-01 00:00:00Z",
     "error_codes": [70008], "timestamp": "2024-01-01 00:00:00Z", "trace_id": "...",
     "correlation_id": "...", "error_uri": "https://login.microsoftonline.com/error?code=70008"}

The correlation id is the client's ``client-request-id`` when it sent a GUID (as Azure
does), else a fresh one. Graph errors are ``{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

__all__ = [
    "AADSTS_MESSAGES",
    "AadError",
    "Diag",
    "OAuthFailure",
    "default_aadsts",
    "graph_error_response",
    "oauth_error_response",
    "status_for_error",
]

#: Messages for the codes the emulator uses (wording after Azure's; the codes marked
#: "emulator choice" are the emulator's pick where Azure's exact code is not documented).
AADSTS_MESSAGES: dict[int, str] = {
    50000: "There was an error issuing a token or an issue with our sign-in service.",
    50011: "The redirect URI specified in the request does not match the redirect URIs "
           "configured for the application.",
    50027: "JWT token is invalid or malformed.",
    50034: "The user account does not exist in the directory.",
    50058: "A silent sign-in request was sent but no user is signed in.",
    50076: "Due to a configuration change made by your administrator, you must use "
           "multi-factor authentication to access this resource.",
    50194: "Application is not configured as a multi-tenant application. Usage of the "
           "/common endpoint is not supported for such applications.",
    53003: "Access has been blocked by Conditional Access policies.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid "
           "code or use an existing refresh token.",
    65001: "The user or administrator has not consented to use the application.",
    65004: "User declined to consent to access the app.",
    70000: "Provided grant is invalid or malformed.",  # emulator choice for mismatches
    70003: "The app requested an unsupported grant type.",
    70005: "The response_type is not supported.",  # emulator choice
    70008: "The provided authorization code or refresh token has expired due to "
           "inactivity. Send a new interactive authorization request for this user and "
           "resource.",
    90002: "Tenant not found. Check to make sure you have the correct tenant ID and are "
           "signing into the correct cloud.",
    90014: "The required field is missing from the request.",
    90033: "A transient error has occurred. Please try again.",
    500011: "The resource principal was not found in the tenant.",
    501481: "The Code_Verifier does not match the code_challenge supplied in the "
            "authorization request.",
    700016: "Application was not found in the directory.",
    700021: "Client assertion application identifier doesn't match 'client_id' parameter.",
    700024: "Client assertion is not within its valid time range.",
    700025: "Client is public so neither 'client_assertion' nor 'client_secret' should be "
            "presented.",
    700027: "Client assertion failed signature validation.",
    700051: "response_type 'token' is not enabled for the application.",
    700054: "response_type 'id_token' is not enabled for the application.",
    700082: "The refresh token has expired due to inactivity.",
    900144: "The request body must contain a required parameter.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request "
             "is the client secret value, not the client secret ID.",
    7000218: "The request body must contain the following parameter: 'client_assertion' "
             "or 'client_secret'.",
    9002313: "Invalid request. Request is malformed or invalid.",
}

_DEFAULT_AADSTS = {
    "invalid_grant": 70008, "invalid_client": 7000215, "access_denied": 65004,
    "consent_required": 65001, "login_required": 50058, "interaction_required": 50076,
    "invalid_request": 900144, "unauthorized_client": 700016, "invalid_resource": 500011,
    "unsupported_response_type": 700054, "invalid_tenant": 90002,
    "temporarily_unavailable": 90033, "server_error": 50000,
}
_STATUS_FOR_ERROR = {"invalid_client": 401, "server_error": 500, "temporarily_unavailable": 503}


def default_aadsts(error: str) -> int:
    return _DEFAULT_AADSTS.get(error, 50000)


def status_for_error(error: str) -> int:
    """Azure answers 401 for client authentication failures and 400 for the rest."""
    return _STATUS_FOR_ERROR.get(error, 400)


@dataclass(frozen=True, slots=True, kw_only=True)
class AadError:
    """An OAuth error: ``error`` code, the AADSTS number and its human sentence."""

    error: str
    aadsts: int
    message: str = ""
    status: int = 0
    suberror: str | None = None

    def __post_init__(self) -> None:
        if not self.message:
            object.__setattr__(
                self, "message", AADSTS_MESSAGES.get(self.aadsts, "Emulated error.")
            )
        if not self.status:
            object.__setattr__(self, "status", status_for_error(self.error))


class OAuthFailure(Exception):
    """Raised inside a handler to answer with ``error``."""

    def __init__(self, error: AadError) -> None:
        super().__init__(f"AADSTS{error.aadsts}")
        self.error = error


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


@dataclass(frozen=True, slots=True, kw_only=True)
class Diag:
    """Per-request diagnostics: trace id, correlation id, the time, the echo rules."""

    trace_id: str
    correlation_id: str
    client_request_id: str | None
    return_client_request_id: bool
    now: float

    @classmethod
    def for_request(cls, request: Request, now: float) -> Diag:
        sent = request.headers.get("client-request-id")
        echo = request.headers.get("return-client-request-id", "").lower() == "true"
        return cls(
            trace_id=str(uuid.uuid4()),
            correlation_id=sent if sent and _is_guid(sent) else str(uuid.uuid4()),
            client_request_id=sent,
            return_client_request_id=echo,
            now=now,
        )

    @property
    def timestamp(self) -> str:
        """Azure's ``2024-01-31 12:34:56Z`` form."""
        moment = datetime.datetime.fromtimestamp(self.now, datetime.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%SZ")

    def describe(self, error: AadError) -> str:
        return (
            f"AADSTS{error.aadsts}: {error.message}\r\nTrace ID: {self.trace_id}\r\n"
            f"Correlation ID: {self.correlation_id}\r\nTimestamp: {self.timestamp}"
        )

    def oauth_headers(self) -> dict[str, str]:
        headers = {"x-ms-request-id": self.trace_id}
        if self.return_client_request_id and self.client_request_id is not None:
            headers["client-request-id"] = self.client_request_id
        return headers


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None,
    *, mimetype: str = "application/json; charset=utf-8",
) -> Response:
    response = Response(
        json.dumps(body, separators=(",", ":")), status=status, content_type=mimetype
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def oauth_error_response(
    error: AadError, diag: Diag, *, retry_after: str | None = None
) -> Response:
    body = {
        "error": error.error,
        "error_description": diag.describe(error),
        "error_codes": [error.aadsts],
        "timestamp": diag.timestamp,
        "trace_id": diag.trace_id,
        "correlation_id": diag.correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.aadsts}",
    }
    if error.suberror is not None:  # e.g. consent_required with AADSTS65001
        body["suberror"] = error.suberror
    headers = {**diag.oauth_headers(), "Cache-Control": "no-store, no-cache",
               "Pragma": "no-cache"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return json_response(body, error.status, headers)


_GRAPH_STATUS = {
    "InvalidAuthenticationToken": 401, "Authorization_RequestDenied": 403,
    "ErrorAccessDenied": 403, "Request_ResourceNotFound": 404, "Request_BadRequest": 400, "TooManyRequests": 429,
    "activityLimitReached": 429, "generalException": 500, "serviceNotAvailable": 503,
    "UnknownError": 500,
}
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def graph_status(code: str) -> int:
    return _GRAPH_STATUS.get(code, 400)


def graph_error_response(
    code: str, message: str, diag: Diag, *, base_url: str, status: int | None = None,
    retry_after: str | None = None,
) -> Response:
    """Graph's error envelope; a 401 carries the ``WWW-Authenticate`` challenge that
    names the authority and Graph's own app id."""
    status = status or graph_status(code)
    moment = datetime.datetime.fromtimestamp(diag.now, datetime.UTC)
    client_request_id = diag.client_request_id or diag.trace_id
    body = {"error": {"code": code, "message": message, "innerError": {
        "date": moment.strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": diag.trace_id,
        "client-request-id": client_request_id,
    }}}
    headers = {"request-id": diag.trace_id, "client-request-id": client_request_id,
               "Cache-Control": "private"}
    if status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer realm="", authorization_uri="{base_url}/common/oauth2/authorize", '
            f'client_id="{GRAPH_APP_ID}"'
        )
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return json_response(body, status, headers)
