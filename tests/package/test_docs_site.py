"""The documentation site (``mkdocs.yml``, ``docs/``) is complete and builds.

* every page is in the navigation, and ``mkdocs build --strict`` passes (a broken link or a
  cross-reference that resolves nowhere fails it);
* every name in the ``__all__`` of ``sinch_async`` and of each public module is in the
  built API reference;
* every ``SinchError`` subclass is on the Errors page, and the page's error tree is the
  real class hierarchy;
* the CLI reference lists every command and option (it is generated from the command);
* the configuration page lists every setting.

The build needs the ``docs`` extra; without it the build tests skip (``.ci/run`` installs
it, and under ``CI=true`` they must run).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer.main

import sinch_async
from sinch_async import SinchError
from sinch_async._settings import SETTINGS
from sinch_async.cli import app
from tests.support.docblocks import blocks_of
from tests.support.paths import DOCS, ROOT

ERRORS_PAGE = DOCS / "errors.md"
CONFIGURATION_PAGE = DOCS / "configuration.md"


def public_modules() -> list[ModuleType]:
    """``sinch_async`` and every module of it without a ``_`` in its dotted name."""
    modules = [sinch_async]
    for info in pkgutil.walk_packages(sinch_async.__path__, "sinch_async."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    return modules


def error_classes() -> list[type[SinchError]]:
    """Every ``SinchError`` subclass the package defines (public or reaching users through
    outcomes and errors), after importing every module."""
    for info in pkgutil.walk_packages(sinch_async.__path__, "sinch_async."):
        importlib.import_module(info.name)
    found: list[type[SinchError]] = [SinchError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    # the package's own classes only: the suite's tests define subclasses too (``Boom``)
    return [
        cls
        for cls in found
        if not cls.__name__.startswith("_")
        and (cls.__module__ == "sinch_async" or cls.__module__.startswith("sinch_async."))
    ]


# --- pages and navigation ------------------------------------------------------------------


def nav_pages() -> set[str]:
    """The pages ``mkdocs.yml`` names (its ``nav:`` is the end of the file)."""
    nav = (ROOT / "mkdocs.yml").read_text().split("\nnav:\n", 1)[1]
    return set(re.findall(r"[\w./-]+\.md", nav))


def test_every_page_is_in_the_navigation() -> None:
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert nav_pages() == pages


def test_the_site_builds_offline() -> None:
    """No plugin that downloads, no external inventory."""
    text = (ROOT / "mkdocs.yml").read_text()
    assert "import:" not in text and "objects.inv" not in text
    assert "social" not in text and "privacy" not in text
    assert "font: false" in text


# --- the built site ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mkdocs build --strict`` into a temporary folder."""
    if not all(importlib.util.find_spec(name) for name in ("mkdocs", "mkdocstrings", "material")):
        reason = "the docs extra is not installed: pip install -e '.[docs]'"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must build the site)", pytrace=False)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def inventory(site: Path) -> set[str]:
    """Every identifier of the built API reference (objects.inv: where each object is
    documented, and the other names it is known by)."""
    data = (site / "objects.inv").read_bytes()
    _, _, body = data.partition(b"zlib.\n")
    return {line.split(" ", 1)[0] for line in zlib.decompress(body).decode().splitlines()}


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    """In the inventory, or (a name griffe cannot see, such as the lazily imported
    ``sinch_async.cli.app``) the id of a heading of the API reference."""
    names = inventory(site)
    for page in (site / "reference").rglob("*.html"):
        names |= set(re.findall(r'<h\d id="(sinch_async[\w.]*)"', page.read_text()))
    missing = [
        f"{module.__name__}.{name}"
        for module in public_modules()
        for name in getattr(module, "__all__", ())
        if f"{module.__name__}.{name}" not in names and name != "__version__"
    ]
    assert not missing, "not in the API reference: " + ", ".join(missing)
    page = (site / "reference" / "sinch_async" / "index.html").read_text()
    assert 'id="sinch_async.__version__"' in page


def test_the_cli_reference_is_built(site: Path) -> None:
    html = (site / "cli" / "index.html").read_text()
    for path, command, _ctx in cli_commands():
        assert f'id="{"-".join(path)}"' in html, " ".join(path)
        for param in command.params:
            for opt in (*param.opts, *param.secondary_opts):
                if opt.startswith("-"):
                    assert opt in html, f"{' '.join(path)} {opt}"


