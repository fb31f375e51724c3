"""The OAuth 2.0 device authorization grant (RFC 8628) against Azure AD, v1.0 and v2.0.

Pure: builders describe the requests, parsers read the answers, :func:`next_poll` is the polling
rule. ``aadweb register`` drives them (it owns the clock and the sleeping).

- Device authorization request (RFC 8628 3.1): ``POST {authority}/oauth2/devicecode`` with
  ``client_id`` and ``resource`` (v1.0), or ``/oauth2/v2.0/devicecode`` with ``scope`` (v2.0).
- Answer (3.2): ``device_code``, ``user_code``, ``verification_uri`` (Azure v1.0 spells it
  ``verification_url`` and sends numbers as strings), ``expires_in``, ``interval`` (default 5).
- Token request (3.4): ``grant_type=urn:ietf:params:oauth:grant-type:device_code``,
  ``device_code``, ``client_id`` on v2.0; v1.0 takes the form ADAL sends,
  ``grant_type=device_code`` with the device code in ``code``.
- While polling (3.5): ``authorization_pending`` (poll again after ``interval``),
  ``slow_down`` (the interval grows by 5 seconds, for this and every later request),
  ``access_denied`` / ``authorization_declined`` (the person said no) and ``expired_token``
  (start again) end the flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

from aadweb.errors import AuthorityError, InvalidResponse
from aadweb.protocol.aadsts import clean_text, error_from_response
from aadweb.protocol.http import FormValue, HttpRequest, HttpResponse, client_request_id_headers
from aadweb.protocol.metadata import is_secure_url
from aadweb.secret import Secret

__all__ = [
    "DEFAULT_INTERVAL",
    "DEVICE_CODE_GRANT",
    "SLOW_DOWN_STEP",
    "DeviceCode",
    "DeviceToken",
    "Endpoint",
    "PollOutcome",
    "build_device_code_request",
    "build_device_token_request",
    "next_poll",
    "parse_device_code_response",
    "parse_device_token_response",
]

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 3.2: "If no value is provided, clients MUST use 5 as the default."
DEFAULT_INTERVAL: Final = 5
#: RFC 8628 3.5: on slow_down "the interval MUST be increased by 5 seconds".
SLOW_DOWN_STEP: Final = 5
#: The most a server may ask between polls, or for a code to live (an hour): anything larger is
#: treated as a broken answer rather than a reason to wait forever.
_MAX_SECONDS: Final = 3600
_WHAT: Final = "device code answer"

Endpoint = Literal["v1", "v2"]
PollOutcome = Literal["pending", "slow_down"]


def _authority(authority_host: str, tenant: str) -> str:
    if not is_secure_url(authority_host):
        raise ValueError("authority_host must be an https URL (http only on a loopback host)")
    if not tenant or "/" in tenant:
        raise ValueError("tenant must be one path segment")
    return f"{authority_host.rstrip('/')}/{tenant}"


def _headers(client_request_id: str) -> dict[str, FormValue]:
    return {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded",
            **client_request_id_headers(client_request_id)}


def build_device_code_request(
    *, authority_host: str, tenant: str, client_id: str, endpoint: Endpoint, target: str,
    client_request_id: str,
) -> HttpRequest:
    """RFC 8628 3.1. ``target``: the v1.0 ``resource``, or the v2.0 ``scope`` string."""
    if not client_id or not target:
        raise ValueError("client_id and the resource or scope must not be empty")
    base = _authority(authority_host, tenant)
    path = "oauth2/v2.0/devicecode" if endpoint == "v2" else "oauth2/devicecode"
    form: dict[str, FormValue] = {"client_id": client_id, ("scope" if endpoint == "v2" else "resource"): target}
    return HttpRequest(method="POST", url=f"{base}/{path}", headers=_headers(client_request_id), form=form,
                       leg="devicecode")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceCode:
    """RFC 8628 3.2: what to show the person, and what to poll with."""

    device_code: Secret
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int

    def __post_init__(self) -> None:
        if not self.user_code or not self.verification_uri:
            raise ValueError("a device code needs a user_code and a verification_uri")
        if not 0 < self.expires_in <= _MAX_SECONDS or not 0 < self.interval <= _MAX_SECONDS:
            raise ValueError("expires_in and interval must be positive and at most an hour")


def _seconds(body: dict[str, Any], name: str, default: int | None) -> int:
    value = body.get(name)
    if value is None and default is not None:
        return default
    try:
        number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 < number <= _MAX_SECONDS:
        raise InvalidResponse(f"{_WHAT}: {name} is missing or not a number of seconds up to an hour")
    return math.ceil(number)


def parse_device_code_response(resp: HttpResponse, *, now: float) -> DeviceCode:
    """RFC 8628 3.2 (Azure v1.0: ``verification_url``, numbers as strings)."""
    if resp.status != 200:
        raise error_from_response(resp, what=_WHAT, now=now)
    body = resp.json_object(_WHAT)
    device_code, user_code = body.get("device_code"), body.get("user_code")
    uri = body.get("verification_uri", body.get("verification_url"))
    if not isinstance(device_code, str) or not device_code:
        raise InvalidResponse(f"{_WHAT}: device_code is missing")
    if not isinstance(user_code, str) or not 0 < len(user_code) <= 64 or not user_code.isprintable():
        raise InvalidResponse(f"{_WHAT}: user_code is missing or malformed")
    if not isinstance(uri, str) or not is_secure_url(uri):
        raise InvalidResponse(f"{_WHAT}: verification_uri is missing or not an https URL")
    return DeviceCode(
        device_code=Secret("device_code", device_code), user_code=user_code,
        verification_uri=clean_text(uri, limit=512),
        expires_in=_seconds(body, "expires_in", None),
        interval=_seconds(body, "interval", DEFAULT_INTERVAL),
    )


def build_device_token_request(
    *, authority_host: str, tenant: str, client_id: str, endpoint: Endpoint, device_code: Secret,
    client_request_id: str,
) -> HttpRequest:
    """RFC 8628 3.4 (a public client: no client authentication)."""
    base = _authority(authority_host, tenant)
    path = "oauth2/v2.0/token" if endpoint == "v2" else "oauth2/token"
    form: dict[str, FormValue]
    if endpoint == "v1":  # Azure v1.0 predates RFC 8628's names: ADAL's grant_type and ``code``
        form = {"grant_type": "device_code", "client_id": client_id, "code": device_code}
    else:
        form = {"grant_type": DEVICE_CODE_GRANT, "client_id": client_id, "device_code": device_code}
    return HttpRequest(method="POST", url=f"{base}/{path}", headers=_headers(client_request_id), form=form,
                       leg="token")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceToken:
    """The signed-in admin's access token for Graph (nothing else of the answer is kept)."""

    access_token: Secret


def parse_device_token_response(resp: HttpResponse, *, now: float) -> DeviceToken | PollOutcome:
    """The token, or ``"pending"`` / ``"slow_down"`` (RFC 8628 3.5); every other error raises
    :class:`~aadweb.errors.AuthorityError` (``expired_token``, ``authorization_declined``,
    ``access_denied``, ``invalid_grant`` with AADSTS65001 for missing consent, ...)."""
    if resp.status == 200:
        body = resp.json_object("device token answer")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise InvalidResponse("device token answer: access_token is missing")
        return DeviceToken(access_token=Secret("access_token", token))
    error = error_from_response(resp, what="device token answer", now=now)
    if isinstance(error, AuthorityError) and error.error == "authorization_pending":
        return "pending"
    if isinstance(error, AuthorityError) and error.error == "slow_down":
        return "slow_down"
    raise error


def next_poll(interval: int, outcome: PollOutcome) -> int:
    """The interval before the next poll (RFC 8628 3.5): unchanged while pending, 5 seconds
    longer after ``slow_down``, for this and all later polls."""
    return interval + SLOW_DOWN_STEP if outcome == "slow_down" else interval
