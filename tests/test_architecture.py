"""The shape of the code: no import cycle in `bot/` or `handlers/`, and no Telegram in `bot/`.

The import graph is read from the source with `ast`, not by importing it. Every import counts as an
edge, wherever it is written: at the top of a module, inside a function, or under
``if TYPE_CHECKING:``. An import deferred into a function only to get past a cycle still makes the two
modules depend on each other (neither can be read, tested or moved without the other), so it is a
cycle here too; the cure is to move the piece both need to a module both can import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers")


@dataclass(frozen=True)
class Edge:
    """One import statement: `source` imports `target` at `path:line`."""

    source: str
    target: str
    path: str
    line: int


def module_name(path: Path) -> str:
    """`bot/web/app.py` -> `bot.web.app`, `bot/web/__init__.py` -> `bot.web`."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the packages by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Each (absolute dotted name, line) the module imports; `from a import b` gives `a.b`."""
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A relative import: `.x` from bot/web/app.py is bot.web.x; from bot/web/__init__.py too.
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.extend((f"{prefix}.{alias.name}", node.lineno) for alias in node.names)
    return names


def import_graph() -> list[Edge]:
    """The project's own imports between its modules (third-party and stdlib left out)."""
    modules = project_modules()
    edges: list[Edge] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[str] = set()
        for name, line in imported_names(tree, module, path.name == "__init__.py"):
            # `from bot.web import app` names the module bot.web.app; `from bot.store import Store` names
            # bot.store (Store is not a module). The longest existing module wins.
            target = name
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module and target not in seen:
                seen.add(target)
                edges.append(Edge(module, target, str(path.relative_to(ROOT)), line))
    return edges


def find_cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One shortest cycle per strongly connected group of modules (Tarjan), as its import statements."""
    graph: dict[str, list[Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
        graph.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                connect(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles: list[list[Edge]] = []
    for group in groups:
        start = min(group)
        # Breadth-first from `start` back to itself, inside the group: the shortest cycle through it.
        paths: dict[str, list[Edge]] = {start: []}
        queue = [start]
        cycle: list[Edge] | None = None
        while queue and cycle is None:
            node = queue.pop(0)
            for edge in sorted(graph[node], key=lambda e: e.target):
                if edge.target not in group:
                    continue
                if edge.target == start:
                    cycle = paths[node] + [edge]
                    break
                if edge.target not in paths:
                    paths[edge.target] = paths[node] + [edge]
                    queue.append(edge.target)
        assert cycle is not None
        cycles.append(cycle)
    return cycles


def describe(cycle: list[Edge]) -> str:
    """`a -> b -> a` followed by where each import is written."""
    chain = " -> ".join([cycle[0].source] + [edge.target for edge in cycle])
    where = "".join(f"\n    {edge.source} imports {edge.target} at {edge.path}:{edge.line}" for edge in cycle)
    return chain + where


def test_no_import_cycles() -> None:
    """Every module of bot/ and handlers/ can be understood without one that depends on it back."""
    cycles = find_cycles(import_graph())
    if cycles:
        pytest.fail("import cycles:\n" + "\n".join(describe(cycle) for cycle in cycles), pytrace=False)


def test_bot_never_imports_telegram() -> None:
    """`bot/` is the Telegram-free core: python-telegram-bot is imported only under `handlers/`."""
    offenders = []
    for module, path in project_modules().items():
        if not module.startswith("bot"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line in imported_names(tree, module, path.name == "__init__.py"):
            if name == "telegram" or name.startswith("telegram."):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not offenders, "\n".join(sorted(set(offenders)))


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check itself can fail: a deferred import that closes a loop is reported with its lines."""
    edges = [
        Edge("bot.a", "bot.b", "bot/a.py", 3),
        Edge("bot.b", "bot.c", "bot/b.py", 5),
        Edge("bot.c", "bot.a", "bot/c.py", 40),
        Edge("bot.c", "bot.d", "bot/c.py", 2),
    ]
    (cycle,) = find_cycles(edges)
    assert describe(cycle).splitlines()[0] == "bot.a -> bot.b -> bot.c -> bot.a"
    assert "bot/c.py:40" in describe(cycle)
    assert find_cycles(edges[1:]) == []


def test_imports_inside_functions_and_relative_ones_are_edges() -> None:
    """A deferred import and a TYPE_CHECKING one count; relative imports resolve from the module's package."""
    source = """
from typing import TYPE_CHECKING
from . import sibling
from .other import name
from .. import cousin
if TYPE_CHECKING:
    from bot.types import Hint
def later():
    import bot.late
"""
    names = {name for name, _ in imported_names(ast.parse(source), "bot.web.app", is_package=False)}
    assert {"bot.web.sibling", "bot.web.other.name", "bot.cousin", "bot.types.Hint", "bot.late"} <= names
    package = {name for name, _ in imported_names(ast.parse("from .x import y"), "bot.web", is_package=True)}
    assert package == {"bot.web.x.y"}
