"""Minting tokens, with the token faults applied.

Front channel (authorize): an RS256 id_token with ``nonce`` and ``c_hash``, signed by the
published key unless ``sign_with_unpublished_key``. Token endpoint: Azure AD v1's token
response with numbers as strings, an access token signed by the emulator (header
``nonce`` like Graph's), a fresh refresh token and an *unsigned* id_token (``alg: none``)
unless ``signed_token_endpoint_id_token``; that id_token repeats the authorize request's
``nonce`` if it had one, as OIDC Core 3.1.3.6 requires.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from ._faults import FaultSet
from ._jws import unsigned_jwt
from ._keys import KeyRing
from ._model import KNOWN_RESOURCES, DemoUser
from ._tokens import (
    ACCESS_TOKEN_LIFETIME,
    REFRESH_LIFETIME,
    GrantStore,
    RefreshGrant,
    access_token_claims,
    apply_overrides,
    id_token_claims,
)

__all__ = ["Minter"]


class Minter:
    def __init__(self, keys: KeyRing, grants: GrantStore, faults: FaultSet) -> None:
        self.keys = keys
        self.grants = grants
        self.faults = faults

    def front_channel_id_token(
        self, user: DemoUser, client_id: str, now: float, *, ipaddr: str, nonce: str | None,
        code: str | None, extra: Mapping[str, object] | None = None,
    ) -> str:
        claims = id_token_claims(user, client_id, now, ipaddr=ipaddr, nonce=nonce, code=code,
                                 extra=extra)
        for fault in self.faults.take_all("authorize", ("id_token_claims",)):
            apply_overrides(claims, fault.claims)
        header: dict[str, object] = {}
        for fault in self.faults.take_all("authorize", ("id_token_header",)):
            header.update(fault.header or {})
        rogue = self.faults.take("authorize", ("sign_with_unpublished_key",))
        if rogue is not None:
            kid = self.keys.current.kid if rogue.same_kid else None
            token = self.keys.rogue().sign(claims, header, kid=kid)
        else:
            token = self.keys.current.sign(claims, header)
        return self.grants.remember(token)

    def signed_id_token(
        self, claims: Mapping[str, object], header: Mapping[str, object] | None = None
    ) -> str:
        return self.grants.remember(self.keys.current.sign(claims, header))

    def token_response(
        self, user: DemoUser, client_id: str, resource: str, now: float, *, ipaddr: str,
        nonce: str | None = None, scope: str | None = None,
        id_extra: Mapping[str, object] | None = None,
        access_extra: Mapping[str, object] | None = None,
    ) -> dict[str, str]:
        """The v1 token endpoint's success body (RFC 6749 5.1 + Azure's fields, every
        number a string). The id_token carries the authorize request's ``nonce`` when
        there was one (OIDC Core 3.1.3.6; not on refresh) and never ``c_hash``.
        ``id_extra``/``access_extra``: the authorization claims of each token."""
        lifetime = ACCESS_TOKEN_LIFETIME
        short = self.faults.take("token", ("token_lifetime",))
        if short is not None and short.seconds is not None:
            lifetime = int(short.seconds)
        if scope is None:
            scope = KNOWN_RESOURCES.get(resource, "user_impersonation")
        at_claims = access_token_claims(
            user, client_id, resource, scope, now, lifetime=lifetime, ipaddr=ipaddr,
            extra=access_extra,
        )
        access_token = self.keys.current.sign(at_claims, {"nonce": secrets.token_urlsafe(32)})
        self.grants.remember(access_token)
        refresh_token = self.grants.new_refresh(RefreshGrant(
            client_id=client_id, user=user, resource=resource,
            expires_at=now + REFRESH_LIFETIME, ipaddr=ipaddr,
        ))
        id_claims = id_token_claims(user, client_id, now, ipaddr=ipaddr, nonce=nonce,
                                    extra=id_extra)
        for fault in self.faults.take_all("token", ("id_token_claims",)):
            apply_overrides(id_claims, fault.claims)
        if self.faults.take("token", ("signed_token_endpoint_id_token",)) is not None:
            id_token = self.keys.current.sign(id_claims)
        else:
            id_token = unsigned_jwt(id_claims)
        self.grants.remember(id_token)
        issued = int(now)
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": str(lifetime),
            "ext_expires_in": str(lifetime),
            "expires_on": str(issued + lifetime),
            "not_before": str(issued),
            "resource": resource,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "id_token": id_token,
        }
