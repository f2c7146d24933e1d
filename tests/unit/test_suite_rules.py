"""The test suite's own layout rules (issue 16, point 10), read from the files as text/AST (this
module imports nothing from ``tests``):

* every test module lives in an area folder, and every area folder is a package with a conftest;
* no module under ``tests/`` imports a test module or a conftest (shared helpers live in
  ``tests/support``);
* each fixture name is defined once in the whole suite (variants are configured by marker or
  get their own name);
* conftests hold fixtures and hooks only (no public helpers to import);
* no test sleeps on the wall clock to let time pass (``time.sleep(x)``, ``asyncio.sleep(x)``
  with ``x`` not the literal ``0``) unless it is marked ``realtime("<reason>")`` (on the test,
  its class or its module's ``pytestmark``) or lives in ``tests/process`` (real processes,
  marked ``realtime`` by the root conftest): virtual time (``FakeClock``) and events
  (``clock.wait_for_sleepers``, ``fake.wait_for_requests``, ``fake.settle()``) do the rest.
  A test on virtual loop time (it takes the ``virtual_time`` fixture, as an argument or by
  ``usefixtures`` on it, its class or its module) may ``asyncio.sleep``: that passes in no
  wall time. ``time.sleep`` blocks the loop for real: never allowed there.
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


#: Folders whose tests run real processes: the root conftest marks them ``realtime``.
REALTIME_FOLDERS = {"process"}


def _is_realtime_mark(node: ast.AST) -> bool:
    """``pytest.mark.realtime("<reason>")`` with a non-empty literal reason."""
    return (
        isinstance(node, ast.Call)
        and ast.unparse(node.func).split(".")[-2:] == ["mark", "realtime"]
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and bool(node.args[0].value.strip())
    )


def _carries_realtime(node: ast.AST) -> bool:
    """A ``realtime`` mark in ``node``'s decorators, or (module/class) in its ``pytestmark``."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and any(
        _is_realtime_mark(d) for d in node.decorator_list
    ):
        return True
    if isinstance(node, ast.Module | ast.ClassDef):
        for stmt in node.body:
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            else:
                continue
            named = any(ast.unparse(t) == "pytestmark" for t in targets)
            if named and any(_is_realtime_mark(n) for n in ast.walk(value)):
                return True
    return False


#: The fixture that puts the test's event loop on virtual time (tests/conftest.py).
VIRTUAL_TIME = "virtual_time"


def _is_virtual_time_mark(node: ast.AST) -> bool:
    """``pytest.mark.usefixtures(..., "virtual_time", ...)``."""
    return (
        isinstance(node, ast.Call)
        and ast.unparse(node.func).split(".")[-2:] == ["mark", "usefixtures"]
        and any(isinstance(a, ast.Constant) and a.value == VIRTUAL_TIME for a in node.args)
    )


def _on_virtual_time(node: ast.AST) -> bool:
    """A test (or class/module) that takes the ``virtual_time`` fixture: as an argument,
    by ``usefixtures`` in its decorators, or (module/class) in its ``pytestmark``."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        if any(a.arg == VIRTUAL_TIME for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]):
            return True
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and any(
        _is_virtual_time_mark(d) for d in node.decorator_list
    ):
        return True
    if isinstance(node, ast.Module | ast.ClassDef):
        for stmt in node.body:
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            else:
                continue
            named = any(ast.unparse(t) == "pytestmark" for t in targets)
            if named and any(_is_virtual_time_mark(n) for n in ast.walk(value)):
                return True
    return False


def _sleep_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to ``time.sleep`` and to ``asyncio.sleep`` in this module (``from time
    import sleep``, ``import asyncio as aio``...), dotted."""
    time_sleep, asyncio_sleep = {"time.sleep"}, {"asyncio.sleep"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("time", "asyncio") and alias.asname:
                    target = time_sleep if alias.name == "time" else asyncio_sleep
                    target.add(f"{alias.asname}.sleep")
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "asyncio"):
            for alias in node.names:
                if alias.name == "sleep":
                    target = time_sleep if node.module == "time" else asyncio_sleep
                    target.add(alias.asname or "sleep")
    return time_sleep, asyncio_sleep


def _is_literal_zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 0


def wall_clock_sleeps(path: Path, tree: ast.Module) -> list[str]:
    """Every sleep in ``tree`` that lets wall time pass outside a ``realtime`` test, as
    ``path:line in <scope>: <call>`` (an ``asyncio.sleep`` in a test on ``virtual_time``
    passes in no wall time: not one of them)."""
    time_sleep, asyncio_sleep = _sleep_names(tree)
    found: list[str] = []

    def visit(node: ast.AST, scopes: list[ast.AST]) -> None:
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            waits = name in time_sleep or (
                name in asyncio_sleep
                and not (node.args and _is_literal_zero(node.args[0]))
                and not any(
                    kw.arg == "delay" and _is_literal_zero(kw.value) for kw in node.keywords
                )
                and not any(_on_virtual_time(s) for s in scopes)
            )
            if waits and not any(_carries_realtime(s) for s in scopes):
                where = ".".join(
                    s.name
                    for s in scopes[1:]
                    if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                )
                found.append(
                    f"{rel(path)}:{node.lineno} in {where or '<module>'}: {ast.unparse(node)}"
                )
        inner = (
            [*scopes, node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            else scopes
        )
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, [tree])
    return found


