"""A stalled server must not turn into a burst over the messages-per-second limit.

The engine takes a concurrency slot first, waits out a 429 pause, and only then takes the
message budget, so budget is never held by requests queued for a slot. Were it the other
way round, requests queued behind ``max_concurrency`` slots that a slow server holds keep
taking budget while they wait, then leave together when the slots come free.

FakeSinch records when each request arrived (on the event loop's clock), and either
enforces the same 100 msg/s as the client (a burst shows as 429s) or no limit (a burst
shows in the arrival times). In process, the whole run (a 2 s stall, about 4 s of sends)
is on virtual loop time (``virtual_time``): the client's limiter, the fake's stall and
bucket and the arrival times share one clock that moves only when nothing else can
happen, so it takes no wall time and a burst shows whatever the machine's load. On Redis,
the shared schedule runs on Redis's clock: real time.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sinch_async import (
    MessageRateLimiter,
    RetryPolicy,
    ServerError,
    SinchClient,
    SinchTimeoutError,
    TextBatchRequest,
)
from sinch_async.testing import FakeSinch
from sinch_async.testing._faults import Fault
from sinch_async.testing.pytest_plugin import FakeSinchFactory
from tests.support.virtual_time import VirtualTime

RATE = 100  # messages per second, client and fake alike
BURST = RATE / 2  # the client limiters' default burst allowance
SENDS = 300
STALL_AT = 160  # the request read from the input when the fake starts stalling
STALL = 2.0  # seconds the stalled answers take
#: Grants are counted at the client, arrivals at the server: windows this much shorter
#: than a second absorb that much jitter in between (loopback, a busy machine).
JITTER = 0.02


def _requests(fake: FakeSinch) -> Iterator[TextBatchRequest]:
    """The sends, read lazily by send_many (64 ahead of the ones done): once about 100
    are done, the fake holds the answers of the next four for STALL s (processed at
    once, answered late), so every slot of the client is held by them."""
    for i in range(SENDS):
        if i == STALL_AT:
            fake.add_fault(
                Fault(method="POST", path="/batches", delay=STALL, phase="after", times=4)
            )
        yield TextBatchRequest(to=[f"+4670{i:07d}"], body="stall")


def busiest_second(times: list[float], window: float = 1.0) -> int:
    """The most arrivals within any ``window`` seconds (sliding, from each arrival on)."""
    times = sorted(times)
    return max(
        (bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)),
        default=0,
    )


async def _run(fake: FakeSinch, client: SinchClient) -> tuple[int, list[Any]]:
    outcomes = [o async for o in client.batches.send_many(_requests(fake), concurrency=64)]
    arrivals = sorted(r.received_at for r in fake.requests if r.method == "POST")
    assert max(b - a for a, b in itertools.pairwise(arrivals)) > STALL * 0.9  # it did stall
    return busiest_second(arrivals, 1.0 - JITTER), outcomes


def test_busiest_second_counts_a_sliding_window() -> None:
    assert busiest_second([]) == 0
    assert busiest_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert busiest_second([0.0, 2.0, 2.1, 2.2, 3.3]) == 3
    assert busiest_second([0.0, 0.5, 0.99], 0.98) == 2


async def _check(fake: FakeSinch, client: SinchClient) -> None:
    async with client:
        busiest, outcomes = await _run(fake, client)
    print(f"busiest second: {busiest} sends; 429s: {fake.rate_limited}")  # pytest -s shows it
    assert len(outcomes) == SENDS and all(o.ok for o in outcomes), [
        o.error for o in outcomes if not o.ok
    ][:3]
    assert fake.rate_limited == 0  # no 429
    assert len(fake.batches) == SENDS
    # A stall never turns into a burst: at most the rate plus its burst allowance.
    assert busiest <= RATE + BURST, f"{busiest} sends reached Sinch within one second"


LIMITED = pytest.mark.parametrize("fake_limit", [RATE, None], ids=["fake-limited", "fake-open"])


@LIMITED
async def test_a_stall_does_not_become_a_burst_in_process(
    virtual_time: VirtualTime, fake_sinch_factory: FakeSinchFactory, fake_limit: float | None
) -> None:
    clock = virtual_time.clock  # the loop's clock, for the limiters (else time.monotonic)
    fake = await fake_sinch_factory(messages_per_second=fake_limit, clock=clock)
    await _check(fake, fake.client(max_concurrency=4, messages_per_second=RATE, clock=clock))


@pytest.mark.realtime("redis clock: the Redis limiter's schedule under a stall")
@LIMITED
async def test_a_stall_does_not_become_a_burst_on_redis(
    fake_sinch_factory: FakeSinchFactory, redis_client: Any, fake_limit: float | None
) -> None:
    from sinch_async.redis import RedisRateLimiter

    fake = await fake_sinch_factory(messages_per_second=fake_limit)
    limiter = RedisRateLimiter(redis_client, f"sinch:test:stall:{uuid.uuid4().hex}", RATE)
    await _check(fake, fake.client(max_concurrency=4, messages_per_second=limiter))


# --- before_write: the last step before each write ---------------------------------------

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


class Refused(Exception):
    """What a ledger's claim check might raise."""


