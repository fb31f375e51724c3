"""``GET /common/discovery/instance``: Azure AD's instance discovery, as ADAL and MSAL ask it.

Before trusting an authority on a host it does not know, ADAL Python (``api-version=1.0``,
``authorization_endpoint=https://{host}/{tenant}/oauth2/authorize``, the port left out) and
MSAL Python (``api-version=1.0``, ``.../oauth2/v2.0/authorize``, port kept) ask this
endpoint; MSAL.NET and MSAL.js ask ``api-version=1.1`` and read the ``metadata`` list of
host aliases. Azure answers ``tenant_discovery_endpoint`` (the tenant's metadata URL, v2.0
when the authorize endpoint was v2.0) and, from 1.1 on, ``api-version`` and ``metadata``
(``preferred_network``, ``preferred_cache``, ``aliases`` per cloud); a host it does not know
is ``invalid_instance`` (AADSTS50049).

The emulator knows one instance: itself. The host is the emulator's when its name is the
one the request reached the emulator by, or a loopback name (ADAL drops the port); its
endpoints are then named with the emulator's own address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.wrappers import Response

from ._context import Call
from ._errors import AadError, json_response, oauth_error_response

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["handle_instance_discovery"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _unknown_instance(call: Call) -> Response:
    return oauth_error_response(AadError(
        error="invalid_instance", aadsts=50049, message="Unknown or invalid instance."),
        call.diag)


def handle_instance_discovery(emu: Emulator, call: Call) -> Response:
    endpoint = call.request.args.get("authorization_endpoint", "")
    if not endpoint:
        return oauth_error_response(AadError(
            error="invalid_request", aadsts=90014, message=(
                "The required field 'authorization_endpoint' is missing.")), call.diag)
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
    except ValueError:
        return _unknown_instance(call)
    own = (urlsplit(call.base_url).hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme != "https" or host not in {own, *_LOOPBACK_NAMES} or not segments:
        return _unknown_instance(call)
    tenant = segments[0]
    version = "/v2.0" if "/oauth2/v2.0/" in f"{parts.path}/" else ""
    body: dict[str, object] = {
        "tenant_discovery_endpoint":
            f"{call.base_url}/{tenant}{version}/.well-known/openid-configuration",
    }
    if call.request.args.get("api-version") == "1.1":
        netloc = urlsplit(call.base_url).netloc
        port = f":{urlsplit(call.base_url).port}" if urlsplit(call.base_url).port else ""
        aliases = [netloc, *(f"[{n}]{port}" if ":" in n else f"{n}{port}"
                             for n in _LOOPBACK_NAMES)]
        body["api-version"] = "1.1"
        body["metadata"] = [{"preferred_network": netloc, "preferred_cache": netloc,
                             "aliases": list(dict.fromkeys(aliases))}]
    return json_response(body, 200, {"Cache-Control": "max-age=86400, private",
                                     **call.diag.oauth_headers()})
