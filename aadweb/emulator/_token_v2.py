"""``POST /{tenant}/oauth2/v2.0/token``: the authorization_code and refresh_token grants of the
Microsoft identity platform (v2.0).

The same client authentication, code and refresh-token checks as v1.0 (``_token.py``); then:

- ``scope`` instead of ``resource`` (a ``resource`` parameter is AADSTS901002). It names ONE
  resource (AADSTS28000 otherwise, see ``_scopes.py``), and the token is for that resource and
  no other. A code redemption without ``scope`` uses the authorize request's scopes; a
  refresh without ``scope`` the scopes the refresh token was issued for.
- A refresh token is multi-resource: it gets a token for any resource the app holds consent
  to (AADSTS65001 otherwise).
- The id_token (signed, v2.0) comes when ``openid`` was granted, shaped by ``profile`` and
  ``email``; a refresh token when ``offline_access`` was; ``client_info`` when the client
  sent ``client_info=1``; numbers are integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._context import Call
from ._errors import OAuthFailure
from ._scopes import OIDC_SCOPES, ResourceScopes, ScopeError, ScopeRequest, parse_scopes
from ._token import (
    check_consent,
    client_and_grant_type,
    code_grant,
    fail,
    refresh_grant,
    use_code,
)

if TYPE_CHECKING:
    from ._app import Emulator
    from ._model import ClientRegistration

__all__ = ["token_v2"]


def _parse(emu: Emulator, call: Call, client: ClientRegistration, raw: str) -> ScopeRequest:
    try:
        return parse_scopes(emu.directory, client, raw, tenant=call.segment)
    except ScopeError as exc:
        raise OAuthFailure(exc.error) from exc


def _target(emu: Emulator, asked: ScopeRequest) -> ResourceScopes:
    try:
        return asked.single(emu.directory)
    except ScopeError as exc:
        raise OAuthFailure(exc.error) from exc


def token_v2(emu: Emulator, call: Call) -> dict[str, object]:
    client, grant_type = client_and_grant_type(emu, call)
    form = call.request.form
    if "resource" in form:
        raise fail("invalid_request", 901002,
                   "The 'resource' request parameter is not supported.")
    if grant_type == "authorization_code":
        grant = code_grant(emu, call, client, form)
        raw = form.get("scope") or grant.scope or ""
        asked = _parse(emu, call, client, raw)
        granted = _parse(emu, call, client, grant.scope or "").oidc
        user, nonce = grant.user, grant.nonce
        target = _target(emu, asked)
        check_consent(emu, client, user, target.resource)
        use_code(emu, form)
    else:
        refresh = refresh_grant(emu, call, client)
        raw = form.get("scope") or refresh.scope or ""
        if not raw:
            raise fail("invalid_request", 900144,
                       "The request body must contain the following parameter: 'scope'.")
        asked = _parse(emu, call, client, raw)
        granted = tuple(s for s in OIDC_SCOPES if s in asked.oidc or s == "offline_access")
        user, nonce = refresh.user, None
        target = _target(emu, asked)
        check_consent(emu, client, user, target.resource)
    return emu.minter.token_response_v2(
        user, client.client_id, resource=target.resource.name, scp=target.scp(granted),
        answer_scope=target.answer_scope(granted), oidc=granted, now=call.now,
        ipaddr=call.ipaddr, refresh_scope=raw, nonce=nonce,
        client_info=form.get("client_info") == "1",
        id_extra=emu.authorization_claims(client, user, front_channel=False,
                                          graph_base=call.base_url),
        access_extra=emu.authorization_claims(target.resource.app, user, front_channel=False,
                                              graph_base=call.base_url),
    )
