"""Campaigns under ordinary operator actions and infrastructure (issue 15).

Each test reproduces one way the campaign promise broke on the previous main: two rows
sharing a reference, clock skew between this host and Sinch, a lost ledger (deleted
SQLite file, Redis emptied), lost last records, a limiter outage, changed input on a
rerun, a ledger file written by the previous release, and unusable ledger paths.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from sinch_async import LimiterUnavailableError, TextBatchRequest
from sinch_async._fanout import SendOutcome
from sinch_async._ledger import (
    LedgerBusyError,
    LedgerError,
    LedgerLostError,
    SqliteLedger,
    campaign_reference,
    find_input_mismatch,
    row_digest,
)
from sinch_async.testing import FakeClock, FakeSinch, Fault
from tests.support.campaigns import reqs, run_campaign, stored_refs
from tests.support.paths import DATA
from tests.support.redis_server import start_redis

CAMPAIGN = "ops"


async def run(client: Any, requests: Any, ledger: Any, **kw: Any) -> list[SendOutcome]:
    kw.setdefault("campaign", CAMPAIGN)
    return await run_campaign(client, requests, ledger, **kw)


def skewed(seconds: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


async def intent(ledger: SqliteLedger, request: TextBatchRequest, index: int, at: float) -> None:
    """What a run killed mid-send leaves behind: the intent, no outcome."""
    ref = request.client_reference or campaign_reference(CAMPAIGN, index)
    with_ref = attrs.evolve(request, client_reference=ref)
    claim = await ledger.begin(
        CAMPAIGN, index, ref, row_digest(with_ref, CAMPAIGN, index), intent_at=at
    )
    assert claim.status == "new"


# --- 2. two rows with one reference ------------------------------------------------------


async def test_two_identical_rows_one_reference_are_both_sent_once(tmp_path: Path) -> None:
    same = TextBatchRequest(to=["+46701234567"], body="Your code", client_reference="order-17")
    async with FakeSinch() as fake:
        async with fake.client() as client, SqliteLedger(tmp_path / "l.db") as ledger:
            first = await run(client, [same], ledger)  # row 0 sent; the run stops there
            assert first[0].ok
            # the next run got as far as row 1's intent and died before sending it
            await intent(ledger, same, 1, time.time() - 60)
        async with fake.client() as fresh, SqliteLedger(tmp_path / "l.db") as ledger:
            again = await run(fresh, [same, same], ledger)
    assert again[0].resumed and again[0].batch_id == first[0].batch_id
    assert again[1].ok and not again[1].reconciled, again[1]
    assert again[1].batch_id != first[0].batch_id
    assert stored_refs(fake)["order-17"] == 2


async def test_two_rows_in_doubt_matching_one_batch_are_both_unknown(tmp_path: Path) -> None:
    same = TextBatchRequest(to=["+46701234567"], body="Your code", client_reference="order-17")
    async with FakeSinch() as fake:
        async with fake.client() as client, SqliteLedger(tmp_path / "l.db") as ledger:
            await ledger.open(CAMPAIGN)
            await ledger.start(CAMPAIGN, time.time() - 120)
            await intent(ledger, same, 0, time.time() - 60)
            await intent(ledger, same, 1, time.time() - 60)
            await client.batches.send(same)  # one of them reached Sinch: which one?
        async with fake.client() as fresh, SqliteLedger(tmp_path / "l.db") as ledger:
            again = await run(fresh, [same, same], ledger)
            records = await ledger.records(CAMPAIGN)
    assert [o.unknown for o in again] == [True, True], again
    assert [r.state for r in records] == ["unknown", "unknown"]
    assert len(fake.batches) == 1


# --- 3. clock skew, for ledger lookups ---------------------------------------------------


@pytest.mark.parametrize("skew", [-10.0, 10.0])
async def test_in_doubt_rows_reconciled_on_sinchs_clock(tmp_path: Path, skew: float) -> None:
    """Rows whose send stored a batch but answered 500 (unknown) are found on the rerun,
    not sent again, with Sinch's clock 10 s behind or ahead of this host."""
    requests = reqs(6)
    async with FakeSinch(now=skewed(skew)) as fake, fake.client(reconcile_sends=False) as client:
        fake.add_fault(Fault(method="POST", path="/batches", status=500, phase="after"))
        async with SqliteLedger(tmp_path / "l.db") as ledger:
            first = await run(client, requests, ledger)
        assert all(o.unknown for o in first)
        fake.clear_faults()
        async with SqliteLedger(tmp_path / "l.db") as ledger:
            again = await run(client, requests, ledger)
    assert all(o.ok and o.reconciled for o in again), again
    assert len(fake.batches) == 6 and set(stored_refs(fake).values()) == {1}


