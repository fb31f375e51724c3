"""The token endpoint: redeem a code (RFC 6749 4.1.3), refresh (RFC 6749 6), read the answer (5.1, 5.2).

``POST {authority}/oauth2/token``, form-encoded, with one client credential: the secret in the
form (``client_secret_post``, RFC 6749 2.3.1) or a certificate-signed ``client_assertion``
(RFC 7523), as ``AADWEB_CLIENT_SECRET`` or ``AADWEB_CLIENT_CERTIFICATE`` says. Every secret in
the described request stays a :class:`Secret`, so printing or recording the request shows
fingerprints; the transport reveals them when it sends.

Reading the answer, decisions:

- v1 sends numbers as JSON strings (``"expires_in": "3599"``); both forms are accepted.
- ``expires_on`` is computed as ``now + expires_in`` with *our* clock. The server's own
  ``expires_on`` is an absolute time on *its* clock, which may disagree with ours, so it is
  ignored whenever ``expires_in`` is there.
- RFC 6749 5.1 only RECOMMENDS ``expires_in``. Without it the server's ``expires_on`` (epoch
  seconds) is used as it is (clocks may disagree; a token that expires earlier than we think
  gets a Graph 401, which refreshes once); without either, the token is assumed to live
  :data:`DEFAULT_EXPIRES_IN` seconds (10 minutes): short, so the next refresh comes soon
  (the access token is refreshed 5 minutes before it is thought to expire), but not so short
  that every Graph call would refresh first.
- Only ``token_type`` Bearer is usable (RFC 6749 7.1): anything else is refused.
- A redirect is never followed (no transport follows it either) and is refused.
- Error bodies: see :func:`aadweb.protocol.aadsts.error_from_response` (AuthorityError for an
  OAuth error body or a 5xx, InvalidResponse for a 4xx without one).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

from aadweb.errors import InvalidResponse
from aadweb.protocol.aadsts import error_from_response
from aadweb.protocol.client_assertion import CLIENT_ASSERTION_TYPE, ClientCertificate, build_client_assertion
from aadweb.protocol.endpoint import V1_PUBLIC, Endpoint
from aadweb.protocol.http import B64TOKEN, FormValue, HttpRequest, HttpResponse, client_request_id_headers
from aadweb.protocol.jws import MAX_TOKEN_BYTES
from aadweb.protocol.metadata import is_secure_url
from aadweb.protocol.pkce import check_verifier
from aadweb.secret import Secret

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "MAX_EXPIRES_IN",
    "ClientAssertionCredential",
    "ClientCredential",
    "ClientSecretPost",
    "TokenResponse",
    "build_code_redemption",
    "build_refresh",
    "parse_token_response",
    "token_endpoint_url",
]

#: Access tokens live about an hour; a year is never a sane answer.
MAX_EXPIRES_IN: Final = 366 * 24 * 3600
#: The lifetime assumed when the answer has neither ``expires_in`` nor ``expires_on`` (RFC 6749
#: 5.1: "If omitted, the authorization server SHOULD ... document the default value"; Azure AD
#: always sends both). Short on purpose: a wrong guess costs one early refresh, not a dead token.
DEFAULT_EXPIRES_IN: Final = 600.0
MAX_TOKEN: Final = 64 * 1024
MAX_ID_TOKEN: Final = MAX_TOKEN_BYTES  # the same cap the id_token validator applies
_WHAT: Final = "token response"
_NUMBER: Final = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")


# --- client credentials --------------------------------------------------------------------


def _check_secret(secret: Secret) -> None:
    if not isinstance(secret, Secret) or not secret:
        raise ValueError("the client secret must be a non-empty Secret")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecretPost:
    """``client_secret`` in the form body (RFC 6749 2.3.1)."""

    secret: Secret

    def __post_init__(self) -> None:
        _check_secret(self.secret)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientAssertionCredential:
    """A certificate-signed JWT ``client_assertion`` (RFC 7523 2.2)."""

    certificate: ClientCertificate

    def __post_init__(self) -> None:
        if not isinstance(self.certificate, ClientCertificate):
            raise ValueError("certificate must be a ClientCertificate")


ClientCredential = ClientSecretPost | ClientAssertionCredential


def token_endpoint_url(authority_url: str, endpoint: Endpoint = V1_PUBLIC) -> str:
    """``{authority_url}/oauth2/token`` (v2.0: ``/oauth2/v2.0/token``) of ``{host}/{tenant}``."""
    return endpoint.url(authority_url, endpoint.token_path)


def _token_request(
    *,
    token_endpoint: str,
    client_id: str,
    form: dict[str, FormValue],
    credential: ClientCredential,
    now: float,
    jti: str,
    client_request_id: str,
    leg: str,
) -> HttpRequest:
    if not client_id:
        raise ValueError("client_id must not be empty")
    # RFC 6749 3.2: the token endpoint MUST be TLS (plain http only on loopback, for the emulator)
    if not is_secure_url(token_endpoint):
        raise ValueError("token_endpoint must be an https URL (http only on a loopback host)")
    headers: dict[str, FormValue] = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        **client_request_id_headers(client_request_id),
    }
    # RFC 6749 2.3: the client MUST NOT use more than one authentication method per request
    if isinstance(credential, ClientSecretPost):
        form["client_secret"] = credential.secret
    elif isinstance(credential, ClientAssertionCredential):
        form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        form["client_assertion"] = build_client_assertion(
            certificate=credential.certificate,
            client_id=client_id,
            token_endpoint=token_endpoint,
            now=now,
            jti=jti,
        )
    else:  # pragma: no cover - the type checker sees every case above
        raise TypeError("unknown client credential")
    return HttpRequest(method="POST", url=token_endpoint, headers=headers, form=form, leg=leg)


def _non_empty(name: str, value: str | Secret) -> None:
    if not value:
        raise ValueError(f"{name} must not be empty")


def build_code_redemption(
    *,
    token_endpoint: str,
    client_id: str,
    code: Secret,
    redirect_uri: str,
    resource: str,
    code_verifier: Secret,
    credential: ClientCredential,
    now: float,
    jti: str,
    client_request_id: str,
    endpoint: Endpoint = V1_PUBLIC,
) -> HttpRequest:
    """The authorization-code grant (RFC 6749 4.1.3, RFC 7636 4.5). ``resource`` is the target:
    v1's resource, or v2.0's scopes (sent as ``scope``, with the OIDC scopes)."""
    _non_empty("code", code)
    _non_empty("resource", resource)
    # RFC 6749 4.1.3: redirect_uri is REQUIRED when it was in the authorization request (always here)
    _non_empty("redirect_uri", redirect_uri)
    # RFC 7636 4.5: the verifier is sent as it was created (43-128 unreserved characters)
    check_verifier(code_verifier)
    form: dict[str, FormValue] = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": redirect_uri,
        **endpoint.token_params(resource),
        "code_verifier": code_verifier,
    }
    return _token_request(
        token_endpoint=token_endpoint,
        client_id=client_id,
        form=form,
        credential=credential,
        now=now,
        jti=jti,
        client_request_id=client_request_id,
        leg="token",
    )


def build_refresh(
    *,
    token_endpoint: str,
    client_id: str,
    refresh_token: Secret,
    resource: str,
    credential: ClientCredential,
    now: float,
    jti: str,
    client_request_id: str,
    endpoint: Endpoint = V1_PUBLIC,
) -> HttpRequest:
    """The refresh-token grant (RFC 6749 6); v1 names the ``resource`` wanted, v2.0 the
    ``scope`` (RFC 6749 6: scope; Azure: the scopes of one resource)."""
    _non_empty("refresh_token", refresh_token)
    _non_empty("resource", resource)
    form: dict[str, FormValue] = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "refresh_token": refresh_token,
        **endpoint.token_params(resource),
    }
    return _token_request(
        token_endpoint=token_endpoint,
        client_id=client_id,
        form=form,
        credential=credential,
        now=now,
        jti=jti,
        client_request_id=client_request_id,
        leg="refresh",
    )


# --- the answer ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenResponse:
    """A successful token response; ``expires_on`` is on the caller's clock."""

    token_type: str
    access_token: Secret
    refresh_token: Secret | None
    expires_on: float
    not_before: float | None
    resource: str | None
    scope: str | None
    id_token: Secret | None

    def __post_init__(self) -> None:
        if self.token_type != "Bearer":
            raise ValueError("token_type must be Bearer")
        if not isinstance(self.access_token, Secret) or not self.access_token:
            raise ValueError("access_token must be a non-empty Secret")
        if not math.isfinite(self.expires_on):
            raise ValueError("expires_on must be finite")
        if self.not_before is not None and not math.isfinite(self.not_before):
            raise ValueError("not_before must be finite")


