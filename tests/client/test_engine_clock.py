"""The one clock reaches every wait (issue 16, point 2): ``SinchClient(clock=...)`` to the
limiter, the retry loop, token expiry, the group-size cache and a Redis limiter's sleeps;
``RedisLedger(clock=...)`` to lease renewals. All in virtual time (``FakeClock``), except
what Redis itself times (its own clock, by design)."""

from __future__ import annotations

from typing import Any

import pytest

from sinch_async import SinchClient
from sinch_async._clock import SYSTEM_CLOCK, Clock
from sinch_async._ledger import campaign_reference
from sinch_async._limits import PendingCost
from sinch_async.testing import FakeClock, FakeSinch, Fault


def test_fake_clock_is_a_clock() -> None:
    clock = FakeClock()
    assert isinstance(clock, Clock) and isinstance(SYSTEM_CLOCK, Clock)
    assert clock.time() == clock.now().timestamp()
    clock.advance(1.5)
    assert clock.monotonic() == 1.5 and clock.time() == clock.now().timestamp()
    with pytest.raises(Exception, match="clock"):
        SinchClient("plan", "token", region="eu", clock=object())  # type: ignore[arg-type]


async def test_the_messages_per_second_budget_waits_on_the_clock() -> None:
    clock = FakeClock()
    async with FakeSinch() as fake, fake.client(messages_per_second=10, clock=clock) as client:
        for _ in range(3):  # 3 x 10 messages at 10/s: the first at once, then 1 s each
            await client.batches.send_text(to=[f"+4670123{i:04d}" for i in range(10)], body="x")
    assert clock.elapsed == pytest.approx(2.0, abs=0.01)


async def test_the_token_expires_on_the_clock() -> None:
    clock = FakeClock()
    async with FakeSinch(now=clock, token_ttl=600) as fake:
        async with fake.project_client(clock=clock) as client:
            await client.numbers.regions()
            clock.advance(550)  # inside the refresh margin (60 s) of a 600 s token
            await client.numbers.regions()
            await client.numbers.regions()
        assert fake.token_requests == 2  # refreshed once, before Sinch said it expired


async def test_group_sizes_and_a_redis_limiter_adopt_the_clients_clock(redis_client: Any) -> None:
    from sinch_async.redis import RedisGroupSizes, RedisRateLimiter

    clock = FakeClock()
    sizes = RedisGroupSizes(redis_client, "test:engine-clock:sizes", miss_ttl=5)
    limiter = RedisRateLimiter(redis_client, "test:engine-clock:mps", 100)
    SinchClient("plan", "token", region="eu", group_sizes=sizes, clock=clock)
    SinchClient("plan", "token", region="eu", messages_per_second=limiter, clock=clock)
    await sizes.load(["grp-1"])  # unknown: charged 1 without asking until miss_ttl passed
    assert type(sizes.cost(["grp-1"])) is int
    clock.advance(6)
    assert isinstance(sizes.cost(["grp-1"]), PendingCost)  # the virtual 6 s passed
    await limiter.pause(0.05)  # timed by Redis; the waits in between are the clock's
    await limiter.wait_unpaused()
    assert clock.sleeps and clock.elapsed > 0


async def test_a_429_without_retry_after_backs_off_on_the_clock() -> None:
    clock = FakeClock()
    async with FakeSinch() as fake:
        fake.add_fault(Fault(method="GET", path="/batches/*", status=429, times=2))
        async with fake.client(clock=clock) as client:
            batch = await client.batches.send_text(to=["+46701234567"], body="x")
            await client.batches.get(batch.id)
        assert len(clock.sleeps) == 2 and clock.elapsed == pytest.approx(sum(clock.sleeps))
        assert client.limits.pauses == 2  # the backoff wait was the pause


async def test_redis_ledger_renews_leases_on_its_clock(redis_client: Any) -> None:
    from sinch_async.redis import RedisLedger

    clock = FakeClock(auto_advance=False)
    led = RedisLedger(redis_client, lease=30, worker="w", clock=clock, prefix="test:clock")
    campaign = "clocked"
    await led.open(campaign)
    claim = await led.begin(campaign, 0, campaign_reference(campaign, 0), "D00000000000")
    assert claim.status == "new"
    await clock.wait_for_sleepers(1)  # the renewal loop waits on the ledger's clock
    assert clock.sleeps == [10.0]
    clock.advance(10)
    await clock.wait_for_sleepers(1)  # renewed, and waiting for the next round
    assert clock.sleeps == [10.0, 10.0]
    await led.aclose()
