"""The parts of the package import each other only downward, and never in a circle.

The order is docs/development.md's map: a part may import its own modules and the parts
on lower floors, never a part on its own floor or above. Lazy imports inside functions
count too: a circle through a function body is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines" / "insightly"

# Floors, lowest first. A top-level module is a part of its own.
FLOORS: list[set[str]] = [
    {"errors", "stats", "catalogue"},
    {"api"},
    {"config", "warehouse"},
    {"actions", "history"},
    {"read"},
    {"deletes"},
    {"sync"},
    {"models"},
    {"ops"},
    {"push"},
    {"dagster_models"},  # the models as Dagster assets, which dagster_defs adds to the sync's
    {"cli", "dagster_defs"},
]
FLOOR = {part: n for n, parts in enumerate(FLOORS) for part in parts}


def module_name(path: Path) -> str:
    parts = ["insightly", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def imports_of(path: Path) -> set[str]:
    """The insightly modules a file imports (relative imports resolved), as the finest
    module that exists: `from insightly.read import walk` is insightly.read.walk."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("insightly.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base != "insightly" and not base.startswith("insightly."):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return found - {me}


FILES = sorted(PACKAGE.rglob("*.py"))
MODULES = {module_name(p) for p in FILES}
GRAPH = {module_name(p): imports_of(p) for p in FILES}


def test_every_part_has_a_floor():
    parts = {part_of(m) for m in MODULES} - {""}
    assert parts - set(FLOOR) == set(), "a new part: give it a floor in FLOORS and the map"
    assert len(MODULES) > 60, "the package moved?"


def upward(graph: dict[str, set[str]], module: str) -> list[str]:
    """The imports of `module` that go to its own floor or above, in another part."""
    here, found = part_of(module), []
    for target in sorted(graph[module]):
        there = part_of(target)
        if there and there != here and FLOOR[there] >= FLOOR[here]:
            found.append(f"{module} -> {target} (floor {FLOOR[here]} -> {FLOOR[there]})")
    return found


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Depth-first search over the module graph; every back edge closes a circle."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    found: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                found.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_only_downward(module):
    assert upward(GRAPH, module) == []


def test_no_circles():
    assert circles(GRAPH) == []


def test_the_checks_catch_an_upward_import_and_a_circle():
    """On a made-up graph: a read module importing the sync, and two modules in a loop."""
    graph = {
        "insightly.read.walk": {"insightly.sync.run", "insightly.api.stamps"},
        "insightly.sync.run": {"insightly.read.walk"},
        "insightly.api.stamps": set(),
    }
    assert upward(graph, "insightly.read.walk") == [
        "insightly.read.walk -> insightly.sync.run (floor 4 -> 6)"
    ]
    assert upward(graph, "insightly.sync.run") == []
    assert circles(graph) == ["insightly.read.walk -> insightly.sync.run -> insightly.read.walk"]
