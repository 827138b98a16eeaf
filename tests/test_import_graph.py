"""Dependencies point one way: no import cycles, counting imports made inside functions too.

A lazy import hides a cycle from Python but not from a reader: the store importing the built-in images
while they import the store means neither can be read alone. Imports under ``if TYPE_CHECKING:`` do not
count (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _runtime_imports(tree: ast.AST):
    """Import nodes, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports(ast.Module([child], [])))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def import_graph(*packages: str) -> dict[str, set[str]]:
    graph = {}
    for package in packages:
        for path in ROOT.joinpath(*package.split(".")).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            deps = set()
            for node in _runtime_imports(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names)
                elif node.module and node.level == 0:
                    subs = [f"{node.module}.{a.name}" for a in node.names]
                    deps.update([s for s in subs if _is_module(s)] or [node.module])
            graph[module] = deps
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


@pytest.mark.parametrize("package", ["runtime.images", "runtime.cgroups", "runtime.containers", "runtime.cli",
                                     "runtime.linux", "runtime.doctor", "sim"])
def test_no_import_cycles(package):
    assert cycles(import_graph(package)) == []


def test_the_cycle_finder_sees_a_lazy_cycle_and_ignores_type_checking():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\n"
                     "def f():\n    import y\n")
    found = [ast.unparse(n) for n in _runtime_imports(tree)]
    assert found == ["from typing import TYPE_CHECKING", "import y"]
