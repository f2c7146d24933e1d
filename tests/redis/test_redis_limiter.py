"""The Redis rate limiter, shared 429 pause and shared group sizes, on a real redis-server.

In-process tests drive several limiters (each its own Redis connection, as separate
processes would) in one loop; the ``slow`` ones run real worker processes
(``tests/support/procs/proc_limiter.py``) against one FakeSinch and read arrival times at the
server.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from sinch_async import PauseScope, RetryPolicy, SinchClient, TextBatchRequest
from sinch_async._errors import LimiterUnavailableError
from sinch_async._limits import Limits, PendingCost
from sinch_async.testing import FakeSinch
from sinch_async.testing._faults import Fault
from tests.support.procs.proc_limiter import run_workers, send_arrivals, steady_rate

redis_asyncio = pytest.importorskip("redis.asyncio")
from redis.asyncio.retry import Retry  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402

from sinch_async.redis._limiter import IDLE_MS, RedisGroupSizes, RedisRateLimiter  # noqa: E402

KEY = "sinch:test:limiter"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the budget ---------------------------------------------------------------------------


async def test_weighted_budget_is_shared_between_limiters(redis_client: Any, other: Any) -> None:
    """Two limiters on one key share 1,000 msg/s: 600 messages beyond the 100-message burst
    take 0.5 s whichever limiter asks."""
    a = RedisRateLimiter(redis_client, KEY, 1000, burst=100)
    b = RedisRateLimiter(other, KEY, 1000, burst=100)
    grants: list[tuple[float, int]] = []

    async def take(limiter: RedisRateLimiter, cost: int) -> None:
        await limiter.acquire(cost)
        grants.append((time.monotonic(), cost))

    started = time.monotonic()
    await asyncio.gather(*(take(a if i % 2 else b, c) for i, c in enumerate([50, 1, 25] * 8)))
    elapsed = time.monotonic() - started
    total = sum(c for _, c in grants)
    assert total == 608
    assert elapsed == pytest.approx((608 - 100) / 1000, abs=0.08)
    taken = 0
    for t, cost in sorted(grants):
        taken += cost
        assert taken <= 100 + 1000 * (t - started) + 1  # burst, then the rate


@pytest.mark.realtime("redis clock: the shared schedule runs on Redis TIME")
async def test_a_big_batch_reserves_its_turn(redis_client: Any, other: Any) -> None:
    """Another process hammering with 1-message requests cannot starve a 300-message batch:
    it goes once the budget already reserved has passed, and the small ones queue behind."""
    small = RedisRateLimiter(redis_client, KEY, 1000, burst=50)
    big = RedisRateLimiter(other, KEY, 1000, burst=50)
    stop = asyncio.Event()
    after_big: list[float] = []
    big_done: list[float] = []

    async def hammer() -> None:
        while not stop.is_set():
            await small.acquire(1)
            if big_done:
                after_big.append(time.monotonic())

    hammers = [asyncio.create_task(hammer()) for _ in range(8)]
    await asyncio.sleep(0.2)
    asked = time.monotonic()
    await big.acquire(300)
    big_done.append(time.monotonic())
    await asyncio.sleep(0.35)
    stop.set()
    await asyncio.gather(*hammers)
    # Ahead of it: at most the 8 small reservations in flight (8 ms), plus round trips.
    assert big_done[0] - asked < 0.1
    # Behind it: the 300 messages it took (0.3 s) before the small ones resume.
    assert after_big and after_big[0] - big_done[0] > 0.25


async def test_idle_key_expires(redis_client: Any) -> None:
    limiter = RedisRateLimiter(redis_client, KEY, 100)
    await limiter.acquire(10)
    ttl = await redis_client.pttl(KEY)
    assert 0 < ttl <= IDLE_MS + 200
    assert await redis_client.hget(KEY, "tat") is not None


@pytest.mark.realtime("redis clock: the shared schedule runs on Redis TIME")
async def test_the_clock_is_the_redis_server(
    redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host clock far off changes nothing: the script reads Redis' TIME."""
    monkeypatch.setattr(time, "time", lambda: 0.0)
    limiter = RedisRateLimiter(redis_client, KEY, 1000, burst=10)
    started = time.monotonic()
    for _ in range(5):
        await limiter.acquire(20)
    assert time.monotonic() - started == pytest.approx(0.09, abs=0.04)


# --- the shared pause ---------------------------------------------------------------------


