"""The floor for ``bench_graphcall``: a Werkzeug app that only makes the upstream call.

Every request sends ``GET {BENCH_GRAPH_URL}`` with ``Authorization: Bearer {BENCH_ACCESS_TOKEN}``
on one keep-alive ``requests.Session`` per process, and answers with the JSON it got, as
HTML-escaped text. No session, no cookie, no token refresh: what is left is the cost the
upstream (Graph, here the emulator) sets.

    BENCH_GRAPH_URL=http://127.0.0.1:PORT/v1.0/me BENCH_ACCESS_TOKEN=... gunicorn benchmarks._upstream_only:app
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import requests
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

GRAPH_URL = os.environ.get("BENCH_GRAPH_URL", "")
HEADERS = {"Authorization": f"Bearer {os.environ.get('BENCH_ACCESS_TOKEN', '')}", "Accept": "application/json"}
_http: requests.Session | None = None
_pid = 0


def _session() -> requests.Session:
    global _http, _pid
    if _http is None or _pid != os.getpid():  # one per worker, made after the fork
        _http, _pid = requests.Session(), os.getpid()
    return _http


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    Request(environ)
    upstream = _session().get(GRAPH_URL, headers=HEADERS, timeout=10)
    body = f"<!DOCTYPE html>\n<pre>{html.escape(upstream.text)}</pre>\n"
    response = Response(body, status=200 if upstream.ok else 502, content_type="text/html; charset=utf-8")
    return response(environ, start_response)
