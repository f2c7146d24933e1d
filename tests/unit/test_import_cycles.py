"""The shape of the package, read from its source (issue 16, acceptance).

* No import cycle in ``sinch_async``, counting module-level, function-level and
  ``TYPE_CHECKING`` imports: every module is parsed with :mod:`ast`, relative imports are
  resolved, and the cycles are the strongly connected components (Tarjan) of the graph.
* No module of the SDK outside the engine (``_session.py``) and ``testing`` builds an
  aiohttp request.
* One converter factory: one module defines ``make_converter`` and only it builds a
  cattrs converter.

An edge goes to the module an import names: ``from . import x`` (``x`` a submodule) is an
edge to ``x``, ``from .m import name`` an edge to ``m`` (a package's ``__init__`` when
``m`` is a package). The implicit import of a parent package's ``__init__`` is not an
edge: it is how Python runs, not a choice of the importing module.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sinch_async

PACKAGE = Path(sinch_async.__file__).resolve().parent
NAME = "sinch_async"

#: Where an aiohttp request may be built: the engine, and FakeSinch (it posts callbacks).
REQUEST_BUILDERS = ("sinch_async._session", "sinch_async.testing")
HTTP_METHODS = frozenset(
    {"request", "get", "post", "put", "patch", "delete", "head", "options", "ws_connect"}
)


# --- reading the package --------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    kind: str  # "module", "function" or "TYPE_CHECKING"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line}, {self.kind})"


def read_package(root: Path, name: str) -> dict[str, Module]:
    """Every ``.py`` file under ``root`` as a module of package ``name``."""
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = [name, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        dotted = ".".join(parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules[dotted] = Module(dotted, path, is_package, tree)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _walk_imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with its kind: under ``if TYPE_CHECKING:`` (anywhere), in a
    function body, or else module-level (class bodies included)."""

    def visit(
        node: ast.AST, in_function: bool, in_type_checking: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if in_type_checking:
                yield node, "TYPE_CHECKING"
            else:
                yield node, "function" if in_function else "module"
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                yield from visit(stmt, in_function, True)
            for stmt in node.orelse:
                yield from visit(stmt, in_function, in_type_checking)
            return
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner, in_type_checking)

    yield from visit(tree, False, False)


def _resolve_from(module: Module, node: ast.ImportFrom) -> str | None:
    """The absolute name ``from ... import`` reads from (None: outside any package)."""
    if node.level == 0:
        return node.module
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    parts = package.split(".")
    if node.level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def _known(modules: dict[str, Module], dotted: str) -> str | None:
    """``dotted`` or its longest prefix that is a module of the package."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_edges(modules: dict[str, Module]) -> list[Edge]:
    edges: list[Edge] = []
    for module in modules.values():
        for node, kind in _walk_imports(module.tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve_from(module, node)
                if base is None:
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if alias.name != "*" and sub in modules else base)
            for dotted in targets:
                target = _known(modules, dotted)
                if target is not None and target != module.name:
                    edges.append(Edge(module.name, target, node.lineno, kind))
    return edges


# --- cycles: Tarjan's strongly connected components -------------------------------------


def strongly_connected(nodes: Iterable[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _cycle_in(component: list[str], edges: list[Edge]) -> list[Edge]:
    """One cycle through a component's first module, as the edges that make it."""
    members = set(component)
    out: dict[str, list[Edge]] = {}
    for edge in edges:
        if edge.source in members and edge.target in members:
            out.setdefault(edge.source, []).append(edge)
    start = component[0]
    # breadth-first from start back to start: the shortest cycle through it
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in sorted(out.get(node, []), key=lambda e: (e.target, e.line)):
            if edge.target == start:
                return [*paths[node], edge]
            if edge.target not in paths:
                paths[edge.target] = [*paths[node], edge]
                queue.append(edge.target)
    return []  # unreachable: a component of two or more modules holds a cycle


def import_cycles(modules: dict[str, Module]) -> list[tuple[list[str], list[Edge]]]:
    """Each strongly connected component of two or more modules, with one cycle in it."""
    edges = import_edges(modules)
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    components = strongly_connected(sorted(modules), graph)
    return [(c, _cycle_in(c, edges)) for c in components if len(c) > 1]


