"""The token endpoint: redeem a code (RFC 6749 4.1.3), refresh (RFC 6749 6), read the answer (5.1, 5.2).

``POST {authority}/oauth2/token``, form-encoded, with one client credential: the secret in the
form (``client_secret_post``), the secret in an ``Authorization: Basic`` header
(``client_secret_basic``, RFC 6749 2.3.1), or a certificate-signed ``client_assertion``
(RFC 7523). Every secret in the described request stays a :class:`Secret`, so printing or
recording the request shows fingerprints; the wire layer reveals them when it sends.

Reading the answer, decisions:

- v1 sends numbers as JSON strings (``"expires_in": "3599"``); both forms are accepted.
- ``expires_on`` is computed as ``now + expires_in`` with *our* clock. The server's own
  ``expires_on`` is an absolute time on *its* clock, which may disagree with ours, so it is
  ignored.
- Only ``token_type`` Bearer is usable (RFC 6749 7.1): anything else is refused.
- A redirect is never followed (the wire layer does not follow it either) and is refused.
- Error bodies: see :func:`aadweb.protocol.aadsts.error_from_response` (AuthorityError for an
  OAuth error body or a 5xx, InvalidResponse for a 4xx without one).
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote_plus

from aadweb.errors import InvalidResponse
from aadweb.protocol.aadsts import error_from_response
from aadweb.protocol.client_assertion import CLIENT_ASSERTION_TYPE, build_client_assertion
from aadweb.protocol.http import B64TOKEN, HEADER_SAFE, FormValue, HttpRequest, HttpResponse
from aadweb.protocol.jws import MAX_TOKEN_BYTES
from aadweb.protocol.metadata import is_secure_url
from aadweb.protocol.pkce import check_verifier
from aadweb.secret import Secret
from aadweb.settings import ClientCertificate

__all__ = [
    "MAX_EXPIRES_IN",
    "ClientAssertionCredential",
    "ClientCredential",
    "ClientSecretBasic",
    "ClientSecretPost",
    "TokenResponse",
    "basic_authorization",
    "build_code_redemption",
    "build_refresh",
    "parse_token_response",
    "token_endpoint_url",
]

#: Access tokens live about an hour; a year is never a sane answer.
MAX_EXPIRES_IN: Final = 366 * 24 * 3600
MAX_TOKEN: Final = 64 * 1024
MAX_ID_TOKEN: Final = MAX_TOKEN_BYTES  # the same cap the id_token validator applies
_WHAT: Final = "token response"
_NUMBER: Final = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?")
# RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="


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
class ClientSecretBasic:
    """HTTP Basic with the form-urlencoded client id and secret (RFC 6749 2.3.1)."""

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


ClientCredential = ClientSecretPost | ClientSecretBasic | ClientAssertionCredential


def basic_authorization(client_id: str, secret: Secret) -> Secret:
    """``Basic base64(urlencode(id) ":" urlencode(secret))`` as a Secret header value."""
    # RFC 6749 2.3.1: id and secret are encoded with application/x-www-form-urlencoded
    # (Appendix B) before they are used as the Basic user name and password
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(secret.reveal(), safe='')}"
    return Secret("authorization", "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii"))


def token_endpoint_url(authority_url: str) -> str:
    """``{authority_url}/oauth2/token``: the v1 token endpoint of ``{host}/{tenant}``."""
    return f"{authority_url.rstrip('/')}/oauth2/token"


def _token_request(
    *,
    token_endpoint: str,
    client_id: str,
    form: dict[str, FormValue],
    credential: ClientCredential,
    now: float,
    jti: str,
    client_request_id: str | None,
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
    }
    if client_request_id is not None:
        if not HEADER_SAFE.fullmatch(client_request_id):
            raise ValueError("client_request_id must be 1 to 128 visible ASCII characters")
        headers["client-request-id"] = client_request_id
        headers["return-client-request-id"] = "true"
    # RFC 6749 2.3: the client MUST NOT use more than one authentication method per request
    if isinstance(credential, ClientSecretPost):
        form["client_secret"] = credential.secret
    elif isinstance(credential, ClientSecretBasic):
        headers["Authorization"] = basic_authorization(client_id, credential.secret)
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
    client_request_id: str | None = None,
) -> HttpRequest:
    """The authorization-code grant (RFC 6749 4.1.3, RFC 7636 4.5)."""
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
        "resource": resource,
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
    client_request_id: str | None = None,
) -> HttpRequest:
    """The refresh-token grant (RFC 6749 6); v1 names the ``resource`` wanted."""
    _non_empty("refresh_token", refresh_token)
    _non_empty("resource", resource)
    form: dict[str, FormValue] = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "refresh_token": refresh_token,
        "resource": resource,
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
        raise error_from_response(resp, what="token endpoint")
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

    expires_in = _number(body, "expires_in")
    # RFC 6749 5.1 makes expires_in RECOMMENDED; Azure AD always sends it and we need it to refresh
    if expires_in is None:
        raise InvalidResponse(f"{_WHAT}: expires_in is missing")
    if expires_in > MAX_EXPIRES_IN:
        raise InvalidResponse(f"{_WHAT}: expires_in is more than a year")

    refresh_token = _string(body, "refresh_token", limit=MAX_TOKEN)
    id_token = _string(body, "id_token", limit=MAX_ID_TOKEN)
    return TokenResponse(
        token_type="Bearer",
        access_token=Secret("access_token", access_token),
        refresh_token=None if refresh_token is None else Secret("refresh_token", refresh_token),
        expires_on=now + expires_in,
        not_before=_number(body, "not_before"),
        resource=_string(body, "resource", limit=2048),
        scope=_string(body, "scope", limit=8192),
        id_token=None if id_token is None else Secret("id_token", id_token),
    )
