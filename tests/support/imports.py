"""The import graph of a package, read from the source (every import, also in functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(package: str) -> dict[str, Path]:
    base = ROOT / package.replace(".", "/")
    return {module_name(p): p for p in base.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """What a file imports (also inside functions). ``from p import m`` counts as p.m when
    m is a module in ``known``, else as p."""
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            deps.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            deps.update(subs or {node.module})
    return deps


def import_graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of ``package`` it imports."""
    modules = modules_of(package)
    known = set(modules)
    return {name: {d for d in imports_of(path, known) if d in known and d != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle found by a depth-first walk (empty when there is none)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found
