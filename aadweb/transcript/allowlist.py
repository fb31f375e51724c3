"""What the wire transcript may show in clear: the allowlists, by where a value appears.

:mod:`aadweb.transcript.redact` looks every form field, query parameter, header, JSON member
and JWT claim up here by name; a name on no list is fingerprinted. This is the policy an
auditor reviews; the redactor is the mechanism. Personal names (``PERSONAL_FIELDS``,
``PERSONAL_CLAIMS``, Graph ``/me``) are shown only with ``AADWEB_WIRE_PERSONAL=1``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COOKIE_ATTRIBUTES",
    "ERROR_CLEAR",
    "FORM_CLEAR",
    "GRAPH_ERROR_CLEAR",
    "GRAPH_INNER_CLEAR",
    "GRAPH_ME_CLEAR",
    "HEADER_CLEAR",
    "JWKS_KEY_CLEAR",
    "JWKS_SHORTENED",
    "JWT_CLAIMS_CLEAR",
    "JWT_HEADER_CLEAR",
    "METADATA_CLEAR",
    "PERSONAL_CLAIMS",
    "PERSONAL_FIELDS",
    "SCHEMAS",
    "TOKEN_CLEAR",
]

#: Form fields and query parameters shown in clear (OAuth 2.0 / OIDC / PKCE public parameters).
#: ``post_logout_redirect_uri`` and ``next`` (the app's own return path) are added to the
#: issue's list: both are paths of this app, chosen by the app or the browser, never secrets.
FORM_CLEAR: Final = frozenset({
    "grant_type", "client_id", "redirect_uri", "resource", "response_type", "response_mode", "scope",
    "code_challenge", "code_challenge_method", "client_assertion_type", "prompt", "domain_hint",
    "session_state", "error", "error_description", "error_uri", "api-version", "appid",
    "post_logout_redirect_uri", "next",
})
#: Shown only with ``personal=True``; withheld otherwise.
PERSONAL_FIELDS: Final = frozenset({"login_hint"})

#: Headers shown in clear (case-insensitive). Beyond the issue's list: the standard request
#: and response headers that name hosts, encodings and the app's fixed security policy.
HEADER_CLEAR: Final = frozenset({
    "content-type", "content-length", "accept", "user-agent", "client-request-id",
    "return-client-request-id", "request-id", "x-ms-request-id", "retry-after", "cache-control",
    "www-authenticate", "x-client-sku", "x-client-ver", "date", "server",
    # standard, public
    "host", "origin", "accept-encoding", "accept-language", "connection", "content-encoding",
    "transfer-encoding", "vary", "pragma", "expires", "allow", "sec-fetch-site", "sec-fetch-mode",
    "sec-fetch-dest", "sec-fetch-user", "upgrade-insecure-requests",
    # the app's fixed security headers
    "content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options",
    "cross-origin-opener-policy", "strict-transport-security",
})
#: Set-Cookie attributes kept in clear (RFC 6265bis 4.1.1); the cookie's value never is.
COOKIE_ATTRIBUTES: Final = frozenset({"path", "domain", "expires", "max-age", "secure", "httponly", "samesite",
                                      "partitioned"})

#: Token endpoint answer (RFC 6749 5.1, Azure AD v1): the metadata of the tokens, not the tokens.
TOKEN_CLEAR: Final = frozenset({"token_type", "expires_in", "ext_expires_in", "expires_on", "not_before",
                                "resource", "scope", "refresh_token_expires_in"})
#: OAuth / AADSTS error bodies (RFC 6749 5.2 plus Microsoft's diagnostics).
ERROR_CLEAR: Final = frozenset({"error", "error_description", "error_codes", "trace_id", "correlation_id",
                                "timestamp", "error_uri", "suberror"})
#: Graph error envelope ``{"error": {"code", "message", "innerError": {...}}}``.
GRAPH_ERROR_CLEAR: Final = frozenset({"code", "message"})
GRAPH_INNER_CLEAR: Final = frozenset({"date", "request-id", "client-request-id"})
#: OpenID Provider metadata (OIDC Discovery 1.0 section 3, RFC 8414 2, and Azure's additions).
METADATA_CLEAR: Final = frozenset({
    "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
    "registration_endpoint", "scopes_supported", "response_types_supported", "response_modes_supported",
    "grant_types_supported", "acr_values_supported", "subject_types_supported",
    "id_token_signing_alg_values_supported", "id_token_encryption_alg_values_supported",
    "id_token_encryption_enc_values_supported", "userinfo_signing_alg_values_supported",
    "request_object_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported", "display_values_supported", "claim_types_supported",
    "claims_supported", "service_documentation", "claims_locales_supported", "ui_locales_supported",
    "claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported",
    "require_request_uri_registration", "op_policy_uri", "op_tos_uri", "end_session_endpoint",
    "check_session_iframe", "frontchannel_logout_supported", "frontchannel_logout_session_supported",
    "backchannel_logout_supported", "http_logout_supported", "device_authorization_endpoint",
    "code_challenge_methods_supported", "introspection_endpoint", "revocation_endpoint",
    "tenant_region_scope", "cloud_instance_name", "cloud_graph_host_name", "msgraph_host", "rbac_url",
    "kerberos_endpoint", "microsoft_multi_refresh_token", "tenant_region_sub_scope",
})
#: One JWKS key (RFC 7517 4): public by definition; ``n`` and ``x5c`` are shortened, not hidden.
JWKS_KEY_CLEAR: Final = frozenset({"kid", "x5t", "x5t#S256", "kty", "use", "alg", "e", "issuer", "key_ops"})
JWKS_SHORTENED: Final = frozenset({"n", "x5c"})
#: id_token JOSE header and claims shown in clear; personal claims only with ``personal``.
JWT_HEADER_CLEAR: Final = frozenset({"alg", "kid", "typ", "x5t"})
JWT_CLAIMS_CLEAR: Final = frozenset({"iss", "aud", "tid", "exp", "nbf", "iat", "ver", "azp"})
PERSONAL_CLAIMS: Final = frozenset({"name", "upn", "email", "oid", "unique_name", "preferred_username",
                                    "given_name", "family_name", "sub"})
#: Graph ``/me``: only this member's value is shown without ``personal`` (a public schema URL).
GRAPH_ME_CLEAR: Final = frozenset({"@odata.context"})

#: The JSON bodies the redactor knows; any other body becomes one fingerprint.
SCHEMAS: Final = ("token", "oauth_error", "metadata", "jwks", "graph_me", "graph_error")
