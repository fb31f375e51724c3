"""A demo sign-in's wire transcript stays the same across refactorings (issue 11).

One whole visit (sign in, Graph, sign out) in each flow and endpoint, through the real app and emulator over
loopback sockets, is reduced to what must not change — the legs in order, who talks to whom,
methods, URLs, header names and values, form and JSON fields, JWT summaries, verdicts — with
ids, timings, ports and fingerprint hashes masked (the fingerprint's kind and length stay). The
result is compared with ``golden/<flow>.json``, captured before the restructuring.

A deliberate change of what goes over the wire regenerates the files with
``AADWEB_REGOLD=1 pytest tests/transcript/test_golden.py`` and shows up in review as a diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.transcript.transcript_helpers import records, visit
from tests.web.conftest import Served, serve  # noqa: F401 - the fixture, shared with tests/web

GOLDEN = Path(__file__).parent / "golden"
#: name -> (response type, endpoint); v1's two files were captured before the v2.0 client existed.
FLOWS = {"hybrid": ("code id_token", "v1"), "code": ("code", "v1"), "v2-code": ("code", "v2"),
         "v2-hybrid": ("code id_token", "v2")}

#: Fields that are ids or timings: present or absent is kept, the value is not.
_VOLATILE = frozenset({"ts", "time", "pid", "seq", "exchange", "flow", "elapsed_ms", "client_request_id",
                       "trace_id", "correlation_id"})
_FINGERPRINT = re.compile("\u00ab([a-z_0-9]+):[0-9a-f]+ (len=\\d+)\u00bb")
_PORT = re.compile(r"(127\.0\.0\.1|localhost|\[::1\]):\d+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "expires_on", "not_before", "ext_expires_in"})
_VOLATILE_HEADERS = frozenset({"date", "content-length", "expires", "last-modified", "etag", "server"})
#: The emulator makes its signing keys (and so their ids) afresh for each run.
_KEY_MATERIAL = frozenset({"kid", "x5t", "n", "x5c", "x5t#S256"})
_CHALLENGE = re.compile(r"code_challenge=[A-Za-z0-9_-]+")
#: The test browser's own version (requests) is not the app's behaviour.
_BROWSER_AGENT = re.compile(r"python-requests/[0-9.]+")


def _mask_text(text: str, client_id: str) -> str:
    text = text.replace(client_id, "<client_id>")
    text = _FINGERPRINT.sub("\u00ab\\1:* \\2\u00bb", text)
    text = _CHALLENGE.sub("code_challenge=<challenge>", text)
    text = _BROWSER_AGENT.sub("python-requests/<version>", text)
    text = _PORT.sub(r"\1:<port>", text)
    return _UUID.sub("<uuid>", text)


def _mask(value: Any, client_id: str, key: str = "") -> Any:
    if key in _VOLATILE:
        return "<masked>" if value is not None else None
    if key in _KEY_MATERIAL and isinstance(value, str | list):
        return "<key>"
    if key in _TIME_CLAIMS and isinstance(value, int | float | str):
        return "<time>"
    if isinstance(value, dict):
        return {k: _mask(v, client_id, k) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, str) for v in value) and value[0].lower() in _VOLATILE_HEADERS:
            return [value[0], "<masked>"]
        return [_mask(v, client_id) for v in value]
    if isinstance(value, str):
        return _mask_text(value, client_id)
    return value


def _normalised(served: Served, path: Path) -> list[Any]:
    return [_mask(dict(r), served.settings.client_id) for r in records(path)]


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_a_demo_sign_in_leaves_the_golden_transcript(serve: Callable[..., Served], tmp_path: Path,  # noqa: F811
                                                     name: str) -> None:
    wire_log = tmp_path / "wire.jsonl"
    response_type, endpoint = FLOWS[name]
    served = serve(wire_log=str(wire_log), response_type=response_type, endpoint=endpoint)
    visit(served)
    got = _normalised(served, wire_log)
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("AADWEB_REGOLD") == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert [r["leg"] for r in got] == [r["leg"] for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs, f"leg {theirs['leg']} differs"
