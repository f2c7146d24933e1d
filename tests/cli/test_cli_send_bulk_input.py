"""``sinch-async send-bulk``: the CSV read and checked once, a campaign id that survives a
fixed row, the CSV checked against the ledger, failed rows reported, one exit-code table."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sinch_async._fanout import FanoutProgress
from sinch_async._ledger import LedgerError, SqliteLedger
from sinch_async._sync import JsonFileCheckpoint
from sinch_async.cli import app
from sinch_async.cli._commands_bulk import BulkResult, campaign_for
from sinch_async.testing import FakeClock, Fault
from tests.support.cli import ThreadedFake, clean_env, run
from tests.support.redis_server import start_redis

GOOD = [f"+4670{i:07d}" for i in range(10)]
BAD = "+4670"  # refused by the SDK before it is sent: a failed row


def write_rows(path: Path, numbers: list[str]) -> Path:
    lines = ["to,name"] + [f"{n},Person {i}" for i, n in enumerate(numbers)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bulk(server: ThreadedFake, csv_file: Path, ledger: Path, *extra: str) -> Any:
    args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", "Hi {name}"]
    return run(server, *args, "--ledger", str(ledger), *extra)


def summary(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def batches(server: ThreadedFake) -> list[dict[str, Any]]:
    return list(server.call(lambda: dict(server.fake.batches)).values())


def one_error_line(result: Any) -> str:
    """The single line a refused run prints on stderr (and no traceback anywhere)."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    line: str = lines[0]
    return line


# --- a campaign that survives fixing a row -------------------------------------------------


def test_fixed_row_rerun_with_retry_failed_sends_only_that_row(
    served: ThreadedFake, tmp_path: Path
) -> None:
    numbers = list(GOOD)
    numbers[3] = BAD
    csv_file = write_rows(tmp_path / "people.csv", numbers)
    ledger = tmp_path / "l.db"

    first = bulk(served, csv_file, ledger)
    assert first.exit_code == 1, first.output
    s1 = summary(first)
    assert (s1["sent"], s1["failed"], s1["complete"]) == (9, 1, True)
    [failed] = s1["failed_rows"]
    assert (failed["row"], failed["to"], failed["error_type"]) == (4, BAD, "SinchValidationError")
    assert "E.164" in failed["error"]
    assert len(batches(served)) == 9

    numbers[3] = "+46709999999"  # the fix: the file's content changes, its path does not
    write_rows(csv_file, numbers)

    plain = bulk(served, csv_file, ledger)  # without --retry-failed: nothing more is sent
    assert plain.exit_code == 1, plain.output
    assert summary(plain)["campaign"] == s1["campaign"]
    assert len(batches(served)) == 9

    retried = bulk(served, csv_file, ledger, "--retry-failed")
    assert retried.exit_code == 0, retried.output
    s3 = summary(retried)
    assert s3["campaign"] == s1["campaign"]
    # sent: what this run sent (the fixed row); ok: every row ok in this run's view
    assert (s3["sent"], s3["ok"], s3["failed"], s3["resumed"], s3["complete"]) == (
        1,
        10,
        0,
        9,
        True,
    )
    after = batches(served)
    assert len(after) == 10  # exactly one more: the fixed row
    new = [b for b in after if b["to"] == ["+46709999999"]]
    assert [b["client_reference"] for b in new] == [f"{s1['campaign']}:3"]


def test_default_campaign_is_the_path_body_and_sender_not_the_content(tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "a.csv", GOOD[:2])
    expected = hashlib.sha256(
        str(csv_file.resolve()).encode() + b"\0" + b"Hi {name}\0" + b"+1202\0"
    ).hexdigest()[:16]
    assert campaign_for(csv_file, "Hi {name}", "+1202") == f"bulk-{expected}"
    before = campaign_for(csv_file, "Hi {name}", None)
    write_rows(csv_file, GOOD[:3])
    assert campaign_for(csv_file, "Hi {name}", None) == before
    relative = Path("..") / tmp_path.name / "a.csv"
    assert campaign_for(tmp_path / relative, "Hi {name}", None) == before
    assert campaign_for(tmp_path / "b.csv", "Hi {name}", None) != before
    assert campaign_for(csv_file, "Hello {name}", None) != before
    assert campaign_for(csv_file, "Hi {name}", "+1202") != before


