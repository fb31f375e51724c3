"""The emulator's HTML pages. Every value from a request is HTML-escaped here.

- the sign-in page: one ``<form method="post">`` back to the authorize URL, the original
  parameters as hidden inputs, one submit button ``name="user" value="<upn>"`` per user
  and a ``name="cancel"`` button;
- the ``form_post`` answer (OAuth 2.0 Form Post Response Mode): hidden inputs posted to
  the redirect URI by ``<body onload="document.forms[0].submit()">``, with a button in
  ``<noscript>`` for browsers without script;
- the error page Azure shows when it cannot trust the redirect URI (never a redirect);
- the signed-out page and an index page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from werkzeug.wrappers import Response

from ._model import DemoUser

__all__ = [
    "check_session_page",
    "error_page",
    "form_post_page",
    "html_response",
    "index_page",
    "sign_in_page",
    "signed_out_page",
]

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}"
    "main{max-width:30rem;margin:3rem auto;background:#fff;padding:2rem;"
    "box-shadow:0 2px 6px rgba(0,0,0,.2)}"
    "button.user{display:block;width:100%;text-align:left;margin:.4rem 0;padding:.6rem;"
    "border:1px solid #ccc;background:#fafafa;cursor:pointer;font-size:1rem}"
    "button.user:hover{background:#e8f0fe}small{color:#555}"
    ".note{color:#666;font-size:.85rem}code{word-break:break-all}"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_response(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _page(title: str, content: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{content}"
        '<p class="note">aadweb emulator: a local stand-in for Azure AD. Not Microsoft; '
        "nothing here leaves this machine.</p></main></body></html>\n"
    )


def _hidden(params: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in params.items()
    )


def sign_in_page(
    *, action: str, params: Mapping[str, str], users: Iterable[DemoUser], app_name: str,
    tenant_name: str, login_hint: str | None, consent: str | None = None,
) -> str:
    hint = (login_hint or "").lower()
    ordered = sorted(users, key=lambda u: u.upn.lower() != hint)
    buttons = "".join(
        f'<li><button class="user" type="submit" name="user" value="{_e(u.upn)}"'
        f'{" autofocus" if u.upn.lower() == hint else ""}>'
        f"{_e(u.name)}<br><small>{_e(u.upn)}</small></button></li>"
        for u in ordered
    )
    content = (
        "<h1>Pick an account</h1>"
        f"<p>to continue to <strong>{_e(app_name)}</strong> "
        f"(directory: {_e(tenant_name)})</p>"
        + (f'<p id="consent">Permissions requested: <code>{_e(consent)}</code>. Picking '
           "an account accepts them for that account.</p>" if consent else "")
        + f'<form method="post" action="{_e(action)}">{_hidden(params)}'
        f'<ul style="list-style:none;padding:0">{buttons}</ul>'
        '<button type="submit" name="cancel" value="1">Cancel</button></form>'
    )
    return _page("Sign in to your account", content)


def form_post_page(redirect_uri: str, fields: Mapping[str, str]) -> str:
    """OAuth 2.0 Form Post Response Mode, section 2: auto-submitted hidden fields."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Working...'
        '</title></head><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{_e(redirect_uri)}">{_hidden(fields)}'
        '<noscript><p>Script is disabled. Press Continue to finish signing in.</p>'
        '<button type="submit">Continue</button></noscript></form></body></html>\n'
    )


def error_page(
    *, aadsts: int, message: str, trace_id: str, correlation_id: str, timestamp: str
) -> str:
    content = (
        "<h1>Sign in</h1><p>Sorry, but we\u2019re having trouble signing you in.</p>"
        f'<p id="error"><strong>AADSTS{aadsts}</strong>: {_e(message)}</p>'
        f"<p><small>Request Id: {_e(trace_id)}<br>Correlation Id: {_e(correlation_id)}"
        f"<br>Timestamp: {_e(timestamp)}</small></p>"
    )
    return _page("Sign in to your account", content)


def signed_out_page(refused: str | None) -> str:
    content = "<h1>You signed out of your account</h1>"
    if refused:
        content += (
            f"<p>The post_logout_redirect_uri <code>{_e(refused)}</code> is not on a "
            "registered redirect URI's origin, so the emulator does not link to it.</p>"
        )
    content += "<p>It\u2019s a good idea to close all browser windows.</p>"
    return _page("Signed out", content)


def check_session_page() -> str:
    """The ``check_session_iframe`` (OpenID Connect Session Management 3.3): it answers
    every ``postMessage`` with "unchanged" (the emulator keeps no browser session)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>checksession'
        "</title></head><body><script>window.addEventListener('message',function(e){"
        "e.source.postMessage('unchanged',e.origin);});</script></body></html>\n"
    )


def index_page(
    *, base_url: str, tenants: Iterable[tuple[str, str]], users: Iterable[DemoUser],
    clients: Iterable[tuple[str, tuple[str, ...]]],
) -> str:
    tenant_rows = "".join(
        f"<li><code>{_e(tid)}</code> ({_e(domain)}): "
        f'<a href="{_e(base_url)}/{_e(tid)}/.well-known/openid-configuration">metadata</a>'
        "</li>"
        for tid, domain in tenants
    )
    user_rows = "".join(f"<li>{_e(u.name)} <small>{_e(u.upn)}</small></li>" for u in users)
    client_rows = "".join(
        f"<li><code>{_e(cid)}</code>: {', '.join(f'<code>{_e(r)}</code>' for r in uris)}</li>"
        for cid, uris in clients
    )
    content = (
        "<h1>aadweb emulator</h1><p>A local Azure AD authority (v1.0 and v2.0) and Microsoft "
        "Graph.</p>"
        f"<h2>Tenants</h2><ul>{tenant_rows}</ul><h2>Users</h2><ul>{user_rows}</ul>"
        f"<h2>Apps and redirect URIs</h2><ul>{client_rows}</ul>"
    )
    return _page("aadweb emulator", content)


NON_JSON_BODY = (
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>"
    "<p>This page is HTML, not JSON (aadweb emulator non_json fault).</p></body></html>\n"
)
