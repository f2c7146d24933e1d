"""``SqliteLedger.status`` (issue 17, section 1): counts per state, the rows it names, and
reading a ledger file while a run holds it (another connection, without its lock)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from sinch_async._ledger import (
    STATUS_ROWS,
    LedgerError,
    LedgerRecord,
    SqliteLedger,
    StatusLedger,
    campaign_reference,
)
from sinch_async.redis._ledger import RedisLedger
from tests.support.paths import DATA

CAMPAIGN = "status"
HERE = f"{socket.gethostname()}:"


def ref(i: int) -> str:
    return campaign_reference(CAMPAIGN, i)


async def fill(led: SqliteLedger) -> None:
    """Rows 0 ok, 1 failed, 2 unknown, 3 and 4 in flight (intent), 6 ok past a gap, 12 ok
    past the total; a total of 10."""
    await led.start(CAMPAIGN, 1.0)
    for i in (0, 1, 2, 3, 4, 6, 12):
        assert (await led.begin(CAMPAIGN, i, ref(i), f"d{i:011d}")).status == "new"
    for i, state in ((0, "ok"), (1, "failed"), (2, "unknown"), (6, "ok"), (12, "ok")):
        await led.finish(
            CAMPAIGN,
            LedgerRecord(i, ref(i), state, f"d{i:011d}", 1.0, error_type="E", error=f"e{i}"),  # type: ignore[arg-type]
        )
    await led.set_total(CAMPAIGN, 10)


def test_both_ledgers_can_tell() -> None:
    assert issubclass(SqliteLedger, StatusLedger) and issubclass(RedisLedger, StatusLedger)


async def test_status_while_a_run_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    run = SqliteLedger(path)
    await fill(run)  # the run holds the file (its lock) from here on
    reader = SqliteLedger(path)  # another connection, as `campaign status` opens it
    status = await reader.status(CAMPAIGN)
    assert reader._lock is None  # it did not take the run's lock
    assert (status.total, status.sent, status.failed) == (10, 2, 1)
    assert (status.claimed, status.in_doubt, status.not_started) == (2, 1, 4)
    assert not status.complete and status.exists
    [worker] = status.workers
    assert worker.worker.startswith(HERE) and worker.claims == 2 and worker.lease_left is None
    named = [(r.index, r.state, r.recorded) for r in status.rows]
    assert named == [
        (2, "in_doubt", "unknown"),
        (3, "claimed", "intent"),
        (4, "claimed", "intent"),
        (5, "not_started", None),
        (7, "not_started", None),
        (8, "not_started", None),
        (9, "not_started", None),
    ]
    assert status.rows[0].error == "e2" and status.rows[1].reference == ref(3)
    assert status.rows[1].worker == worker.worker
    # the run's own ledger, asked after the run: what it left in flight is in doubt
    own = await run.status(CAMPAIGN)
    assert (own.sent, own.claimed, own.in_doubt, own.workers) == (2, 0, 3, ())
    await run.aclose()
    # the run is over: what it had in flight is in doubt (no live holder)
    after = await SqliteLedger(path).status(CAMPAIGN)
    assert (after.claimed, after.in_doubt, after.workers) == (0, 3, ())
    # status never locked the file: a new run opens it
    async with SqliteLedger(path) as again:
        assert (await again.open(CAMPAIGN)).exists


async def test_a_killed_holder_leaves_rows_in_doubt(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with SqliteLedger(path) as run:
        await fill(run)
    # what a SIGKILLed run leaves in the lock file: its name, a process that is gone
    (tmp_path / "l.db.lock").write_text(f"{socket.gethostname()}:{2**22 + 12345}")
    status = await SqliteLedger(path).status(CAMPAIGN)
    assert (status.claimed, status.in_doubt) == (0, 3)


async def test_complete_unknown_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with SqliteLedger(path) as led:
        for i in range(3):
            await led.begin(CAMPAIGN, i, ref(i), "d" * 12)
            await led.finish(CAMPAIGN, LedgerRecord(i, ref(i), "ok", "d" * 12, 1.0, f"b{i}"))
        no_total = await led.status(CAMPAIGN)
        assert no_total.sent == 3 and no_total.total is None and not no_total.complete
        assert no_total.not_started is None
        await led.set_total(CAMPAIGN, 3)
        assert (await led.status(CAMPAIGN)).complete
        await led.set_total(CAMPAIGN, 0)  # the last total recorded wins
        done = await led.status(CAMPAIGN)
        assert done.complete and done.sent == 0
        other = await led.status("nothing-here")
        assert not other.exists and not other.complete
    with pytest.raises(LedgerError, match="no ledger file"):
        await SqliteLedger(tmp_path / "missing.db").status(CAMPAIGN)


async def test_gaps_and_many_rows_in_doubt(tmp_path: Path) -> None:
    async with SqliteLedger(tmp_path / "l.db") as led:
        for i in (*range(0, 30), 31, 35):
            await led.begin(CAMPAIGN, i, ref(i), "d" * 12)
        await led.set_total(CAMPAIGN, 40)
        status = await SqliteLedger(tmp_path / "l.db").status(CAMPAIGN)
    assert (status.claimed, status.not_started) == (32, 8)
    assert len(status.rows) == STATUS_ROWS
    assert [r.index for r in status.rows] == list(range(20))  # claimed first, by index
    async with SqliteLedger(tmp_path / "g.db") as led:
        for i in (0, 1, 5, 9):
            await led.begin(CAMPAIGN, i, ref(i), "d" * 12)
            await led.finish(CAMPAIGN, LedgerRecord(i, ref(i), "ok", "d" * 12, 1.0, "b"))
        await led.set_total(CAMPAIGN, 12)
        gaps = await led.status(CAMPAIGN)
    assert [r.index for r in gaps.rows] == [2, 3, 4, 6, 7, 8, 10, 11]
    assert gaps.not_started == 8 and gaps.sent == 4


async def test_a_ledger_of_the_previous_release(tmp_path: Path) -> None:
    """``tests/data/ledger_v1.sqlite`` (campaign ``v1-campaign``: rows 0-7 finished, row 3
    failed, rows 8 and 9 in doubt), read without its lock, has no row count."""
    path = tmp_path / "v1.sqlite"
    shutil.copy(DATA / "ledger_v1.sqlite", path)
    status = await SqliteLedger(path).status("v1-campaign")
    assert status.exists and status.total is None and status.not_started is None
    assert (status.sent, status.failed, status.in_doubt, status.claimed) == (7, 1, 2, 0)
    assert [r.index for r in status.rows] == [8, 9] and not status.complete


async def test_a_run_of_another_campaign_holds_none_of_its_rows(tmp_path: Path) -> None:
    """Campaign A's run died with rows in flight; a run of campaign B now holds the file:
    A's rows are in doubt, not claimed by B's process (a reviewer saw them reported as
    claimed by B, with a hint that B would finish them)."""
    path = tmp_path / "l.db"
    async with SqliteLedger(path) as a_run:
        await a_run.open("a")
        for i in range(4):
            ref_a = campaign_reference("a", i)
            assert (await a_run.begin("a", i, ref_a, f"d{i:011d}")).status == "new"
    b_run = SqliteLedger(path)
    await b_run.open("b")
    assert (await b_run.begin("b", 0, campaign_reference("b", 0), "d" * 12)).status == "new"
    reader = SqliteLedger(path)
    a = await reader.status("a")
    assert (a.claimed, a.in_doubt, a.workers) == (0, 4, ())
    b = await reader.status("b")
    assert b.claimed == 1 and b.workers[0].worker.startswith(HERE)
    await b_run.aclose()