def test_campaign_help_says_how_the_default_is_made() -> None:
    result = CliRunner().invoke(app, ["send-bulk", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.replace("│", " ").split())
    assert "resolved absolute path" in text and "not the CSV's content" in text
    assert "different paths must pass the same --campaign" in text
    for code in ("0 ok", "1 send-bulk", "2 bad input", "3 stopped", "4 incomplete", "5 busy"):
        assert code in text, code


def test_top_level_help_has_the_exit_code_table() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert "3 stopped: a shared store" in text and "5 busy" in text and "130 interrupted" in text


# --- the CSV, read and checked once ----------------------------------------------------------


def test_non_utf8_file_names_the_byte_offset(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = tmp_path / "latin1.csv"
    head = b"to,name\n+46700000001,Ann\n+46700000002,B"
    csv_file.write_bytes(head + b"\xe9a\n")
    result = bulk(served, csv_file, tmp_path / "l.db")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert f"byte offset {len(head)}" in line and "UTF-8" in line and "line 3" in line
    assert not batches(served) and not (tmp_path / "l.db").exists()


def test_utf8_bom_is_accepted(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = tmp_path / "bom.csv"
    csv_file.write_bytes(b"\xef\xbb\xbfto,name\n+46700000001,\xc3\x85sa\n")
    result = bulk(served, csv_file, tmp_path / "l.db")
    assert result.exit_code == 0, result.output
    assert [b["body"] for b in batches(served)] == ["Hi Åsa"]


def test_field_over_the_csv_limit_names_the_row(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = tmp_path / "big.csv"
    rows = ["to,name", "+46700000001,a", "+46700000002," + "x" * (200 * 1024), "+46700000003,c"]
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = bulk(served, csv_file, tmp_path / "l.db")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "row 2 " in line and "field larger than field limit" in line
    assert not batches(served)


def test_row_without_a_recipient_names_the_row(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = tmp_path / "gap.csv"
    csv_file.write_text("name,to\na,+46700000001\n\nb,+46700000002\nc,  \nd,+46700000004\n")
    result = bulk(served, csv_file, tmp_path / "l.db")
    assert result.exit_code == 2
    line = one_error_line(result)
    # the blank line is not a row: 'c' is the third data row, on line 5 of the file
    assert "row 3 " in line and "line 5" in line and "'to'" in line
    assert not batches(served)

    short = tmp_path / "short.csv"
    short.write_text("name,to\na,+46700000001\nb\n")
    result = bulk(served, short, tmp_path / "l.db")
    assert result.exit_code == 2 and "row 2 " in one_error_line(result)


def test_malformed_csv_names_the_row(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = tmp_path / "quote.csv"
    # an unclosed quote would otherwise swallow every later row into one field
    csv_file.write_text('to,name\n+46700000001,a\n+46700000002,"b\n+46700000003,c\n')
    result = bulk(served, csv_file, tmp_path / "l.db")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "row 2 " in line and "line 3" in line
    stray = tmp_path / "stray.csv"
    stray.write_text('to,name\n+46700000001,"a"b\n')
    result = bulk(served, stray, tmp_path / "l.db")
    assert result.exit_code == 2 and "row 1 " in one_error_line(result)
    assert not batches(served)


# --- the CSV against the ledger ------------------------------------------------------------


def test_rows_inserted_before_sent_rows_are_refused_before_sending(
    served: ThreadedFake, tmp_path: Path
) -> None:
    csv_file = tmp_path / "p.csv"
    people = [f"{n},Person {n[-2:]}" for n in GOOD[:5]]
    csv_file.write_text("\n".join(["to,name", *people]) + "\n")
    ledger = tmp_path / "l.db"
    assert bulk(served, csv_file, ledger).exit_code == 0
    # a row inserted at the top: every row sent before moved down by one
    csv_file.write_text("\n".join(["to,name", "+46701111111,New", *people]) + "\n")
    result = bulk(served, csv_file, ledger, "--retry-failed")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.split(": ", 1)[1].startswith("row 1: ")
    assert "rows were inserted or removed before rows already sent" in line
    assert "start a new campaign (--campaign)" in line
    assert len(batches(served)) == 5


def test_a_row_edited_after_it_was_sent_is_counted_changed(
    served: ThreadedFake, tmp_path: Path
) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:3])
    ledger = tmp_path / "l.db"
    assert bulk(served, csv_file, ledger).exit_code == 0
    csv_file.write_text(csv_file.read_text().replace("Person 1", "Someone else"))
    again = bulk(served, csv_file, ledger)
    assert again.exit_code == 0, again.output
    s = summary(again)
    assert (s["changed"], s["sent"], s["ok"], s["resumed"], s["complete"]) == (1, 0, 3, 3, True)
    assert len(batches(served)) == 3  # not sent again


# --- what the summary and --failed-out say -------------------------------------------------


def test_failed_rows_listed_and_written_with_failed_out(
    served: ThreadedFake, tmp_path: Path
) -> None:
    csv_file = tmp_path / "p.csv"
    lines = ["name,to,error"]
    for i in range(30):
        number = f"+46{i:03d}" if i % 10 else f"+4670000{i:04d}"  # 27 too short
        lines.append(f"Person {i},{number},note {i}")
    csv_file.write_text("\n".join(lines) + "\n")
    out = tmp_path / "failed.csv"
    result = bulk(served, csv_file, tmp_path / "l.db", "--failed-out", str(out))
    assert result.exit_code == 1, result.output
    s = summary(result)
    assert (s["sent"], s["failed"], s["unknown"], s["pending"], s["changed"]) == (3, 27, 0, 0, 0)
    assert s["complete"] is True and s["unknown_rows"] == []
    assert len(s["failed_rows"]) == 20
    assert [r["row"] for r in s["failed_rows"]] == [i + 1 for i in range(30) if i % 10][:20]
    first = s["failed_rows"][0]
    assert first["to"] == "+46001" and first["error_type"] == "SinchValidationError"

    with out.open(newline="", encoding="utf-8") as fh:
        written = list(csv.reader(fh))
    assert written[0] == ["row", "to", "error_type", "error", "name", "csv_error"]
    assert len(written) == 1 + 27
    assert written[1][:3] == ["2", "+46001", "SinchValidationError"]
    assert "E.164" in written[1][3] and written[1][4:] == ["Person 1", "note 1"]

    # a rerun reports the same failed rows from the ledger, with their recorded error
    again = bulk(served, csv_file, tmp_path / "l.db", "--failed-out", str(out))
    assert again.exit_code == 1
    assert summary(again)["failed_rows"] == s["failed_rows"]
    with out.open(newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == written


def test_failed_out_in_a_missing_directory_is_refused_first(
    served: ThreadedFake, tmp_path: Path
) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:2])
    out = tmp_path / "nope" / "failed.csv"
    result = bulk(served, csv_file, tmp_path / "l.db", "--failed-out", str(out))
    assert result.exit_code == 2
    assert "--failed-out" in one_error_line(result)
    assert not batches(served)


def test_table_summary_names_failed_rows(served: ThreadedFake, tmp_path: Path) -> None:
    numbers = list(GOOD[:3])
    numbers[1] = BAD
    csv_file = write_rows(tmp_path / "p.csv", numbers)
    args = ["send-bulk", "--csv", str(csv_file), "--body", "Hi {name}"]
    result = run(served, *args, "--ledger", str(tmp_path / "l.db"))
    assert result.exit_code == 1, result.output
    assert "Failed rows" in result.stdout and BAD in result.stdout
    assert "--retry-failed" in result.stdout


# --- exit codes -----------------------------------------------------------------------------


def test_an_api_error_before_sending_exits_4_not_1(served: ThreadedFake, tmp_path: Path) -> None:
    """Sinch's batch listing down (the lost-ledger lookup before anything is sent): the
    campaign is not complete, so exit 4 ("run again"), not 1 ("complete, some rows
    failed"), which a reviewer got with 0 of 50 rows stored."""
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:5])
    ledger = tmp_path / "l.db"
    served.call(served.fake.add_fault, Fault(method="GET", path="/batches", status=503))
    down = bulk(served, csv_file, ledger)
    assert down.exit_code == 4, down.output
    assert "not complete" in " ".join(down.output.split())
    assert batches(served) == []
    served.call(served.fake.clear_faults)
    again = bulk(served, csv_file, ledger)
    assert again.exit_code == 0, again.output
    assert summary(again)["complete"] is True and len(batches(served)) == 5


def test_exit_4_while_rows_are_in_doubt_then_0(clock: FakeClock, tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:3])
    ledger = tmp_path / "l.db"
    # every send is cut off with no answer (after a pause on the fake's parked clock), and
    # once a send has arrived (not before: the run looks Sinch up first) the lookups by
    # reference fail; then the clock runs and the held sends are dropped
    clock.auto_advance = False
    with ThreadedFake(clock=clock) as served:
        served.call(
            served.fake.add_fault, Fault(method="POST", path="/batches", drop=True, delay=0.5)
        )

        async def fail_lookups_once_sending() -> None:
            await clock.wait_for_sleepers(1, timeout=30)  # a POST is held by its fault
            served.fake.add_fault(Fault(method="GET", path="/batches", status=400))
            clock.auto_advance = True
            clock.advance(1)

        watcher = asyncio.run_coroutine_threadsafe(fail_lookups_once_sending(), served.loop)
        doubt = bulk(served, csv_file, ledger)
        watcher.result(5)
        assert doubt.exit_code == 4, doubt.output
        s = summary(doubt)
        assert s["unknown"] == 3 and s["failed"] == 0 and s["complete"] is False
        assert [r["row"] for r in s["unknown_rows"]] == [1, 2, 3] and s["failed_rows"] == []
        assert all(r["error_type"] == "SendOutcomeUnknown" for r in s["unknown_rows"])

        served.call(served.fake.clear_faults)
        again = bulk(served, csv_file, ledger)
        assert again.exit_code == 0, again.output
        assert summary(again)["complete"] is True and len(batches(served)) == 3


