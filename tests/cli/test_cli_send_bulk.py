"""``sinch-async send-bulk``: one send per CSV row, a ledger, resume on rerun, exit codes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sinch_async.cli._commands_bulk import campaign_for
from tests.support.cli import ThreadedFake, run


def write_csv(path: Path, n: int, *, column: str = "phone") -> Path:
    lines = [f"{column},name"] + [f"+4670{i:07d},Person {i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sends_each_row_once_and_a_rerun_resumes(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "people.csv", 40)
    args = [
        "--json",
        "send-bulk",
        "--csv",
        str(csv_file),
        "--body",
        "Hi {name}, {{sale}}!",
        "--ledger",
        str(tmp_path / "l.db"),
        "--messages-per-second",
        "10000",
    ]
    first = run(served, *args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 40 and summary["resumed"] == 0 and summary["complete"]
    # the default campaign: the CSV's path, the body and the sender (not the content)
    assert summary["campaign"] == campaign_for(csv_file, "Hi {name}, {{sale}}!", None)
    assert summary["failed_rows"] == summary["unknown_rows"] == []
    assert summary["changed"] == summary["pending"] == summary["not_reached"] == 0
    batches = served.call(lambda: dict(served.fake.batches))
    assert len(batches) == 40
    assert "Hi Person 7, {sale}!" in {b["body"] for b in batches.values()}
    refs = Counter(b["client_reference"] for b in batches.values())
    assert set(refs.values()) == {1} and all(r.startswith(summary["campaign"]) for r in refs)

    again = run(served, *args)
    assert again.exit_code == 0, again.output
    summary2 = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary2["resumed"] == 40 and summary2["campaign"] == summary["campaign"]
    assert len(served.call(lambda: dict(served.fake.batches))) == 40


def test_table_summary_for_people(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "p.csv", 5, column="to")
    result = run(
        served,
        "send-bulk",
        "--csv",
        str(csv_file),
        "--body",
        "Hi {name}",
        "--ledger",
        str(tmp_path / "l.db"),
        "--campaign",
        "c1",
    )
    assert result.exit_code == 0, result.output
    assert "Campaign c1" in result.output and "sent" in result.output


def test_usage_errors_exit_2(served: ThreadedFake, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "p.csv", 2)
    nocol = tmp_path / "n.csv"
    nocol.write_text("number,name\n1,a\n", encoding="utf-8")
    ledger = str(tmp_path / "l.db")
    cases = [
        ["send-bulk", "--csv", str(nocol), "--body", "x", "--ledger", ledger],
        ["send-bulk", "--csv", str(good), "--body", "Hi {nope}", "--ledger", ledger],
        ["send-bulk", "--csv", str(good), "--body", "Hi {", "--ledger", ledger],
        ["send-bulk", "--csv", str(good), "--body", "Hi"],
    ]
    for args in cases:
        result = run(served, *args)
        assert result.exit_code == 2, (args, result.output)
    assert not served.call(lambda: dict(served.fake.batches))


def test_failed_rows_exit_1_and_are_not_resent(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("to,text\n+46700000001,ok\n+46700000002," + "x" * 3000 + "\n")
    args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", "{text}"]
    args += ["--ledger", str(tmp_path / "l.db")]
    result = run(served, *args)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 1 and summary["failed"] == 1 and summary["complete"]
    assert [r["row"] for r in summary["failed_rows"]] == [2]
    again = run(served, *args)
    assert again.exit_code == 1
    assert json.loads(again.stdout.strip().splitlines()[-1])["resumed"] == 2
    assert len(served.call(lambda: dict(served.fake.batches))) == 1