def _number(body: dict[str, Any], name: str) -> float | None:
    """A JSON number or a v1 numeric string; None when absent. Finite and non-negative."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidResponse(f"{_WHAT}: {name} is not a number")
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            raise InvalidResponse(f"{_WHAT}: {name} is not a number")
        number = float(value)
    elif isinstance(value, int):
        if not 0 <= value <= 10**15:
            raise InvalidResponse(f"{_WHAT}: {name} is not a finite, non-negative number")
        number = float(value)
    elif isinstance(value, float):
        number = value
    else:
        raise InvalidResponse(f"{_WHAT}: {name} is not a number")
    # json.loads reads 1e400 as inf and accepts NaN / Infinity literals
    if not math.isfinite(number) or number < 0:
        raise InvalidResponse(f"{_WHAT}: {name} is not a finite, non-negative number")
    return number


def _string(body: dict[str, Any], name: str, *, limit: int) -> str | None:
    """An optional string field; an empty string counts as absent."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidResponse(f"{_WHAT}: {name} is not a string")
    if len(value) > limit:
        raise InvalidResponse(f"{_WHAT}: {name} is longer than {limit} characters")
    return value or None


def _expires_on(body: dict[str, Any], now: float) -> float:
    """When the access token expires, on the caller's clock (see the module docstring)."""
    # RFC 6749 5.1: expires_in is RECOMMENDED, not REQUIRED; when absent, the server's
    # expires_on (Azure AD v1), else a short documented default.
    expires_in = _number(body, "expires_in")
    if expires_in is not None:
        if expires_in > MAX_EXPIRES_IN:
            raise InvalidResponse(f"{_WHAT}: expires_in is more than a year")
        return now + expires_in
    expires_on = _number(body, "expires_on")
    if expires_on is not None:
        if expires_on > now + MAX_EXPIRES_IN:
            raise InvalidResponse(f"{_WHAT}: expires_on is more than a year ahead")
        return expires_on
    return now + DEFAULT_EXPIRES_IN


