"""The app behind the gate in ``bench_gate``: a bare WSGI callable that greets ``REMOTE_USER``.

No Werkzeug, no routing, no cookies: whatever it costs is the floor, so the gap between it served
alone and served behind :func:`aadweb.protect` is the gate's own cost.

    gunicorn benchmarks._hello_user:app                                 # unprotected
    AADWEB_APP=benchmarks._hello_user:app gunicorn aadweb.wsgi:app      # behind the gate
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = f"hello {environ.get('REMOTE_USER') or 'anonymous'}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
