"""The authorization response: what the authority sends back to ``/getAToken``.

RFC 6749 4.1.2 (code), 4.1.2.1 (error) and OIDC Core 3.3.2.5 (hybrid ``code id_token``). The
fields arrive in the query string (``response_mode=query``) or a form POST (``form_post``);
either way the input is every value of every field, ``Mapping[str, Sequence[str]]`` (e.g.
Werkzeug's ``MultiDict.to_dict(flat=False)``), so a repeated field can be seen and refused.

The callback is read once, where it arrives: :func:`read_callback` turns every value of every
field into a :class:`Callback` (each field's one value, the names of repeated fields, and a
``state`` checked for shape). The caller looks the pending sign-in up by ``callback.state`` and
refuses a state this browser did not start; only then does :func:`parse_callback` read the rest.
A ``form_post`` callback is kept (``Callback.fields_once()``) until the browser comes back, and
becomes a ``Callback`` again with :meth:`Callback.from_stash`.

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
from types import MappingProxyType
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
    "Callback",
    "CallbackParams",
    "callback_error",
    "callback_issuer",
    "check_response_issuer",
    "parse_callback",
    "read_callback",
]

#: Azure AD codes are about 1 KB; anything near this is not a code.
MAX_CODE: Final = 8 * 1024
MAX_ID_TOKEN: Final = MAX_TOKEN_BYTES  # the same cap the id_token validator applies
MAX_SESSION_STATE: Final = 512

CallbackParams = Mapping[str, Sequence[str]]

# RFC 6749 Appendix A.11: code = 1*VSCHAR
# RFC 7515 7.1 compact serialisation: base64url segments joined by dots (checked strictly later)
_COMPACT: Final = re.compile(r"[A-Za-z0-9_.-]+")


def _state_problem(fields: Mapping[str, str], repeated: Sequence[str]) -> str | None:
    if "state" in repeated:
        # RFC 6749 3.1: parameters MUST NOT be included more than once
        return "the callback repeats the field 'state' (RFC 6749 3.1)"
    state = fields.get("state")
    # RFC 6749 4.1.2 / 4.1.2.1: state is REQUIRED if it was in the request, and this client always sends it
    if state is None:
        return "the callback carries no state (RFC 6749 4.1.2)"
    if not state:
        return "the callback's state is empty (RFC 6749 4.1.2)"
    if len(state) > MAX_STATE:
        return f"the callback's state is longer than {MAX_STATE} characters"
    # RFC 6749 Appendix A.5: state = 1*VSCHAR
    if not is_valid_state(state):
        return "the callback's state has characters outside printable ASCII (RFC 6749 A.5)"
    return None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Callback:
    """The authority's answer as it arrived, read once: each field's one value (``fields``), the
    names of fields that came more than once (``repeated``), and a ``state`` of the right shape.

    Building one refuses a missing, repeated or malformed ``state`` (:class:`CallbackError`), so
    a ``Callback`` always names the sign-in it claims to answer; everything else is judged by
    :func:`parse_callback`. The fields may hold a code and an id_token: never in the ``repr``.
    """

    fields: Mapping[str, str]
    repeated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        problem = _state_problem(self.fields, self.repeated)
        if problem is not None:
            raise CallbackError(problem)

    @property
    def state(self) -> str:
        return self.fields["state"]

    @classmethod
    def from_stash(cls, fields: Mapping[str, str]) -> Callback:
        """A callback kept by :meth:`fields_once` (one value each), as it was read."""
        return cls(fields=fields)

    def fields_once(self) -> Mapping[str, str]:
        """Every field's one value; :class:`CallbackError` when one came more than once."""
        if self.repeated:
            # RFC 6749 3.1: request and response parameters MUST NOT be included more than once
            raise CallbackError(f"the callback repeats the field {self.repeated[0][:40]!r} (RFC 6749 3.1)")
        return self.fields

    def __repr__(self) -> str:
        return f"Callback(<{len(self.fields)} fields>, repeated={len(self.repeated)})"


