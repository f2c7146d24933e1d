"""A pager still referenced when its event loop shuts down (issue 16, point 11).

0.1's pager iterated through three nested async generators; ``asyncio.run`` finalises every
live async generator at once at shutdown (``loop.shutdown_asyncgens``), so the outer one's
``aclose()`` reached an inner one already being closed and the loop logged
``aclose(): asynchronous generator is already running`` at ERROR. The pager's iterators
are plain objects now: nothing is left for the loop to finalise.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from sinch_async.testing import FakeClock, FakeSinch

KEEP: list[Any] = []


async def _walk_and_leave(mode: str, prefetch: int) -> None:
    async with FakeSinch(seed=1) as fake:
        fake.seed_batches(80)
        fake.numbers.seed_active(80)
        async with fake.project_client() as client:
            if mode == "numbers":
                pager: Any = client.numbers.list(page_size=10)
            elif mode == "messages":
                pager = client.messages.list(page_size=10, prefetch=prefetch)
            else:
                pager = client.batches.list(page_size=10, prefetch=prefetch)
            stream = pager.pages() if mode == "pages" else aiter(pager)
            for _ in range(3 if mode == "pages" else 25):
                await anext(stream)
            KEEP.append((pager, stream))  # still referenced when the loop shuts down


@pytest.mark.parametrize(
    ("mode", "prefetch"),
    [("items", 1), ("items", 4), ("pages", 4), ("numbers", 1), ("messages", 4)],
)
def test_no_error_when_the_loop_shuts_down_under_a_pager(
    caplog: pytest.LogCaptureFixture, mode: str, prefetch: int
) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        asyncio.run(_walk_and_leave(mode, prefetch))
        KEEP.clear()
        gc.collect()
    finally:
        KEEP.clear()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    text = caplog.text
    assert "already running" not in text
    assert "never retrieved" not in text and "destroyed but it is pending" not in text


async def test_dropping_an_iterator_cancels_its_fetches_ahead() -> None:
    # The fake's latency parks on a FakeClock: a fetch started once latency is on stays in
    # flight until the clock moves, so "fetches ahead are in flight" needs no wall time.
    clock = FakeClock(auto_advance=False)
    async with FakeSinch(seed=1, clock=clock) as fake:
        fake.seed_batches(300)
        async with fake.client() as client:
            pager = client.batches.list(page_size=10, prefetch=8)
            stream = aiter(pager)
            for _ in range(15):  # page 0, then pages 1-8 fetched ahead (no latency yet)
                await anext(stream)
            await fake.wait_for_requests(9, method="GET", path="/batches")
            await fake.settle()  # pages 0-8 answered
            fake.latency = 0.05
            for _ in range(10):  # taking page 2 schedules page 9: held by the latency
                await anext(stream)
            await clock.wait_for_sleepers(1)
            ahead = [t for t in asyncio.all_tasks() if "_fetch_numbered" in repr(t.get_coro())]
            assert ahead  # pages fetched ahead, in flight
            assert not any(t.done() for t in ahead)
            del stream
            gc.collect()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert all(t.done() for t in ahead)
            assert pager.checkpoint.yielded == 25
            await fake.settle()  # the abandoned request's handler is cancelled too
            assert clock.sleepers == 0
            clock.auto_advance = True
            rest = [b.id async for b in pager]  # the position is intact
            assert len(rest) == 275