def test_exit_5_when_the_ledger_is_held(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:2])
    ledger = tmp_path / "l.db"
    held = SqliteLedger(ledger)
    asyncio.run(held.records("x"))  # open: the file is locked by this "process"
    try:
        result = bulk(served, csv_file, ledger)
    finally:
        asyncio.run(held.aclose())
    assert result.exit_code == 5
    assert "in use" in one_error_line(result)
    assert not batches(served)
    assert bulk(served, csv_file, ledger).exit_code == 0


def test_exit_3_when_the_ledger_cannot_be_opened(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:2])
    result = bulk(served, csv_file, tmp_path / "missing" / "l.db")
    assert result.exit_code == 3
    assert "missing" in one_error_line(result)
    args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", "x"]
    down = run(served, *args, "--redis", "redis://127.0.0.1:1/0")
    assert down.exit_code == 3
    one_error_line(down)
    assert not batches(served)


@pytest.mark.redis
def test_exit_3_when_redis_goes_away_mid_run(served: ThreadedFake, tmp_path: Path) -> None:
    pytest.importorskip("redis")
    proc, url = start_redis(tmp_path)  # a server of its own, killed during the run
    try:
        csv_file = write_rows(tmp_path / "p.csv", [f"+4670{i:07d}" for i in range(300)])
        args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", "Hi {name}"]
        args += ["--redis", url, "--messages-per-second", "100", "--concurrency", "4"]
        threading.Timer(0.7, proc.kill).start()
        result = run(served, *args)
    finally:
        proc.kill()
        proc.wait(10)
    assert result.exit_code == 3, result.output
    s = summary(result)
    assert s["complete"] is False and s["pending"] + s["not_reached"] > 0
    assert 0 < s["sent"] < 300 and s["sent"] == len(batches(served))
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()[-1:]
    assert "shared store is unavailable" in line and "run again" in line


