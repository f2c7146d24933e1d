"""RedisCheckpoint: one sync per checkpoint key under a renewed, fenced lease, on a real
redis-server. In one process here; the last test SIGKILLs real sync processes
(``tests/support/procs/proc_redis_sync.py``) and takes over after the lease expired."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sinch_async import CheckpointInUseError, SinchValidationError
from sinch_async._errors import CheckpointLeaseLost
from sinch_async.redis._checkpoint import RedisCheckpoint
from sinch_async.testing import FakeClock, FakeSinch
from tests.support.net import free_port
from tests.support.paths import PROCS
from tests.support.redis_server import start_redis

redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
SINCE, UNTIL = NOW - timedelta(hours=3), NOW - timedelta(minutes=1)
KEY = "sinch:sync:inbounds"


pytestmark = pytest.mark.fake_sinch(seed=11)


def _seed(fake: FakeSinch, n: int) -> list[str]:
    start = SINCE + timedelta(minutes=5)
    items = fake.seed_inbounds(n, start=start, spacing=timedelta(seconds=7), to="12345")
    return [i["id"] for i in items]


def elsewhere(redis_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(client)`` in another thread with its own loop and connection, blocking
    this thread (and so this event loop: a stalled process) until it is done."""

    async def run() -> T:
        client = redis_asyncio.from_url(redis_url)
        try:
            return await work(client)
        finally:
            await client.aclose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(30)


def test_arguments_are_checked(redis_client: Any) -> None:
    for bad in ({"lease": 0}, {"lease": -1}, {"lease": float("inf")}, {"lease": True}):
        with pytest.raises(SinchValidationError):
            RedisCheckpoint(redis_client, KEY, **bad)
    with pytest.raises(SinchValidationError):
        RedisCheckpoint(redis_client, KEY, wait=-1)
    with pytest.raises(SinchValidationError):
        RedisCheckpoint(redis_client, "")
    assert "lease=30" in repr(RedisCheckpoint(redis_client, KEY))


async def test_second_sync_gets_in_use_at_once_then_resumes(
    fake: FakeSinch, redis_client: Any
) -> None:
    expected = set(_seed(fake, 150))
    async with fake.client() as client:
        first = client.inbounds.sync(
            since=SINCE, until=UNTIL, checkpoint=RedisCheckpoint(redis_client, KEY), page_size=20
        )
        got: list[str] = []
        async with first:
            got.append((await anext(first)).id)
            second = client.inbounds.sync(checkpoint=RedisCheckpoint(redis_client, KEY))
            started = time.monotonic()
            with pytest.raises(CheckpointInUseError, match="in use"):
                await anext(second)
            assert time.monotonic() - started < 0.5  # at once, no waiting
            async for item in first:
                got.append(item.id)
                if len(got) == 60:
                    break
        assert await redis_client.exists(f"{KEY}:lease") == 0  # released on close
        # The 60th item was in hand (uncommitted): it comes again, nothing is lost.
        again = client.inbounds.sync(checkpoint=RedisCheckpoint(redis_client, KEY))
        async with again:
            rest = [item.id async for item in again]
        assert rest[0] == got[-1]
        assert set(got) | set(rest) == expected and len(got) + len(rest) == 151
        saved = json.loads(await redis_client.get(KEY))
        assert saved["kind"] == "inbounds" and saved["delivered"] == 150
        async with client.inbounds.sync(checkpoint=RedisCheckpoint(redis_client, KEY)) as done:
            assert [item async for item in done] == []
    assert int(await redis_client.get(f"{KEY}:fence")) == 3  # one fencing token per run


async def test_wait_polls_for_the_lease(redis_client: Any) -> None:
    """``wait`` polls on the checkpoint's clock (parked here): no wall time passes."""
    clock = FakeClock(auto_advance=False)
    a = RedisCheckpoint(redis_client, KEY, lease=5, clock=clock)
    b = RedisCheckpoint(redis_client, KEY, lease=5, wait=3, clock=clock)
    await a.acquire()
    await clock.wait_for_sleepers(1)  # a's renewer
    taking = asyncio.create_task(b.acquire())
    await clock.wait_for_sleepers(2)  # b found the lease held and waits to poll again
    assert not taking.done()
    await a.release()
    clock.advance(0.25)  # one poll interval
    await asyncio.wait_for(taking, 5)
    assert b.fence == 2
    assert clock.elapsed == 0.25
    # c gives up after its 0.3 s of waiting (on a clock of its own that runs at once)
    c = RedisCheckpoint(redis_client, KEY, lease=5, wait=0.3, clock=FakeClock())
    with pytest.raises(CheckpointInUseError):
        await c.acquire()
    await b.release()


