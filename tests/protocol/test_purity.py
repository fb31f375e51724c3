"""``aadweb/protocol/`` is pure: no I/O imports, no clock, no randomness (DESIGN.md, Layers).

A name-based AST check: it catches the direct spellings (``import socket``, ``time.time()``,
``from os import urandom``), which is what a reviewer would otherwise have to spot by eye. It
checks every module of ``protocol/`` *and every aadweb module they import, transitively*: the
import graph is walked from the import statements (AST, nothing is executed), so a pure module
cannot borrow I/O through a helper elsewhere in aadweb. Outside ``protocol/`` only
:data:`ALLOWED_OUTSIDE` may be reached (the exception tree and the secret wrapper); in
particular ``aadweb.settings`` (which reads the environment and files) must not be.

Parent packages' ``__init__`` are not followed for a submodule import (``import aadweb.errors``
runs ``aadweb/__init__.py`` at run time, the public surface that necessarily sits on top); a
name imported from a package itself (``from aadweb import Settings``) does reach its
``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "aadweb" / "protocol"
#: The aadweb modules outside ``protocol/`` that the protocol layer may import (DESIGN.md, Layers).
ALLOWED_OUTSIDE = frozenset({"aadweb.errors", "aadweb.secret"})

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


def _module_file(root: Path, name: str) -> Path | None:
    """The source file of module ``name`` under ``root`` (``a/b.py`` or ``a/b/__init__.py``)."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(root: Path, name: str, source: str, package: str) -> set[str]:
    """The modules of package ``package`` (e.g. ``aadweb``) that module ``name``'s imports name."""
    is_package = _module_file(root, name) == root.joinpath(*name.split("."), "__init__.py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # ``from pkg import sub`` imports the submodule when there is one, else a name of pkg.
            subs = [f"{module}.{a.name}" for a in node.names if _module_file(root, f"{module}.{a.name}")]
            targets = subs if len(subs) == len(node.names) else [*subs, module]
        else:
            continue
        found |= {t for t in targets if (t == package or t.startswith(package + ".")) and _module_file(root, t)}
    return found


def reachable_modules(root: Path, start: list[str], package: str = "aadweb") -> dict[str, Path]:
    """Every module of ``package`` reachable from ``start`` through import statements."""
    seen: dict[str, Path] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        path = _module_file(root, name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo += imported_modules(root, name, path.read_text(encoding="utf-8"), package)
    return seen


def protocol_closure() -> dict[str, Path]:
    return reachable_modules(ROOT, [_module_name(ROOT, p) for p in protocol_files()])


def test_protocol_package_has_modules_to_check() -> None:
    names = {p.name for p in protocol_files()}
    assert {"__init__.py", "token.py", "callback.py", "graph.py"} <= names


@pytest.mark.parametrize("name", sorted(protocol_closure()))
def test_protocol_module_and_what_it_imports_do_no_io_read_no_clock_and_draw_no_randomness(name: str) -> None:
    path = protocol_closure()[name]
    assert violations(path.read_text(encoding="utf-8"), name) == []


def test_protocol_reaches_no_aadweb_module_outside_protocol_but_errors_and_secret() -> None:
    outside = {name for name in protocol_closure() if not name.startswith("aadweb.protocol")}
    assert outside <= ALLOWED_OUTSIDE, sorted(outside - ALLOWED_OUTSIDE)


def test_protocol_does_not_reach_settings() -> None:
    closure = protocol_closure()
    assert "aadweb.settings" not in closure
    assert "aadweb" not in closure  # the package's __init__ imports settings (and the web app, lazily)
    assert {"aadweb.protocol.token", "aadweb.protocol.idtoken", "aadweb.errors", "aadweb.secret"} <= set(closure)


@pytest.mark.parametrize(
    ("files", "reached"),
    [
        # a pure-looking module that borrows I/O through a helper two hops away
        ({"pkg/protocol/a.py": "from pkg.helper import f", "pkg/helper.py": "import pkg.deep",
          "pkg/deep.py": "import socket"}, {"pkg.protocol.a", "pkg.helper", "pkg.deep"}),
        # ``from pkg import sub`` reaches the submodule; a name of the package reaches its __init__
        ({"pkg/protocol/a.py": "from pkg import helper", "pkg/helper.py": ""}, {"pkg.protocol.a", "pkg.helper"}),
        ({"pkg/protocol/a.py": "from pkg import Name"}, {"pkg.protocol.a", "pkg"}),
        # relative imports resolve against the module's package
        ({"pkg/protocol/a.py": "from . import b\nfrom ..helper import f", "pkg/protocol/b.py": "",
          "pkg/helper.py": ""}, {"pkg.protocol.a", "pkg.protocol.b", "pkg.helper"}),
        # third-party and standard-library imports are not walked
        ({"pkg/protocol/a.py": "import jwt\nimport json"}, {"pkg.protocol.a"}),
    ],
    ids=["two-hops", "from-package-import-submodule", "from-package-import-name", "relative", "foreign"],
)
def test_import_walk_follows_the_package_s_own_imports(
    tmp_path: Path, files: dict[str, str], reached: set[str]
) -> None:
    for rel, source in {"pkg/__init__.py": "", "pkg/protocol/__init__.py": "", **files}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(source, encoding="utf-8")
    assert set(reachable_modules(tmp_path, ["pkg.protocol.a"], package="pkg")) == reached


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