def test_no_sphinx_role_is_left_in_the_docstrings() -> None:
    role = re.compile(r":(class|meth|func|data|attr|exc|mod|obj):`")
    left = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in sorted((ROOT / "sinch_async").rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if role.search(line)
    ]
    assert not left, "Sphinx roles render raw in the site: " + ", ".join(left)


# --- the CLI reference ---------------------------------------------------------------------


def cli_hook() -> Any:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", DOCS / "_hooks" / "cli_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cli_commands() -> list[tuple[list[str], Any, Any]]:
    return list(cli_hook().commands())


def test_the_cli_reference_lists_every_command_and_option() -> None:
    """Walked independently of the hook: every command of the app and each of its options
    is in what the hook generates."""
    text = cli_hook().render()
    root = typer.main.get_command(app)

    def walk(path: list[str], command: Any) -> None:
        heading = f"`{' '.join(path)}` {{#{'-'.join(path)}}}"
        assert f"# {heading}" in text, heading
        for param in command.params:
            for opt in (*param.opts, *param.secondary_opts):
                assert f"`{opt}" in text or f" {opt}" in text or f"/ {opt}" in text, (
                    f"{' '.join(path)}: {opt}"
                )
        for name, sub in getattr(command, "commands", {}).items():
            walk([*path, name], sub)

    walk(["sinch-async"], root)
    assert (DOCS / "cli.md").read_text().count(cli_hook().MARKER) == 1


# --- the Errors page ----------------------------------------------------------------------


def test_every_error_is_on_the_errors_page() -> None:
    text = ERRORS_PAGE.read_text()
    rows = set(re.findall(r"^\| \[?`(\w+)`", text, re.MULTILINE))
    classes = {cls.__name__ for cls in error_classes()}
    assert classes - {"SinchError"} <= rows, f"missing: {classes - rows - {'SinchError'}}"
    assert rows <= classes, f"not errors: {rows - classes}"


def test_the_error_tree_is_the_class_hierarchy() -> None:
    [tree] = [b for b in blocks_of(ERRORS_PAGE) if b.marker == "error-tree"]
    classes = {cls.__name__: cls for cls in error_classes()}
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (depth, first name of a line)
    for line in tree.code.splitlines():
        if not line.strip():
            continue
        match = re.match(r"^((?:│   |    )*)(├── |└── )?(.*)$", line)
        assert match
        depth = len(match[1]) // 4 + (1 if match[2] else 0)
        names = [re.sub(r"\s*\(.*?\)", "", n).strip() for n in match[3].split(",")]
        names = [n for n in names if n]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        for name in names:
            parents[name] = stack[-1][1] if stack else ""
        stack.append((depth, names[0]))
    assert set(parents) == set(classes), set(parents) ^ set(classes)
    for name, parent in parents.items():
        if name == "SinchError":
            continue
        bases = [b.__name__ for b in classes[name].__bases__ if issubclass(b, SinchError)]
        assert bases == [parent], f"{name}: under {parent} in the tree, a {bases} in code"


def test_errors_of_private_modules_are_said_to_be_caught_by_their_base() -> None:
    exported = {
        name
        for module in public_modules()
        for name in getattr(module, "__all__", ())
        if inspect.isclass(getattr(module, name, None))
    }
    text = ERRORS_PAGE.read_text()
    for cls in error_classes():
        linked = f"[`{cls.__name__}`][" in text
        assert linked == (cls.__name__ in exported), cls.__name__


# --- the configuration page ----------------------------------------------------------------


def test_the_configuration_page_lists_every_variable_and_key() -> None:
    text = CONFIGURATION_PAGE.read_text()
    table = text[text.index("| setting |") :].split("\n\n", 1)[0]
    for setting in SETTINGS:
        row = re.search(rf"^\| `{setting.key}` \|.*$", table, re.MULTILINE)
        assert row, setting.key
        assert f"`{setting.variable()}`" in row.group(0)
        assert f"`SINCH_<NAME>_{setting.key.upper()}`" in row.group(0)
        if setting.cli:
            assert f"`{setting.cli}`" in row.group(0)
    assert "| - | `SINCH_CONFIG` |" in table