def test_lost_ledger_is_refused_unless_force_resend(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:3])
    ledger = tmp_path / "l.db"
    assert bulk(served, csv_file, ledger).exit_code == 0
    for path in tmp_path.glob("l.db*"):
        path.unlink()
    refused = bulk(served, csv_file, ledger)
    assert refused.exit_code == 2
    assert "pass --force-resend to send every row again deliberately" in one_error_line(refused)
    assert len(batches(served)) == 3
    forced = bulk(served, csv_file, ledger, "--force-resend")
    assert forced.exit_code == 0, forced.output
    assert len(batches(served)) == 6


def test_sync_on_a_held_checkpoint_exits_5(served: ThreadedFake, tmp_path: Path) -> None:
    out = tmp_path / "inbounds.jsonl"
    held = JsonFileCheckpoint(tmp_path / "inbounds.jsonl.checkpoint.json")
    asyncio.run(held.acquire())
    try:
        result = run(served, "inbounds", "sync", "--out", str(out))
    finally:
        asyncio.run(held.release())
    assert result.exit_code == 5, result.output
    assert "Traceback" not in result.output and "Busy" in result.stderr


def test_ledger_of_a_newer_format_exits_2(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:2])
    ledger = tmp_path / "l.db"
    assert bulk(served, csv_file, ledger).exit_code == 0
    with sqlite3.connect(ledger) as db:  # as a newer sinch-async would have written it
        db.execute("UPDATE sinch_ledger_campaigns SET format = format + 1")
    db.close()
    result = bulk(served, csv_file, ledger, "--retry-failed")
    assert result.exit_code == 2
    assert "format" in one_error_line(result)
    assert len(batches(served)) == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, 0),
        ({"failed": 1}, 1),
        ({"unknown": 1}, 4),
        ({"failed": 1, "unknown": 1}, 4),
        ({"progress": FanoutProgress(claimed_elsewhere=2)}, 4),
        ({"ok": 9}, 4),  # a row not reached
        ({"pending": 1}, 3),
        ({"store_error": LedgerError("down"), "unknown": 1}, 3),
        ({"signal": 2, "pending": 1}, 130),
    ],
)
def test_exit_code_table(change: dict[str, Any], code: int) -> None:
    counts: dict[str, Any] = {"total": 10, "campaign": "c", "ok": 10}
    if "ok" not in change:
        counts["ok"] = 10 - sum(change.get(k, 0) for k in ("failed", "unknown", "pending"))
        counts["ok"] -= change.get("progress", FanoutProgress()).claimed_elsewhere
    result = BulkResult(**{**counts, **change})
    assert result.exit_code == code
    assert result.complete is (code in (0, 1))


