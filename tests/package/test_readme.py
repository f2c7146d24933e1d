"""The README's ``<!-- example -->`` code blocks run, as written, against FakeSinch."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import sinch_async
from sinch_async.testing import FakeSinch
from tests.support.paths import README

BLOCK = re.compile(r"<!-- example -->\s*```python\n(.*?)```", re.DOTALL)
TYPED = re.compile(r"<!-- typed -->\s*```python\n(.*?)```", re.DOTALL)
EXAMPLES = BLOCK.findall(README.read_text())
STANDALONE = TYPED.findall(README.read_text())


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
async def test_readme_example_runs(code: str) -> None:
    namespace: dict[str, Any] = {name: getattr(sinch_async, name) for name in sinch_async.__all__}
    source = "async def __example(client, fake, since):\n" + textwrap.indent(code, "    ")
    source += "\n    return locals()\n"
    exec(compile(source, str(README), "exec"), namespace)
    async with FakeSinch() as fake, fake.client() as client:
        since = datetime.now(UTC) - timedelta(hours=1)
        result = await namespace["__example"](client, fake, since)
    # the example ran to the end (its own asserts included) and left what it built behind
    assert result


def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """What a user copies must type-check: each example as the body of a typed function,
    each standalone block as a module."""
    from mypy import api

    header = (
        "from datetime import datetime\n"
        "from sinch_async import *  # noqa: F403\n"
        "from sinch_async.testing import FakeSinch\n\n"
    )
    files = []
    for i, code in enumerate(EXAMPLES):
        body = textwrap.indent(code, "    ")
        source = (
            f"{header}async def example_{i}(\n"
            "    client: SinchClient, fake: FakeSinch, since: datetime\n"
            f") -> None:\n{body}"
        )
        path = tmp_path / f"readme_example_{i}.py"
        path.write_text(source)
        files.append(str(path))
    for i, code in enumerate(STANDALONE):
        path = tmp_path / f"readme_standalone_{i}.py"
        path.write_text(code)
        files.append(str(path))
    assert len(files) >= len(EXAMPLES) + 1
    out, err, status = api.run(
        ["--strict", "--cache-dir", str(tmp_path / ".mypy_cache"), "--no-error-summary", *files]
    )
    assert status == 0, out + err