@pytest.mark.realtime("redis clock: the shared pause and schedule run on Redis TIME")
async def test_pause_holds_every_limiter_and_shifts_reserved_turns(
    redis_client: Any, other: Any
) -> None:
    a = RedisRateLimiter(redis_client, KEY, 100, burst=10)
    b = RedisRateLimiter(other, KEY, 100, burst=10)
    await a.acquire(10)  # the burst is spent: the next 10 messages go in 0.1 s
    started = time.monotonic()
    reserved = asyncio.create_task(b.acquire(10))
    await asyncio.sleep(0.02)
    await a.pause(0.5)
    assert 0.4 < await b.paused_for() <= 0.5
    get_like = asyncio.create_task(b.acquire(0))  # a GET waits out the pause too
    await reserved
    assert time.monotonic() - started >= 0.5 + 0.07  # its turn, pushed back by the pause
    await get_like
    assert time.monotonic() - started >= 0.5
    assert await a.paused_for() == 0


@pytest.mark.realtime("redis clock: the shared pause runs on Redis TIME")
async def test_a_shorter_pause_never_shortens_one(redis_client: Any) -> None:
    limiter = RedisRateLimiter(redis_client, KEY, 100)
    await limiter.pause(1.0)
    await limiter.pause(0.1)
    assert await limiter.paused_for() > 0.8


async def test_limits_pause_propagates_to_the_shared_limiter(redis_client: Any, other: Any) -> None:
    limits = Limits(messages_per_second=RedisRateLimiter(redis_client, KEY, 100))
    assert limits.shared is not None
    assert limits.pause(1.0, cause="backoff")
    await limits.flush_pauses()
    assert 0.9 < await RedisRateLimiter(other, KEY, 100).paused_for() <= 1.0


def test_in_process_limits_keep_the_fast_path() -> None:
    assert Limits(messages_per_second=100).shared is None
    assert Limits().shared is None


@pytest.mark.realtime("redis clock: the shared pause runs on Redis TIME")
async def test_a_429_in_one_client_holds_the_other(redis_client: Any, other: Any) -> None:
    """In one loop, two clients on one key: a 429 with Retry-After: 1 received by the first
    holds the second's GET for a second."""
    async with FakeSinch() as fake:
        one = fake.client(
            messages_per_second=RedisRateLimiter(redis_client, KEY, 100),
            retry=RetryPolicy.disabled(),
        )
        two = fake.client(messages_per_second=RedisRateLimiter(other, KEY, 100))
        async with one, two:
            batch = await two.batches.send_text(to=["+46700000001"], body="x")
            fake.add_fault(
                Fault(
                    method="POST",
                    path="/batches",
                    status=429,
                    headers={"Retry-After": "1"},
                    times=1,
                )
            )
            with pytest.raises(Exception, match=r"429|rate"):
                await one.batches.send_text(to=["+46700000002"], body="x")
            await one.limits.flush_pauses()
            started = time.monotonic()
            await two.batches.get(batch.id)
            assert time.monotonic() - started >= 0.9


@pytest.mark.realtime("redis clock: the shared pause runs on Redis TIME")
@pytest.mark.parametrize("scope", ["local", "shared"])
async def test_only_the_shared_scope_writes_the_shared_pause(
    redis_client: Any, other: Any, scope: PauseScope
) -> None:
    """Two clients on one key; ``one`` (``pause_scope=scope``) gets 429 with Retry-After: 1.
    ``local``: the key's pause is never written, ``one`` alone pauses and ``two`` goes at
    once; ``shared``: the key holds the pause and ``two`` waits it out (in its stats)."""
    async with FakeSinch() as fake:
        one = fake.client(
            messages_per_second=RedisRateLimiter(redis_client, KEY, 100),
            pause_scope=scope,
            retry=RetryPolicy.disabled(),
        )
        two = fake.client(messages_per_second=RedisRateLimiter(other, KEY, 100))
        async with one, two:
            batch = await two.batches.send_text(to=["+46700000001"], body="x")
            fake.add_fault(
                Fault(
                    method="POST",
                    path="/batches",
                    status=429,
                    headers={"Retry-After": "1"},
                    times=1,
                )
            )
            with pytest.raises(Exception, match=r"429|rate"):
                await one.batches.send_text(to=["+46700000002"], body="x")
            await one.limits.flush_pauses()
            until = await redis_client.hget(KEY, "until")
            left = await RedisRateLimiter(other, KEY, 100).paused_for()
            assert one.limits.paused_for > 0.5  # the client that got the 429 pauses either way
            started = time.monotonic()
            await two.batches.get(batch.id)
            waited = time.monotonic() - started
            stats = two.limits.stats
        if scope == "local":
            assert until in (None, b"0") and left == 0
            assert waited < 0.5 and stats.pause_waits == 0
        else:
            assert until is not None and int(until) > 0 and 0.5 < left <= 1.0
            assert waited >= 0.5
            assert stats.pause_waits == 1 and stats.pause_wait_seconds >= 0.5
        assert one.limits.stats.pauses_by_scope[scope] == 1