# --- --account ------------------------------------------------------------------------------


@pytest.fixture
def account_env(served: ThreadedFake, tmp_path: Path) -> Iterator[dict[str, str | None]]:
    config = tmp_path / "config.toml"
    fake = served.fake
    config.write_text(
        f'[accounts.acme]\nservice_plan_id = "{fake.service_plan_id}"\n'
        f'api_token = "{fake.api_token}"\nbase_url = "{fake.base_url}"\n'
    )
    config.chmod(0o600)
    yield clean_env(SINCH_CONFIG=str(config))


def test_account_option_is_used(
    served: ThreadedFake, tmp_path: Path, account_env: dict[str, str | None]
) -> None:
    csv_file = write_rows(tmp_path / "p.csv", GOOD[:2])
    args = ["--account", "acme", "--json", "send-bulk", "--csv", str(csv_file)]
    args += ["--body", "Hi {name}", "--ledger", str(tmp_path / "l.db")]
    result = CliRunner().invoke(app, args, env=account_env)
    assert result.exit_code == 0, result.output
    assert len(batches(served)) == 2


def test_account_with_a_shared_redis_budget(
    served: ThreadedFake, tmp_path: Path, account_env: dict[str, str | None], redis_url: str
) -> None:
    redis = pytest.importorskip("redis")
    plain = redis.Redis.from_url(redis_url)
    try:
        plain.flushdb()
        csv_file = write_rows(tmp_path / "p.csv", GOOD[:3])
        args = ["--account", "acme", "--json", "send-bulk", "--csv", str(csv_file)]
        args += ["--body", "Hi {name}", "--redis", redis_url, "--messages-per-second", "1000"]
        result = CliRunner().invoke(app, args, env=account_env)
        assert result.exit_code == 0, result.output
        assert summary(result)["sent"] == 3 and len(batches(served)) == 3
        keys = {k.decode() for k in plain.keys("sinch-async:mps:*")}
        assert keys and all(served.fake.service_plan_id in k for k in keys), keys
    finally:
        plain.flushdb()
        plain.close()
