"""Talking to the Azure AD v1 authority: metadata, keys, code redemption, refresh.

Protocol steps (``aadweb.protocol``) sent through a transport (``aadweb.transport``), nothing
else: no sessions, no web. One :class:`Authority` per process holds the keep-alive transport,
the metadata and the tenant's keys (cached, refreshed at most once per 5 minutes on an
unknown ``kid``, single-flight, last good keys kept when a refresh fails).

Where the endpoints come from: the authorize and token endpoints are the v1 paths under the
configured ``{authority_host}/{tenant}`` (so a sign-in can start even while metadata is being
fetched); the issuer and ``jwks_uri`` come from the tenant's OpenID metadata, fetched over TLS
(or loopback) from that same authority host, as PROTOCOL.md advises.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from aadweb.errors import ConfigurationError, InvalidResponse, KeyNotFound, TokenValidationError
from aadweb.keycache import KeyCache
from aadweb.protocol.authorize import AuthorizeParams, build_authorize_url
from aadweb.protocol.idtoken import (
    AllowedTenants,
    IdTokenExpectations,
    SingleTenant,
    ValidatedIdToken,
    validate_back_channel,
    validate_front_channel,
)
from aadweb.protocol.jwks import KeySet, build_jwks_request, parse_jwks
from aadweb.protocol.jws import peek_header
from aadweb.protocol.logout import build_logout_url
from aadweb.protocol.metadata import AuthorityMetadata, build_metadata_request, is_secure_url, parse_metadata
from aadweb.protocol.token import (
    ClientAssertionCredential,
    ClientCredential,
    ClientSecretPost,
    TokenResponse,
    build_code_redemption,
    build_refresh,
    parse_token_response,
    token_endpoint_url,
)
from aadweb.secret import Secret
from aadweb.settings import Settings
from aadweb.transport import Transport

__all__ = ["Authority"]

_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Authority:
    """The tenant's authority as seen by one process. Thread-safe."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        key_cache_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.new_id = new_id
        self.authority_url = settings.tenant_url
        self.token_endpoint = token_endpoint_url(self.authority_url)
        #: OIDC Core 3.1.3.7 (6): an unsigned id_token is acceptable only over TLS (or loopback).
        self.token_channel_is_secure = is_secure_url(self.token_endpoint)
        self.credential = _credential(settings)
        self._metadata: KeyCache[AuthorityMetadata] = KeyCache(self._fetch_metadata, clock=key_cache_clock)
        self._keys: KeyCache[KeySet] = KeyCache(self._fetch_keys, clock=key_cache_clock)

    # --- metadata and keys --------------------------------------------------------------

    def metadata(self) -> AuthorityMetadata:
        return self._metadata.get()

    def keys(self) -> KeySet:
        return self._keys.get()

    @property
    def key_fetches(self) -> int:
        return self._keys.fetch_count

    def _fetch_metadata(self) -> AuthorityMetadata:
        resp = self.transport.send(build_metadata_request(self.authority_url, client_request_id=self.new_id()))
        metadata = parse_metadata(resp, authority_host=self.settings.authority_host)
        s = self.settings
        # A single tenant's metadata must name exactly the issuer we expect for it.
        if s.tenant_is_guid and metadata.issuer != f"{s.issuer_prefix}{s.tenant}/":
            raise InvalidResponse("the authority's metadata names an unexpected issuer for this tenant")
        return metadata

    def _fetch_keys(self) -> KeySet:
        app_id = self.settings.client_id if self.settings.app_signing_keys else None
        request = build_jwks_request(self.metadata().jwks_uri, app_id=app_id, client_request_id=self.new_id())
        return parse_jwks(self.transport.send(request))

    def tenant_policy(self) -> SingleTenant | AllowedTenants:
        """Which tenants' tokens are accepted (the configured one, or the allowed list)."""
        s = self.settings
        if s.is_multi_tenant:
            return AllowedTenants(tenant_ids=frozenset(s.allowed_tenants))
        if s.tenant_is_guid:
            return SingleTenant(tenant_id=s.tenant)
        # A verified domain: the tenant GUID is the one its metadata's issuer names.
        match = re.fullmatch(re.escape(s.issuer_prefix) + f"({_GUID})/", self.metadata().issuer)
        if match is None:
            raise InvalidResponse("the authority's metadata issuer does not name a tenant GUID")
        return SingleTenant(tenant_id=match.group(1))

    # --- the sign-in ----------------------------------------------------------------------

    def authorize_url(
        self,
        *,
        state: str,
        nonce: Secret,
        code_challenge: str,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> str:
        s = self.settings
        return build_authorize_url(
            AuthorizeParams(
                authority_url=self.authority_url, client_id=s.client_id, redirect_uri=s.redirect_uri,
                resource=s.resource, response_type=s.response_type, state=state, nonce=nonce,
                code_challenge=code_challenge, prompt=prompt, login_hint=login_hint, domain_hint=domain_hint,
            )
        )

    def expectations(self, nonce: Secret) -> IdTokenExpectations:
        s = self.settings
        return IdTokenExpectations(
            client_id=s.client_id, issuer_prefix=s.issuer_prefix, tenants=self.tenant_policy(), nonce=nonce,
            now=self.clock(), leeway=s.clock_skew,
        )

    def validate_front_channel(self, id_token: Secret, *, nonce: Secret, code: Secret) -> ValidatedIdToken:
        """Validate the hybrid flow's id_token; on an unknown ``kid`` refresh the keys once."""
        expected = self.expectations(nonce)
        try:
            return validate_front_channel(id_token, keys=self.keys(), expected=expected, code=code)
        except KeyNotFound:
            fresh = self._keys.refresh_for_unknown_kid()  # rate-limited: None within 5 minutes
            if fresh is None:
                raise
            return validate_front_channel(id_token, keys=fresh, expected=expected, code=code)

    def validate_back_channel(self, id_token: Secret, *, nonce: Secret) -> ValidatedIdToken:
        """The code flow's id_token from the token endpoint (unsigned allowed over TLS/loopback)."""
        expected = self.expectations(nonce)
        secure = self.token_channel_is_secure
        try:
            return validate_back_channel(id_token, keys=self._keys_if_signed(id_token), expected=expected,
                                         channel_is_secure=secure)
        except KeyNotFound:
            fresh = self._keys.refresh_for_unknown_kid()
            if fresh is None:
                raise
            return validate_back_channel(id_token, keys=fresh, expected=expected, channel_is_secure=secure)

    def _keys_if_signed(self, id_token: Secret) -> KeySet:
        # An unsigned token needs no keys: don't make the sign-in depend on the JWKS then.
        try:
            unsigned = peek_header(id_token.reveal()).get("alg") == "none"
        except TokenValidationError:
            unsigned = False  # malformed: validation below refuses it with its verdict
        return KeySet(keys=()) if unsigned else self.keys()

    def redeem_code(self, code: Secret, *, code_verifier: Secret) -> TokenResponse:
        """RFC 6749 4.1.3: exchange the code (with the PKCE verifier) for tokens."""
        s = self.settings
        request = build_code_redemption(
            token_endpoint=self.token_endpoint, client_id=s.client_id, code=code, redirect_uri=s.redirect_uri,
            resource=s.resource, code_verifier=code_verifier, credential=self.credential, now=self.clock(),
            jti=self.new_id(), client_request_id=self.new_id(),
        )
        return parse_token_response(self.transport.send(request), now=self.clock())

    def refresh(self, refresh_token: Secret, *, resource: str | None = None) -> TokenResponse:
        """RFC 6749 6: a new access token (v1 refresh tokens are multi-resource)."""
        s = self.settings
        request = build_refresh(
            token_endpoint=self.token_endpoint, client_id=s.client_id, refresh_token=refresh_token,
            resource=resource or s.resource, credential=self.credential, now=self.clock(), jti=self.new_id(),
            client_request_id=self.new_id(),
        )
        return parse_token_response(self.transport.send(request), now=self.clock())

    def logout_url(self, post_logout_redirect_uri: str | None) -> str:
        return build_logout_url(
            end_session_endpoint=f"{self.authority_url}/oauth2/logout",
            post_logout_redirect_uri=post_logout_redirect_uri,
        )


def _credential(settings: Settings) -> ClientCredential:
    if settings.client_certificate is not None:
        return ClientAssertionCredential(certificate=settings.client_certificate)
    if settings.client_secret is not None:
        return ClientSecretPost(secret=settings.client_secret)
    raise ConfigurationError(["A client credential is required: AADWEB_CLIENT_SECRET or AADWEB_CLIENT_CERTIFICATE."])

