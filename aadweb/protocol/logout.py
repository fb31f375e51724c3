"""The end-session redirect: ``GET {end_session_endpoint}?post_logout_redirect_uri=...``.

OpenID Connect RP-Initiated Logout 1.0 section 2; Azure AD v1 sends the browser back to
``post_logout_redirect_uri`` afterwards when it is registered for the app.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from aadweb.protocol.endpoint import V1_PUBLIC, Endpoint
from aadweb.protocol.metadata import is_secure_url

__all__ = ["build_logout_url", "logout_endpoint"]


def build_logout_url(*, end_session_endpoint: str, post_logout_redirect_uri: str | None) -> str:
    """The URL to send the browser to after the local session is gone."""
    if not is_secure_url(end_session_endpoint):
        raise ValueError("end_session_endpoint must be an https URL (http only on a loopback host)")
    if post_logout_redirect_uri is None:
        return end_session_endpoint
    # RP-Initiated Logout 2: post_logout_redirect_uri must be a registered, absolute URL
    if not is_secure_url(post_logout_redirect_uri):
        raise ValueError("post_logout_redirect_uri must be an https URL (http only on a loopback host)")
    separator = "&" if "?" in end_session_endpoint else "?"
    query = urlencode({"post_logout_redirect_uri": post_logout_redirect_uri}, quote_via=quote)
    return f"{end_session_endpoint}{separator}{query}"


def logout_endpoint(authority_url: str, endpoint: Endpoint = V1_PUBLIC) -> str:
    """Azure AD v1's end-session endpoint of ``{authority_host}/{tenant}``: ``.../oauth2/logout``.

    The ``end_session_endpoint`` of the v1 metadata (RP-Initiated Logout 1.0 2); known from the
    configured authority, so signing out does not wait for the metadata.
    """
    return endpoint.url(authority_url, endpoint.logout_path)
