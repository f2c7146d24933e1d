"""A campaign says "complete" only when it is (issue 17, section 1): rows another worker
holds are looked at again at the end of the input, a dead worker's claims are taken over
once its lease runs out, and ``status()`` reports the whole campaign.

In virtual time: a shared in-memory ledger whose leases run on the test's ``FakeClock``
(``tests/support/memory_ledger.py``), FakeSinch on the same clock. The same behaviour
against a real Redis (its own clock) is in ``tests/redis/test_redis_campaign_status.py``.
On the previous main a dead worker's rows got no outcome and were never sent by a live
worker (``test_a_dead_workers_claims_are_taken_over_after_its_lease``).
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest

from sinch_async import TextBatchRequest
from sinch_async._errors import SinchConfigError
from sinch_async._fanout import DEFAULT_TAKEOVER_WAIT, TAKEOVER_MARGIN, SendOutcome
from sinch_async._ledger import (
    LedgerRecord,
    SqliteLedger,
    WorkerClaims,
    campaign_reference,
    campaign_status,
    row_digest,
)
from sinch_async.testing import FakeClock, FakeSinch
from tests.support.campaigns import reqs, stored_refs
from tests.support.memory_ledger import MemoryLedger, MemoryStore

CAMPAIGN = "takeover"
pytestmark = pytest.mark.fake_sinch(on_clock=True)


def with_ref(request: TextBatchRequest, index: int) -> TextBatchRequest:
    return attrs.evolve(request, client_reference=campaign_reference(CAMPAIGN, index))


async def claim(ledger: MemoryLedger, request: TextBatchRequest, index: int, at: float) -> None:
    """What a worker does before sending row ``index``: claim it, record the intent."""
    ref = campaign_reference(CAMPAIGN, index)
    digest = row_digest(with_ref(request, index), CAMPAIGN, index)
    assert (await ledger.begin(CAMPAIGN, index, ref, digest, intent_at=at)).status == "new"


def ok_record(request: TextBatchRequest, index: int) -> LedgerRecord:
    """The outcome another worker records for row ``index``."""
    ref = campaign_reference(CAMPAIGN, index)
    digest = row_digest(with_ref(request, index), CAMPAIGN, index)
    return LedgerRecord(index, ref, "ok", digest, 0.0, f"batch-{index}")


async def run(client: Any, requests: Any, ledger: Any, **kw: Any) -> tuple[list[SendOutcome], Any]:
    """One run; its outcomes in the order they were yielded, and the ``SendMany``."""
    kw.setdefault("concurrency", 4)
    async with client.batches.send_many(requests, ledger=ledger, campaign=CAMPAIGN, **kw) as sm:
        outcomes = [o async for o in sm]
    return outcomes, sm


async def test_a_dead_workers_claims_are_taken_over_after_its_lease(
    fake: FakeSinch, clock: FakeClock
) -> None:
    store = MemoryStore(clock)
    dead = MemoryLedger(store, "dead", lease=30)
    requests = reqs(10)
    async with fake.client(clock=clock) as client:
        # the dead worker claimed rows 3-5 and had sent row 3 when it was killed
        for i in (3, 4, 5):
            await claim(dead, requests[i], i, at=clock.time() - 60)
        await client.batches.send(with_ref(requests[3], 3))
        dead.kill()
        started = clock.monotonic()
        outcomes, sm = await run(client, requests, MemoryLedger(store, "live", lease=30))
        waited = clock.monotonic() - started
        status = await sm.status()
    by_index = {o.index: o for o in outcomes}
    assert sorted(by_index) == list(range(10)) and all(o.ok for o in outcomes)
    assert [o.index for o in outcomes if o.taken_over] == [3, 4, 5]
    assert by_index[3].reconciled and not by_index[4].reconciled  # looked up first
    p = sm.progress
    assert (p.taken_over, p.claimed_elsewhere, p.finished_elsewhere) == (3, 0, 0)
    assert (p.succeeded, p.resumed, p.held_elsewhere) == (10, 0, 0)
    # it waited for the dead worker's lease on the client's clock, then no longer
    assert 30 <= waited < 31.5, waited
    assert status.complete and status.sent == 10 and status.total == 10
    assert len(fake.batches) == 10 and set(stored_refs(fake).values()) == {1}


async def test_rows_a_live_worker_finishes_are_finished_elsewhere(
    fake: FakeSinch, clock: FakeClock
) -> None:
    store = MemoryStore(clock)
    other = MemoryLedger(store, "other")
    requests = reqs(10)
    for i in (2, 3):
        await claim(other, requests[i], i, at=clock.time())
    # the other worker finishes them half a second into this run's wait
    clock.call_later(
        0.5, lambda: [store.finish(CAMPAIGN, ok_record(requests[i], i)) for i in (2, 3)]
    )
    async with fake.client(clock=clock) as client:
        started = clock.monotonic()
        outcomes, sm = await run(client, requests, MemoryLedger(store, "me"))
        waited = clock.monotonic() - started
        status = await sm.status()
    assert sorted(o.index for o in outcomes) == [0, 1, 4, 5, 6, 7, 8, 9]
    p = sm.progress
    assert (p.claimed_elsewhere, p.finished_elsewhere, p.held_elsewhere) == (2, 2, 0)
    assert p.resumed == 0 and p.taken_over == 0  # another worker's rows: not "resumed"
    assert 0.5 <= waited < 1.5, waited
    assert status.complete and status.sent == 10
    assert len(fake.batches) == 8


async def test_rows_finished_by_another_worker_during_the_run_are_not_resumed(
    fake: FakeSinch, clock: FakeClock
) -> None:
    store = MemoryStore(clock)
    requests = reqs(10)
    me = MemoryLedger(store, "me")
    # right after this run opened the campaign, another worker finished rows 5-9
    me.after_open = lambda c: [store.finish(c, ok_record(requests[i], i)) for i in range(5, 10)]
    async with fake.client(clock=clock) as client:
        outcomes, sm = await run(client, requests, me)
        me.after_open = None
        assert sorted(o.index for o in outcomes) == [0, 1, 2, 3, 4]
        assert (sm.progress.resumed, sm.progress.finished_elsewhere) == (0, 5)
        assert (await sm.status()).complete
        # a later run: every row was recorded before it started: all resumed
        again, sm2 = await run(client, requests, MemoryLedger(store, "later"))
    assert len(again) == 10 and all(o.resumed for o in again)
    assert sm2.progress.resumed == 10 and sm2.progress.finished_elsewhere == 0


async def test_takeover_wait_zero_does_not_wait_and_status_names_the_holder(
    fake: FakeSinch, clock: FakeClock
) -> None:
    store = MemoryStore(clock)
    dead = MemoryLedger(store, "dead", lease=30)
    requests = reqs(6)
    for i in (1, 2):
        await claim(dead, requests[i], i, at=clock.time())
    dead.kill()
    async with fake.client(clock=clock) as client:
        outcomes, sm = await run(client, requests, MemoryLedger(store, "me"), takeover_wait=0)
        status = await sm.status()
    assert clock.monotonic() == 0  # no waiting at all
    assert sorted(o.index for o in outcomes) == [0, 3, 4, 5]
    assert sm.progress.held_elsewhere == 2
    assert not status.complete
    assert (status.sent, status.claimed, status.in_doubt, status.not_started) == (4, 2, 0, 0)
    assert status.workers == (WorkerClaims("dead", 2, 30.0),)
    assert [(r.index, r.state, r.worker) for r in status.rows] == [
        (1, "claimed", "dead"),
        (2, "claimed", "dead"),
    ]


async def test_a_live_holder_is_waited_for_until_the_deadline(
    fake: FakeSinch, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore(clock)
    stuck = MemoryLedger(store, "stuck")  # alive: its claims are renewed, never finished
    requests = reqs(4)
    for i in (0, 3):
        await claim(stuck, requests[i], i, at=clock.time())
    caplog.set_level(logging.WARNING, "sinch_async")
    async with fake.client(clock=clock) as client:
        outcomes, sm = await run(client, requests, MemoryLedger(store, "me"), takeover_wait=5)
    assert 5 <= clock.monotonic() < 5.1
    assert sorted(o.index for o in outcomes) == [1, 2]
    assert sm.progress.held_elsewhere == 2
    held = [r for r in caplog.records if getattr(r, "sinch_event", None) == "held_elsewhere"]
    assert len(held) == 2 and "stuck" in held[0].getMessage()
    # polling backs off: a few dozen looks in 5 s, not one per loop turn
    assert len(clock.sleeps) < 40, clock.sleeps


async def test_preserve_order_yields_taken_over_rows_last(
    fake: FakeSinch, clock: FakeClock
) -> None:
    store = MemoryStore(clock)
    dead = MemoryLedger(store, "dead", lease=1)
    requests = reqs(40)
    for i in (1, 4, 33):
        await claim(dead, requests[i], i, at=clock.time() - 60)
    dead.kill()
    async with fake.client(clock=clock) as client:
        outcomes, sm = await run(
            client, requests, MemoryLedger(store, "me"), preserve_order=True, concurrency=2
        )
    order = [o.index for o in outcomes]
    rest = [i for i in range(40) if i not in (1, 4, 33)]
    assert order[:37] == rest and sorted(order[37:]) == [1, 4, 33]
    assert all(o.taken_over for o in outcomes[37:]) and sm.progress.taken_over == 3
    assert len(fake.batches) == 40


async def test_a_generator_records_the_total_at_its_end(fake: FakeSinch, clock: FakeClock) -> None:
    store = MemoryStore(clock)
    ledger = MemoryLedger(store, "me")

    def rows() -> Any:
        for request in reqs(7):
            assert CAMPAIGN not in store.totals  # not known before the input ends
            yield request

    async with fake.client(clock=clock) as client:
        outcomes, sm = await run(client, rows(), ledger)
        assert len(outcomes) == 7 and store.totals[CAMPAIGN] == 7
        assert (await sm.status()).complete
        # a list's length is recorded before anything is sent
        async with client.batches.send_many(reqs(9), ledger=ledger, campaign="other") as sm2:
            async for _ in sm2:
                assert store.totals["other"] == 9


async def test_status_and_takeover_need_what_they_need(
    tmp_path: Any, fake: FakeSinch, clock: FakeClock
) -> None:
    class Plain:  # a Ledger of one's own, without status()/set_total() (and no lease)
        def __init__(self, inner: SqliteLedger) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            if name in ("status", "set_total"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    async with fake.client(clock=clock) as client, SqliteLedger(tmp_path / "l.db") as sqlite:
        plain = Plain(sqlite)
        outcomes, sm = await run(client, reqs(3), plain)
        assert len(outcomes) == 3 and all(o.ok for o in outcomes)  # campaigns still run
        assert sm._takeover_wait == DEFAULT_TAKEOVER_WAIT
        with pytest.raises(SinchConfigError, match="status"):
            await sm.status()
        with pytest.raises(SinchConfigError, match="status"):
            await campaign_status(plain, CAMPAIGN)  # type: ignore[arg-type]
        # the row count was not recorded (the ledger cannot): never "complete"
        status = await campaign_status(sqlite, CAMPAIGN)
        assert status.sent == 3 and status.total is None and not status.complete
        led = MemoryLedger(MemoryStore(FakeClock()), "w", lease=3)
        sm2 = client.batches.send_many([], ledger=led, campaign=CAMPAIGN)
        assert sm2._takeover_wait == 3 + TAKEOVER_MARGIN
        for bad in ({"takeover_wait": -1}, {"takeover_wait": True}, {"total": -1}):
            with pytest.raises(SinchConfigError):
                client.batches.send_many([], ledger=led, campaign=CAMPAIGN, **bad)
        with pytest.raises(SinchConfigError, match="campaign"):
            await client.batches.send_many([]).status()


async def test_stop_ends_a_takeover_wait_at_once(fake: FakeSinch, clock: FakeClock) -> None:
    """``SendMany.stop()`` (what ``send-bulk`` calls on Ctrl-C) ends the wait for rows
    another worker holds at once, instead of at the end of the lease (a reviewer's SIGINT
    waited 30 s for the default lease and then took the rows over)."""
    store = MemoryStore(clock)
    dead = MemoryLedger(store, "dead", lease=30)
    requests = reqs(6)
    async with fake.client(clock=clock) as client:
        for i in (4, 5):
            await claim(dead, requests[i], i, at=clock.time() - 60)
        dead.kill()
        sm = client.batches.send_many(
            requests, ledger=MemoryLedger(store, "live", lease=30), campaign=CAMPAIGN
        )
        clock.call_later(5.0, sm.stop)  # Ctrl-C five seconds into the wait
        started = clock.monotonic()
        async with sm:
            outcomes = [o async for o in sm]
        waited = clock.monotonic() - started
        status = await sm.status()
    assert sorted(o.index for o in outcomes) == [0, 1, 2, 3]  # the held rows: no outcome
    assert waited < 6, waited  # not the 30 s lease
    assert not status.complete and status.claimed + status.in_doubt == 2
    assert len(fake.batches) == 4
