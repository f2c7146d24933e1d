"""The test suite's own layout rules (issue 16, point 10), read from the files as text/AST (this
module imports nothing from ``tests``):

* every test module lives in an area folder, and every area folder is a package with a conftest;
* no module under ``tests/`` imports a test module or a conftest (shared helpers live in
  ``tests/support``);
* each fixture name is defined once in the whole suite (variants are configured by marker or
  get their own name);
* conftests hold fixtures and hooks only (no public helpers to import).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
AREAS = {"unit", "client", "fake", "cli", "redis", "process", "webhooks", "package"}
#: Folders under tests/ that are not areas (no test modules in them).
OTHER = {"support", "data", "__pycache__"}


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def rel(path: Path) -> str:
    return path.relative_to(TESTS).as_posix()


def test_every_test_module_is_in_an_area_folder() -> None:
    misplaced = [
        rel(p)
        for p in TESTS.rglob("test_*.py")
        if len(p.relative_to(TESTS).parts) != 2 or p.relative_to(TESTS).parts[0] not in AREAS
    ]
    assert misplaced == [], f"move these into one of tests/{sorted(AREAS)}: {misplaced}"


def test_only_known_folders() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir()}
    assert folders <= AREAS | OTHER, f"unknown folders under tests/: {folders - AREAS - OTHER}"


@pytest.mark.parametrize("area", sorted(AREAS))
def test_each_area_is_a_package_with_a_conftest(area: str) -> None:
    folder = TESTS / area
    assert (folder / "__init__.py").is_file(), f"tests/{area}/__init__.py is missing"
    assert (folder / "conftest.py").is_file(), f"tests/{area}/conftest.py is missing"


def _imported_modules(path: Path, tree: ast.Module) -> list[str]:
    """Dotted names of every module ``path`` imports (relative imports resolved)."""
    package = ["tests", *path.relative_to(TESTS).parts[:-1]]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.append(module)
            # ``from . import test_x`` / ``from tests import conftest``
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offending = []
    for path in python_files():
        for name in _imported_modules(path, parse(path)):
            parts = name.split(".")
            if parts[0] != "tests":
                continue
            if any(part == "conftest" or part.startswith("test_") for part in parts[1:]):
                offending.append(f"{rel(path)} imports {name}")
    assert offending == [], "import shared helpers from tests.support instead:\n" + "\n".join(
        offending
    )


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target).split(".")[-1] == "fixture"


def _fixture_definitions(tree: ast.Module) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if _is_fixture(decorator):
                    name = node.name
                    if isinstance(decorator, ast.Call):
                        for kw in decorator.keywords:
                            if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                                name = str(kw.value.value)
                    found.append((name, node.lineno))
        elif isinstance(node, ast.Assign) and "pytest_plugin." in ast.unparse(node.value):
            # a re-exported plugin fixture (``fake_sinch = pytest_plugin.fake_sinch``)
            found.extend((ast.unparse(t), node.lineno) for t in node.targets)
    return found


def test_each_fixture_name_is_defined_once() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for path in python_files():
        for name, line in _fixture_definitions(parse(path)):
            homes[name].append(f"{rel(path)}:{line}")
    twice = {name: where for name, where in homes.items() if len(where) > 1}
    assert twice == {}, (
        f"one home per fixture name (configure variants with a marker or rename them): {twice}"
    )


def test_conftests_hold_fixtures_and_hooks_only() -> None:
    helpers = []
    for path in TESTS.rglob("conftest.py"):
        for node in parse(path).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                decorators = getattr(node, "decorator_list", [])
                private = node.name.startswith("_")
                hook = node.name.startswith("pytest_")
                fixture = any(_is_fixture(d) for d in decorators)
                if not (private or hook or fixture):
                    helpers.append(f"{rel(path)}:{node.lineno} {node.name}")
    assert helpers == [], f"move these helpers to tests/support: {helpers}"


def test_the_rules_see_the_suite() -> None:
    """Guard against the checks above passing on an empty walk."""
    modules = list(TESTS.rglob("test_*.py"))
    assert len(modules) > 50
    assert any(name == "fake" for p in python_files() for name, _ in _fixture_definitions(parse(p)))