def parse_token_response(resp: HttpResponse, *, now: float) -> TokenResponse:
    """The tokens of a 200 answer, or AuthorityError / InvalidResponse."""
    if not math.isfinite(now):
        raise ValueError("now must be finite")
    if 300 <= resp.status <= 399:
        raise InvalidResponse("the token endpoint answered with a redirect, which is never followed")
    if resp.status != 200:
        if 200 <= resp.status <= 299 or resp.status < 200:
            # RFC 6749 5.1: a successful token response is 200 OK
            raise InvalidResponse(f"{_WHAT}: HTTP {resp.status} instead of 200 (RFC 6749 5.1)")
        raise error_from_response(resp, what="token endpoint", now=now)
    body = resp.json_object(_WHAT)

    token_type = _string(body, "token_type", limit=64)
    # RFC 6749 5.1: token_type is REQUIRED; 7.1: a client MUST NOT use a token type it does not understand
    if token_type is None:
        raise InvalidResponse(f"{_WHAT}: token_type is missing (RFC 6749 5.1)")
    if token_type.lower() != "bearer":
        raise InvalidResponse(f"{_WHAT}: token_type is not Bearer (RFC 6749 7.1)")

    access_token = _string(body, "access_token", limit=MAX_TOKEN)
    # RFC 6749 5.1: access_token is REQUIRED
    if access_token is None:
        raise InvalidResponse(f"{_WHAT}: access_token is missing (RFC 6749 5.1)")
    # RFC 6750 2.1: a Bearer token must fit the Authorization header's b64token syntax, or
    # every later Graph call would fail; refuse it here, before a session is created.
    if not B64TOKEN.fullmatch(access_token):
        raise InvalidResponse(f"{_WHAT}: access_token is not a valid bearer token (RFC 6750 2.1)")

    expires_on = _expires_on(body, now)

    refresh_token = _string(body, "refresh_token", limit=MAX_TOKEN)
    id_token = _string(body, "id_token", limit=MAX_ID_TOKEN)
    return TokenResponse(
        token_type="Bearer",
        access_token=Secret("access_token", access_token),
        refresh_token=None if refresh_token is None else Secret("refresh_token", refresh_token),
        expires_on=expires_on,
        not_before=_number(body, "not_before"),
        resource=_string(body, "resource", limit=2048),
        scope=_string(body, "scope", limit=8192),
        id_token=None if id_token is None else Secret("id_token", id_token),
    )
