"""``--since`` (``inbounds sync``, ``delivery-reports sync``, ``messages list``): ``30m``,
``12h`` or ``7d`` in ASCII digits, or an ISO-8601 time; the duration rule is
:func:`sinch_async._validation.parse_duration`. ``str.isdigit`` used to read ``"٣d"`` (an
Arabic-Indic three) as three days. ``--lag`` of the sync commands is read by the same
rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from sinch_async.cli._commands_sync import parse_lag, parse_since
from tests.support.cli import ThreadedFake, run

ARABIC_THREE = "\u0663"
FULL_WIDTH_THREE = "\uff13"
NOT_SINCE = [
    ARABIC_THREE + "d",
    FULL_WIDTH_THREE + "h",
    "1" + ARABIC_THREE + "m",
    "\u0663\u0660m",  # thirty, in Arabic-Indic digits
    "-3d",
    "3w",
    "yesterday",
    "9" * 30 + "d",  # beyond timedelta
]


@pytest.mark.parametrize(
    ("since", "ago"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7))],
)
def test_durations(since: str, ago: timedelta) -> None:
    before = datetime.now(UTC)
    start = parse_since(since)
    assert start is not None
    assert before - ago - timedelta(seconds=5) <= start <= datetime.now(UTC) - ago


def test_iso_times() -> None:
    assert parse_since("2026-11-23T12:00:00") == datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_since("2026-11-23T12:00:00+01:00") == datetime(2026, 11, 23, 11, tzinfo=UTC)
    assert parse_since(None) is None


@pytest.mark.parametrize("since", NOT_SINCE)
def test_not_a_since(since: str) -> None:
    with pytest.raises(typer.BadParameter, match="ISO-8601 time or 30m/12h/7d"):
        parse_since(since)


@pytest.mark.parametrize("since", [ARABIC_THREE + "d", FULL_WIDTH_THREE + "h"])
def test_commands_refuse_unicode_digits_before_any_request(
    served: ThreadedFake, tmp_path: Path, since: str
) -> None:
    out = str(tmp_path / "out.jsonl")
    synced = run(served, "inbounds", "sync", "--since", since, "--out", out)
    assert synced.exit_code == 2, synced.output
    assert "--since" in synced.output
    listed = run(served, "messages", "list", "--since", since)
    assert listed.exit_code == 2, listed.output
    assert not served.fake.requests
    assert not Path(out).exists()


# --- --lag (``inbounds sync``, ``delivery-reports sync``): the same duration rule ---------


@pytest.mark.parametrize(
    ("lag", "span"),
    [(None, timedelta(0)), ("0m", timedelta(0)), ("5m", timedelta(minutes=5)),
     ("2h", timedelta(hours=2)), ("1d", timedelta(days=1))],
)  # fmt: skip
def test_lags(lag: str | None, span: timedelta) -> None:
    assert parse_lag(lag) == span


@pytest.mark.parametrize("lag", [*NOT_SINCE, "2026-11-23T12:00:00"])
def test_not_a_lag(lag: str) -> None:
    with pytest.raises(typer.BadParameter, match="5m/2h/1d"):
        parse_lag(lag)


def test_sync_lag_leaves_the_last_minutes_to_the_next_run(
    served: ThreadedFake, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    add = served.fake.add_inbound
    old = served.call(add, from_="+46700000001", to="12345", received_at=now - timedelta(minutes=9))
    new = served.call(add, from_="+46700000002", to="12345", received_at=now - timedelta(minutes=1))
    out = tmp_path / "out.jsonl"
    first = run(
        served, "--json", "inbounds", "sync", "--since", "1h", "--lag", "5m", "--out", str(out)
    )
    assert first.exit_code == 0, first.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [old["id"]]
    second = run(served, "--json", "inbounds", "sync", "--out", str(out))  # no lag: up to now
    assert second.exit_code == 0, second.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [
        old["id"],
        new["id"],
    ]
    bad = run(served, "delivery-reports", "sync", "--lag", ARABIC_THREE + "m", "--out", str(out))
    assert bad.exit_code == 2 and "--lag" in bad.output
