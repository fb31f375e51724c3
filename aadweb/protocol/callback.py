"""The authorization response: what the authority sends back to ``/getAToken``.

RFC 6749 4.1.2 (code), 4.1.2.1 (error) and OIDC Core 3.3.2.5 (hybrid ``code id_token``). The
fields arrive in the query string (``response_mode=query``) or a form POST (``form_post``);
either way the input is every value of every field, ``Mapping[str, Sequence[str]]`` (e.g.
Werkzeug's ``MultiDict.to_dict(flat=False)``), so a repeated field can be seen and refused.

Order of work for the web layer: :func:`callback_state` first (look up the pending sign-in by
it and refuse a state this browser did not start), then :func:`parse_callback`.

Decisions:

- An ``error`` answer wins over everything else: it becomes :class:`AuthorizationError` with
  the AADSTS codes, trace id and correlation id read from the description (the authorize
  redirect has no ``error_codes`` field).
- In the ``code`` flow an ``id_token`` in the callback is not expected and is **ignored**
  (``id_token=None``): the only id_token of that flow comes from the token endpoint, and an
  unexpected one must not be mistaken for a validated one.
- Unknown fields are ignored, but no field may appear twice (RFC 6749 3.1).
- RFC 9207: an ``iss`` parameter, when the response carries one (success or error), must be
  one of the expected issuers (:func:`check_response_issuer`); the caller checks it before
  it shows an error or redeems a code. Azure AD does not send it today; absent, nothing is
  checked (RFC 9207 2.4: only an authority that advertises it must be held to it).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aadweb.errors import AuthorizationError, CallbackError, ResponseIssuerMismatch, Verdict
from aadweb.protocol.aadsts import (
    clean_text,
    codes_in_description,
    correlation_id_in_description,
    is_valid_error_code,
    trace_id_in_description,
)
from aadweb.protocol.authorize import MAX_STATE, is_valid_state, response_mode_for
from aadweb.protocol.http import VSCHAR
from aadweb.protocol.jws import MAX_TOKEN_BYTES
from aadweb.secret import Secret

__all__ = [
    "MAX_CODE",
    "MAX_ID_TOKEN",
    "RESPONSE_ISSUER_REFERENCE",
    "AuthorizationResponse",
    "CallbackParams",
    "callback_error",
    "callback_issuer",
    "callback_state",
    "check_response_issuer",
    "parse_callback",
]

#: Azure AD codes are about 1 KB; anything near this is not a code.
MAX_CODE: Final = 8 * 1024
MAX_ID_TOKEN: Final = MAX_TOKEN_BYTES  # the same cap the id_token validator applies
MAX_SESSION_STATE: Final = 512

CallbackParams = Mapping[str, Sequence[str]]

# RFC 6749 Appendix A.11: code = 1*VSCHAR
# RFC 7515 7.1 compact serialisation: base64url segments joined by dots (checked strictly later)
_COMPACT: Final = re.compile(r"[A-Za-z0-9_.-]+")


def _values(params: CallbackParams, name: str) -> Sequence[str]:
    values = params.get(name, ())
    if isinstance(values, str):
        raise TypeError("callback params map each field to a sequence of values (e.g. MultiDict.to_dict(flat=False))")
    return values


def _single(params: CallbackParams, name: str) -> str | None:
    """The one value of ``name``; None when absent. A repeated field is refused."""
    values = _values(params, name)
    if len(values) > 1:
        # RFC 6749 3.1: parameters MUST NOT be included more than once
        raise CallbackError(f"the callback repeats the field {name!r} (RFC 6749 3.1)")
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str):
        raise TypeError(f"callback field {name!r} must hold strings")
    return value


def callback_state(params: CallbackParams) -> str:
    """The callback's ``state``, checked for shape only; the caller looks it up before anything else."""
    state = _single(params, "state")
    # RFC 6749 4.1.2 / 4.1.2.1: state is REQUIRED if it was in the request, and this client always sends it
    if state is None:
        raise CallbackError("the callback carries no state (RFC 6749 4.1.2)")
    if not state:
        raise CallbackError("the callback's state is empty (RFC 6749 4.1.2)")
    if len(state) > MAX_STATE:
        raise CallbackError(f"the callback's state is longer than {MAX_STATE} characters")
    # RFC 6749 Appendix A.5: state = 1*VSCHAR
    if not is_valid_state(state):
        raise CallbackError("the callback's state has characters outside printable ASCII (RFC 6749 A.5)")
    return state


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationResponse:
    """A successful authorization response. ``id_token`` is set only in the hybrid flow."""

    code: Secret
    state: str
    session_state: str | None
    id_token: Secret | None

    def __post_init__(self) -> None:
        if not isinstance(self.code, Secret) or not self.code:
            raise ValueError("code must be a non-empty Secret")
        if not is_valid_state(self.state):
            raise ValueError("state must be 1 to 512 printable ASCII characters")
        if self.id_token is not None and (not isinstance(self.id_token, Secret) or not self.id_token):
            raise ValueError("id_token must be a non-empty Secret or None")


