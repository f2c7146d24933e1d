"""``send_many`` cancelled in-process: every batch the server stored has a recorded outcome.

The invariant and the rows are those of tests/process/test_process_send_many.py (a real
SIGINT to a child); here the consumer task is cancelled after a seeded random number of
outcomes. No wall-clock wait: the cancel follows an event, and "nothing is stored after the
shutdown" is checked structurally (no send_many task left, then ``fake.settle()``).
"""

from __future__ import annotations

import asyncio
import random

import pytest

from sinch_async.testing import FakeSinch
from tests.support.send_many_records import (
    Row,
    assert_every_stored_batch_recorded,
    requests,
    row,
)

COUNT = 2000
CONCURRENCY = 32
#: Real latency only keeps CONCURRENCY sends in flight at the cancel (no test waits on it).
LATENCY = 0.05


async def test_cancelled_consumer_every_stored_batch_has_a_record() -> None:
    seed = random.randrange(2**32)
    cancel_after = random.Random(seed).randint(1, 300)
    context = f"seed={seed} cancel_after={cancel_after}"
    rows: list[Row] = []
    underway = asyncio.Event()
    async with FakeSinch(latency=LATENCY) as fake, fake.client() as client:
        sm = client.batches.send_many(
            requests(COUNT), concurrency=CONCURRENCY, auto_client_reference=True, grace=10
        )

        async def consume() -> None:
            yielded = 0
            try:
                async with sm as outcomes:
                    async for outcome in outcomes:
                        rows.append(row(outcome, unreported=False))
                        yielded += 1
                        if yielded >= cancel_after:
                            underway.set()
            finally:
                for outcome in sm.unreported_outcomes:
                    rows.append(row(outcome, unreported=True))

        task = asyncio.create_task(consume())
        await asyncio.wait_for(underway.wait(), 30)  # a hang guard, not a wait for time
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        leftover = [
            t
            for t in asyncio.all_tasks()
            if t.get_name().startswith("sinch-send-many") and not t.done()
        ]
        assert not leftover, f"send_many tasks still running after shutdown: {leftover}"
        # whatever reached the fake is handled; a batch stored now must have a record too
        await fake.settle()
        stored = dict(fake.batches)

    assert len(rows) < COUNT, f"{context}: the run completed before the cancel"
    assert_every_stored_batch_recorded(rows, stored, submitted=sm.progress.submitted)
    unreported = [r for r in rows if r["unreported"]]
    assert len(unreported) == len(sm.unreported_outcomes) == sm.progress.unreported
    # 32 sends of >= 50 ms each were in flight when the cancel landed
    assert unreported, f"{context}: nothing was in flight at the cancel"
    assert not any(r["unknown"] for r in rows), f"{context}: unknown within the grace"
