"""A small Flask app that writes no OAuth at all: aadweb signs people in in front of it.

Two ways to put aadweb in front of it; both give the app the same thing:

1. From the environment, with nothing in the app's code::

       AADWEB_APP=examples.flask_app:app gunicorn -w 2 aadweb.wsgi:app

   ``aadweb.wsgi:app`` is then this Flask app, protected (``aadweb.protect(app)`` with the
   settings from ``AADWEB_*``). Register ``http://<host>/.auth/callback`` as the redirect URI
   and set ``AADWEB_REDIRECT_URI`` to it.

2. In code, when you start the app yourself::

       import aadweb
       from examples.flask_app import app
       app.wsgi_app = aadweb.protect(app.wsgi_app)   # keeps Flask's app object (CLI, test client)

Behind the gate, every request the app sees is signed in (except ``AADWEB_PUBLIC_PATHS``):

* ``request.remote_user`` (``environ["REMOTE_USER"]``): the user's UPN;
* ``request.environ["aadweb.user"]``: a frozen ``aadweb.User`` (tid, oid, sub, name, username,
  email, roles, groups);
* ``request.environ["aadweb.access_token"](resource=None, scopes=None)``: an access token for
  the sign-in's resource (Microsoft Graph by default) or another one. It raises
  ``aadweb.ConsentRequired`` when the user must consent first: let it propagate, and the gate
  sends the browser to consent and back to the same URL (an API call gets a 401).

Pages: ``/`` who is signed in; ``/me`` Graph's ``/me`` for the user; ``/api/hello`` and
``/api/token-audience?resource=...`` JSON; ``/echo-headers`` what reached the app (to see that
aadweb's cookies and any identity header a client made up never do); ``/public/health`` for
``AADWEB_PUBLIC_PATHS=/public/``.

``EXAMPLE_AUDIT_LOG=<file>`` makes the app append one line per request it serves (who, what):
a request the gate refused never shows up there.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import requests
from flask import Flask, jsonify, redirect, request
from markupsafe import Markup

import aadweb

GRAPH_URL = os.environ.get("AADWEB_GRAPH_URL") or "https://graph.microsoft.com/v1.0/me"
#: Where aadweb's own routes are (``AADWEB_ROUTE_PREFIX``).
AUTH = (os.environ.get("AADWEB_ROUTE_PREFIX") or "/.auth").rstrip("/")
#: Headers /echo-headers reports on when they arrive, and the environ keys it looks at.
_ENVIRON_KEYS = ("REMOTE_USER", "HTTP_COOKIE", "HTTP_REMOTE_USER", "HTTP_X_AUTH_REQUEST_USER",
                 "HTTP_X_MS_CLIENT_PRINCIPAL_NAME")

app = Flask(__name__)


def _user() -> aadweb.User | None:
    user = request.environ.get("aadweb.user")
    return user if isinstance(user, aadweb.User) else None


def _page(title: str, body: Markup) -> str:
    """An HTML page; ``Markup.format`` escapes every value it puts in."""
    return Markup("<!doctype html><html><head><meta charset='utf-8'><title>{}</title></head>"
                  "<body><h1>{}</h1>{}<p><a href='/'>Home</a> · <a href='/me'>Graph /me</a> · "
                  "<a href='{}/logout'>Sign out</a></p></body></html>").format(title, title, body, AUTH)


@app.after_request
def _audit(response: Any) -> Any:
    path = os.environ.get("EXAMPLE_AUDIT_LOG")
    if path:
        line = json.dumps({"pid": os.getpid(), "method": request.method, "path": request.path,
                           "user": request.remote_user, "status": response.status_code})
        with open(path, "a", encoding="utf-8") as log:  # one short line per write: O_APPEND keeps lines whole
            log.write(line + "\n")
    return response


@app.get("/")
@app.get("/<path:anything>")
def home(anything: str = "") -> str:
    """Who is signed in, as the app sees it (any path: a deep link comes back to itself)."""
    user = _user()
    rows = Markup("").join(
        Markup("<tr><th>{}</th><td id='{}'>{}</td></tr>").format(label, key, value)
        for label, key, value in [
            ("REMOTE_USER", "remote-user", request.remote_user or ""),
            ("Name", "name", user.name if user else ""),
            ("Roles", "roles", ", ".join(user.roles) if user else ""),
            ("Groups", "groups", ", ".join(user.groups) if user else ""),
            ("Path", "path", request.full_path.rstrip("?")),
        ])
    return _page("Signed in", Markup("<table>{}</table>").format(rows))


@app.get("/me")
def me() -> Any:
    """Microsoft Graph ``/me`` for the signed-in user, with a token aadweb keeps fresh."""
    try:
        token = request.environ["aadweb.access_token"]()
    except aadweb.ReauthenticationRequired:  # the session is over: sign in again, back here
        return redirect(f"{AUTH}/login?next=/me")
    answer = requests.get(GRAPH_URL, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code != 200:
        return _page("Graph said no", Markup("<p>Graph answered {}.</p>").format(answer.status_code)), 502
    profile = answer.json()
    rows = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(key, value)
                           for key, value in profile.items() if not key.startswith("@"))
    return _page("Graph /me", Markup("<table>{}</table>").format(rows))


@app.get("/api/hello")
def hello() -> Any:
    return jsonify(hello=request.remote_user)


@app.get("/api/token-audience")
def token_audience() -> Any:
    """The audience of an access token for ``?resource=`` (default: the sign-in's resource).

    The token is decoded WITHOUT verifying its signature: for display only. The app never
    trusts what it reads here; whoever receives the token (Graph, the API) verifies it.
    """
    resource = request.args.get("resource") or None
    token = request.environ["aadweb.access_token"](resource=resource)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return jsonify(resource=resource, aud=claims.get("aud"), scp=claims.get("scp"), roles=claims.get("roles"))


@app.route("/echo-headers", methods=["GET", "POST"])
@app.route("/public/echo-headers", methods=["GET", "POST"])
def echo_headers() -> Any:
    """What reached the app: its request headers and a few environ keys."""
    environ = request.environ
    return jsonify(
        headers=dict(request.headers),
        environ={key: environ.get(key) for key in _ENVIRON_KEYS},
        aadweb_keys=sorted(key for key in environ if key.startswith("aadweb.")),
        username=user.username if (user := _user()) else None,
    )


@app.get("/public/health")
def health() -> Any:
    return jsonify(status="ok", signed_in=request.remote_user is not None)
