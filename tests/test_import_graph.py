"""The layers of machmeter point one way: parsed with ``ast`` (nothing is imported), every import between
its modules, lazy ones inside functions included, forms a graph with no cycle between packages and
none of the arrows that docs/architecture.md rules out."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "machmeter"

#: What the measuring side may use of machmeter: it runs inside asv's benchmark processes.
INSTRUMENT_ALLOWED = {"machmeter.errors", "machmeter.fileio"}

#: The detection library judges numbers; reporting, publishing and the CLI sit above it.
ABOVE_DETECT = ("report", "site", "github", "commands", "cli")

#: A package's __init__ gathering its own modules is not an arrow back up.
GATHERING_PACKAGES = {"machmeter.suites", "machmeter.instruments", "machmeter.site", "machmeter.report"}

Edges = set[tuple[str, str]]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path, known: set[str]) -> set[str]:
    """The machmeter modules ``path`` imports; ``from machmeter.x import y`` counts as an import of
    ``machmeter.x.y`` where that is a module, else of ``machmeter.x``."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else source)
    return {target for target in targets if target in known and target != name}


def module_graph(root: Path = PACKAGE_ROOT) -> Edges:
    paths = sorted(root.rglob("*.py"))
    known = {module_name(path, root) for path in paths}
    return {(module_name(path, root), target) for path in paths for target in imported_modules(path, root, known)}


def layer_of(module: str) -> str:
    """``machmeter.detect.engine`` -> ``detect``; a top-level module is its own layer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "machmeter"


def layer_graph(edges: Edges) -> Edges:
    # The package's __init__ (its version) is imported from everywhere and imports nothing.
    return {(layer_of(source), layer_of(target)) for source, target in edges
            if layer_of(source) != layer_of(target) and target != "machmeter"}


def cycle_in(edges: Edges) -> list[str]:
    """One cycle of the graph (``[a, b, a]``), or ``[]`` where it has none."""
    sorter = graphlib.TopologicalSorter()
    for source, target in edges:
        sorter.add(source, target)
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def arrows(edges: Edges, source_layer: str, target_layers) -> list[tuple[str, str]]:
    return sorted((source, target) for source, target in edges
                  if layer_of(source) == source_layer and layer_of(target) in target_layers)


def example_import(edges: Edges, source_layer: str, target_layer: str) -> tuple[str, str]:
    return arrows(edges, source_layer, {target_layer})[0]


@pytest.fixture(scope="module")
def graph() -> Edges:
    return module_graph()


def test_the_graph_sees_the_imports_it_should(graph):
    # Guards the parser itself: a graph missing these edges would pass every test below vacuously.
    assert ("machmeter.detect.engine", "machmeter.series") in graph  # absolute, top of module
    assert ("machmeter.suites.md", "machmeter.workloads.md") in graph  # lazy, inside a method
    assert ("machmeter.suites", "machmeter.suites.embedding") in graph  # from a package's __init__


def test_no_cycle_between_layers(graph):
    cycle = cycle_in(layer_graph(graph))
    assert not cycle, [f"{a} -> {b} ({' imports '.join(example_import(graph, a, b))})" for a, b in zip(cycle, cycle[1:])]


def test_no_cycle_between_modules(graph):
    assert cycle_in({(source, target) for source, target in graph if source not in GATHERING_PACKAGES}) == []


def test_workloads_never_import_suites(graph):
    assert arrows(graph, "workloads", {"suites"}) == []


def test_instruments_use_only_errors_and_fileio(graph):
    outside = sorted((source, target) for source, target in graph
                     if layer_of(source) == "instruments" and layer_of(target) != "instruments"
                     and target not in INSTRUMENT_ALLOWED | {"machmeter"})
    assert outside == []


def test_detect_never_imports_what_reports_it(graph):
    assert arrows(graph, "detect", ABOVE_DETECT) == []


def test_workloads_and_instruments_never_import_the_analysis_side(graph):
    analysis = {"detect", "report", "site", "github", "commands", "cli", "series", "history", "results",
                "comparison", "repository"}
    for layer in ("workloads", "instruments"):
        assert arrows(graph, layer, analysis) == []


def test_the_checks_fail_on_an_arrow_back_up(tmp_path):
    # A miniature package with the two faults the layering was untangled from: a workload importing a
    # suite, and two workloads importing each other.
    root = tmp_path / "machmeter"
    for name, text in {
        "__init__.py": "",
        "suites/__init__.py": "",
        "suites/base.py": "from machmeter.workloads import mlff\n",
        "workloads/__init__.py": "",
        "workloads/mlff.py": "def load():\n    from machmeter.suites.base import load_reference\n",
        "workloads/esm.py": "from .minilm import pool\n",
        "workloads/minilm.py": "def flops():\n    from machmeter.workloads.esm import count\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    graph = module_graph(root)
    assert arrows(graph, "workloads", {"suites"}) == [("machmeter.workloads.mlff", "machmeter.suites.base")]
    assert cycle_in(layer_graph(graph))
    within_workloads = {edge for edge in graph if {layer_of(module) for module in edge} == {"workloads"}}
    assert sorted(cycle_in(within_workloads)[:2]) == ["machmeter.workloads.esm", "machmeter.workloads.minilm"]