def _posts(fake: FakeSinch) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/batches"))


async def test_before_write_runs_holding_slot_and_budget_before_each_write(
    fake: FakeSinch,
) -> None:
    """Called once per attempt (a 503 resent after the lookup found nothing: twice), each
    time with the slot and the budget taken and nothing written yet."""
    seen: list[tuple[bool, float, int]] = []
    async with fake.client(max_concurrency=1, messages_per_second=RATE, retry=FAST) as client:
        limiter = client.limits.rate_limiter
        assert isinstance(limiter, MessageRateLimiter)

        async def check() -> None:
            slot = client.limits.slot()
            assert isinstance(slot, asyncio.Semaphore)
            seen.append((slot.locked(), limiter._bucket.tokens, _posts(fake)))

        fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
        batch = await client.batches.send(
            TextBatchRequest(to=["+46700000001"], body="hi", client_reference="bw-1"),
            before_write=check,
        )
    assert [(locked, posts) for locked, _, posts in seen] == [(True, 0), (True, 1)]
    assert all(tokens < BURST for _, tokens, _ in seen)  # its message was taken already
    assert list(fake.batches) == [batch.id]


async def test_before_write_runs_on_every_retry_and_token_replay(fake: FakeSinch) -> None:
    calls: list[int] = []

    async def check() -> None:
        calls.append(_posts(fake))

    fake.add_fault(
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "0"}, times=1)
    )
    async with fake.project_client(retry=FAST) as client:
        await client.batches.send(
            TextBatchRequest(to=["+46700000001"], body="a"), before_write=check
        )
        assert calls == [0, 1]  # the 429 retried by the engine
        fake.expire_tokens()  # the next write gets 401 "token expired", replayed once
        await client.batches.send(
            TextBatchRequest(to=["+46700000002"], body="b"), before_write=check
        )
    assert calls == [0, 1, 2, 3] and len(fake.batches) == 2


@pytest.mark.parametrize(
    "error",
    [
        Refused("claim lost"),
        # errors the SDK would otherwise retry or reconcile: still raised as they are
        SinchTimeoutError("ledger timed out", method="GET", url="x", may_have_reached_sinch=True),
        ServerError(503, "unavailable", "ledger", method="GET", url="x"),
        TimeoutError("ledger timed out"),
    ],
    ids=["refused", "sinch-timeout", "server-error", "timeout"],
)
async def test_what_before_write_raises_propagates_unchanged(
    fake: FakeSinch, error: Exception
) -> None:
    calls = 0

    async def check() -> None:
        nonlocal calls
        calls += 1
        raise error

    request = TextBatchRequest(to=["+46700000001"], body="hi", client_reference="bw-2")
    async with fake.client(retry=FAST, messages_per_second=RATE) as client:
        for view in (client, client.with_options(deadline=5.0)):
            with pytest.raises(type(error)) as caught:
                await view.batches.send(request, before_write=check)
            assert caught.value is error  # not SendOutcomeUnknown, not a SinchTimeoutError
    assert calls == 2  # once per send: never retried
    assert _posts(fake) == 0 and not fake.batches  # nothing written
