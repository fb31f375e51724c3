"""Who imports whom, read with ``ast`` (nothing is imported): for tests/test_layers.py and
tests/test_public_names.py.

An import is an edge from the importing module to the module it names: ``from aadweb.web import
pages`` names the submodule ``aadweb.web.pages``, ``from aadweb.web import create_app`` the package
``aadweb.web``. Imports inside functions count (they run); imports under ``if TYPE_CHECKING:``
are marked type-only (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aadweb"


@dataclass(frozen=True, slots=True)
class Import:
    source: str  # the importing module (dotted), or a file path outside the package
    target: str  # the module named
    names: tuple[str, ...]  # the names taken from it (``from X import a, b``); () for ``import X``
    line: int
    type_only: bool


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of ``aadweb`` (dotted name -> file), the emulator included."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, type_only
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), True)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), type_only)
        else:
            yield from _walk(child, type_only)


def imports(path: Path, source: str, *, is_package: bool, known: set[str] | None = None) -> list[Import]:
    """The imports of one file. ``source`` is its dotted name (relative imports resolve from it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = source if is_package else source.rpartition(".")[0]
    found: list[Import] = []
    for node, type_only in _walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(source, a.name, (), node.lineno, type_only) for a in node.names]
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        names = tuple(a.name for a in node.names)
        submodules = [f"{module}.{n}" for n in names if known is not None and f"{module}.{n}" in known]
        for sub in submodules:
            found.append(Import(source, sub, (), node.lineno, type_only))
        rest = tuple(n for n in names if known is None or f"{module}.{n}" not in known)
        if rest or not submodules:
            found.append(Import(source, module, rest, node.lineno, type_only))
    return found


def package_imports() -> list[Import]:
    """Every import made by a module of ``aadweb``."""
    modules = package_modules()
    known = set(modules)
    result: list[Import] = []
    for name, path in modules.items():
        result += imports(path, name, is_package=path.name == "__init__.py", known=known)
    return result
