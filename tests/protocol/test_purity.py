"""``aadweb/protocol/`` is pure: no I/O imports, no clock, no randomness (DESIGN.md, Layers).

A name-based AST check: it catches the direct spellings (``import socket``, ``time.time()``,
``from os import urandom``), which is what a reviewer would otherwise have to spot by eye.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "aadweb" / "protocol"

BANNED_MODULES = frozenset(
    {"requests", "werkzeug", "redis", "sqlite3", "socket", "http.client", "urllib3", "urllib.request", "ssl",
     "subprocess", "secrets", "random", "httpx", "aiohttp"}
)
# Calls that read the clock or draw randomness, by their dotted name as written.
BANNED_CALLS = frozenset(
    {
        "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter", "time.sleep",
        "datetime.now", "datetime.utcnow", "datetime.today", "date.today",
        "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
        "os.urandom", "os.getrandom", "uuid.uuid1", "uuid.uuid4", "open",
    }
)
# ``from X import name`` of the same things.
BANNED_FROM = frozenset(
    {("time", n) for n in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "sleep")}
    | {("os", "urandom"), ("os", "getrandom"), ("uuid", "uuid1"), ("uuid", "uuid4"), ("http", "client"),
       ("urllib", "request")}
)


def _banned_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in BANNED_MODULES)


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def violations(source: str, filename: str = "<string>") -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _banned_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _banned_module(node.module):
                found.append(f"from {node.module} import ...")
            found += [f"from {node.module} import {a.name}" for a in node.names if (node.module, a.name) in BANNED_FROM]
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is not None and (
                name in BANNED_CALLS
                or name.startswith(("secrets.", "random."))
                or _banned_module(name.rsplit(".", 1)[0])
            ):
                found.append(f"call {name}()")
    return [f"{filename}:{v}" for v in found]


def protocol_files() -> list[Path]:
    return sorted(PROTOCOL.glob("*.py"))


def test_protocol_package_has_modules_to_check() -> None:
    names = {p.name for p in protocol_files()}
    assert {"__init__.py", "token.py", "callback.py", "graph.py"} <= names


@pytest.mark.parametrize("path", protocol_files(), ids=lambda p: p.name)
def test_protocol_module_does_no_io_reads_no_clock_and_draws_no_randomness(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize(
    "source",
    [
        "import requests",
        "import socket as s",
        "import http.client",
        "from http import client",
        "from http.client import HTTPConnection",
        "import urllib3.util",
        "from werkzeug.wrappers import Request",
        "import redis",
        "import sqlite3",
        "import secrets",
        "from random import choice",
        "from time import time",
        "from os import urandom",
        "import time\ntime.time()",
        "import time\nt = time.monotonic()",
        "from datetime import datetime\ndatetime.now()",
        "import datetime\ndatetime.datetime.now(tz=None)",
        "import os\nos.urandom(16)",
        "x = secrets.token_urlsafe(32)",
        "random.random()",
        "import uuid\nuuid.uuid4()",
    ],
)
def test_purity_check_catches_each_banned_spelling(source: str) -> None:
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import hashlib, base64, json, re",
        "from urllib.parse import urlencode",
        "import email.utils\nemail.utils.parsedate_to_datetime('x')",
        "import jwt\njwt.encode({}, 'k')",
        "from datetime import UTC, datetime\ndatetime.fromtimestamp(0, tz=UTC)",
        "def f(now: float) -> float:\n    return now + 1",
    ],
)
def test_purity_check_allows_pure_code(source: str) -> None:
    assert violations(source) == []
