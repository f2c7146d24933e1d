"""A call's ``deadline`` and ``send_many``'s ``grace`` run on the client's clock (P4).

With ``SinchClient(clock=FakeClock)`` they pass in virtual time: the behaviour is asserted
through ``clock.elapsed``; the wall-clock duration is checked only as a loose bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from sinch_async import RetryPolicy, SendOutcomeUnknown, SinchTimeoutError, TextBatchRequest
from sinch_async.testing import FakeClock, FakeSinch, Fault
from sinch_async.testing.pytest_plugin import FakeSinchFactory

#: Wall seconds a test here may take at most (a bound, not what is measured).
WALL_BOUND = 5.0


def requests(n: int) -> Iterator[TextBatchRequest]:
    for i in range(n):
        yield TextBatchRequest(to=[f"+4670{i:07d}"], body=f"msg {i}", client_reference=f"r-{i}")


async def on_clock(factory: FakeSinchFactory, clock: FakeClock) -> FakeSinch:
    """``FakeSinch(clock=clock)``: its latency and fault delays wait on the test's clock."""
    return await factory(clock=clock, seed=5)


async def test_deadline_cuts_a_retry_after_pause_in_virtual_time(
    fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> None:
    fake = await on_clock(fake_sinch_factory, clock)
    fake.add_fault(
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "60"}, times=1)
    )
    started = time.monotonic()
    async with fake.client(retry=RetryPolicy(max_retry_after=120), clock=clock) as client:
        quick = client.with_options(deadline=1)
        with pytest.raises(SinchTimeoutError, match="deadline") as err:
            await quick.batches.send_text(to=["+46701234567"], body="x")
        assert clock.elapsed == pytest.approx(1)  # not 60: the deadline stopped the pause
        assert err.value.may_have_reached_sinch is False
        # an unrelated call through the same view, while the pause lasts: bounded too
        with pytest.raises(SinchTimeoutError):
            await quick.batches.get("01ANY")
        assert clock.elapsed == pytest.approx(2)
        assert client.limits.paused_for > 50
        assert clock.timers == 0  # no deadline timer left behind
    assert not fake.batches
    assert time.monotonic() - started < WALL_BOUND


async def test_deadline_passes_while_a_response_is_held(
    fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> None:
    fake = await on_clock(fake_sinch_factory, clock)
    clock.auto_advance = False
    fake.latency = 30
    started = time.monotonic()
    async with fake.client(clock=clock) as client:
        call = asyncio.create_task(
            client.with_options(deadline=5).batches.send_text(to=["+46701234567"], body="x")
        )
        await clock.wait_for_sleepers(1)  # the fake holds the response
        clock.advance(4.9)
        await asyncio.sleep(0)
        assert not call.done()
        clock.advance(0.1)
        # the POST was out when the deadline passed: its outcome is unknown, not "not sent"
        with pytest.raises(SendOutcomeUnknown) as err:
            await asyncio.wait_for(call, WALL_BOUND)
        cause = err.value.__cause__
        assert isinstance(cause, SinchTimeoutError) and "deadline" in str(cause)
        assert cause.may_have_reached_sinch is True
        assert clock.elapsed == pytest.approx(5)
        assert len(fake.batches) == 1  # stored before the held response
        await fake.settle()  # the POST's handler ended with its connection
        assert clock.sleepers == 0
        # a read held past its deadline
        read = asyncio.create_task(client.with_options(deadline=2).batches.get("01ANY"))
        await clock.wait_for_sleepers(1)
        clock.advance(2)
        with pytest.raises(SinchTimeoutError, match="deadline") as timed_out:
            await asyncio.wait_for(read, WALL_BOUND)
        assert timed_out.value.may_have_reached_sinch is True
        assert clock.elapsed == pytest.approx(7)
    assert time.monotonic() - started < WALL_BOUND


async def test_a_deadline_that_does_not_pass_leaves_no_timer(
    fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> None:
    fake = await on_clock(fake_sinch_factory, clock)
    async with fake.client(clock=clock) as client:
        batch = await client.with_options(deadline=5).batches.send_text(
            to=["+46701234567"], body="x"
        )
        assert batch.id in fake.batches
        assert clock.timers == 0
        assert clock.elapsed == 0


async def test_grace_passes_in_virtual_time(
    fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> None:
    fake = await on_clock(fake_sinch_factory, clock)
    clock.auto_advance = False
    fake.latency = 100  # every send is held far longer than the grace
    started = time.monotonic()
    async with fake.client(clock=clock) as client:
        run = client.batches.send_many(requests(2), concurrency=2, grace=3)

        async def consume() -> None:
            async with run as outcomes:
                async for _ in outcomes:
                    pytest.fail("no send can finish while the fake holds them")

        consumer = asyncio.create_task(consume())
        await clock.wait_for_sleepers(2)  # both sends held by the fake
        consumer.cancel()  # the consumer stops: the sends in flight get their grace
        for _ in range(100):  # loop turns, not time: until the grace timer is set
            if clock.timers:
                break
            await asyncio.sleep(0)
        assert clock.timers == 1
        clock.advance(2.9)
        await asyncio.sleep(0)
        assert not consumer.done()
        clock.advance(0.1)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(consumer, WALL_BOUND)
        assert clock.elapsed == pytest.approx(3)
        assert sorted(o.index for o in run.unreported_outcomes) == [0, 1]
        assert all(o.unknown for o in run.unreported_outcomes)
    assert time.monotonic() - started < WALL_BOUND


async def test_sends_finishing_within_the_grace_are_kept(
    fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> None:
    fake = await on_clock(fake_sinch_factory, clock)
    clock.auto_advance = False
    fake.latency = 2
    async with fake.client(clock=clock) as client:
        run = client.batches.send_many(requests(2), concurrency=2, grace=3)

        async def consume() -> None:
            async with run as outcomes:
                async for _ in outcomes:
                    pass

        consumer = asyncio.create_task(consume())
        await clock.wait_for_sleepers(2)
        consumer.cancel()
        for _ in range(100):
            if clock.timers:
                break
            await asyncio.sleep(0)
        clock.advance(2)  # the responses come back inside the grace
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(consumer, WALL_BOUND)
        assert clock.timers == 0  # the grace timer was cancelled
        assert all(o.ok for o in run.unreported_outcomes)
        assert len(run.unreported_outcomes) == 2