def _describe(cycles: list[tuple[list[str], list[Edge]]]) -> str:
    lines = []
    for component, cycle in cycles:
        lines.append(f"component {{{', '.join(component)}}}, for example:")
        lines.append("  " + " -> ".join([cycle[0].source, *(e.target for e in cycle)]))
        lines += [f"    {e}" for e in cycle]
    return "\n".join(lines)


# --- the package ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return read_package(PACKAGE, NAME)


def test_no_import_cycle(modules: dict[str, Module]) -> None:
    cycles = import_cycles(modules)
    assert not cycles, "import cycles in sinch_async:\n" + _describe(cycles)


def test_validation_is_a_leaf_of_the_sdk(modules: dict[str, Module]) -> None:
    """``_validation.py`` (the one home of input checks) imports only constants, errors
    and models, so any module may use it; and none of those imports it back."""
    allowed = {"sinch_async._constants", "sinch_async._errors", "sinch_async._version"}
    edges = import_edges(modules)
    reach = {e.target for e in edges if e.source == "sinch_async._validation"}
    wrong = {t for t in reach if t not in allowed and not t.startswith("sinch_async.models")}
    assert not wrong, f"_validation imports {sorted(wrong)}"
    below = {"sinch_async._constants", "sinch_async._version"} | {
        m for m in modules if m.startswith("sinch_async.models")
    }
    back = [e for e in edges if e.source in below and e.target == "sinch_async._validation"]
    assert not back, back


