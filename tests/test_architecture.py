"""The package's imports run one way (ARCHITECTURE.md): no cycle, and no module imports a layer
above its own. Every import counts, function-local ones included (only ``if TYPE_CHECKING:``
blocks are skipped: they never run).

Layers, lowest first: core (the top-level modules of ``deeplab/`` and ``backbones/``), data,
weights, runtimes, then export / training / portrait (portrait and training may import export,
nothing else sideways), then the CLIs (every module named ``cli`` and the three scripts).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

PACKAGE = "deeplab"
SCRIPTS = ("infer.py", "train.py", "export.py")
LAYERS = {"core": 0, "data": 1, "weights": 2, "runtimes": 3, "export": 4, "training": 4,
          "portrait": 4, "cli": 5}
#: The only imports allowed between two packages of the same layer (importer, imported).
SIDEWAYS = {("portrait", "export"), ("training", "export")}


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    imported: str  # module name
    where: str  # path:line


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the package and the top-level scripts, by module name."""
    modules = {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}
    for script in SCRIPTS:
        if (root / script).is_file():
            modules[script.removesuffix(".py")] = root / script
    return modules


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _type_checking_only(node):
            children = node.orelse
        stack.extend(children)


def imports_of(name: str, path: Path, known: set[str], root: Path) -> list[Import]:
    """The package modules ``name`` imports (at module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in _runtime_nodes(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from P import m` imports the module P.m when it is one
                targets.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        for target in targets:
            while target and target not in known:  # `import deeplab.x.y` of a name in deeplab.x
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] == PACKAGE and target != name:
                where = f"{path.relative_to(root)}:{node.lineno}"
                found.append(Import(name, target, where))
    return found


def layer_of(module: str) -> tuple[str, int]:
    """(group, layer number) of a module or script."""
    parts = module.split(".")
    if parts[0] != PACKAGE or parts[-1] == "cli":
        return "cli", LAYERS["cli"]
    group = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "core"
    if group not in LAYERS:  # a sub-package of the core (backbones/)
        group = "core"
    return group, LAYERS[group]


def layer_violations(imports: list[Import]) -> list[str]:
    problems = []
    for edge in imports:
        (group, layer), (their_group, their_layer) = layer_of(edge.importer), layer_of(edge.imported)
        upward = their_layer > layer
        sideways = (their_layer == layer and group != their_group
                    and (group, their_group) not in SIDEWAYS)
        if upward or sideways:
            problems.append(f"{edge.where}: {edge.importer} ({group}) imports {edge.imported} "
                            f"({their_group})")
    return problems


def cycles(imports: list[Import]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module), Tarjan."""
    graph: dict[str, set[str]] = {}
    for edge in imports:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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


def describe_cycle(component: list[str], imports: list[Import]) -> str:
    members = set(component)
    edges = [f"{e.where} -> {e.imported}" for e in imports
             if e.importer in members and e.imported in members]
    return " <-> ".join(component) + ": " + "; ".join(edges)


def all_imports(root: Path) -> list[Import]:
    modules = package_modules(root)
    known = set(modules)
    edges = [edge for name, path in modules.items() for edge in imports_of(name, path, known, root)]
    return list(dict.fromkeys(edges))  # `from m import a, b` is one import


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return all_imports(PROJECT_ROOT)


def test_no_module_imports_a_layer_above_its_own(imports):
    problems = layer_violations(imports)
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_there_is_no_import_cycle(imports):
    found = cycles(imports)
    assert not found, "import cycles:\n" + "\n".join(describe_cycle(c, imports) for c in found)


def test_the_walk_sees_every_module_and_function_local_imports(imports):
    modules = package_modules(PROJECT_ROOT)
    assert {"deeplab.cli", "deeplab.weights.sources", "infer", "train", "export"} <= set(modules)
    local = [e for e in imports if e.importer == "deeplab.cli" and e.imported.startswith(
        "deeplab.training")]
    assert local, "deeplab.cli imports deeplab.training.cli inside train_main"


def test_a_wrong_way_import_and_a_cycle_are_named(tmp_path):
    files = {
        "deeplab/__init__.py": "",
        "deeplab/config.py": "def f():\n    from deeplab.weights import sources\n",
        "deeplab/weights/__init__.py": "",
        "deeplab/weights/sources.py": "from deeplab import config\n",
        "deeplab/export/__init__.py": "",
        "deeplab/export/api.py": "from ..portrait import pipeline\n",
        "deeplab/portrait/__init__.py": "",
        "deeplab/portrait/pipeline.py": "from typing import TYPE_CHECKING\n"
                                        "if TYPE_CHECKING:\n    from deeplab import cli\n",
        "deeplab/cli.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = all_imports(tmp_path)
    problems = layer_violations(found)
    assert problems == [
        "deeplab/config.py:2: deeplab.config (core) imports deeplab.weights.sources (weights)",
        "deeplab/export/api.py:1: deeplab.export.api (export) imports deeplab.portrait.pipeline "
        "(portrait)"]
    assert cycles(found) == [["deeplab.config", "deeplab.weights.sources"]]
