"""Exactly-once inbound and delivery-report sync: moving data, failures, kills, resumes."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sinch_async import JsonFileCheckpoint, MemoryCheckpoint, RetryPolicy, SinchValidationError
from sinch_async._wire import parse_datetime
from sinch_async.testing import FakeClock, FakeSinch, Fault

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01, max_attempts=8)
NOW = datetime.now(UTC).replace(microsecond=0)


pytestmark = pytest.mark.fake_sinch(seed=11)


def _seed(fake: FakeSinch, n: int, spacing: timedelta = timedelta(seconds=1)) -> set[str]:
    start = NOW - timedelta(minutes=5) - n * spacing
    return {i["id"] for i in fake.seed_inbounds(n, start=start, spacing=spacing, to="12345")}


async def test_50k_window_exactly_once_under_arrivals_and_failures(fake: FakeSinch) -> None:
    expected = _seed(fake, 50_000)
    fake.add_fault(Fault(method="GET", path="/inbounds", status=503, probability=0.05))
    got: list[str] = []
    added = 0
    async with fake.client(retry=FAST) as client:
        sync = client.inbounds.sync(since=NOW - timedelta(days=1), checkpoint=MemoryCheckpoint())
        async for item in sync:
            got.append(item.id)
            # new inbounds arrive "now" while the sync walks (outside its pinned window),
            # paced by its progress, not by time: ten every thousand items
            if len(got) % 1000 == 0:
                for _ in range(10):
                    fake.add_inbound(from_="+46701234567", to="12345", body="new")
                    added += 1
    assert added > 0 and len(fake.inbounds) == 50_000 + added
    # the window is pinned when the sync starts; arrivals after that are for the next run
    assert sync.stats.start is not None and sync.stats.end is not None
    in_window = {
        i["id"]
        for i in fake.inbounds.values()
        if sync.stats.start <= parse_datetime(i["received_at"]) < sync.stats.end
    }
    assert expected <= in_window and len(in_window - expected) < added
    assert len(got) == len(set(got)) == len(in_window)
    assert set(got) == in_window


async def test_late_arrival_inside_the_window_is_not_missed(fake: FakeSinch) -> None:
    expected = _seed(fake, 700)
    window_mid = NOW - timedelta(minutes=5) - timedelta(seconds=350)
    got: list[str] = []
    async with fake.client() as client:
        sync = client.inbounds.sync(
            since=NOW - timedelta(hours=2), until=NOW, chunk=timedelta(hours=2), page_size=50
        )
        async for item in sync:
            got.append(item.id)
            if len(got) == 100:  # an inbound shows up late, inside the part already walked
                late = fake.add_inbound(
                    from_="+46700000000", to="12345", body="late", received_at=window_mid
                )
                expected.add(late["id"])
    assert len(got) == len(set(got)) and set(got) == expected
    assert sync.stats.rewalks >= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_killed_and_resumed_sync_yields_the_window_once(
    fake: FakeSinch, tmp_path: Path, seed: int
) -> None:
    expected = _seed(fake, 3_000)
    checkpoint = tmp_path / "inbounds.json"
    rng = random.Random(seed)
    outputs: list[str] = []
    since = NOW - timedelta(days=1)
    async with fake.client() as client:
        for _ in range(3):  # kill it three times at random points
            target = len(outputs) + rng.randint(1, 900)
            reached = asyncio.Event()

            async def run(target: int, reached: asyncio.Event) -> None:
                sync = client.inbounds.sync(since=since, checkpoint=checkpoint, page_size=37)
                async with sync:  # releases the checkpoint's lock when cancelled
                    async for item in sync:
                        outputs.append(item.id)
                        if len(outputs) >= target:
                            reached.set()
                            await asyncio.sleep(0)  # the kill lands here or in the sync

            task = asyncio.create_task(run(target, reached))
            await reached.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        sync = client.inbounds.sync(since=since, checkpoint=checkpoint, page_size=37)
        async for item in sync:
            outputs.append(item.id)
    # at least once: the item in hand at each kill may come again, nothing else does
    assert len(outputs) - len(set(outputs)) <= 3, "more repeats than kills"
    assert set(outputs) == expected


async def test_next_run_starts_where_the_last_one_ended(
    fake_on_clock: FakeSinch, clock: FakeClock, tmp_path: Path
) -> None:
    """The window is pinned on the client's clock: a run started 10 ms (virtual) after the
    last one walks only what arrived in between."""
    fake = fake_on_clock
    n = 100
    start = clock.now() - timedelta(minutes=5) - n * timedelta(seconds=1)
    first = {i["id"] for i in fake.seed_inbounds(n, start=start, to="12345")}
    store = JsonFileCheckpoint(tmp_path / "c.json")
    async with fake.client(clock=clock) as client:
        since = clock.now() - timedelta(hours=1)
        got = {i.id async for i in client.inbounds.sync(since=since, checkpoint=store)}
        assert got == first
        later = fake.add_inbound(from_="+46700000000", to="12345", body="after")
        clock.advance(0.01)
        again = {i.id async for i in client.inbounds.sync(checkpoint=store)}
    assert again == {later["id"]}


@pytest.mark.parametrize("lag", [timedelta(minutes=5), timedelta(0)])
async def test_lag_leaves_late_indexed_inbounds_to_the_next_run(
    fake_on_clock: FakeSinch, clock: FakeClock, tmp_path: Path, lag: timedelta
) -> None:
    """``lag``: the window ends that long before now (the client's clock). An inbound
    received inside the last ``lag`` is not in this run's window; one Sinch indexes late
    (it shows up after the run, with a ``received_at`` inside the last ``lag``) is still
    found, by the next run. With ``lag=0`` the window ends at now, as before: the late
    one falls in a window already done."""
    fake = fake_on_clock
    t0 = clock.now()
    old = fake.add_inbound(from_="+46700000001", to="12345", received_at=t0 - timedelta(minutes=9))
    recent = fake.add_inbound(
        from_="+46700000002", to="12345", received_at=t0 - timedelta(minutes=2)
    )
    store = JsonFileCheckpoint(tmp_path / "c.json")
    async with fake.client(clock=clock) as client:
        first = client.inbounds.sync(since=t0 - timedelta(hours=1), checkpoint=store, lag=lag)
        got = [i.id async for i in first]
        assert first.stats.end == t0 - lag
        late = fake.add_inbound(  # indexed after the run, received before its end
            from_="+46700000003", to="12345", received_at=t0 - timedelta(minutes=1)
        )
        clock.advance(minutes=10)
        second = client.inbounds.sync(checkpoint=store, lag=lag)
        again = [i.id async for i in second]
    assert second.stats.start == t0 - lag and second.stats.end == clock.now() - lag
    if lag:
        assert got == [old["id"]]
        assert sorted(again) == sorted([recent["id"], late["id"]])
    else:
        assert sorted(got) == sorted([old["id"], recent["id"]])
        assert again == []  # the late one is behind the last run's end: missed


async def test_lag_keeps_an_unfinished_window_and_applies_to_reports(
    fake_on_clock: FakeSinch, clock: FakeClock, tmp_path: Path
) -> None:
    """A run that resumes an unfinished window keeps its pinned end, whatever the lag;
    ``delivery_reports.sync`` takes the same ``lag``."""
    fake = fake_on_clock
    t0 = clock.now()
    for i in range(20):  # one a minute, the last a minute ago: five inside the lag
        at = t0 - timedelta(minutes=20 - i)
        fake.add_inbound(from_="+46700000001", to="12345", received_at=at)
    store = JsonFileCheckpoint(tmp_path / "c.json")
    lag = timedelta(minutes=5)
    async with fake.client(clock=clock) as client:
        first = client.inbounds.sync(since=t0 - timedelta(hours=1), checkpoint=store, lag=lag)
        async with first:
            async for _item in first:
                await first.commit()
                break
        clock.advance(minutes=10)
        rest = client.inbounds.sync(checkpoint=store, lag=lag)
        n = len([i async for i in rest])
        assert rest.stats.end == first.stats.end == t0 - lag
        assert n == 20 - 5 - 1  # five in the last lag, one handed out by the first run

        fake.seed_delivery_reports(2, start=clock.now() - timedelta(minutes=8), spacing=lag)
        reports = client.delivery_reports.sync(since=clock.now() - timedelta(hours=1), lag=lag)
        got = [r async for r in reports]
    assert len(got) == 1 and reports.stats.end == clock.now() - lag


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lag": timedelta(seconds=-1)}, "must be a non-negative timedelta"),
        ({"lag": 300}, "must be a non-negative timedelta"),
        ({"lag": None}, "must be a non-negative timedelta"),
        ({"lag": timedelta(minutes=5), "until": NOW}, "cannot be given with until"),
    ],
)
async def test_bad_lag_is_refused_before_any_request(
    fake: FakeSinch, options: dict[str, Any], message: str
) -> None:
    async with fake.client() as client:
        for resource in (client.inbounds, client.delivery_reports):
            with pytest.raises(SinchValidationError, match=message) as err:
                resource.sync(since=NOW - timedelta(hours=1), **options)
            assert err.value.field == "lag"
        # lag=0 (the default) goes with until
        client.inbounds.sync(since=NOW - timedelta(hours=1), until=NOW, lag=timedelta(0))
    assert not fake.requests


async def test_checkpoint_for_other_filters_is_refused(fake: FakeSinch, tmp_path: Path) -> None:
    _seed(fake, 5)
    path = tmp_path / "c.json"
    async with fake.client() as client:
        async for _ in client.inbounds.sync(since=NOW - timedelta(hours=1), checkpoint=path):
            pass
        with pytest.raises(SinchValidationError, match="filters"):
            async for _ in client.inbounds.sync(checkpoint=path, to=["+46701234567"]):
                pass


async def test_delivery_report_sync(fake: FakeSinch, tmp_path: Path) -> None:
    start = NOW - timedelta(hours=3)
    reports = fake.seed_delivery_reports(500, start=start, spacing=timedelta(seconds=10))
    expected = {(r["batch_id"], r["recipient"]) for r in reports}
    async with fake.client() as client:
        got = [
            (r.batch_id, r.recipient)
            async for r in client.delivery_reports.sync(
                since=NOW - timedelta(hours=4), checkpoint=tmp_path / "dr.json", page_size=40
            )
        ]
    assert len(got) == len(set(got)) and set(got) == expected


async def test_file_checkpoint_survives_a_torn_write(tmp_path: Path) -> None:
    store = JsonFileCheckpoint(tmp_path / "c.json")
    assert await store.load() is None
    for n in range(1, 6):
        await store.save({"n": n})
    assert await JsonFileCheckpoint(tmp_path / "c.json").load() == {"n": 5}
    # a crash tore the newest write: the previous state is used (its item was not handed out)
    newest = tmp_path / "c.json"  # seq 5 is odd: the main slot
    newest.write_bytes(newest.read_bytes()[:-7])
    assert await JsonFileCheckpoint(tmp_path / "c.json").load() == {"n": 4}
    (tmp_path / "c.json.alt").write_text("garbage")
    with pytest.raises(SinchValidationError):
        await JsonFileCheckpoint(tmp_path / "c.json").load()