def _aliases(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names bound to the ``aiohttp`` module, and to ``aiohttp.ClientSession``."""
    modules_, sessions = {"aiohttp"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "aiohttp":
                    modules_.add(alias.asname or "aiohttp")
        elif isinstance(node, ast.ImportFrom) and node.module == "aiohttp":
            for alias in node.names:
                if alias.name == "ClientSession":
                    sessions.add(alias.asname or alias.name)
    return modules_, sessions


def _names_session(expr: ast.expr | None, aio: set[str], sessions: set[str]) -> bool:
    """Whether an annotation or a constructor names ``aiohttp.ClientSession``."""
    if expr is None:
        return False
    for node in ast.walk(expr):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "ClientSession"
            and isinstance(node.value, ast.Name)
            and node.value.id in aio
        ):
            return True
        if isinstance(node, ast.Name) and node.id in sessions:
            return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "ClientSession" in node.value
        ):
            return True
    return False


def _last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def aiohttp_requests(module: Module) -> list[str]:
    """Calls in ``module`` that build an aiohttp request: ``aiohttp.request(...)``,
    ``ClientSession(...).get(...)``, or ``x.post(...)`` etc. where ``x`` is annotated as
    (or assigned) an ``aiohttp.ClientSession``."""
    aio, sessions = _aliases(module.tree)
    # names (locals, parameters, attributes) that hold an aiohttp session
    holders: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.arg) and _names_session(node.annotation, aio, sessions):
            holders.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and _names_session(node.annotation, aio, sessions):
            name = _last_name(node.target)
            if name:
                holders.add(name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if _names_session(node.value.func, aio, sessions):
                holders.update(n for t in node.targets if (n := _last_name(t)))
        elif isinstance(node, ast.withitem) and isinstance(node.context_expr, ast.Call):
            if _names_session(node.context_expr.func, aio, sessions) and node.optional_vars:
                name = _last_name(node.optional_vars)
                if name:
                    holders.add(name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _names_session(
            node.returns, aio, sessions
        ):
            holders.add(node.name)  # self._ensure_session().post(...)
    found: list[str] = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func, receiver = node.func, node.func.value
        if (
            func.attr in ("request", "ClientRequest")
            and isinstance(receiver, ast.Name)
            and receiver.id in aio
        ):
            found.append(f"{module.name}:{node.lineno} aiohttp.{func.attr}(...)")
            continue
        if func.attr not in HTTP_METHODS:
            continue
        target = receiver.func if isinstance(receiver, ast.Call) else receiver
        if _names_session(target, aio, sessions) or _last_name(target) in holders:
            found.append(f"{module.name}:{node.lineno} {ast.unparse(func)}(...)")
    return sorted(found, key=lambda hit: int(hit.split()[0].rpartition(":")[2]))


def test_only_the_engine_builds_aiohttp_requests(modules: dict[str, Module]) -> None:
    found = [
        hit
        for name, module in modules.items()
        if not any(name == p or name.startswith(p + ".") for p in REQUEST_BUILDERS)
        for hit in aiohttp_requests(module)
    ]
    assert not found, "aiohttp requests built outside the engine:\n" + "\n".join(found)


def _builds_converter(module: Module) -> list[int]:
    """Lines where ``module`` instantiates a cattrs converter (any flavour)."""
    cattrs_names = {"cattrs"}
    direct: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cattrs":
                    cattrs_names.add(alias.asname or "cattrs")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cattrs"):
            for alias in node.names:
                if "Converter" in alias.name or alias.name == "make_converter":
                    direct.add(alias.asname or alias.name)
    lines = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in direct:
            lines.append(node.lineno)
        elif isinstance(func, ast.Attribute) and (
            "Converter" in func.attr or func.attr == "make_converter"
        ):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in cattrs_names:
                lines.append(node.lineno)
    return lines


def test_one_converter_factory(modules: dict[str, Module]) -> None:
    defining = sorted(
        name
        for name, module in modules.items()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef) and node.name == "make_converter"
    )
    building = sorted(
        f"{name}:{line}"
        for name, module in modules.items()
        if name not in defining
        for line in _builds_converter(module)
    )
    assert len(defining) == 1 and not building, (
        f"make_converter is defined in {defining or 'no module'}; "
        f"cattrs converters are built outside it at {building or 'no line'}"
    )


# --- the checks check what they claim (a synthetic package) ---------------------------------


def _package(root: Path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return read_package(root / "pkg", "pkg")


def test_detector_counts_all_three_kinds_and_resolves_relative_imports(tmp_path: Path) -> None:
    modules = _package(
        tmp_path,
        {
            "__init__.py": "from .a import A\n",
            "a.py": "from . import b\nA = 1\n",
            "b.py": "def f():\n    from .sub.c import C\n",
            "sub/__init__.py": "",
            "sub/c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from ..a import A\n"
                "C = 1\n"
            ),
            "d.py": "import pkg.e\n",
            "e.py": "from pkg import d\n",
            "leaf.py": "from . import sub\nfrom .sub import c\n",
        },
    )
    kinds = {(e.source, e.target): e.kind for e in import_edges(modules)}
    assert kinds[("pkg.a", "pkg.b")] == "module"
    assert kinds[("pkg.b", "pkg.sub.c")] == "function"
    assert kinds[("pkg.sub.c", "pkg.a")] == "TYPE_CHECKING"
    assert kinds[("pkg.leaf", "pkg.sub")] == "module"
    assert kinds[("pkg.leaf", "pkg.sub.c")] == "module"
    cycles = {frozenset(component) for component, _ in import_cycles(modules)}
    assert cycles == {frozenset({"pkg.a", "pkg.b", "pkg.sub.c"}), frozenset({"pkg.d", "pkg.e"})}
    text = _describe(import_cycles(modules))
    assert "TYPE_CHECKING" in text and "function" in text


def test_detector_finds_no_cycle_in_a_tree(tmp_path: Path) -> None:
    modules = _package(
        tmp_path,
        {
            "__init__.py": "from .a import A\nfrom .b import B\n",
            "a.py": "from .b import B\nA = B\n",
            "b.py": "B = 1\n",
        },
    )
    assert import_cycles(modules) == []


def test_request_and_converter_checks_see_the_old_shapes(tmp_path: Path) -> None:
    modules = _package(
        tmp_path,
        {
            "__init__.py": "",
            "auth.py": """\
                import aiohttp
                async def fetch(session: aiohttp.ClientSession) -> None:
                    async with session.post("https://x") as resp:
                        await resp.read()
                async def other() -> None:
                    async with aiohttp.ClientSession() as s:
                        await s.get("https://x")
                    await aiohttp.request("GET", "https://x")
                """,
            "engine_user.py": """\
                async def fine(session: "Session") -> None:
                    await session.request("GET", "/batches")  # the SDK's engine, not aiohttp
                """,
            "conv.py": "import cattrs\ndef make_converter():\n    return cattrs.Converter()\n",
            "conv2.py": "from cattrs import Converter\nconverter = Converter()\n",
        },
    )
    hits = aiohttp_requests(modules["pkg.auth"])
    assert [h.split()[0] for h in hits] == ["pkg.auth:3", "pkg.auth:7", "pkg.auth:8"]
    assert aiohttp_requests(modules["pkg.engine_user"]) == []
    assert _builds_converter(modules["pkg.conv"]) == [3]
    assert _builds_converter(modules["pkg.conv2"]) == [2]
