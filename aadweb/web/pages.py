"""The HTML pages: plain HTML5, no JavaScript, one stylesheet, every value escaped.

Each function returns a complete document as ``str``; ``root`` is the app's mount point
(``SCRIPT_NAME``, "" at the root) and prefixes every link and form action. Every value that
did not come from this file goes through :func:`e` (``html.escape(..., quote=True)``), keys
and values alike.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from werkzeug.wrappers import Response

from aadweb.protocol.aadsts import lookup_url
from aadweb.protocol.graph import GraphUser

__all__ = [
    "STYLESHEET_PATH",
    "Problem",
    "document",
    "e",
    "forbidden_page",
    "graph_page",
    "home_page",
    "html_response",
    "logout_page",
    "problem_page",
    "signed_out_page",
]

#: Where the stylesheet is served, under the app's root.
STYLESHEET_PATH: Final = "/_aadweb/static/aadweb.css"


def e(value: object) -> str:
    """HTML-escape anything for text and for attribute values."""
    return html.escape(str(value), quote=True)


def html_response(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def document(*, root: str, title: str, main: str, css_version: str = "", auth: str | None = None) -> str:
    """A whole page. ``root``: the app's mount point (its home is ``{root}/``); ``auth``: where
    aadweb's own routes are (``root`` + ``AADWEB_ROUTE_PREFIX`` in front of an app; default ``root``)."""
    auth = root if auth is None else auth
    css = f"{auth}{STYLESHEET_PATH}" + (f"?v={css_version}" if css_version else "")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)} \u2014 aadweb</title>\n"
        f'<link rel="stylesheet" href="{e(css)}">\n</head>\n<body>\n'
        f'<header><a class="brand" href="{e(root)}/">aadweb</a></header>\n'
        f"<main>\n{main}\n</main>\n</body>\n</html>\n"
    )


def home_page(*, root: str, name: str, tenant: str, css_version: str = "", auth: str | None = None,
              wire_view: bool = False) -> str:
    auth = root if auth is None else auth
    tenant_line = f"<p>Organisation (tenant): <code>{e(tenant)}</code></p>" if tenant else ""
    # The transcript page (AADWEB_WIRE_VIEW=1, demo/loopback only) is linked only when served.
    wire_link = f'<li><a href="{e(auth)}/_aadweb/wire">What went over the wire</a></li>' if wire_view else ""
    main = (
        f"<h1>Hello, {e(name)}</h1>\n<p>You are signed in.</p>\n{tenant_line}\n"
        '<ul class="actions">'
        f'<li><a class="button" href="{e(root)}/graphcall">Call Microsoft Graph</a></li>'
        f'{wire_link}<li><a href="{e(auth)}/logout">Sign out</a></li></ul>'
    )
    return document(root=root, title="Signed in", main=main, css_version=css_version, auth=auth)


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f'<tr><th scope="row">{e(key)}</th><td>{e(value)}</td></tr>' for key, value in pairs)


def graph_page(*, root: str, user: GraphUser, css_version: str = "", auth: str | None = None) -> str:
    auth = root if auth is None else auth
    who = user.display_name or user.user_principal_name or "you"
    main = (
        "<h1>Microsoft Graph: /me</h1>\n"
        f"<p>What Microsoft Graph says about <strong>{e(who)}</strong>:</p>\n"
        '<table class="fields"><thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>'
        f"<tbody>{_rows(user.fields)}</tbody></table>\n"
        f'<ul class="actions"><li><a href="{e(root)}/">Home</a></li>'
        f'<li><a href="{e(auth)}/logout">Sign out</a></li></ul>'
    )
    return document(root=root, title="Microsoft Graph", main=main, css_version=css_version, auth=auth)


def logout_page(*, root: str, csrf_token: str, css_version: str = "", auth: str | None = None) -> str:
    auth = root if auth is None else auth
    main = (
        "<h1>Sign out?</h1>\n<p>This ends your session here and signs you out at Microsoft.</p>\n"
        f'<form method="post" action="{e(auth)}/logout">'
        f'<input type="hidden" name="csrf_token" value="{e(csrf_token)}">'
        '<button type="submit">Sign out</button></form>\n'
        f'<p><a href="{e(root)}/">Cancel</a></p>'
    )
    return document(root=root, title="Sign out", main=main, css_version=css_version, auth=auth)


