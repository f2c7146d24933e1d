"""Every code block of ``docs/`` and README.md runs (or is parsed), as written.

How a block is used is said by the HTML comment before it (``tests/support/docblocks.py``,
``docs/development.md``): Python examples run against FakeSinch and type-check under
``mypy --strict``, ``sinch-async`` command lines run against FakeSinch (or are checked against
the command), TOML and JSON blocks are parsed. A block opts out only with a visible
``<!-- no-test: REASON -->`` (or, for command lines that cannot run, ``<!-- no-run: REASON
-->``), and ``OPT_OUTS`` below lists every one of them.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer.main

import sinch_async
from sinch_async import UnknownCallback, parse_callback
from sinch_async._settings import ACCOUNT_KEYS
from sinch_async.cli import app
from sinch_async.numbers import UnknownNumbersEvent, parse_numbers_event
from sinch_async.testing import FakeSinch
from tests.support.cli import ThreadedFake, runner
from tests.support.docblocks import Block, all_blocks
from tests.support.paths import README, ROOT

BLOCKS = all_blocks()

#: Every opt-out: (page, marker, reason), one entry per block. Adding one means adding it
#: here, visibly.
OPT_OUTS = [
    ("README.md", "no-test", "creates a virtualenv and installs; .ci/run runs the same"),
    ("README.md", "no-test", "installs packages"),
    ("README.md", "no-test", "starts a web server"),
    ("docs/getting-started.md", "no-test", "installs packages"),
    ("docs/development.md", "no-test", "runs the whole suite, or a web server"),
    ("docs/performance.md", "no-test", "benchmarks take minutes and need redis-server"),
    ("docs/campaigns.md", "no-run", "needs a Redis server"),
    ("docs/campaigns.md", "no-run", "checks your real account and Redis"),
    ("docs/cli.md", "no-run", "needs an account file and ids of your account"),
    ("docs/configuration.md", "no-run", "needs the accounts of the file above"),
    ("docs/numbers.md", "no-run", "rents and releases numbers of your project"),
    ("docs/testing.md", "no-run", "serves until Ctrl-C"),
]

#: What each (language, marker) means; anything else is an error.
KNOWN = {
    ("python", "example"),
    ("python", "module"),
    ("python", "pytest"),
    ("bash", None),
    ("bash", "no-run"),
    ("toml", None),
    ("toml", "file"),
    ("json", None),
    ("json", "callback"),
    ("json", "numbers-event"),
    ("csv", "file"),
    ("text", "error-tree"),
}


def of(*kinds: tuple[str, str | None]) -> list[Block]:
    return [b for b in BLOCKS if (b.lang, b.marker) in kinds]


def ids(blocks: list[Block]) -> list[str]:
    return [b.where for b in blocks]


EXAMPLES = of(("python", "example"))
MODULES = of(("python", "module"))
PYTESTS = of(("python", "pytest"))
SHELL_PAGES = sorted({b.page for b in of(("bash", None))})


# --- the blocks and their markers ---------------------------------------------------------


def test_every_block_says_how_it_is_tested() -> None:
    unknown = [
        f"{b.where}: ```{b.lang} with marker {b.marker!r}"
        for b in BLOCKS
        if b.marker not in ("no-test",) and (b.lang, b.marker) not in KNOWN
    ]
    assert not unknown, "blocks that no test runs:\n" + "\n".join(unknown)
    assert not [b.where for b in BLOCKS if b.indent], "indented blocks are not collected"
    assert not [b.where for b in BLOCKS if b.marker in ("no-test", "no-run") and not b.arg]


def test_the_opt_outs_are_these() -> None:
    found = [(b.page, b.marker, b.arg) for b in BLOCKS if b.marker in ("no-test", "no-run")]
    assert sorted(found) == sorted(OPT_OUTS)


def test_there_are_blocks_everywhere() -> None:
    assert len(EXAMPLES) >= 20 and len(MODULES) >= 4 and PYTESTS and SHELL_PAGES
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/getting-started.md"}


# --- Python ------------------------------------------------------------------------------


@pytest.mark.parametrize("block", EXAMPLES, ids=ids(EXAMPLES))
async def test_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block is the body of ``async def example(client, fake, since)``: ``client`` is a
    FakeSinch client, ``since`` an hour ago; the names of ``sinch_async`` are imported."""
    monkeypatch.chdir(tmp_path)  # files the example writes (ledgers, checkpoints) go here
    namespace: dict[str, Any] = {name: getattr(sinch_async, name) for name in sinch_async.__all__}
    source = "\n" * (block.line - 1)  # a traceback names the page's own lines
    source += "async def __example(client, fake, since):\n" + textwrap.indent(block.code, "    ")
    source += "\n    return locals()\n"
    exec(compile(source, str(block.path), "exec"), namespace)
    async with FakeSinch() as fake, fake.client() as client:
        since = datetime.now(UTC) - timedelta(hours=1)
        result = await namespace["__example"](client, fake, since)
    assert result  # ran to the end, its own asserts included


