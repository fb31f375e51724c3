"""Public names live in public modules (DESIGN.md, "Layers").

* The project's own examples and benchmarks import no private aadweb module (``aadweb._x``,
  ``aadweb.x._y``) and no ``_``-name from aadweb.
* Every name DESIGN.md says an embedder imports, once it exists, is importable from the package
  face ``aadweb`` and is defined in a public module.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import aadweb
import aadweb.errors
from tests.importgraph import PACKAGE, ROOT, imports, package_modules

#: What DESIGN.md names as an embedder's imports: "what an embedder imports (`Secret`,
#: `HttpRequest`, `HttpResponse`, `SignIn`, `User`, `protect`, `create_app`, `Settings`, the
#: errors, `aadweb.testing`)", and from "Protecting an app": `aadweb.ConsentRequired`,
#: `aadweb.ReauthenticationRequired`. The error families are aadweb.errors' exported classes.
EMBEDDER_NAMES = ("Secret", "HttpRequest", "HttpResponse", "SignIn", "User", "protect", "create_app", "Settings",
                  "ConsentRequired", "ReauthenticationRequired")
#: Modules DESIGN.md names for embedders and operators.
EMBEDDER_MODULES = ("aadweb.testing", "aadweb.errors", "aadweb.emulator", "aadweb.wsgi")
#: Error classes every embedder catches (DESIGN.md's tree, rooted at AadWebError).
ERROR_FAMILIES = ("AadWebError", "AuthorityError", "AuthorizationError", "ConfigurationError", "GraphError",
                  "ProtocolError", "SessionStoreError", "TokenValidationError", "TransportError")


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
               for part in dotted.split("."))


def _sources() -> list[Path]:
    found: list[Path] = []
    for folder in ("examples", "benchmarks"):
        found += [p for p in sorted((ROOT / folder).rglob("*.py")) if "node_modules" not in p.parts]
    return found


def _uses_of_private_names(path: Path) -> list[str]:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts) if path.is_relative_to(ROOT) else path.stem
    found: list[str] = []
    bound: set[str] = set()  # local names that refer to an aadweb module or object
    for edge in imports(path, name, is_package=path.name == "__init__.py"):
        if edge.target != "aadweb" and not edge.target.startswith("aadweb."):
            continue
        if _private(edge.target):
            found.append(f"{path.name}:{edge.line}: imports {edge.target}")
        found += [f"{path.name}:{edge.line}: imports {n} from {edge.target}" for n in edge.names if _private(n)]
        bound.update(edge.names or (edge.target.split(".")[0],))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root: ast.expr = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                found.append(f"{path.name}:{node.lineno}: uses {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_and_benchmarks_use_only_public_names(path: Path) -> None:
    assert _uses_of_private_names(path) == []


def test_the_private_name_check_catches_what_it_should(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import aadweb\nfrom aadweb._devserver import DevServer\nfrom aadweb.web.app import _rules\n"
        "from aadweb import testing\nfrom aadweb.protocol import _x\nx = testing._secret\ny = aadweb.__version__\n",
        encoding="utf-8")
    found = _uses_of_private_names(sample)
    assert [line.split(": ", 1)[1] for line in found] == [
        "imports aadweb._devserver", "imports _rules from aadweb.web.app", "imports _x from aadweb.protocol",
        "uses testing._secret",
    ]


def _defined_in_package() -> set[str]:
    """Names defined at module level anywhere in aadweb (classes, functions, assignments)."""
    names: set[str] = set()
    for path in package_modules().values():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_every_embedder_name_that_exists_comes_from_the_face_and_a_public_module() -> None:
    defined = _defined_in_package()
    existing = [n for n in (*EMBEDDER_NAMES, *ERROR_FAMILIES) if n in defined]
    assert {"Secret", "HttpRequest", "HttpResponse", "SignIn", "create_app", "Settings"} <= set(existing)
    for name in existing:
        assert name in aadweb.__all__, f"aadweb does not export {name}"
        value = getattr(aadweb, name)
        module = getattr(value, "__module__", "")
        assert module.startswith("aadweb.") and not _private(module), f"{name} is defined in {module}"
        assert getattr(importlib.import_module(module), name) is value


def test_the_face_exports_a_sorted_all_of_names_it_has() -> None:
    assert aadweb.__all__ == sorted(aadweb.__all__)
    for name in aadweb.__all__:
        assert getattr(aadweb, name) is not None, name
    with pytest.raises(AttributeError):
        aadweb.no_such_name  # noqa: B018


def test_the_error_families_are_exported_by_aadweb_errors() -> None:
    assert set(ERROR_FAMILIES) <= set(aadweb.errors.__all__)


def test_embedder_modules_are_public() -> None:
    for dotted in EMBEDDER_MODULES:
        assert not _private(dotted)
        relative = Path(*dotted.split(".")[1:])
        assert (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()