async def test_older_batch_with_the_rows_reference_is_not_taken(tmp_path: Path) -> None:
    """Sinch's clock 10 s ahead: a batch with the row's reference and content that Sinch
    created 5 s (on its clock) before the campaign and the row's intent belongs to an
    earlier use of the campaign id; the row left in doubt is sent, not attributed to it
    (with intents dated on this host's clock, it was)."""
    jump = {"s": 0.0}
    request = reqs(1)[0]
    ref = campaign_reference(CAMPAIGN, 0)

    def sinch_now() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=10 + jump["s"])

    async with FakeSinch(now=sinch_now) as fake, fake.client(reconcile_sends=False) as client:
        old = await client.batches.send(attrs.evolve(request, client_reference=ref))
        jump["s"] = 5.0  # 5 s pass on Sinch's clock
        async with SqliteLedger(tmp_path / "l.db") as ledger:
            await ledger.open(CAMPAIGN)
            await ledger.start(CAMPAIGN, sinch_now().timestamp() - 1)
        async with fake.client(reconcile_sends=False) as fresh:
            fake.add_fault(Fault(method="POST", path="/batches", status=500, times=1))
            async with SqliteLedger(tmp_path / "l.db") as ledger:
                first = await run(fresh, [request], ledger)
            assert first[0].unknown
            async with SqliteLedger(tmp_path / "l.db") as ledger:
                again = await run(fresh, [request], ledger)
    assert again[0].ok and not again[0].reconciled, again[0]
    assert again[0].batch_id != old.id
    assert stored_refs(fake)[ref] == 2


# --- 5. a lost ledger --------------------------------------------------------------------