def fake_env(server: ThreadedFake) -> dict[str, str]:
    """The fake's service plan and project credentials, as the SINCH_* variables."""
    fake = server.fake
    return {
        "SINCH_SERVICE_PLAN_ID": fake.service_plan_id,
        "SINCH_API_TOKEN": fake.api_token,
        "SINCH_BASE_URL": fake.base_url,
        "SINCH_PROJECT_ID": fake.project_id,
        "SINCH_KEY_ID": fake.key_id,
        "SINCH_KEY_SECRET": fake.key_secret,
        "SINCH_AUTH_URL": fake.auth_url,
        "SINCH_NUMBERS_BASE_URL": fake.base_url,
    }


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedFake]:
    """A FakeSinch in a thread, the SINCH_* variables pointing at it (no accounts file), and
    a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("SINCH_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with ThreadedFake() as server:
        for key, value in fake_env(server).items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.mark.parametrize("block", MODULES, ids=ids(MODULES))
def test_module_runs(block: Block, sandbox: ThreadedFake, tmp_path: Path) -> None:
    """A whole program, run as ``__main__``; its credentials are the fake's."""
    path = tmp_path / "program.py"
    path.write_text(block.code)
    runpy.run_path(str(path), run_name="__main__")


def test_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    """What a user copies type-checks: an example as the body of a typed function, a module
    or a test module as it is."""
    from mypy import api

    header = (
        "from datetime import datetime\n"
        "from sinch_async import *  # noqa: F403\n"
        "from sinch_async.testing import FakeSinch\n\n"
    )
    files = []
    for i, block in enumerate(EXAMPLES):
        path = tmp_path / f"example_{i}.py"
        path.write_text(
            f"# {block.where}\n{header}async def example(\n"
            "    client: SinchClient, fake: FakeSinch, since: datetime\n"
            f") -> None:\n{textwrap.indent(block.code, '    ')}"
        )
        files.append(str(path))
    for i, block in enumerate(MODULES + PYTESTS):
        path = tmp_path / f"module_{i}.py"
        path.write_text(f"# {block.where}\n{block.code}")
        files.append(str(path))
    out, err, status = api.run(
        ["--strict", "--cache-dir", str(tmp_path / ".mypy_cache"), "--no-error-summary", *files]
    )
    assert status == 0, out + err


def files_of(page: str, tmp_path: Path) -> None:
    for block in BLOCKS:
        if block.page == page and block.marker == "file":
            (tmp_path / block.arg).write_text(block.code)