def _checked_for_sleeps(path: Path) -> bool:
    parts = path.relative_to(TESTS).parts
    is_test_code = path.name.startswith("test_") or path.name == "conftest.py"
    return is_test_code and parts[0] in AREAS and parts[0] not in REALTIME_FOLDERS


def test_no_test_sleeps_on_the_wall_clock_unless_marked_realtime() -> None:
    """Issue 16: "No test sleeps on the wall clock to let time pass, except the named process
    and Redis-clock tests". Waits that only guard an event (``asyncio.wait_for``,
    ``asyncio.timeout``) are not sleeps and are not checked."""
    found = [
        hit
        for path in python_files()
        if _checked_for_sleeps(path)
        for hit in wall_clock_sleeps(path, parse(path))
    ]
    assert found == [], (
        "wait on a FakeClock or an event instead, put the test on the `virtual_time` "
        "fixture (asyncio.sleep only), or mark the test "
        '@pytest.mark.realtime("<why real time>"):\n' + "\n".join(found)
    )


def test_the_sleep_rule_sees_sleeps_and_marks() -> None:
    """The rule itself: it flags real sleeps, not ``sleep(0)``, and honours ``realtime``
    on the test, its class and its module."""
    source = """
import asyncio, time
from time import sleep as nap
import pytest

async def helper():
    await asyncio.sleep(0.1)

async def test_a():
    await asyncio.sleep(0)
    await asyncio.sleep(0.0)
    time.sleep(0.5)
    nap(1)

@pytest.mark.realtime("redis clock: lease TTL")
async def test_b():
    await asyncio.sleep(1)

@pytest.mark.realtime("")
async def test_c():
    await asyncio.sleep(1)

class TestD:
    pytestmark = [pytest.mark.realtime("loop clock")]
    async def test_d(self):
        await asyncio.sleep(1)
"""
    hits = wall_clock_sleeps(TESTS / "unit" / "x.py", ast.parse(source))
    assert [h.split(" in ")[1].split(":")[0] for h in hits] == [
        "helper",
        "test_a",
        "test_a",
        "test_c",
    ]
    marked = ast.parse(
        'import pytest, asyncio\npytestmark = pytest.mark.realtime("why")\n' + source
    )
    assert wall_clock_sleeps(TESTS / "unit" / "x.py", marked) == []


def test_the_sleep_rule_lets_virtual_time_tests_sleep_on_the_loop_only() -> None:
    """On ``virtual_time`` (argument, ``usefixtures`` on the test, its class or module),
    ``asyncio.sleep`` passes in no wall time; ``time.sleep`` still blocks for real, and a
    helper outside such a test (or a test taking other fixtures) is still checked."""
    source = """
import asyncio, time
import pytest

async def helper(virtual_time):  # not a test: still, the argument is what counts
    await asyncio.sleep(1)

async def other_helper():
    await asyncio.sleep(1)

async def test_arg(virtual_time, fake):
    await asyncio.sleep(30)
    time.sleep(0.1)

@pytest.mark.usefixtures("virtual_time")
async def test_used():
    await asyncio.sleep(30)

@pytest.mark.usefixtures("clock")
async def test_other_fixture(clock, fake):
    await asyncio.sleep(30)

class TestOn:
    pytestmark = [pytest.mark.usefixtures("virtual_time")]
    async def test_in_class(self):
        await asyncio.sleep(30)
        time.sleep(1)
"""
    hits = wall_clock_sleeps(TESTS / "unit" / "x.py", ast.parse(source))
    assert [h.split(" in ")[1].split(":")[0] for h in hits] == [
        "other_helper",
        "test_arg",
        "test_other_fixture",
        "TestOn.test_in_class",
    ]
    assert all("time.sleep" in h for h in hits if "test_arg" in h or "TestOn" in h)
    module = ast.parse(
        'import pytest, asyncio\npytestmark = [pytest.mark.usefixtures("virtual_time")]\n' + source
    )
    assert [h.split(": ", 1)[1] for h in wall_clock_sleeps(TESTS / "unit" / "x.py", module)] == [
        "time.sleep(0.1)",
        "time.sleep(1)",
    ]


def test_the_rules_see_the_suite() -> None:
    """Guard against the checks above passing on an empty walk."""
    modules = list(TESTS.rglob("test_*.py"))
    assert len(modules) > 50
    assert any(name == "fake" for p in python_files() for name, _ in _fixture_definitions(parse(p)))