def signed_out_page(*, root: str, css_version: str = "", auth: str | None = None) -> str:
    auth = root if auth is None else auth
    # No link to the home page: for a signed-out browser it starts a sign-in at once.
    main = (
        "<h1>You are signed out</h1>\n<p>Your session here has ended.</p>\n"
        f'<p><a class="button" href="{e(auth)}/login">Sign in</a></p>'
    )
    return document(root=root, title="Signed out", main=main, css_version=css_version, auth=auth)


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """What went wrong, for a person: a title, what happened, what to do, details for support.

    ``action`` is the link offered: ``"sign_in"`` (Sign in again), ``"home"``, ``"retry"`` or
    ``"admin_consent"`` (an administrator signs in with ``prompt=admin_consent``). ``aadsts``:
    the AADSTS codes shown, each linked to Microsoft's explanation of it.
    """

    status: int
    title: str
    message: str
    what_to_do: str = ""
    details: tuple[tuple[str, str], ...] = ()
    action: str = "home"
    retry_after: int | None = None
    aadsts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError("a problem is a 4xx or 5xx answer")
        if self.action not in ("sign_in", "home", "retry", "admin_consent"):
            raise ValueError("action must be sign_in, home, retry or admin_consent")
        if any(code <= 0 for code in self.aadsts):
            raise ValueError("an AADSTS code is a positive number")


def problem_page(problem: Problem, *, root: str, css_version: str = "", auth: str | None = None) -> str:
    auth = root if auth is None else auth
    parts = [f"<h1>{e(problem.title)}</h1>", f"<p>{e(problem.message)}</p>"]
    if problem.what_to_do:
        parts.append(f'<p class="todo"><strong>What to do:</strong> {e(problem.what_to_do)}</p>')
    if problem.action == "sign_in":
        parts.append(f'<p><a class="button" href="{e(auth)}/login">Sign in again</a></p>')
    elif problem.action == "retry":
        parts.append(f'<p><a class="button" href="{e(root)}/">Try again</a></p>')
    elif problem.action == "admin_consent":
        parts.append(f'<p><a class="button" href="{e(auth)}/login?prompt=admin_consent">'
                     "I am an administrator: grant consent</a></p>"
                     f'<p><a href="{e(root)}/">Go to the home page</a></p>')
    else:
        parts.append(f'<p><a href="{e(root)}/">Go to the home page</a></p>')
    if problem.aadsts:
        links = ", ".join(f'<a href="{e(lookup_url(code))}" rel="noopener noreferrer">AADSTS{code}</a>'
                          for code in problem.aadsts)
        parts.append(f"<p>Microsoft's explanation: {links}</p>")
    if problem.details:
        parts.append(
            "<details><summary>Details for support</summary>"
            f'<table class="fields"><tbody>{_rows(problem.details)}</tbody></table></details>'
        )
    return document(root=root, title=problem.title, main="\n".join(parts), css_version=css_version, auth=auth)


def forbidden_page(*, root: str, who: str, missing: str, css_version: str = "", auth: str | None = None) -> str:
    """403: signed in, but without a role or group this app requires (DESIGN.md: who is signed
    in, and what is missing). The app was not called."""
    auth = root if auth is None else auth
    main = (
        "<h1>You do not have access to this application</h1>\n"
        f"<p>You are signed in as <strong>{e(who)}</strong>, but this application needs {e(missing)}.</p>\n"
        '<p class="todo"><strong>What to do:</strong> ask the application\'s administrator to give you '
        "access, or sign in with another account.</p>\n"
        f'<ul class="actions"><li><a class="button" href="{e(auth)}/login?prompt=select_account">'
        f'Sign in with another account</a></li><li><a href="{e(auth)}/logout">Sign out</a></li></ul>'
    )
    return document(root=root, title="No access", main=main, css_version=css_version, auth=auth)
