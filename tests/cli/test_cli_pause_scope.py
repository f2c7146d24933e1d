"""``sinch-async send-bulk --pause-scope``: how far a 429 pauses the run (issue 17, section 2),
over ``SINCH_PAUSE_SCOPE`` and the account's ``pause_scope``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sinch_async.cli import app
from sinch_async.testing import Fault
from tests.support.cli import ThreadedFake, env, runner

LIMITS_LOG = "sinch_async.limits"


def limits_events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    """The records of ``sinch_async.limits`` for ``event`` ("pause", "limits": a summary)."""
    return [
        r
        for r in caplog.records
        if r.name == LIMITS_LOG and getattr(r, "sinch_event", None) == event
    ]


def send_bulk(tmp_path: Path, *extra: str) -> list[str]:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("to\n" + "".join(f"+4670{i:07d}\n" for i in range(5)), encoding="utf-8")
    return [
        "--json",
        "send-bulk",
        "--csv",
        str(csv_file),
        "--body",
        "hi",
        "--ledger",
        str(tmp_path / "l.db"),
        *extra,
    ]


@pytest.mark.parametrize(
    ("option", "variable", "scope"),
    [
        ((), None, "shared"),
        (("--pause-scope", "local"), None, "local"),
        ((), "local", "local"),
        (("--pause-scope", "off"), "local", "off"),  # the option wins
    ],
)
def test_the_scope_of_a_429_during_a_run(
    served: ThreadedFake,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    option: tuple[str, ...],
    variable: str | None,
    scope: str,
) -> None:
    caplog.set_level(logging.INFO, logger=LIMITS_LOG)
    served.call(
        served.fake.add_fault,
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "0.01"}, times=1),
    )
    environ = env(served) | ({} if variable is None else {"SINCH_PAUSE_SCOPE": variable})
    result = runner.invoke(app, send_bulk(tmp_path, *option), env=environ)
    assert result.exit_code == 0, result.output
    assert len(served.call(lambda: dict(served.fake.batches))) == 5  # the 429'd row retried
    pauses = limits_events(caplog, "pause")
    if scope == "off":
        assert pauses == []
    else:
        assert [getattr(r, "sinch_scope", None) for r in pauses] == [scope]
    summaries = limits_events(caplog, "limits")
    assert summaries and f"off {int(scope == 'off')}" in summaries[-1].getMessage()


def test_a_bad_scope_exits_2_naming_it(served: ThreadedFake, tmp_path: Path) -> None:
    bad_option = runner.invoke(
        app, send_bulk(tmp_path, "--pause-scope", "everyone"), env=env(served)
    )
    assert bad_option.exit_code == 2 and "--pause-scope" in bad_option.output
    bad_variable = runner.invoke(
        app, send_bulk(tmp_path), env=env(served) | {"SINCH_PAUSE_SCOPE": "everyone"}
    )
    assert bad_variable.exit_code == 2
    assert "pause_scope" in bad_variable.output and "SINCH_PAUSE_SCOPE" in bad_variable.output
    assert not served.call(lambda: dict(served.fake.batches))
    shown = runner.invoke(app, ["send-bulk", "--help"], env={"COLUMNS": "200"})
    assert "--pause-scope" in shown.output and "shared" in shown.output
