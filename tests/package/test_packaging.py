"""What `pip install sinch-async` gives a user: one version everywhere, a core install
without the CLI's or the tests' packages, a console script that explains a missing extra,
and a pytest plugin that never breaks a test run."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

import sinch_async
from sinch_async import _constants
from sinch_async._version import __version__
from tests.support.paths import ROOT

PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT: dict[str, Any] = PYPROJECT["project"]
HINT = "pip install 'sinch-async[cli]'"
TESTING_HINT = "pip install 'sinch-async[testing]'"


def names(requirements: list[str]) -> set[str]:
    """Normalised distribution names of requirement strings."""
    out = set()
    for req in requirements:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
        assert match, req
        out.add(re.sub(r"[-_.]+", "-", match.group()).lower())
    return out


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SINCH_", "PYTEST_", "COV_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


# --- one version -----------------------------------------------------------------------------


def test_one_version_everywhere() -> None:
    assert importlib.metadata.version("sinch-async") == sinch_async.__version__ == __version__
    assert f"sinch-async/{__version__}" in _constants.USER_AGENT
    assert PROJECT["dynamic"] == ["version"] and "version" not in PROJECT
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "sinch_async/_version.py"
    assert "__version__" in sinch_async.__all__


# --- metadata --------------------------------------------------------------------------------


def test_dependencies_core_and_extras() -> None:
    assert names(PROJECT["dependencies"]) == {"aiohttp", "attrs", "cattrs", "orjson", "backoff"}
    extras = {name: names(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}
    assert extras["cli"] == {"typer", "rich"}
    assert extras["testing"] == {"pytest", "pytest-asyncio"}
    assert extras["dev"] >= extras["cli"] | extras["testing"]
    assert extras["dev"] >= {"aioresponses", "hypothesis", "mypy", "ruff", "opentelemetry-sdk"}
    assert "official" in extras
    # The same version bounds in dev as in the extras it includes.
    dev = set(PROJECT["optional-dependencies"]["dev"])
    assert set(PROJECT["optional-dependencies"]["cli"]) <= dev
    assert set(PROJECT["optional-dependencies"]["testing"]) <= dev
    assert set(PROJECT["optional-dependencies"]["redis"]) <= dev
    assert PROJECT["optional-dependencies"]["otel"] == ["opentelemetry-api>=1.20"]
    assert set(PROJECT["optional-dependencies"]["otel"]) <= dev
    # The site builds with MkDocs 1 (mkdocs.yml is not MkDocs 2's format) and runs the CLI.
    docs = PROJECT["optional-dependencies"]["docs"]
    assert "mkdocs>=1.6,<2" in docs and set(PROJECT["optional-dependencies"]["cli"]) <= set(docs)
    assert extras["docs"] >= {"mkdocs", "mkdocs-material", "mkdocstrings", "mkdocstrings-python"}


def test_the_documentation_url_is_the_docs_folder() -> None:
    assert PROJECT["urls"]["Documentation"] == PROJECT["urls"]["Repository"] + "/tree/main/docs"


def test_installed_metadata() -> None:
    meta = importlib.metadata.metadata("sinch-async")
    classifiers = set(meta.get_all("Classifier") or [])
    for python in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {python}" in classifiers
    assert {"Framework :: AsyncIO", "Typing :: Typed"} <= classifiers
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls["Repository"].startswith("https://github.com/")
    scripts = importlib.metadata.entry_points(group="console_scripts", name="sinch-async")
    assert [ep.value for ep in scripts] == ["sinch_async.cli:main"]
    plugins = importlib.metadata.entry_points(group="pytest11", name="sinch_async")
    assert [ep.value for ep in plugins] == ["sinch_async.testing.pytest_plugin"]
    assert (ROOT / "sinch_async" / "py.typed").is_file()


def test_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 150  # the full text, not a pointer to it


# --- the console script without the cli extra -----------------------------------------------

_BLOCK = "import sys; sys.modules[{name!r}] = None; "  # makes `import name` raise ImportError


@pytest.mark.parametrize("missing", ["typer", "rich"])
@pytest.mark.parametrize(
    "entry",
    [
        # what the installed console script does
        "sys.argv = ['sinch-async', 'demo']; from sinch_async.cli import main; sys.exit(main())",
        # `python -m sinch_async demo`
        "import runpy; sys.argv = ['x', 'demo']; runpy.run_module('sinch_async', "
        "run_name='__main__')",
    ],
    ids=["console-script", "python-m"],
)
def test_without_the_cli_extra_one_line_and_exit_2(missing: str, entry: str) -> None:
    code = _BLOCK.format(name=missing) + entry
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert HINT in lines[0] and missing in lines[0]


def test_version_without_the_cli_extra() -> None:
    code = _BLOCK.format(name="typer") + (
        "sys.argv = ['sinch-async', '--version']; from sinch_async.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"sinch-async {__version__}"


def test_the_sdk_imports_without_the_cli_extra() -> None:
    code = (
        _BLOCK.format(name="typer")
        + "sys.modules['rich'] = None; import sinch_async, sinch_async.cli, sinch_async.testing; "
        "print(sinch_async.__version__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == __version__


# --- the pytest plugin ---------------------------------------------------------------------

USES_FIXTURE = """
async def test_uses_fake(fake_sinch):
    async with fake_sinch.client() as client:
        batch = await client.batches.send_text(to=["+46701234567"], body="hi")
    assert batch.id in fake_sinch.batches