@pytest.mark.parametrize("page", sorted({b.page for b in PYTESTS}))
def test_pytest_blocks_pass(page: str, tmp_path: Path) -> None:
    """A page's test modules, in a suite of their own (with the page's files, such as its
    ``pyproject.toml``), run by pytest as a user's suite."""
    files_of(page, tmp_path)
    blocks = [b for b in PYTESTS if b.page == page]
    for i, block in enumerate(blocks):
        (tmp_path / f"test_doc_{i}.py").write_text(block.code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SINCH_", "PYTEST_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed" in proc.stdout and "skipped" not in proc.stdout


# --- the command line --------------------------------------------------------------------


def command_lines(block: Block) -> list[list[str]]:
    """The block's commands, one argv each (``\\`` continuations joined, comments dropped)."""
    joined = block.code.replace("\\\n", " ")
    lines = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [argv for argv in lines if argv]


def check_against_the_command(argv: list[str]) -> None:
    """``argv`` names a real command, and each option it gives is one of that command's."""
    assert argv[0] == "sinch-async", f"not a sinch-async command: {shlex.join(argv)}"
    command: Any = typer.main.get_command(app)
    args = argv[1:]
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("-") and token != "-":
            name = token.split("=", 1)[0]
            params = {opt: p for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            assert name in params or name == "--help", f"{shlex.join(argv)}: no option {name}"
            if name in params and not params[name].is_flag and "=" not in token:
                i += 1  # its value
        elif getattr(command, "commands", None) and token in command.commands:
            command = command.commands[token]
        else:
            assert not getattr(command, "commands", None), f"{shlex.join(argv)}: {token}?"
        i += 1
    assert not getattr(command, "commands", None), f"{shlex.join(argv)}: a group, no command"


SHELL = of(("bash", None), ("bash", "no-run"))


@pytest.mark.parametrize("block", SHELL, ids=ids(SHELL))
def test_command_lines_name_real_commands_and_options(block: Block) -> None:
    lines = command_lines(block)
    assert lines
    for argv in lines:
        check_against_the_command(argv)


@pytest.mark.parametrize("page", SHELL_PAGES)
def test_command_lines_run(page: str, sandbox: ThreadedFake, tmp_path: Path) -> None:
    """A page's command lines, in order, against one FakeSinch (a later line sees what an
    earlier one did), in a directory holding the page's files; each exits 0."""
    files_of(page, tmp_path)
    env = {k: v for k, v in os.environ.items() if k.startswith("SINCH_")}
    for block in of(("bash", None)):
        if block.page != page:
            continue
        for argv in command_lines(block):
            result = runner.invoke(app, argv[1:], env=env)
            assert result.exit_code == 0, (
                f"{block.where}: {shlex.join(argv)} exited {result.exit_code}\n{result.output}"
            )


# --- TOML and JSON -----------------------------------------------------------------------

TOML = of(("toml", None), ("toml", "file"))
JSON = of(("json", None), ("json", "callback"), ("json", "numbers-event"))


@pytest.mark.parametrize("block", TOML, ids=ids(TOML))
def test_toml_blocks_parse(block: Block) -> None:
    data = tomllib.loads(block.code)
    for name, keys in data.get("accounts", {}).items():
        assert set(keys) <= set(ACCOUNT_KEYS), f"account {name}: {set(keys) - set(ACCOUNT_KEYS)}"


@pytest.mark.parametrize("block", JSON, ids=ids(JSON))
def test_json_blocks_parse(block: Block) -> None:
    json.loads(block.code)
    if block.marker == "callback":
        assert not isinstance(parse_callback(block.code.encode()), UnknownCallback)
    if block.marker == "numbers-event":
        event = parse_numbers_event(block.code.encode())
        assert not isinstance(event, UnknownNumbersEvent)


# --- the README --------------------------------------------------------------------------


def test_the_readme_fits_on_a_screen() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_the_readme_links_into_the_site() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", README.read_text())
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), link


def test_the_readme_test_command_is_what_ci_runs() -> None:
    """The README's first screen tells the truth: CI installs the same extras and runs the
    same test command."""
    readme = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -e '.[dev,docs]' && .venv/bin/python -m pytest" in readme
    assert "pip install -q -e '.[dev,docs]'" in ci
    assert "\n.venv/bin/python -m pytest\n" in ci
    assert ".venv/bin/mkdocs build --strict" in ci and "mkdocs serve" in readme
