"""Canned answers for the hostile provider and for tests that script it: JSON, raw bytes,
redirects, gzip bombs, OAuth and Graph error envelopes, and the authorize callback itself."""

from __future__ import annotations

import gzip
import html
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

__all__ = [
    "callback_response",
    "graph_error",
    "gzip_bomb",
    "json_answer",
    "oauth_error",
    "raw_answer",
    "redirect_answer",
]


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def raw_answer(body: bytes | str, status: int = 200, *, content_type: str = "application/json",
               headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=status, content_type=content_type, headers=headers)


def redirect_answer(location: str, status: int = 302) -> Response:
    return Response("", status=status, headers={"Location": location})


def gzip_bomb(inflated: int = 64 << 20, status: int = 200) -> Response:
    """A few KB on the wire that inflate to ``inflated`` bytes of JSON-ish text."""
    body = gzip.compress(b'{"access_token":"' + b"A" * inflated, compresslevel=9)
    return Response(body, status=status, content_type="application/json",
                    headers={"Content-Encoding": "gzip"}, direct_passthrough=True)


def oauth_error(status: int, error: str, aadsts: int, description: str | None = None) -> Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    text = description or f"AADSTS{aadsts}: hostile says no.\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}"
    return json_answer({"error": error, "error_description": text, "error_codes": [aadsts],
                        "trace_id": trace, "correlation_id": correlation}, status)


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": "2024-01-01T00:00:00", "request-id": str(uuid.uuid4()),
                                     "client-request-id": str(uuid.uuid4())}}}
    return json_answer(body, status, headers)


def callback_response(redirect_uri: str, fields: dict[str, str], mode: str) -> Response:
    """Azure AD's answer to the browser: an auto-submitting form_post page, or a 302."""
    if mode == "form_post":
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
                         for k, v in fields.items())
        page = (f'<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" '
                f'action="{html.escape(redirect_uri)}">{inputs}<noscript><p>Script is disabled. Click Submit to '
                'continue.</p><input type="submit" value="Submit"/></noscript></form><script language="javascript">'
                "window.setTimeout('document.forms[0].submit()', 0);</script></body></html>")
        return Response(page, mimetype="text/html")
    sep = "&" if "?" in redirect_uri else "?"
    return redirect_answer(f"{redirect_uri}{sep}{urlencode(fields)}")
