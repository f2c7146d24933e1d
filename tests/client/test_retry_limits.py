"""Retry policy, the 429 pause, concurrency and the messages-per-second limiter."""

from __future__ import annotations

import asyncio
import time

import pytest

from sinch_async import (
    HookEvent,
    MessageRateLimiter,
    RateLimitError,
    RetryPolicy,
    SendOutcomeUnknown,
    ServerError,
    SinchConfigError,
    SinchConnectionError,
    TextBatchRequest,
)
from sinch_async._errors import SinchTimeoutError
from sinch_async._retry import retry_after_or_expo
from sinch_async.testing import FakeClock, FakeSinch, Fault

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)


async def test_get_is_retried_on_5xx(fake: FakeSinch) -> None:
    batch_id = fake.seed_batches(1)[0]["id"]
    fake.add_fault(Fault(method="GET", path="/batches/{id}", status=503, times=2))
    async with fake.client(retry=FAST) as client:
        batch = await client.batches.get(batch_id)
    assert batch.id == batch_id
    assert len([r for r in fake.requests if r.method == "GET"]) == 3


async def test_gives_up_after_max_attempts(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="GET", path="/batches/{id}", status=500))
    async with fake.client(retry=FAST) as client:
        with pytest.raises(ServerError):
            await client.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert len(fake.requests) == FAST.max_attempts


async def test_send_is_not_retried_when_sinch_may_have_processed_it(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase="after", times=1))
    async with fake.client(retry=FAST) as client:
        with pytest.raises(SendOutcomeUnknown) as err:
            await client.batches.send_text(to=["+46701234567"], body="x")
    assert isinstance(err.value.cause, ServerError)
    assert len(fake.requests) == 1 and len(fake.batches) == 1


async def test_send_is_retried_after_429(fake: FakeSinch) -> None:
    fake.add_fault(
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "0"}, times=2)
    )
    async with fake.client(retry=FAST) as client:
        await client.batches.send_text(to=["+46701234567"], body="x")
    assert len(fake.requests) == 3 and len(fake.batches) == 1


async def test_send_is_retried_when_connection_was_refused() -> None:
    policy = RetryPolicy(base_delay=0.01, max_attempts=2)
    assert policy.should_retry(
        SinchConnectionError("refused", method="POST", url="u", may_have_reached_sinch=False),
        idempotent=False,
    )
    assert not policy.should_retry(
        SinchTimeoutError("slow", method="POST", url="u", may_have_reached_sinch=True),
        idempotent=False,
    )
    assert policy.should_retry(
        SinchTimeoutError("slow", method="GET", url="u", may_have_reached_sinch=True),
        idempotent=True,
    )


async def test_retry_after_above_cap_fails_fast(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="GET", path="*", status=429, headers={"Retry-After": "120"}))
    async with fake.client(retry=RetryPolicy(max_retry_after=10)) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as err:
            await client.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert err.value.retry_after == 120
    assert len(fake.requests) == 1 and time.monotonic() - started < 1


async def test_429_pauses_the_whole_client(fake: FakeSinch, clock: FakeClock) -> None:
    """One request gets 429 with Retry-After: 2; requests started meanwhile wait it out.

    On the virtual clock: the test holds time still while every request is parked in the
    pause, looks at the server, then lets the two seconds pass in no wall time.
    """
    batch_id = fake.seed_batches(1)[0]["id"]
    fake.add_fault(
        Fault(method="GET", path="/batches/{id}", status=429, headers={"Retry-After": "2"}, times=1)
    )
    clock.auto_advance = False  # sleepers stay parked until the test moves time
    sent: list[float] = []  # virtual time at which each attempt went out

    def on_request(event: HookEvent) -> None:
        if event.kind == "request":
            sent.append(clock.elapsed)

    async with fake.client(retry=FAST, clock=clock) as client:
        client.add_hook(on_request)
        first = asyncio.create_task(client.batches.get(batch_id))
        await clock.wait_for_sleepers(1)  # the 429 arrived: its retry waits out Retry-After
        assert client.limits.paused_for == pytest.approx(2.0)
        others = asyncio.gather(*(client.batches.get(batch_id) for _ in range(5)))
        await clock.wait_for_sleepers(6)  # the five new requests are parked in the pause
        clock.advance(1.9)
        for _ in range(20):  # were anything free to go, it would have gone by now
            await asyncio.sleep(0)
        assert clock.sleepers == 6
        assert len(fake.requests) == 1  # nobody reached the server during the pause
        clock.auto_advance = True
        clock.advance(0.1)
        results = await others
        await first
    assert len(results) == 5
    assert len(sent) == len(fake.requests) == 7  # every request the server saw is in `sent`
    later = [t - sent[0] for t in sent[1:]]
    assert len(later) == 6
    assert min(later) >= 1.9  # nobody was sent during the pause
    assert max(later) < 10.0  # and then went on
    assert clock.elapsed == pytest.approx(2.0)  # the client waited exactly Retry-After


