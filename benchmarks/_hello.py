"""The floor for ``bench_page``: a bare Werkzeug app that answers every request with a small
HTML page (about the size of aadweb's signed-in home page). No routing, no cookies, no store.

    gunicorn benchmarks._hello:app
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Hello</title>\n</head>\n'
    "<body>\n<main>\n<h1>Hello, Adele Vance</h1>\n<p>You are signed in.</p>\n"
    '<ul><li><a href="/graphcall">Call Microsoft Graph</a></li><li><a href="/logout">Sign out</a></li></ul>\n'
    "</main>\n</body>\n</html>\n"
)


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    request = Request(environ)
    response = Response(PAGE if request.method == "GET" else "", content_type="text/html; charset=utf-8")
    return response(environ, start_response)