def read_callback(params: CallbackParams) -> Callback:
    """Read every value of every field once; refuse a missing, repeated or malformed ``state``."""
    fields: dict[str, str] = {}
    repeated: list[str] = []
    for name, values in params.items():
        if isinstance(values, str):
            raise TypeError("callback params map each field to a sequence of values (MultiDict.to_dict(flat=False))")
        if not all(isinstance(value, str) for value in values):
            raise TypeError(f"callback field {name[:40]!r} must hold strings")
        if len(values) > 1:
            repeated.append(name)
        elif values:
            fields[name] = values[0]
    return Callback(fields=fields, repeated=tuple(repeated))


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


def _authorization_error(fields: Mapping[str, str], error: str) -> AuthorizationError | CallbackError:
    # RFC 6749 4.1.2.1: error = 1*( %x20-21 / %x23-5B / %x5D-7E )
    if not is_valid_error_code(error):
        return CallbackError("the callback's error value is empty or has characters outside RFC 6749 4.1.2.1")
    raw = fields.get("error_description") or ""
    raw = raw[: 4 * 4096]  # bound the regex work on hostile input
    return AuthorizationError(
        error,
        description=clean_text(raw),
        error_codes=codes_in_description(raw),
        trace_id=trace_id_in_description(raw),
        correlation_id=correlation_id_in_description(raw),
    )


RESPONSE_ISSUER_REFERENCE: Final = "RFC 9207 2.4: the authorization response's iss is the expected issuer"


def _one(callback: Callback, name: str) -> str | None:
    if name in callback.repeated:
        # RFC 6749 3.1: request and response parameters MUST NOT be included more than once
        raise CallbackError(f"the callback repeats the field {name!r} (RFC 6749 3.1)")
    return callback.fields.get(name)


def callback_issuer(callback: Callback) -> str | None:
    """The authorization response's ``iss`` parameter (RFC 9207 2); None when it has none."""
    return _one(callback, "iss")


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


def callback_error(callback: Callback) -> AuthorizationError | CallbackError | None:
    """The error answer (RFC 6749 4.1.2.1) ``callback`` carries, or None when it carries none.

    Only ``error`` and ``error_description`` are read: for a hybrid-flow answer that arrives by
    GET although ``form_post`` was asked (Azure AD sends some errors that way), where a
    ``code`` or ``id_token`` in the query must not be taken as a callback.
    """
    error = _one(callback, "error")
    if error is None:
        return None
    description = _one(callback, "error_description")
    return _authorization_error({} if description is None else {"error_description": description}, error)


def parse_callback(callback: Callback, *, response_type: str) -> AuthorizationResponse:
    """The authorization response as a value, or CallbackError / AuthorizationError."""
    response_mode_for(response_type)  # ValueError on an unknown response_type: a caller bug
    fields = callback.fields_once()
    error = fields.get("error")
    if error is not None:
        raise _authorization_error(fields, error)

    code = fields.get("code")
    # RFC 6749 4.1.2: code is REQUIRED
    if not code:
        raise CallbackError("the callback carries no authorization code (RFC 6749 4.1.2)")
    if len(code) > MAX_CODE:
        raise CallbackError(f"the callback's code is longer than {MAX_CODE} characters")
    # RFC 6749 Appendix A.11: code = 1*VSCHAR
    if not VSCHAR.fullmatch(code):
        raise CallbackError("the callback's code has characters outside printable ASCII (RFC 6749 A.11)")

    session_state = fields.get("session_state") or None
    if session_state is not None and (len(session_state) > MAX_SESSION_STATE or not VSCHAR.fullmatch(session_state)):
        raise CallbackError("the callback's session_state is malformed")

    id_token: Secret | None = None
    if response_type == "code id_token":
        raw_token = fields.get("id_token")
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
        state=callback.state,
        session_state=session_state,
        id_token=id_token,
    )
