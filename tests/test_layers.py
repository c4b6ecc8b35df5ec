"""The rooms of the code and which may import which: lower layers never import higher ones, and
no module imports itself back through others (import cycles make a package's modules load in
an order that depends on who imported first).

The import graph is read from the source with `ast` (every import, including those inside
functions: a lazy import back up is still a cycle), not by importing anything.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS: tuple[str, ...] = (
    "procedures",
    "identity",
    "workflows",
    "activities",
    "runtime",
    "worker",
    "motcua",
)
"""Lowest first: a module may import its own layer and the layers before it, never after."""

CONTRACTS: frozenset[str] = frozenset({"activities.payloads"})
"""Modules of a higher layer that lower ones may import: the activities' inputs and outputs are
the contract between the workflows that call them and the activities (pydantic models that
import only `procedures`)."""


def modules(root: Path) -> dict[str, Path]:
    """Every module of the layers found under `root`, by dotted name."""
    found: dict[str, Path] = {}
    for top in LAYERS:
        single = root / f"{top}.py"
        if single.is_file():
            found[top] = single
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else ():
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the layers it imports (a name imported from a package counts as
    its submodule when there is one)."""
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t in known and t != name)
    return graph


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import of a higher layer, as 'importer -> imported'."""
    return sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if layer(target) > layer(name) and target not in CONTRACTS
    )


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One path per import cycle found (depth-first search, each back edge a cycle)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return found


def test_no_import_cycle() -> None:
    graph = import_graph(ROOT)
    assert {"worker", "runtime.workers", "motcua.client", "motcua.audit.replay"} <= set(graph)
    assert cycles(graph) == []


def test_lower_layers_never_import_higher_ones() -> None:
    graph = import_graph(ROOT)
    assert upward_imports(graph) == []
    assert not any(t.startswith("motcua") for n, ts in graph.items() if layer(n) < 6 for t in ts)
    for contract in CONTRACTS:  # a contract stays as low as the layers importing it
        assert {t.split(".")[0] for t in graph[contract]} <= {"procedures"}, contract


def test_the_check_sees_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The two checks above can fail: a lazy import back, and a workflow importing motcua."""
    (tmp_path / "motcua" / "audit").mkdir(parents=True)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "motcua" / "__init__.py").write_text("")
    (tmp_path / "motcua" / "audit" / "__init__.py").write_text("")
    (tmp_path / "motcua" / "audit" / "a.py").write_text("from motcua.audit.b import f\n")
    (tmp_path / "motcua" / "audit" / "b.py").write_text(
        "def f():\n    from motcua.audit import a\n"
    )
    (tmp_path / "workflows" / "__init__.py").write_text("")
    (tmp_path / "workflows" / "dossier.py").write_text("from motcua import client\n")
    (tmp_path / "motcua" / "client.py").write_text("from . import audit\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["motcua.audit.a", "motcua.audit.b", "motcua.audit.a"]]
    assert upward_imports(graph) == ["workflows.dossier -> motcua.client"]
    assert "motcua.audit" in graph["motcua.client"]
