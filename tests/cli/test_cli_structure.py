"""The CLI package's layout: modules with one job each, no import cycles, no module state."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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


def all_command_paths() -> list[list[str]]:
    """Every command and group of the CLI as its argv path (``[]`` is the top level)."""
    import typer.main

    from sinch_async.cli import app

    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        paths.append(path)
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click classes)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_help_reads_at_80_columns() -> None:
    """Plain click help (no rich panels): paragraphs rewrapped to the width, nothing cut
    with an ellipsis, no line wider than 80 columns."""
    from typer.testing import CliRunner

    from sinch_async.cli import app

    runner = CliRunner()
    paths = all_command_paths()
    assert len(paths) > 10 and ["send-bulk"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        lines = result.output.splitlines()
        assert "…" not in result.output and "╭" not in result.output, path
        too_wide = [line for line in lines if len(line) > 80]
        assert too_wide == [], (path, too_wide)


def test_option_metavars_are_words_not_python_types() -> None:
    """``--redis URL``, ``--lease SECONDS``, ``--max N``: never ``<list[str]>``,
    ``<float range>`` or ``<str>`` (a choice still lists its values; typer shows an
    argument's type, ``batch_id <str>``, whatever its metavar)."""
    import re

    from typer.testing import CliRunner

    from sinch_async.cli import app

    runner = CliRunner()
    python_type = re.compile(r"<(?:str|int|float|file|path|datetime|list\[[^>]*\]|\w+ range)>")
    for path in all_command_paths():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        options = [line for line in result.output.splitlines() if line.lstrip().startswith("-")]
        assert [line for line in options if python_type.search(line)] == [], path
