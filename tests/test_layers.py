"""The import graph of ``aadweb`` follows DESIGN.md's "Layers" drawing (imports point down only).

Read with ``ast`` (tests/importgraph.py): every module, every import, including the ones inside
functions (they run when called); imports under ``if TYPE_CHECKING:`` never run, so they do not
make cycles, but they still may not point up.
"""

from __future__ import annotations

from collections.abc import Iterable

from tests.importgraph import Import, package_imports, package_modules

#: DESIGN.md's drawing, bottom to top; a module belongs to the longest entry naming it or one of
#: its packages. A module may import its own layer (without cycles) and the layers below it.
#: Beyond the drawing: ``_version``, ``secret``, ``user`` (the signed-in user as an app sees it)
#: and ``_fs`` (may a file be written) are plain values and helpers every layer may use; ``flow``
#: (the flow id) sits with the transcript that defined it; ``keycache`` beside ``authority``,
#: which it serves; ``events`` and ``phases`` (what SignIn reports, and its phase table) with
#: ``signin``; ``compose`` (build_signin) is the composition root minus the web layer, so
#: it sits with ``signin``; ``_devserver`` (no aadweb imports) with ``web``; ``testing`` (for an
#: embedder's tests: emulator, demo settings, dev server) between ``web`` and the entry points,
#: ``cli`` uses its demo settings; ``wsgi`` and ``__main__`` are entry points like ``cli``; the
#: package face ``aadweb`` is above everything and imported by nothing inside the package.
#: ``settings`` sits just above ``protocol``, not beside ``errors`` as the drawing has it: issue 11
#: moved the protocol's vocabulary (response types, ClientCertificate, the loopback rule) down
#: into ``protocol/`` for ``settings`` to import, and ``protocol/`` never imports ``settings``.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("aadweb._version", "aadweb.secret", "aadweb._fs", "aadweb.user"),
    ("aadweb.errors",),
    ("aadweb.protocol",),
    # settings.py split by responsibility: cloud presets, per-value checks, value parsers and the TOML file.
    ("aadweb.settings", "aadweb.clouds", "aadweb._config_checks", "aadweb._config_read",
     "aadweb.gate_settings"),
    ("aadweb.transport",),
    ("aadweb.transcript", "aadweb.flow"),
    ("aadweb.authority", "aadweb.graph", "aadweb.keycache"),
    ("aadweb.sessions",),
    ("aadweb.signin", "aadweb.compose", "aadweb.events", "aadweb.phases"),
    ("aadweb.web", "aadweb._devserver"),
    ("aadweb.testing",),
    # ``register`` (aadweb register: device code sign-in + Graph app registration) is a front end like ``cli``.
    ("aadweb.cli", "aadweb.wsgi", "aadweb.__main__", "aadweb.register"),
)
FACE = "aadweb"
#: The emulator is a separate peer: it imports nothing of the client, and only the front ends
#: that start it for a person (``aadweb demo``, ``aadweb.testing``) import it.
EMULATOR = "aadweb.emulator"
EMULATOR_USERS = frozenset({"aadweb.cli", "aadweb.testing"})


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the entry, layer)
    for layer, entries in enumerate(LAYERS):
        for entry in entries:
            if _within(module, entry) and (best is None or len(entry) > best[0]):
                best = (len(entry), layer)
    return None if best is None else best[1]


def _internal(edges: Iterable[Import]) -> list[Import]:
    return [e for e in edges if _within(e.target, FACE)]


def _show(edge: Import) -> str:
    return f"{edge.source}:{edge.line} imports {edge.target}" + (" (type-only)" if edge.type_only else "")


def test_every_module_has_a_layer() -> None:
    homeless = [m for m in package_modules() if m != FACE and not _within(m, EMULATOR) and layer_of(m) is None]
    assert not homeless, f"modules missing from LAYERS: {homeless}"


def test_nothing_imports_upward() -> None:
    upward = []
    for edge in _internal(package_imports()):
        if edge.target == FACE or _within(edge.target, EMULATOR) or _within(edge.source, EMULATOR):
            continue  # the tests below
        if edge.source == FACE:
            continue  # the face is above everything
        source, target = layer_of(edge.source), layer_of(edge.target)
        assert source is not None and target is not None, _show(edge)
        if target > source:
            upward.append(_show(edge))
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_nothing_inside_the_package_imports_the_package_face() -> None:
    found = [_show(e) for e in _internal(package_imports()) if e.target == FACE]
    assert not found, "import aadweb.<module>, never the package face `aadweb`:\n" + "\n".join(found)


def test_nothing_imports_the_cli() -> None:
    found = [_show(e) for e in _internal(package_imports())
             if _within(e.target, "aadweb.cli") and e.source not in ("aadweb.cli", "aadweb.__main__")]
    assert not found, "\n".join(found)


def test_the_emulator_imports_nothing_of_the_client() -> None:
    found = [_show(e) for e in _internal(package_imports())
             if _within(e.source, EMULATOR) and not _within(e.target, EMULATOR)]
    assert not found, "\n".join(found)


def test_only_the_front_ends_import_the_emulator() -> None:
    found = [_show(e) for e in _internal(package_imports())
             if _within(e.target, EMULATOR) and not _within(e.source, EMULATOR) and e.source not in EMULATOR_USERS]
    assert not found, "\n".join(found)


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert cycles([("a", "b"), ("b", "c")]) == []


def test_no_import_cycles_between_modules() -> None:
    modules = set(package_modules())
    runtime = [(e.source, e.target) for e in _internal(package_imports()) if not e.type_only and e.target in modules]
    found = cycles(runtime)
    assert not found, "import cycles (a TYPE_CHECKING import is the only allowed way back):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_layer_of_takes_the_longest_entry() -> None:
    assert layer_of("aadweb.web.app") == layer_of("aadweb.web")
    assert layer_of("aadweb.protocol.token") == 2
    assert layer_of("aadweb.websocket") is None  # a prefix of a name is not its package