# --- Redis down: fail closed --------------------------------------------------------------


async def test_redis_down_fails_closed_quickly_and_sends_nothing() -> None:
    dead = redis_asyncio.Redis(host="127.0.0.1", port=_closed_port(), socket_timeout=1)
    limiter = RedisRateLimiter(dead, KEY, 100)
    started = time.monotonic()
    with pytest.raises(LimiterUnavailableError):
        await limiter.acquire(5)
    assert time.monotonic() - started < 1.5  # the limiter's timeout (redis-py retries)
    await dead.aclose()
    # Without redis-py's own retries (docs/scaling.md) a refused connection fails
    # at once.
    dead = redis_asyncio.Redis(
        host="127.0.0.1", port=_closed_port(), socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    limiter = RedisRateLimiter(dead, KEY, 100)
    started = time.monotonic()
    with pytest.raises(LimiterUnavailableError):
        await limiter.acquire(5)
    assert time.monotonic() - started < 0.2
    async with FakeSinch() as fake, fake.client(messages_per_second=limiter) as client:
        with pytest.raises(LimiterUnavailableError):
            await client.batches.send_text(to=["+46700000001"], body="x")
        with pytest.raises(LimiterUnavailableError):
            await client.batches.get("01FC66621XXXXX119Z8PMV1QPA")  # a GET: cost 0
        assert fake.requests == [] and fake.batches == {}
    await dead.aclose()


async def test_redis_stopping_mid_run_fails_closed(tmp_path: Any) -> None:
    from tests.support.redis_server import start_redis

    proc, url = start_redis(tmp_path)
    redis_client = redis_asyncio.from_url(url, socket_timeout=1)
    limiter = RedisRateLimiter(redis_client, KEY, 1000)
    try:
        async with FakeSinch() as fake, fake.client(messages_per_second=limiter) as client:
            await client.batches.send_text(to=["+46700000001"], body="x")
            proc.terminate()
            proc.wait(10)
            started = time.monotonic()
            with pytest.raises(LimiterUnavailableError):
                await client.batches.send_text(to=["+46700000002"], body="x")
            assert time.monotonic() - started < 2.0
            assert len(fake.batches) == 1
    finally:
        proc.kill()
        await redis_client.aclose()


# --- group sizes --------------------------------------------------------------------------


class Recording:
    """A RateLimiter that records the costs it is asked for."""

    def __init__(self) -> None:
        self.costs: list[int] = []

    async def acquire(self, cost: int) -> None:
        self.costs.append(cost)


class RecordingRedis(RedisRateLimiter):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.costs: list[int] = []

    async def acquire(self, cost: int) -> None:
        self.costs.append(cost)
        await super().acquire(cost)


async def test_a_fresh_worker_charges_a_group_send_by_its_shared_size(
    redis_client: Any, other: Any
) -> None:
    async with FakeSinch() as fake:
        first = fake.client(group_sizes=RedisGroupSizes(redis_client, "sinch:test:sizes"))
        recording = Recording()
        sizes = RedisGroupSizes(other, "sinch:test:sizes")
        fresh = fake.client(messages_per_second=recording, group_sizes=sizes)
        async with first, fresh:
            group = await first.groups.create(name="g", members=["+46700000001", "+46700000002"])
            await first.groups.update(group.id, add=["+46700000003"])
            cost = fresh.batches.message_cost(
                TextBatchRequest(to=[group.id, "+46700000009"], body="x")
            )
            assert isinstance(cost, PendingCost) and int(cost) == 2  # unknown yet: 1 + 1
            await fresh.batches.send_text(to=[group.id, "+46700000009"], body="x")
            assert recording.costs == [4]  # 3 members + 1 number
            assert sizes[group.id] == 3  # cached: the next costing is synchronous
            assert fresh.batches.message_cost(TextBatchRequest(to=[group.id], body="x")) == 3
            # The same through a shared limiter (the engine's shared path).
            shared = RecordingRedis(redis_client, KEY, 1000)
            third = fake.client(
                messages_per_second=shared,
                group_sizes=RedisGroupSizes(redis_client, "sinch:test:sizes"),
            )
            async with third:
                await third.batches.send_text(to=[group.id], body="x")
            assert shared.costs == [3]
            await first.groups.delete(group.id)
            assert await redis_client.hget("sinch:test:sizes", group.id) is None


async def test_group_sizes_down_fails_closed() -> None:
    dead = redis_asyncio.Redis(host="127.0.0.1", port=_closed_port(), socket_timeout=1)
    async with FakeSinch() as fake:
        client = fake.client(messages_per_second=100, group_sizes=RedisGroupSizes(dead, "k"))
        async with client:
            with pytest.raises(LimiterUnavailableError):
                await client.batches.send_text(to=["01FC66621XXXXX119Z8PMV1QPA"], body="x")
            assert fake.requests == []
    await dead.aclose()


def test_group_sizes_must_be_shared_group_sizes() -> None:
    with pytest.raises(Exception, match="group_sizes"):
        SinchClient("plan", "token", region="us", group_sizes={"g": 3})  # type: ignore[arg-type]


# --- real processes -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.process
@pytest.mark.realtime("real processes; redis clock: the shared schedule runs on Redis TIME")
async def test_four_processes_share_the_plan_limit(redis_client: Any, redis_url: str) -> None:
    """4 workers at 400 msg/s on one Redis key against a 400 msg/s plan: no 429, and the
    aggregate rate after the first second within 3% of 400. The same 4 workers with an
    in-process limiter each (the naive setup) run into 429s."""
    async with FakeSinch(messages_per_second=400) as fake:
        summaries = await run_workers(fake, 4, rate=400, redis_url=redis_url, key=KEY, duration=3.5)
        assert fake.rate_limited == 0
        assert all(not s["errors"] for s in summaries), summaries
        rate = steady_rate(send_arrivals(fake))
        print(f"shared: {rate:.1f} msg/s, {fake.rate_limited} x 429")  # -s shows the numbers
        assert rate == pytest.approx(400, rel=0.03)
        assert fake.accepted_messages == sum(s["messages"] for s in summaries)
    async with FakeSinch(messages_per_second=400) as naive:
        await run_workers(naive, 4, rate=400, redis_url=None, key=KEY, duration=2.0)
        print(f"naive: {naive.rate_limited} x 429 of {len(send_arrivals(naive))} sends")
        assert naive.rate_limited > 0


@pytest.mark.slow
@pytest.mark.process
@pytest.mark.realtime("real processes; redis clock: the shared pause runs on Redis TIME")
async def test_a_429_pauses_every_process(redis_client: Any, redis_url: str) -> None:
    """One worker gets 429 with Retry-After: 2: no request of any worker (sends and GETs)
    reaches the server for the next 1.9 s, beyond those already in flight (50 ms)."""
    async with FakeSinch() as fake:
        injected: list[float] = []

        async def inject(start_at: float) -> None:
            await asyncio.sleep(start_at - time.time() + 1.0)
            injected.append(asyncio.get_running_loop().time())
            fake.add_fault(
                Fault(
                    method="POST",
                    path="/batches",
                    status=429,
                    headers={"Retry-After": "2"},
                    times=1,
                )
            )

        summaries = await run_workers(
            fake,
            4,
            rate=200,
            redis_url=redis_url,
            key=KEY,
            duration=4.0,
            max_size=5,
            gets=True,
            during=inject,
        )
    arrivals = [r.received_at for r in fake.requests]
    t429 = next(
        r.received_at
        for r in fake.requests
        if r.received_at >= injected[0] and r.method == "POST" and r.path.endswith("/batches")
    )
    assert sum(s["gets"] for s in summaries) > 0
    during = [t - t429 for t in arrivals if t429 + 0.05 < t < t429 + 1.9]
    in_flight = [round(t - t429, 4) for t in arrivals if t429 < t <= t429 + 0.05]
    resumed = min(t for t in arrivals if t > t429 + 0.05) - t429
    print(f"after the 429: in flight {in_flight}, next request at +{resumed:.3f} s")
    assert during == []
    assert any(t > t429 + 1.9 for t in arrivals)  # and they resumed
    assert all(set(s["errors"]) <= {"RateLimitError"} for s in summaries), summaries