async def test_deleted_sqlite_ledger_is_detected_and_override_resends(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with FakeSinch() as fake, fake.client() as client:
        async with SqliteLedger(path) as ledger:
            assert all(o.ok for o in await run(client, reqs(30), ledger))
        for f in list(tmp_path.glob("l.db*")):  # noqa: ASYNC240
            f.unlink()
        async with SqliteLedger(path) as ledger:
            with pytest.raises(LedgerLostError) as info:
                await run(client, reqs(30), ledger)
            assert info.value.references == [campaign_reference(CAMPAIGN, i) for i in range(3)]
            assert "force_resend" in str(info.value)
            assert len(fake.batches) == 30  # nothing sent
            # and the refusal repeats: nothing was marked started; the refused run stays
            # stopped if iterated again
            sm = client.batches.send_many(reqs(30), ledger=ledger, campaign=CAMPAIGN)
            with pytest.raises(LedgerLostError):
                await anext(aiter(sm))
            assert [o async for o in sm] == [] and sm.progress.submitted == 0
            await sm.aclose()
            assert len(fake.batches) == 30
            again = await run(client, reqs(30), ledger, force_resend=True)
    assert all(o.ok and not o.reconciled for o in again)
    assert len(fake.batches) == 60


@pytest.mark.redis
async def test_redis_restarted_empty_is_detected_and_override_resends(tmp_path: Path) -> None:
    """A redis-server without persistence restarts (same address, empty): the rerun of the
    campaign refuses before sending anything; ``force_resend`` sends deliberately."""
    redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")
    from sinch_async.redis import RedisLedger

    proc, url = start_redis(tmp_path)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        async with FakeSinch() as fake, fake.client() as client:
            redis = redis_asyncio.from_url(url)
            async with RedisLedger(redis) as ledger:
                assert all(o.ok for o in await run(client, reqs(30), ledger))
            await redis.aclose()
            proc.kill()
            proc.wait()
            proc, url = start_redis(tmp_path, port=port)  # the same server, restarted empty
            redis = redis_asyncio.from_url(url)
            try:
                async with RedisLedger(redis) as ledger:
                    with pytest.raises(LedgerLostError):
                        await run(client, reqs(30), ledger)
                    assert len(fake.batches) == 30
                    again = await run(client, reqs(30), ledger, force_resend=True)
                    assert all(o.ok for o in again)
                    assert len(fake.batches) == 60
            finally:
                await redis.aclose()
    finally:
        proc.kill()
        proc.wait()


async def test_new_campaign_pays_only_the_probe(tmp_path: Path) -> None:
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        sm = client.batches.send_many(reqs(50), ledger=ledger, campaign=CAMPAIGN)
        async with sm:
            assert all([o.ok async for o in sm])
    gets = [r for r in fake.requests if r.method == "GET"]
    assert sm.progress.lookups == 3 and len(gets) == 3
    assert len(fake.batches) == 50


async def test_lost_last_records_are_looked_up_not_resent(tmp_path: Path) -> None:
    """The last records vanish (AOF everysec, a power loss with synchronous=NORMAL):
    the rerun looks those rows up at Sinch instead of sending them again, and a normal
    resume pays a bounded number of lookups."""
    path = tmp_path / "l.db"
    n = 200
    async with FakeSinch() as fake, fake.client() as client:
        async with SqliteLedger(path) as ledger:
            assert all(o.ok for o in await run(client, reqs(n), ledger))
        db = sqlite3.connect(path)
        db.execute("DELETE FROM sinch_ledger WHERE idx >= 170")  # the last 30 rows' records
        db.execute("DELETE FROM sinch_ledger WHERE idx IN (20, 21)")  # and two holes
        db.commit()
        db.close()
        async with SqliteLedger(path) as ledger:
            sm = client.batches.send_many(reqs(n), ledger=ledger, campaign=CAMPAIGN)
            async with sm:
                again = sorted([o async for o in sm], key=lambda o: o.index)
    assert len(fake.batches) == n and set(stored_refs(fake).values()) == {1}
    lost = [o for o in again if o.reconciled]
    assert [o.index for o in lost] == [20, 21, *range(170, 200)]
    assert sm.progress.lookups == 32


# --- 6. a limiter outage -----------------------------------------------------------------


class FlakyLimiter:
    """An in-process limiter whose store is unreachable for a while (a Redis blip)."""

    def __init__(
        self, fail_from: int, fail_for: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.calls = 0
        self.fail_from = fail_from
        self.fail_for = fail_for
        self.down_until: float | None = None

    async def acquire(self, cost: int) -> None:
        self.calls += 1
        if self.calls == self.fail_from:
            self.down_until = self.clock() + self.fail_for
        if self.down_until is not None and self.clock() < self.down_until:
            raise LimiterUnavailableError("limiter store unreachable (test)")
        await asyncio.sleep(0)


async def test_limiter_outage_stops_the_run_and_the_rerun_sends_every_row(
    tmp_path: Path, clock: FakeClock
) -> None:
    n = 300
    async with FakeSinch() as fake:
        fake.latency = 0.002
        # the outage lasts 1 s of the test's virtual clock
        flaky = FlakyLimiter(fail_from=100, fail_for=1.0, clock=clock.monotonic)
        async with (
            fake.client(messages_per_second=flaky) as client,  # type: ignore[arg-type]
            SqliteLedger(tmp_path / "l.db") as ledger,
        ):
            sm = client.batches.send_many(reqs(n), ledger=ledger, campaign=CAMPAIGN)
            seen: list[SendOutcome] = []
            with pytest.raises(LimiterUnavailableError):
                async with sm:
                    async for o in sm:
                        seen.append(o)
            outcomes = seen + sm.unreported_outcomes
            assert not any(o.failed for o in outcomes), [o for o in outcomes if o.failed]
            assert sm.progress.pending >= 1
            assert all(o.pending for o in outcomes if not o.ok and not o.unknown)
            records = await ledger.records(CAMPAIGN)
            assert not [r for r in records if r.state == "failed"]
        clock.advance(1.0)  # the store is back
        assert flaky.clock() >= flaky.down_until  # type: ignore[operator]
        async with fake.client() as client, SqliteLedger(tmp_path / "l.db") as ledger:
            again = await run(client, reqs(n), ledger)
    assert all(o.ok for o in again)
    assert len(fake.batches) == n and set(stored_refs(fake).values()) == {1}


async def test_limiter_outage_stops_send_many_without_a_ledger() -> None:
    async with FakeSinch() as fake:
        flaky = FlakyLimiter(fail_from=20, fail_for=60.0)
        async with fake.client(messages_per_second=flaky) as client:  # type: ignore[arg-type]
            sm = client.batches.send_many(reqs(200), concurrency=4)
            seen: list[SendOutcome] = []
            with pytest.raises(LimiterUnavailableError):
                async with sm:
                    async for o in sm:
                        seen.append(o)
    outcomes = seen + sm.unreported_outcomes
    assert sm.progress.submitted < 200  # stopped reading input
    assert len(outcomes) == sm.progress.submitted
    assert not any(o.failed for o in outcomes)
    assert len(fake.batches) == sum(o.ok for o in outcomes)


# --- 1. changed input on a rerun ---------------------------------------------------------


async def test_rerun_with_a_fixed_row_sends_only_that_row(tmp_path: Path) -> None:
    rows = reqs(10)
    rows[4] = TextBatchRequest(to=["+4670"], body="hi 4")  # refused before sending: failed
    fixed = [*rows[:4], TextBatchRequest(to=["+46700000004"], body="hi 4"), *rows[5:]]
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        first = await run(client, rows, ledger)
        assert [o.failed for o in first].count(True) == 1
        assert find_input_mismatch(await ledger.records(CAMPAIGN), fixed, CAMPAIGN) is None
        without = await run(client, fixed, ledger)
        assert without[4].failed and without[4].resumed and without[4].changed
        assert len(fake.batches) == 9
        again = await run(client, fixed, ledger, retry_failed=True)
    assert all(o.ok for o in again)
    assert [o.index for o in again if not o.resumed] == [4]
    assert len(fake.batches) == 10


async def test_a_sent_row_whose_text_changed_is_not_sent_again(tmp_path: Path) -> None:
    rows = reqs(5)
    edited = [*rows[:2], TextBatchRequest(to=["+46700000002"], body="new text"), *rows[3:]]
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        await run(client, rows, ledger)
        assert find_input_mismatch(await ledger.records(CAMPAIGN), edited, CAMPAIGN) is None
        again = await run(client, edited, ledger, retry_failed=True)
    assert again[2].ok and again[2].resumed and again[2].changed
    assert sum(o.changed for o in again) == 1
    assert len(fake.batches) == 5


async def test_inserted_or_removed_rows_are_named_before_sending(tmp_path: Path) -> None:
    rows = reqs(8)
    inserted = [*rows[:3], TextBatchRequest(to=["+46709999999"], body="new"), *rows[3:]]
    removed = [*rows[:5], *rows[6:]]
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        await run(client, rows, ledger)
        records = await ledger.records(CAMPAIGN)
    found = find_input_mismatch(records, inserted, CAMPAIGN)
    assert found is not None and found.index == 3, found
    assert "is now row 5" in found.reason
    found = find_input_mismatch(records, removed, CAMPAIGN)
    assert found is not None and found.index == 5, found
    assert find_input_mismatch(records, rows, CAMPAIGN) is None
    assert len(fake.batches) == 8


# --- ledgers written by the previous release ---------------------------------------------


async def test_ledger_file_of_the_previous_release_resumes_exactly(tmp_path: Path) -> None:
    """``tests/data/ledger_v1.sqlite`` was written by sinch-async 0.x before this change:
    campaign ``v1-campaign``, rows 0-7 finished (row 3 failed), rows 8 and 9 in doubt
    (row 9 had reached Sinch)."""
    path = tmp_path / "v1.sqlite"
    shutil.copy(DATA / "ledger_v1.sqlite", path)
    rows = [TextBatchRequest(to=[f"+4670{i:07d}"], body=f"v1 {i}") for i in range(10)]
    rows[3] = TextBatchRequest(to=["+4670"], body="v1 3")
    async with FakeSinch() as fake, fake.client() as client:
        row9 = await client.batches.send(attrs.evolve(rows[9], client_reference="v1-campaign:9"))
        async with SqliteLedger(path) as ledger:
            before = {r.index: r for r in await ledger.records("v1-campaign")}
            assert find_input_mismatch(list(before.values()), rows, "v1-campaign") is None
            again = await run(client, rows, ledger, campaign="v1-campaign")
            after = {r.index: r for r in await ledger.records("v1-campaign")}
    for i in (0, 1, 2, 4, 5, 6, 7):
        assert again[i].resumed and again[i].ok and not again[i].changed
        assert again[i].batch_id == before[i].batch_id
    assert again[3].resumed and again[3].failed
    assert again[8].ok and not again[8].reconciled
    assert again[8].request.client_reference == "v1-campaign:8"
    assert again[9].reconciled and again[9].batch_id == row9.id
    assert after[8].state == "ok" and after[9].batch_id == row9.id
    assert sorted(stored_refs(fake)) == ["v1-campaign:8", "v1-campaign:9"]


# --- 8. unusable ledger files ------------------------------------------------------------


async def test_ledger_in_a_missing_directory_is_refused_before_sending(tmp_path: Path) -> None:
    async with FakeSinch() as fake, fake.client() as client:
        ledger = SqliteLedger(tmp_path / "no" / "such" / "dir" / "l.db")
        with pytest.raises(LedgerError) as info:
            await run(client, reqs(5), ledger)
        assert not isinstance(info.value, LedgerBusyError)
        assert "cannot open ledger" in str(info.value)
        assert len(fake.requests) == 0


async def test_ledger_locked_by_another_program_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    async with SqliteLedger(path) as ledger:
        await ledger.open(CAMPAIGN)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        async with FakeSinch() as fake, fake.client() as client:
            started = time.monotonic()
            with pytest.raises(LedgerBusyError):
                await run(client, reqs(5), SqliteLedger(path))
            assert time.monotonic() - started < 2.0  # the old code blocked the loop 5 s
            assert not [r for r in fake.requests if r.method == "POST"]
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_campaign_started_by_another_worker_during_the_probe_is_not_lost(
    tmp_path: Path,
) -> None:
    """Workers started together: one opens the ledger before another has started the
    campaign, and probes after that other sent the first rows. Not a lost ledger."""

    class Late(SqliteLedger):
        opened = 0

        async def open(self, campaign: str) -> Any:
            state = await super().open(campaign)
            Late.opened += 1
            return attrs.evolve(state, exists=False) if Late.opened == 1 else state

    async with FakeSinch() as fake, fake.client() as client:
        async with SqliteLedger(tmp_path / "l.db") as ledger:
            await run(client, reqs(5), ledger)  # the other worker, done first
        async with Late(tmp_path / "l.db") as late:
            again = await run(client, reqs(10), late)
    assert Late.opened == 2
    assert [o.resumed for o in again] == [True] * 5 + [False] * 5
    assert len(fake.batches) == 10