async def test_uses_factory(fake_sinch_factory):
    fake = await fake_sinch_factory(service_plan_id="other-plan")
    assert fake.service_plan_id == "other-plan"
"""


# As if pytest-asyncio were not installed: importing it fails like a missing module.
BLOCK_PYTEST_ASYNCIO = """
class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pytest_asyncio":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Missing())
"""


def run_pytest(
    directory: Path, *args: str, block_pytest_asyncio: bool = False
) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess on ``directory`` (its own pytest.ini), as a user would."""
    prefix = "import sys\n"
    env = clean_env()
    if block_pytest_asyncio:
        # Entry-point plugins are imported through pytest's assertion-rewriting import hook,
        # which would find pytest_asyncio past the blocker: load ours by name instead.
        # (test_core_install_in_a_fresh_venv covers the real, auto-loaded case.)
        prefix += BLOCK_PYTEST_ASYNCIO
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        args = ("-p", "sinch_async.testing.pytest_plugin", *args)
    code = prefix + f"import pytest\nsys.exit(pytest.main({[*args, str(directory)]!r}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=directory,
        env=env,
    )


def make_suite(root: Path, ini: str, files: dict[str, str]) -> Path:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n" + ini)
    for name, body in files.items():
        (root / name).write_text(textwrap.dedent(body))
    return root


def test_plugin_without_pytest_asyncio_breaks_nothing(tmp_path: Path) -> None:
    plain = make_suite(tmp_path / "plain", "", {"test_ok.py": "def test_ok():\n    assert True\n"})
    proc = run_pytest(plain, "-q", "-p", "no:cacheprovider", block_pytest_asyncio=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout

    both = make_suite(
        tmp_path / "both",
        "",
        {"test_ok.py": "def test_ok():\n    assert True\n", "test_fake.py": USES_FIXTURE},
    )
    proc = run_pytest(both, "-q", "-p", "no:cacheprovider", block_pytest_asyncio=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a test error, not a broken run
    assert "1 passed" in proc.stdout and "2 error" in proc.stdout
    assert TESTING_HINT in proc.stdout
    assert "Traceback" not in proc.stdout


@pytest.mark.parametrize(
    ("ini", "marker"),
    [
        ("asyncio_mode = auto\n", ""),
        ("asyncio_mode = strict\n", "import pytest\npytestmark = pytest.mark.asyncio\n"),
    ],
    ids=["auto", "strict"],
)
def test_plugin_fixtures_work_in_a_user_suite(tmp_path: Path, ini: str, marker: str) -> None:
    suite = make_suite(
        tmp_path / "suite",
        ini + "asyncio_default_fixture_loop_scope = function\n",
        {"test_fake.py": marker + USES_FIXTURE},
    )
    proc = run_pytest(suite, "-q", "-p", "no:cacheprovider")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_plugin_can_be_turned_off(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite", "asyncio_mode = auto\n", {"test_fake.py": USES_FIXTURE})
    proc = run_pytest(suite, "-q", "-p", "no:cacheprovider", "-p", "no:sinch_async")
    assert proc.returncode == 1
    assert "fixture 'fake_sinch' not found" in proc.stdout


# --- a real core install --------------------------------------------------------------------


@pytest.mark.slow
def test_core_install_in_a_fresh_venv(tmp_path: Path) -> None:
    """`pip install sinch-async pytest` in a new venv: no CLI/test packages come along,
    an unrelated test suite still passes, and the console script explains the extra."""
    venv = tmp_path / "venv"
    env = clean_env()
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", str(ROOT), "pytest"],
        capture_output=True,
        text=True,
        timeout=540,
        env=env,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    installed = names([line for line in listed.stdout.splitlines() if line.strip()])
    assert "sinch-async" in installed
    assert not installed & {"typer", "rich", "pydantic", "pytest-asyncio"}, installed

    suite = make_suite(tmp_path / "suite", "", {"test_ok.py": "def test_ok(): assert True\n"})
    run = subprocess.run(
        [str(bin_dir / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout

    for command in (
        [str(bin_dir / "sinch-async"), "demo"],
        [str(bin_dir / "python"), "-m", "sinch_async", "demo"],
    ):
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and HINT in proc.stderr, proc.stderr

    version = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import importlib.metadata as m, sinch_async, sinch_async._constants as c; "
            "print(m.version('sinch-async'), sinch_async.__version__, c.USER_AGENT)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    )
    assert version.stdout.split() == [__version__, __version__, f"sinch-async/{__version__}"]
