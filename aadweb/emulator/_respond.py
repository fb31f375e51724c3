"""Applying the generic faults to an endpoint's answer.

Order for one request: ``delay`` sleeps first; then the first of ``error`` (not on
authorize, whose handler sends errors to the redirect URI), ``redirect``, ``non_json``,
``huge``, ``gzip_bomb`` replaces the answer without running the handler; otherwise the
handler answers and every ``drop_field``/``set_field`` is applied if that answer is a 2xx
JSON object (they are used up only then); last, ``drip`` slows down whatever body it is.
"""

from __future__ import annotations

import functools
import json
import time
import zlib
from collections.abc import Callable, Iterator

from werkzeug.wrappers import Response

from ._errors import (
    AadError,
    Diag,
    default_aadsts,
    graph_error_response,
    oauth_error_response,
    status_for_error,
)
from ._faults import Fault, FaultSet
from ._pages import NON_JSON_BODY

__all__ = ["serve_with_faults"]

_REPLACING = ("redirect", "non_json", "huge", "gzip_bomb")
_CHUNK = 64 * 1024


def serve_with_faults(
    faults: FaultSet, endpoint: str, diag: Diag, base_url: str,
    handler: Callable[[], Response],
) -> Response:
    delay = faults.take(endpoint, ("delay",))
    if delay is not None and delay.seconds:
        time.sleep(delay.seconds)
    kinds = _REPLACING if endpoint == "authorize" else ("error", *_REPLACING)
    replacing = faults.take(endpoint, kinds)
    if replacing is not None:
        response = _replacement(replacing, endpoint, diag, base_url)
    else:
        response = handler()
        response = _edit_json(faults, endpoint, response)
    drip = faults.take(endpoint, ("drip",))
    if drip is not None:
        response = _dripping(response, drip)
    return response


def error_answer(fault: Fault, endpoint: str, diag: Diag, base_url: str) -> Response:
    if endpoint == "graph":
        code = fault.code or "InvalidAuthenticationToken"
        return graph_error_response(
            code, f"Emulated Graph error {code}.", diag, base_url=base_url,
            status=fault.status, retry_after=fault.retry_after,
        )
    error = fault.error or ("invalid_grant" if endpoint == "token" else "server_error")
    aad = AadError(
        error=error,
        aadsts=fault.aadsts if fault.aadsts is not None else default_aadsts(error),
        status=fault.status or status_for_error(error),
    )
    return oauth_error_response(aad, diag, retry_after=fault.retry_after)


def _replacement(fault: Fault, endpoint: str, diag: Diag, base_url: str) -> Response:
    if fault.kind == "error":
        return error_answer(fault, endpoint, diag, base_url)
    if fault.kind == "redirect":
        response = Response("", status=fault.status or 302)
        response.headers["Location"] = f"{base_url}/_emulator/redirect-target"
        return response
    if fault.kind == "non_json":
        return Response(NON_JSON_BODY, status=200, content_type="text/html; charset=utf-8")
    if fault.kind == "huge":
        response = Response(_huge_body(fault.size), status=200,
                            content_type="application/json; charset=utf-8",
                            direct_passthrough=True)
        response.headers["Content-Length"] = str(fault.size)
        return response
    body = _gzip_bomb(fault.size)
    response = Response(body, status=200, content_type="application/json; charset=utf-8")
    response.headers["Content-Encoding"] = "gzip"
    return response


def _huge_body(size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes of valid JSON: ``{"padding":"aaa..."}`` (or ``{  }``)."""
    head, tail = b'{"padding":"', b'"}'
    if size < len(head) + len(tail):
        yield b"{" + b" " * (size - 2) + b"}"
        return
    yield head
    left = size - len(head) - len(tail)
    block = b"a" * _CHUNK
    while left > 0:
        piece = block[: min(left, _CHUNK)]
        left -= len(piece)
        yield piece
    yield tail


@functools.lru_cache(maxsize=4)
def _gzip_bomb(size: int) -> bytes:
    """A gzip member (RFC 1952) that inflates to ``size`` bytes of JSON whitespace."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b"{")]
    left = size - 2
    block = b" " * (1024 * 1024)
    while left > 0:
        piece = block[: min(left, len(block))]
        left -= len(piece)
        parts.append(packer.compress(piece))
    parts.append(packer.compress(b"}"))
    parts.append(packer.flush())
    return b"".join(parts)


def _edit_json(faults: FaultSet, endpoint: str, response: Response) -> Response:
    if not (200 <= response.status_code < 300) or response.mimetype != "application/json":
        return response
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    if not isinstance(body, dict):
        return response
    edits = faults.take_all(endpoint, ("drop_field", "set_field"))
    if not edits:
        return response
    for fault in edits:
        assert fault.field is not None  # checked by Fault
        if fault.kind == "drop_field":
            body.pop(fault.field, None)
        else:
            body[fault.field] = fault.value
    response.set_data(json.dumps(body, separators=(",", ":")))
    return response


def _dripping(response: Response, fault: Fault) -> Response:
    """The same answer, its body sent ``chunk_bytes`` at a time every ``interval``
    seconds (headers go out at once; the whole body takes about chunks x interval)."""
    body = response.get_data()

    def trickle() -> Iterator[bytes]:
        yield b""  # the server sends the status line and headers on the first write
        for start in range(0, len(body), fault.chunk_bytes):
            time.sleep(fault.interval)
            yield body[start : start + fault.chunk_bytes]

    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return Response(trickle(), status=response.status_code, headers=headers,
                    direct_passthrough=True)