@pytest.mark.realtime("redis clock: a 0.8 s stall outlives the 0.5 s lease's TTL")
async def test_a_stalled_holders_late_save_is_fenced(redis_url: str, redis_client: Any) -> None:
    a = RedisCheckpoint(redis_client, KEY, lease=0.5)
    await a.acquire()
    await a.save({"who": "a", "n": 1})
    # A stalls: its loop is blocked past the lease, so nothing renews it; meanwhile B
    # (another process) takes the checkpoint over and saves.
    time.sleep(0.8)  # noqa: ASYNC251  (a stall: the loop is blocked on purpose)

    async def take_over(client: Any) -> int | None:
        b = RedisCheckpoint(client, KEY, lease=30)
        await b.acquire()
        assert await b.load() == {"who": "a", "n": 1}
        await b.save({"who": "b", "n": 2})
        return b.fence  # B keeps the lease (it "runs on")

    assert elsewhere(redis_url, take_over) == 2
    with pytest.raises(CheckpointLeaseLost) as err:
        await a.save({"who": "a", "n": 3})
    assert err.value.reason == "fenced"
    assert json.loads(await redis_client.get(KEY)) == {"who": "b", "n": 2}  # B's state intact
    with pytest.raises(CheckpointLeaseLost):
        await a.ensure_held()
    with pytest.raises(CheckpointLeaseLost):
        await a.save({"who": "a", "n": 4})
    await a.release()  # does not delete B's lease
    assert await redis_client.exists(f"{KEY}:lease") == 1


@pytest.mark.realtime("redis clock: stalls past the 0.5 s lease's TTL")
async def test_a_lapsed_lease_nobody_took_is_taken_back(redis_client: Any) -> None:
    a = RedisCheckpoint(redis_client, KEY, lease=0.3)
    await a.acquire()
    time.sleep(0.5)  # noqa: ASYNC251  (stalled past the lease; no other sync came)
    assert await redis_client.exists(f"{KEY}:lease") == 0
    await a.save({"n": 1})  # the fence did not move: the write is safe, and re-takes it
    assert await redis_client.exists(f"{KEY}:lease") == 1
    await a.ensure_held()
    await a.release()


@pytest.mark.realtime("redis clock: a 0.8 s stall outlives the 0.5 s lease's TTL")
async def test_a_sync_stalled_past_its_lease_stops_when_fenced(
    fake: FakeSinch, redis_url: str, redis_client: Any
) -> None:
    """The real thing through ``inbounds.sync``: the consumer blocks the loop past the
    lease, another process takes over and commits; the stalled sync raises instead of
    handing out another item, and the new holder's state is kept."""
    _seed(fake, 100)
    async with fake.client() as client:
        store = RedisCheckpoint(redis_client, KEY, lease=0.5)
        sync = client.inbounds.sync(since=SINCE, until=UNTIL, checkpoint=store, page_size=10)
        seen: list[str] = []
        with pytest.raises(CheckpointLeaseLost) as err:
            async with sync:
                async for item in sync:
                    seen.append(item.id)
                    if len(seen) == 5:
                        time.sleep(0.8)  # noqa: ASYNC251  (a stall: GC pause, blocked loop...)

                        async def take_over(c: Any) -> None:
                            b = RedisCheckpoint(c, KEY, lease=30)
                            await b.acquire()
                            state = await b.load()
                            assert state is not None and state["delivered"] == 4
                            await b.save({**state, "delivered": 999})

                        elsewhere(redis_url, take_over)
        assert err.value.reason in ("fenced", "expired")
        assert len(seen) == 5  # nothing handed out after the lease was lost
        assert json.loads(await redis_client.get(KEY))["delivered"] == 999


@pytest.mark.realtime("redis clock: slow handling over ~5 lease TTLs, kept alive by renewals")
async def test_renewal_keeps_a_long_sync_alive(fake: FakeSinch, redis_client: Any) -> None:
    expected = set(_seed(fake, 40))
    lease = 0.6
    async with fake.client() as client:
        store = RedisCheckpoint(redis_client, KEY, lease=lease)
        sync = client.inbounds.sync(since=SINCE, until=UNTIL, checkpoint=store, page_size=10)
        got: list[str] = []
        refused = 0
        started = time.monotonic()
        async with sync:
            async for item in sync:
                got.append(item.id)
                await asyncio.sleep(0.08)  # slow handling: 40 items take ~5 leases
                if len(got) % 8 == 0:
                    with pytest.raises(CheckpointInUseError):
                        await RedisCheckpoint(redis_client, KEY, lease=lease).acquire()
                    refused += 1
        assert time.monotonic() - started > 5 * lease
        assert set(got) == expected and refused == 5
        assert store.fence is None  # released
    assert int(await redis_client.get(f"{KEY}:fence")) == 1  # never taken over


@pytest.mark.realtime("redis clock: waits for a renewal of a lease Redis holds")
async def test_renewal_refused_stops_the_sync(fake: FakeSinch, redis_client: Any) -> None:
    _seed(fake, 60)
    async with fake.client() as client:
        store = RedisCheckpoint(redis_client, KEY, lease=0.6)
        sync = client.inbounds.sync(
            since=SINCE, until=UNTIL, checkpoint=store, page_size=10, commit_every="page"
        )
        seen = 0
        with pytest.raises(CheckpointLeaseLost) as err:
            async with sync:
                async for _ in sync:
                    seen += 1
                    if seen == 3:
                        # another sync took over (its lease and a newer fencing token)
                        await redis_client.set(f"{KEY}:lease", "someone-else", px=30_000)
                        await redis_client.incr(f"{KEY}:fence")
                        await asyncio.sleep(0.5)  # a renewal (every 0.2 s) notices
        assert err.value.reason == "expired" and seen == 3
        assert await redis_client.get(f"{KEY}:lease") == b"someone-else"  # not deleted


