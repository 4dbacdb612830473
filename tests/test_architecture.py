"""The layer rule and the import graph, read from the source (no imports executed).

- Imports only go downward: features -> models -> forecasting -> training -> serving (an import inside
  a function counts too).
- Inside forecasting, persistence/ and infrastructure/ never import the domain rooms (evaluation,
  inventory, signals).
- No import circle between modules (imports inside functions excepted; ``if TYPE_CHECKING`` imports
  count, as they tie the modules together for a reader all the same).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("features", "models", "forecasting", "training", "serving")
SEAMS = ("persistence", "infrastructure")
DOMAIN_ROOMS = ("evaluation", "inventory", "signals")


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if "migrations" not in path.parts:
                name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                found[name] = path
    return found


def _imports(path: Path) -> Iterator[tuple[str, bool]]:
    """``(imported module, inside a function)`` for every absolute import of a project module."""

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [child.module, *(f"{child.module}.{alias.name}" for alias in child.names)]
            yield from ((n, inner) for n in names if n.split(".")[0] in LAYERS)
            yield from visit(child, inner)

    yield from visit(ast.parse(path.read_text()), False)


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "forecasting" and len(parts) > 1 else None


def test_imports_only_go_downward() -> None:
    upward = [(m, n) for m, p in _modules().items() for n, _ in _imports(p)
              if LAYERS.index(n.split(".")[0]) > LAYERS.index(m.split(".")[0])]
    assert upward == []


def test_persistence_and_infrastructure_do_not_import_the_domain() -> None:
    wrong = [(m, n) for m, p in _modules().items() if _room(m) in SEAMS
             for n, _ in _imports(p) if _room(n) in DOMAIN_ROOMS]
    assert wrong == []


def test_no_import_circles() -> None:
    modules = _modules()
    # A module importing its own package (``from forecasting.persistence import tables``) is not a circle.
    graph = {m: {n for n, in_function in _imports(p)
                 if n in modules and n != m and not in_function and not m.startswith(n + ".")}
             for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def strongly_connected(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                strongly_connected(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            strongly_connected(module)
    assert circles == []


def test_no_python_file_is_over_500_lines() -> None:
    """One responsibility per file: a module past 500 lines is split where its concepts part."""
    long = {}
    for top in (*LAYERS, "tests", "benchmarks"):
        for path in (ROOT / top).rglob("*.py"):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > 500 and "migrations" not in path.parts:
                long[str(path.relative_to(ROOT))] = lines
    assert not long, f"Split these files (limit 500 lines): {long}"