@pytest.mark.fake_sinch(auto_advance=False)
async def test_max_concurrency_bounds_requests_in_flight(
    fake_on_clock: FakeSinch, clock: FakeClock
) -> None:
    """The bound is a semaphore (no clock involved); the fake holds each response on the
    parked clock, so every round of three is seen while the other requests wait for a slot;
    the hooks count what is in flight."""
    fake = fake_on_clock
    batch_id = fake.seed_batches(1)[0]["id"]
    fake.latency = 0.1
    in_flight = peak = 0

    def count(event: HookEvent) -> None:
        nonlocal in_flight, peak
        if event.kind == "request":
            in_flight += 1
            peak = max(peak, in_flight)
        elif event.kind in ("response", "error"):
            in_flight -= 1

    async with fake.client(max_concurrency=3, hooks=[count]) as client:
        calls = asyncio.gather(*(client.batches.get(batch_id) for _ in range(12)))
        for round_ in range(1, 5):  # 12 requests, 3 at a time: four rounds
            await clock.wait_for_sleepers(3)  # three responses held by the fake
            for _ in range(20):  # loop turns: a fourth request would have arrived by now
                await asyncio.sleep(0)
            assert len(fake.requests) == 3 * round_  # the others wait for a slot
            assert in_flight == 3 and peak == 3
            clock.advance(0.1)
        await asyncio.wait_for(calls, 5)
    assert peak == 3
    assert clock.elapsed == pytest.approx(0.4)  # 0.1 s each, 3 at a time: four rounds


async def test_limiter_rate_is_exact_on_a_virtual_clock(clock: FakeClock) -> None:
    limiter = MessageRateLimiter(100, clock=clock.monotonic, sleep=clock.sleep)
    for cost in [1, 7, 30, 2] * 50:  # 2,000 messages
        await limiter.acquire(cost)
    # the first 50 come from the full bucket (half a second's burst), the rest at 100/s
    assert clock.elapsed == pytest.approx(19.5, abs=0.3)


async def test_large_batch_waits_its_turn_and_is_not_starved(clock: FakeClock) -> None:
    limiter = MessageRateLimiter(10, burst=10, clock=clock.monotonic, sleep=clock.sleep)
    order: list[str] = []

    async def take(name: str, cost: int) -> None:
        await limiter.acquire(cost)
        order.append(name)

    await take("warm", 10)  # empty the bucket
    tasks = [asyncio.create_task(take("big", 35))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(take(f"small{i}", 1)) for i in range(5)]
    await asyncio.gather(*tasks)
    assert order[1] == "big"  # FIFO: smaller later requests do not overtake it
    assert clock.elapsed >= 1.0  # it waited for a full bucket (10 tokens) and then went into debt


def test_limiter_and_policy_config_errors() -> None:
    with pytest.raises(SinchConfigError):
        MessageRateLimiter(0)
    with pytest.raises(SinchConfigError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(SinchConfigError):
        RetryPolicy(base_delay=-1)


def test_wait_generator_honours_retry_after_then_backs_off() -> None:
    import random

    waits = retry_after_or_expo(base=1, factor=2, max_value=5, rng=random.Random(7))
    next(waits)
    assert waits.send(RateLimitError(429, None, None, method="GET", url="u", retry_after=3)) == 3
    backed = [waits.send(ValueError()) for _ in range(6)]
    assert all(0 <= w <= 5 for w in backed)
    assert backed[0] <= 2  # attempt 1: uniform(0, 2)


async def test_fake_enforces_messages_per_second_with_retry_after() -> None:
    async with (
        FakeSinch(messages_per_second=10) as fake,
        fake.client(retry=RetryPolicy.disabled()) as client,
    ):
        await client.batches.send_text(to=[f"+4670000{i:04d}" for i in range(8)], body="x")
        with pytest.raises(RateLimitError) as err:
            await client.batches.send_text(to=[f"+4670001{i:04d}" for i in range(5)], body="x")
        assert err.value.retry_after is not None and err.value.retry_after >= 1
        assert fake.rate_limited == 1 and fake.accepted_messages == 8


@pytest.mark.fake_sinch(messages_per_second=200)
async def test_client_limiter_holds_the_rate_on_a_virtual_clock(
    fake_on_clock: FakeSinch, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mixed batch sizes through send_many at a 200 msg/s client budget never trip the
    same limit of the server (FakeSinch's own bucket, on the same virtual clock): every
    grant stays within burst + rate x time, and the run takes the time it must."""
    fake = fake_on_clock
    sizes = [1, 5, 20, 50, 3] * 12  # 948 messages
    granted: list[tuple[float, int]] = []  # (virtual time, messages) of every grant
    async with fake.client(
        messages_per_second=200, retry=RetryPolicy.disabled(), clock=clock
    ) as client:
        limiter = client.limits.rate_limiter
        assert isinstance(limiter, MessageRateLimiter)
        acquire = limiter.acquire

        async def recorded(cost: int) -> None:
            await acquire(cost)
            granted.append((clock.elapsed, cost))

        monkeypatch.setattr(limiter, "acquire", recorded)
        outcomes = [
            o
            async for o in client.batches.send_many(
                (
                    TextBatchRequest(to=[f"+467{i:03d}{j:05d}" for j in range(n)], body="x")
                    for i, n in enumerate(sizes)
                ),
                concurrency=16,
            )
        ]
    assert all(o.ok for o in outcomes) and fake.accepted_messages == sum(sizes)
    assert fake.rate_limited == 0  # the server's own bucket never refused a batch
    assert sorted(m for _, m in granted) == sorted(sizes)
    total = 0
    for t, messages in granted:
        total += messages
        assert total <= 100 + 200 * t + 1e-6  # half a second of burst, then 200 per second
    assert clock.elapsed == pytest.approx((sum(sizes) - 100) / 200, abs=0.3)
