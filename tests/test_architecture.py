"""The package graph keeps its arrows down: linli/ is the shared ground, server/ the composition root on top.

Every module of the project is parsed with ast (imports inside functions count too; Piccolo migrations are
skipped, they are loaded by Piccolo and not by the code), so a new import that bends an arrow fails here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = "linli"
COMPOSITION = "server"
SKIP = {"tests", "chaos", "bench", "deploy", ".venv", "build", "linli.egg-info"}


def _packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in SKIP and (p / "__init__.py").exists())


def _imports(path: Path, package: str) -> set[str]:
    """Top-level project packages the module imports (absolute and relative imports, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(package)  # a relative import stays inside its own top-level package
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


def _graph() -> dict[str, set[str]]:
    packages = set(_packages())
    graph: dict[str, set[str]] = defaultdict(set)
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            if "piccolo_migrations" in path.parts:
                continue
            graph[package] |= (_imports(path, package) & packages) - {package}
    return graph


def test_the_walk_sees_every_package_and_their_imports() -> None:
    graph = _graph()
    assert {SHARED, COMPOSITION, "community", "volunteers", "workers"} <= set(_packages())
    # the walk must see real arrows, or every assertion below would pass on an empty graph
    assert "community" in graph["volunteers"]
    assert SHARED in graph[COMPOSITION]


def test_the_shared_ground_imports_no_domain_and_not_the_composition_root() -> None:
    assert _graph()[SHARED] == set()


def test_no_domain_imports_the_composition_root() -> None:
    graph = _graph()
    offenders = sorted(p for p, deps in graph.items() if p != COMPOSITION and COMPOSITION in deps)
    assert offenders == []


def test_only_the_composition_root_knows_the_console() -> None:
    # The console is a face over the domains' services: it may import them, none of them may import it.
    graph = _graph()
    assert "partners" in graph["console"]
    assert sorted(p for p, deps in graph.items() if p != COMPOSITION and "console" in deps) == []


def test_the_package_graph_has_no_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep in trail:
                cycles.append([*trail[trail.index(dep) :], dep])
            elif len(trail) < len(graph) + 1:
                visit(dep, [*trail, dep])

    for start in sorted(graph):
        visit(start, [start])
    assert sorted({" -> ".join(c) for c in cycles}) == []
