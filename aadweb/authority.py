"""Talking to the Azure AD authority (v1 or v2.0): metadata, keys, code redemption, refresh.

Protocol steps (``aadweb.protocol``) sent through a transport (``aadweb.transport``), nothing
else: no sessions, no web. One :class:`Authority` per process holds the keep-alive transport,
the metadata and the tenant's keys (cached, refreshed at once on an unknown ``kid`` unless an
unknown-kid refresh happened in the last 5 minutes, single-flight, last good keys kept when a
refresh fails; see :mod:`aadweb.keycache`).

The process remembers how its last call to the authority went (:attr:`Authority.reachability`:
``unknown`` before the first, then ``ok`` or ``unreachable``), so ``/healthz`` can report it
without making a call of its own (DESIGN.md: ``/healthz`` never makes a network call).

Where the endpoints come from: the authorize and token endpoints are the v1 (or v2.0, as
``AADWEB_ENDPOINT`` says: :class:`~aadweb.protocol.endpoint.Endpoint`) paths under the
configured ``{authority_host}/{tenant}`` (so a sign-in can start even while metadata is being
fetched); the issuer and ``jwks_uri`` come from the tenant's OpenID metadata, fetched over TLS
(or loopback) from that same authority host, as PROTOCOL.md advises.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Literal

from aadweb.errors import (
    AuthorityUnavailable,
    ConfigurationError,
    InvalidResponse,
    KeyNotFound,
    TokenValidationError,
    TransportError,
)
from aadweb.keycache import KeyCache
from aadweb.protocol.authorize import AuthorizeParams, build_authorize_url
from aadweb.protocol.http import HttpRequest, HttpResponse
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
from aadweb.protocol.logout import build_logout_url, logout_endpoint
from aadweb.protocol.metadata import (
    AuthorityMetadata,
    build_metadata_request,
    is_secure_url,
    parse_metadata,
)
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

__all__ = ["Authority", "Reachability"]

#: How the last call to the authority went: none made yet, answered, or not answered (no
#: connection, TLS failure, deadline) / answered "busy or failing" (429, 5xx).
Reachability = Literal["unknown", "ok", "unreachable"]


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
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 2.0,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.new_id = new_id
        #: A refresh waits out a busy token endpoint's Retry-After once when it is at most this long.
        self.monotonic = monotonic
        self.sleep = sleep
        self.max_wait = max_wait
        self._reachability: Reachability = "unknown"
        self.authority_url = settings.tenant_url
        #: v1 or v2.0 in the configured cloud: paths, issuer template, what names a token.
        self.endpoint = settings.protocol_endpoint
        self.token_endpoint = token_endpoint_url(self.authority_url, self.endpoint)
        #: OIDC Core 3.1.3.7 (6): an unsigned id_token is acceptable only over TLS (or loopback).
        self.token_channel_is_secure = is_secure_url(self.token_endpoint)
        self.credential = _credential(settings)
        self._metadata: KeyCache[AuthorityMetadata] = KeyCache(self._fetch_metadata, clock=key_cache_clock)
        self._keys: KeyCache[KeySet] = KeyCache(self._fetch_keys, clock=key_cache_clock)

    # --- every call goes out here --------------------------------------------------------

    @property
    def reachability(self) -> Reachability:
        """How the last call to the authority went (no call is made to find out)."""
        return self._reachability

    def _send(self, request: HttpRequest, *, deadline: float | None = None) -> HttpResponse:
        try:
            resp = self.transport.send(request, deadline=deadline)
        except TransportError:
            self._reachability = "unreachable"
            raise
        self._reachability = "unreachable" if resp.status >= 500 or resp.status == 429 else "ok"
        return resp

    # --- metadata and keys --------------------------------------------------------------

    def metadata(self) -> AuthorityMetadata:
        return self._metadata.get()

    def keys(self) -> KeySet:
        return self._keys.get()

    @property
    def key_fetches(self) -> int:
        return self._keys.fetch_count

    def _fetch_metadata(self) -> AuthorityMetadata:
        resp = self._send(build_metadata_request(self.authority_url, client_request_id=self.new_id(),
                                                 path=self.endpoint.metadata_path))
        metadata = parse_metadata(resp, authority_host=self.settings.authority_host)
        s = self.settings
        # OpenID Connect Discovery 4.3: a single tenant's metadata names exactly its issuer;
        # common/organizations publish the template itself.
        if s.tenant_is_guid and metadata.issuer != self.endpoint.issuer(s.tenant):
            raise InvalidResponse("the authority's metadata names an unexpected issuer for this tenant")
        if self.endpoint.is_v2 and s.is_multi_tenant and metadata.issuer != self.endpoint.issuer_template:
            raise InvalidResponse("the authority's metadata does not name the multi-tenant issuer template")
        return metadata

    def _fetch_keys(self) -> KeySet:
        app_id = self.settings.client_id if self.settings.app_signing_keys else None
        request = build_jwks_request(self.metadata().jwks_uri, app_id=app_id, client_request_id=self.new_id())
        return parse_jwks(self._send(request))

    def tenant_policy(self) -> SingleTenant | AllowedTenants:
        """Which tenants' tokens are accepted (the configured one, or the allowed list)."""
        s = self.settings
        if s.is_multi_tenant:
            return AllowedTenants(tenant_ids=frozenset(s.allowed_tenants))
        if s.tenant_is_guid:
            return SingleTenant(tenant_id=s.tenant)
        # A verified domain: the tenant GUID is the one its metadata's issuer names.
        tenant_id = self.endpoint.tenant_from_issuer(self.metadata().issuer)
        if tenant_id is None:
            raise InvalidResponse("the authority's metadata issuer does not name a tenant GUID")
        return SingleTenant(tenant_id=tenant_id)

    def response_issuers(self) -> frozenset[str]:
        """RFC 9207: the issuers an authorization response's ``iss`` may name.

        A single tenant (GUID, or a verified domain resolved through its metadata): exactly
        ``{prefix}{tenant GUID}/``. ``common``/``organizations``: the metadata's issuer is a
        template (``https://sts.windows.net/{tenantid}/``), so any allowed tenant's issuer; the
        sign-in then also requires it to be the validated id_token's own ``iss``.
        """
        policy = self.tenant_policy()
        tenants = {policy.tenant_id} if isinstance(policy, SingleTenant) else policy.tenant_ids
        return frozenset(self.endpoint.issuer(tenant) for tenant in tenants)

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
        resource: str | None = None,
    ) -> str:
        """The authorize URL for the configured target, or ``resource`` (a consent round trip).

        The target is v1's resource or v2.0's scopes (:attr:`Settings.token_target`)."""
        s = self.settings
        return build_authorize_url(
            AuthorizeParams(
                authority_url=self.authority_url, client_id=s.client_id, redirect_uri=s.redirect_uri,
                resource=resource or s.token_target, response_type=s.response_type, state=state, nonce=nonce,
                code_challenge=code_challenge, prompt=prompt, login_hint=login_hint, domain_hint=domain_hint,
                endpoint=self.endpoint,
            )
        )

    def expectations(self, nonce: Secret) -> IdTokenExpectations:
        s = self.settings
        return IdTokenExpectations(
            client_id=s.client_id, endpoint=self.endpoint, tenants=self.tenant_policy(), nonce=nonce,
            now=self.clock(), leeway=s.clock_skew,
        )

    def validate_front_channel(self, id_token: Secret, *, nonce: Secret, code: Secret) -> ValidatedIdToken:
        """Validate the hybrid flow's id_token; on an unknown ``kid`` refresh the keys once."""
        expected = self.expectations(nonce)
        return self._with_fresh_keys_on_unknown_kid(
            lambda keys: validate_front_channel(id_token, keys=keys, expected=expected, code=code), self.keys
        )

    def validate_back_channel(self, id_token: Secret, *, nonce: Secret) -> ValidatedIdToken:
        """The code flow's id_token from the token endpoint (unsigned allowed over TLS/loopback)."""
        expected = self.expectations(nonce)
        secure = self.token_channel_is_secure
        return self._with_fresh_keys_on_unknown_kid(
            lambda keys: validate_back_channel(id_token, keys=keys, expected=expected, channel_is_secure=secure),
            lambda: self._keys_if_signed(id_token),
        )

    def _with_fresh_keys_on_unknown_kid(
        self, validate: Callable[[KeySet], ValidatedIdToken], keys: Callable[[], KeySet]
    ) -> ValidatedIdToken:
        """``validate(keys())``; on :class:`KeyNotFound` (an unknown ``kid``) refresh the keys and
        try once more. The refresh is rate-limited (DESIGN.md, JWKS): within 5 minutes of the last
        unknown-kid refresh there is none, and the first refusal stands."""
        try:
            return validate(keys())
        except KeyNotFound:
            fresh = self._keys.refresh_for_unknown_kid()  # rate-limited: None within 5 minutes
            if fresh is None:
                raise
            return validate(fresh)

    def _keys_if_signed(self, id_token: Secret) -> KeySet:
        # An unsigned token needs no keys: don't make the sign-in depend on the JWKS then.
        try:
            unsigned = peek_header(id_token.reveal()).get("alg") == "none"
        except TokenValidationError:
            unsigned = False  # malformed: validation below refuses it with its verdict
        return KeySet(keys=()) if unsigned else self.keys()

    def redeem_code(self, code: Secret, *, code_verifier: Secret, resource: str | None = None) -> TokenResponse:
        """RFC 6749 4.1.3: exchange the code (with the PKCE verifier) for tokens for the
        configured resource, or the ``resource`` the authorize request named."""
        s = self.settings
        request = build_code_redemption(
            token_endpoint=self.token_endpoint, client_id=s.client_id, code=code, redirect_uri=s.redirect_uri,
            resource=resource or s.token_target, code_verifier=code_verifier, credential=self.credential,
            now=self.clock(), jti=self.new_id(), client_request_id=self.new_id(), endpoint=self.endpoint,
        )
        return parse_token_response(self._send(request), now=self.clock())

    def refresh(self, refresh_token: Secret, *, resource: str | None = None) -> TokenResponse:
        """RFC 6749 6: a new access token (v1 refresh tokens are multi-resource).

        A busy token endpoint (429/503, :class:`AuthorityUnavailable`) that asks for a short
        wait (``Retry-After`` at most ``max_wait`` seconds, and the wait still fits the call's
        deadline) is asked once more, as Graph calls are; anything longer goes to the caller.
        """
        deadline = self.monotonic() + self.settings.http_timeout
        try:
            return self._refresh_once(refresh_token, resource, deadline)
        except AuthorityUnavailable as exc:
            wait = exc.retry_after
            if wait is None or wait > self.max_wait or self.monotonic() + wait >= deadline:
                raise
            self.sleep(wait)
            return self._refresh_once(refresh_token, resource, deadline)

    def _refresh_once(self, refresh_token: Secret, resource: str | None, deadline: float) -> TokenResponse:
        s = self.settings
        request = build_refresh(  # built anew each time: a client assertion's jti is single-use
            token_endpoint=self.token_endpoint, client_id=s.client_id, refresh_token=refresh_token,
            resource=resource or s.token_target, credential=self.credential, now=self.clock(), jti=self.new_id(),
            client_request_id=self.new_id(), endpoint=self.endpoint,
        )
        return parse_token_response(self._send(request, deadline=deadline), now=self.clock())

    def logout_url(self, post_logout_redirect_uri: str | None) -> str:
        return build_logout_url(
            end_session_endpoint=logout_endpoint(self.authority_url, self.endpoint),
            post_logout_redirect_uri=post_logout_redirect_uri,
        )


def _credential(settings: Settings) -> ClientCredential:
    if settings.client_certificate is not None:
        return ClientAssertionCredential(certificate=settings.client_certificate)
    if settings.client_secret is not None:
        return ClientSecretPost(secret=settings.client_secret)
    raise ConfigurationError(["A client credential is required: AADWEB_CLIENT_SECRET or AADWEB_CLIENT_CERTIFICATE."])