async def test_redis_down_fails_closed(fake: FakeSinch) -> None:
    _seed(fake, 10)
    down = redis_asyncio.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        async with fake.client() as client:
            fake.requests = []
            sync = client.inbounds.sync(
                since=SINCE, until=UNTIL, checkpoint=RedisCheckpoint(down, KEY)
            )
            with pytest.raises(CheckpointLeaseLost) as err:
                async with sync:
                    await anext(sync)
            assert err.value.reason == "unavailable"
            assert fake.requests == []  # nothing was even listed
    finally:
        await down.aclose()


async def test_redis_dying_mid_sync_stops_it(fake: FakeSinch, tmp_path: Path) -> None:
    _seed(fake, 100)
    proc, url = start_redis(tmp_path)
    client_r = redis_asyncio.from_url(url, socket_timeout=1)
    try:
        async with fake.client() as client:
            store = RedisCheckpoint(client_r, KEY, lease=1.0)
            sync = client.inbounds.sync(since=SINCE, until=UNTIL, checkpoint=store, page_size=10)
            seen = 0
            with pytest.raises(CheckpointLeaseLost) as err:
                async with sync:
                    async for _ in sync:
                        seen += 1
                        if seen == 5:
                            proc.kill()
                            proc.wait()
            assert err.value.reason == "unavailable"
            assert seen == 5  # the next commit failed: nothing more handed out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await client_r.aclose()


# --- real processes, SIGKILLed ---------------------------------------------------------------

SCRIPT = PROCS / "proc_redis_sync.py"
LEASE = 1.5


async def _spawn(fake: FakeSinch, redis_url: str, out: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        fake.base_url,
        fake.service_plan_id,
        fake.api_token,
        redis_url,
        KEY,
        str(LEASE),
        str(out),
        SINCE.isoformat(),
        UNTIL.isoformat(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.process
@pytest.mark.realtime("real processes; redis clock: the killed holder's lease TTL runs out")
async def test_kill_9_the_holder_and_another_takes_over_after_the_lease(
    fake: FakeSinch, redis_url: str, redis_client: Any, tmp_path: Path
) -> None:
    """Two sync processes on one Redis checkpoint: one runs, the other is refused at once.
    SIGKILL the runner; a sync started before its lease expired is refused, one started
    after it takes over. The union of what the processes handed out is the window,
    nothing missing; the only repeat is the item in hand at the kill."""
    seeded = fake.seed_inbounds(
        1500, start=SINCE + timedelta(minutes=1), spacing=timedelta(seconds=5), to="12345"
    )
    window = {i["id"] for i in seeded}
    fake.seed_inbounds(20, start=UNTIL + timedelta(minutes=1), to="12345")  # outside
    out = tmp_path / "ids.txt"

    first = await _spawn(fake, redis_url, out)
    assert first.stdout is not None
    assert await asyncio.wait_for(first.stdout.readline(), 20) == b"STARTED\n"
    second = await _spawn(fake, redis_url, out)
    stdout, stderr = await asyncio.wait_for(second.communicate(), 20)
    assert second.returncode == 3, stderr.decode()
    assert b"IN_USE" in stdout

    while len(out.read_text().splitlines()) < 300:  # noqa: ASYNC110  (another process)
        await asyncio.sleep(0.005)
    first.kill()
    await first.wait()
    killed_at = time.monotonic()
    assert first.returncode == -signal.SIGKILL
    before = out.read_text().splitlines()
    assert 300 <= len(before) < len(window), "the kill should land mid-walk"

    # The dead holder's lease still runs: a new sync is refused at once...
    early = await _spawn(fake, redis_url, out)
    stdout, _ = await asyncio.wait_for(early.communicate(), 20)
    if time.monotonic() - killed_at < LEASE - 0.3:
        assert early.returncode == 3 and b"IN_USE" in stdout
    # ...and takes over once it expired (nobody released it: it was kill -9).
    await asyncio.sleep(max(0.0, killed_at + LEASE + 0.1 - time.monotonic()))
    last = await _spawn(fake, redis_url, out)
    stdout, stderr = await asyncio.wait_for(last.communicate(), 60)
    assert last.returncode == 0, stderr.decode()
    summary = json.loads(stdout.decode().splitlines()[-1])["summary"]
    assert summary["fence"] >= 2

    records = out.read_text().splitlines()
    assert set(records) == window, "nothing missing, nothing outside the window"
    repeats = Counter(records) - Counter(set(records))
    assert sum(repeats.values()) <= 1, f"only the item in hand repeats: {repeats}"
    if repeats:
        assert records[len(before)] in repeats  # the first item of the new run
    assert json.loads(await redis_client.get(KEY))["delivered"] == len(window)
