"""Minting tokens, with the token faults applied.

Front channel (authorize): an RS256 id_token with ``nonce`` and ``c_hash``, signed by the
published key unless ``sign_with_unpublished_key``. Token endpoint: Azure AD v1's token
response with numbers as strings, an access token signed by the emulator (header
``nonce`` like Graph's), a fresh refresh token and an *unsigned* id_token (``alg: none``)
unless ``signed_token_endpoint_id_token``; that id_token repeats the authorize request's
``nonce`` if it had one, as OIDC Core 3.1.3.6 requires.

v2.0 (``token_response_v2``): numbers are JSON integers, no ``resource``/``expires_on``/
``not_before``; the id_token is signed (header without ``x5t``) and comes only when ``openid``
was granted; a refresh token only with ``offline_access``; ``client_info`` (base64url JSON
``{"uid", "utid"}``) when the client sent ``client_info=1``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from ._faults import FaultSet
from ._jws import b64url, unsigned_jwt
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
    id_token_claims_v2,
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
        v2_scopes: tuple[str, ...] | None = None,
    ) -> str:
        """``v2_scopes`` (the OpenID Connect scopes granted) makes it a v2.0 id_token."""
        if v2_scopes is None:
            claims = id_token_claims(user, client_id, now, ipaddr=ipaddr, nonce=nonce,
                                     code=code, extra=extra)
        else:
            claims = id_token_claims_v2(user, client_id, now, scopes=v2_scopes, nonce=nonce,
                                        code=code, extra=extra)
        for fault in self.faults.take_all("authorize", ("id_token_claims",)):
            apply_overrides(claims, fault.claims)
        header: dict[str, object] = {}
        for fault in self.faults.take_all("authorize", ("id_token_header",)):
            header.update(fault.header or {})
        rogue = self.faults.take("authorize", ("sign_with_unpublished_key",))
        if rogue is not None:
            kid = self.keys.current.kid if rogue.same_kid else None
            token = self.keys.rogue().sign(claims, header, kid=kid, x5t=v2_scopes is None)
        else:
            token = self.keys.current.sign(claims, header, x5t=v2_scopes is None)
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
        if scope is None:
            scope = KNOWN_RESOURCES.get(resource, "user_impersonation")
        lifetime, access_token = self._access_token(user, client_id, resource, scope, now,
                                                    ipaddr=ipaddr, extra=access_extra)
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

    def _access_token(
        self, user: DemoUser, client_id: str, resource: str, scp: str, now: float, *,
        ipaddr: str, extra: Mapping[str, object] | None,
    ) -> tuple[int, str]:
        """(lifetime, token): a v1.0-shaped access token for ``resource`` (its ``aud``)."""
        lifetime = ACCESS_TOKEN_LIFETIME
        short = self.faults.take("token", ("token_lifetime",))
        if short is not None and short.seconds is not None:
            lifetime = int(short.seconds)
        claims = access_token_claims(user, client_id, resource, scp, now, lifetime=lifetime,
                                     ipaddr=ipaddr, extra=extra)
        token = self.keys.current.sign(claims, {"nonce": secrets.token_urlsafe(32)})
        return lifetime, self.grants.remember(token)

    def token_response_v2(
        self, user: DemoUser, client_id: str, *, resource: str, scp: str, answer_scope: str,
        oidc: tuple[str, ...], now: float, ipaddr: str, refresh_scope: str,
        nonce: str | None = None, client_info: bool = False,
        id_extra: Mapping[str, object] | None = None,
        access_extra: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """The v2.0 token endpoint's success body for one audience, ``resource``."""
        lifetime, access_token = self._access_token(user, client_id, resource, scp, now,
                                                    ipaddr=ipaddr, extra=access_extra)
        body: dict[str, object] = {
            "token_type": "Bearer",
            "scope": answer_scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }
        if "offline_access" in oidc:
            body["refresh_token"] = self.grants.new_refresh(RefreshGrant(
                client_id=client_id, user=user, resource=resource,
                expires_at=now + REFRESH_LIFETIME, ipaddr=ipaddr, scope=refresh_scope,
            ))
        if "openid" in oidc:
            claims = id_token_claims_v2(user, client_id, now, scopes=oidc, nonce=nonce,
                                        extra=id_extra)
            for fault in self.faults.take_all("token", ("id_token_claims",)):
                apply_overrides(claims, fault.claims)
            body["id_token"] = self.grants.remember(self.keys.current.sign(claims, x5t=False))
        if client_info:
            info = {"uid": user.oid, "utid": user.tenant_id}
            body["client_info"] = b64url(json.dumps(info, separators=(",", ":")).encode())
        return body
