"""The CLI package's layout: modules with one job each, no import cycles, no module state."""

from __future__ import annotations

import ast
from pathlib import Path

import sinch_async.cli

CLI = Path(sinch_async.cli.__file__).parent


def local_imports(path: Path) -> set[str]:
    """The sibling modules (``._x`` / ``from . import x``) a CLI module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycles_between_cli_modules() -> None:
    graph = {p.stem: local_imports(p) for p in CLI.glob("*.py")}
    assert set().union(*graph.values()) <= set(graph), graph

    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, " -> ".join([*visiting, module])
        if module in done:
            return
        visiting.append(module)
        for dep in sorted(graph[module]):
            visit(dep)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert not any("_app" in deps for name, deps in graph.items() if name != "__init__")


def test_options_are_not_module_state() -> None:
    """Options travel through the typer context: no ``global`` statement, and no module
    creates an ``Options`` at import time."""
    for path in CLI.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert not any(isinstance(n, ast.Global | ast.Nonlocal) for n in ast.walk(tree)), path
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
                func = node.value.func
                assert not (isinstance(func, ast.Name) and "Options" in func.id), path.name