def _refuse_repeats(params: CallbackParams) -> None:
    for name in params:
        _single(params, name)


def _authorization_error(params: CallbackParams, error: str) -> AuthorizationError | CallbackError:
    # RFC 6749 4.1.2.1: error = 1*( %x20-21 / %x23-5B / %x5D-7E )
    if not is_valid_error_code(error):
        return CallbackError("the callback's error value is empty or has characters outside RFC 6749 4.1.2.1")
    raw = _single(params, "error_description") or ""
    raw = raw[: 4 * 4096]  # bound the regex work on hostile input
    return AuthorizationError(
        error,
        description=clean_text(raw),
        error_codes=codes_in_description(raw),
        trace_id=trace_id_in_description(raw),
        correlation_id=correlation_id_in_description(raw),
    )


RESPONSE_ISSUER_REFERENCE: Final = "RFC 9207 2.4: the authorization response's iss is the expected issuer"


def callback_issuer(params: CallbackParams) -> str | None:
    """The authorization response's ``iss`` parameter (RFC 9207 2); None when it has none."""
    return _single(params, "iss")


def check_response_issuer(issuer: str, *, expected: Collection[str]) -> Verdict:
    """RFC 9207 2.4: a response that names its issuer must name one we expect, compared as
    exact strings (RFC 3986 6.2.1 simple string comparison), else ResponseIssuerMismatch (401).

    Checked before anything is done with the response: an error is not shown as the
    authority's, a code is not redeemed. The value is never put in a message.
    """
    if not expected:
        raise ValueError("expected must name at least one issuer")
    if issuer not in expected:
        mismatch = ResponseIssuerMismatch("the authorization response names another issuer (RFC 9207)")
        mismatch.verdicts = (Verdict("response_iss", False, RESPONSE_ISSUER_REFERENCE, str(mismatch)),)
        raise mismatch
    return Verdict("response_iss", True, RESPONSE_ISSUER_REFERENCE)


def callback_error(params: CallbackParams) -> AuthorizationError | CallbackError | None:
    """The error answer (RFC 6749 4.1.2.1) ``params`` carry, or None when they carry none.

    Only ``error`` and ``error_description`` are read: for a hybrid-flow answer that arrives by
    GET although ``form_post`` was asked (Azure AD sends some errors that way), where a
    ``code`` or ``id_token`` in the query must not be taken as a callback.
    """
    error = _single(params, "error")
    return None if error is None else _authorization_error(params, error)


def parse_callback(params: CallbackParams, *, response_type: str) -> AuthorizationResponse:
    """The authorization response as a value, or CallbackError / AuthorizationError."""
    response_mode_for(response_type)  # ValueError on an unknown response_type: a caller bug
    _refuse_repeats(params)
    state = callback_state(params)
    error = _single(params, "error")
    if error is not None:
        raise _authorization_error(params, error)

    code = _single(params, "code")
    # RFC 6749 4.1.2: code is REQUIRED
    if not code:
        raise CallbackError("the callback carries no authorization code (RFC 6749 4.1.2)")
    if len(code) > MAX_CODE:
        raise CallbackError(f"the callback's code is longer than {MAX_CODE} characters")
    # RFC 6749 Appendix A.11: code = 1*VSCHAR
    if not VSCHAR.fullmatch(code):
        raise CallbackError("the callback's code has characters outside printable ASCII (RFC 6749 A.11)")

    session_state = _single(params, "session_state") or None
    if session_state is not None and (len(session_state) > MAX_SESSION_STATE or not VSCHAR.fullmatch(session_state)):
        raise CallbackError("the callback's session_state is malformed")

    id_token: Secret | None = None
    if response_type == "code id_token":
        raw_token = _single(params, "id_token")
        # OIDC Core 3.3.2.5: with response_type "code id_token" the id_token is REQUIRED
        if not raw_token:
            raise CallbackError("the hybrid-flow callback carries no id_token (OIDC Core 3.3.2.5)")
        if len(raw_token) > MAX_ID_TOKEN:
            raise CallbackError(f"the callback's id_token is longer than {MAX_ID_TOKEN} characters")
        if not _COMPACT.fullmatch(raw_token):
            raise CallbackError("the callback's id_token is not a compact JWS")
        id_token = Secret("id_token", raw_token)
    # response_type "code": an id_token here is not part of the flow and is ignored on purpose.

    return AuthorizationResponse(
        code=Secret("code", code),
        state=state,
        session_state=session_state,
        id_token=id_token,
    )
