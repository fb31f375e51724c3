"""aadweb for nginx forward auth only (examples/nginx.conf)::

    AADWEB_APP=examples.forward_auth:app gunicorn -c examples/gunicorn.conf.py aadweb.wsgi:app

nginx sends aadweb nothing but ``/.auth/*`` (sign-in, callback, sign-out, ``/.auth/verify`` for
``auth_request``); the real app sits behind nginx, in any language. With ``AADWEB_APP`` set,
aadweb's own routes live under ``AADWEB_ROUTE_PREFIX`` (``/.auth``), where nginx expects them.
(Without it, aadweb serves the seed's sample with its routes at the root: ``/login``, ...)

The app below is what a request outside ``/.auth`` would reach if it got past nginx to
gunicorn: after signing in, a 404. Nothing behind aadweb itself is meant to be served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b"Not here: this site's pages are served through nginx.\n"
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                     ("Content-Length", str(len(body)))])
    return [body]
