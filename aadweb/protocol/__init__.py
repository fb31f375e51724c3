"""The pure protocol layer: OAuth 2.0 / OpenID Connect for Azure AD v1 as functions on values.

No I/O, no clock, no randomness of its own: ``build_*`` describes an HTTP request,
``parse_*`` turns a response into a value or raises, ``validate_*`` checks a token.

Modules, in the order of a sign-in:
    pkce            RFC 7636 code verifier and S256 challenge
    authorize       the authorize redirect (both flows)
    callback        the authorization response (query or form_post)
    metadata        OpenID provider metadata (and the v1 issuer rules)
    jwks            the tenant's signing keys
    jws             strict compact JWS parsing and RS256 verification
    idtoken         id_token validation (OIDC Core 3.1.3.7, 3.3.2.12)
    client_assertion, token   the token endpoint: redeem a code, refresh
    graph           Graph /me request and response, Retry-After
    aadsts          AADSTS error codes explained for people
    logout          the end-session redirect
    hosts           the loopback rule: the only hosts reached over plain http
"""
