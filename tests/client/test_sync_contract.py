"""The sync's delivery contract in one process: at least once by default, exactly once with
the position in the consumer's transaction, a locked checkpoint, no followed symlinks,
progress that survives a resume. (Real SIGKILLs: test_process_sync.py.)"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sinch_async import (
    CheckpointInUseError,
    JsonFileCheckpoint,
    MemoryCheckpoint,
    SinchValidationError,
    SqliteCheckpoint,
)
from sinch_async.testing import FakeSinch

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE, UNTIL = NOW - timedelta(hours=3), NOW - timedelta(minutes=1)


pytestmark = pytest.mark.fake_sinch(seed=5)


def _seed(fake: FakeSinch, n: int) -> list[str]:
    start = SINCE + timedelta(minutes=5)
    items = fake.seed_inbounds(n, start=start, spacing=timedelta(seconds=7), to="12345")
    return [i["id"] for i in items]


async def test_item_in_hand_when_cancelled_comes_again_and_nothing_is_lost(
    fake: FakeSinch, tmp_path: Path
) -> None:
    expected = set(_seed(fake, 300))
    path = tmp_path / "c.json"
    handled: list[str] = []
    async with fake.client() as client:
        sync = client.inbounds.sync(since=SINCE, until=UNTIL, checkpoint=path, page_size=40)
        async with sync:
            async for item in sync:
                if len(handled) == 120:
                    in_hand = item.id  # the process "dies" while handling this one
                    break
                handled.append(item.id)
        again = client.inbounds.sync(checkpoint=path, page_size=40)
        async with again:
            rest = [item.id async for item in again]
    assert rest[0] == in_hand, "the item in hand must be delivered again"
    assert set(handled) | set(rest) == expected
    assert len(handled) + len(rest) == len(expected)  # in_hand was not in handled
    assert not set(handled) & set(rest)


async def test_commit_before_break_hands_out_nothing_twice(fake: FakeSinch, tmp_path: Path) -> None:
    expected = set(_seed(fake, 200))
    path = tmp_path / "c.json"
    async with fake.client() as client:
        first: list[str] = []
        async with client.inbounds.sync(since=SINCE, until=UNTIL, checkpoint=path) as sync:
            async for item in sync:
                first.append(item.id)
                if len(first) == 50:
                    await sync.commit()
                    break
        async with client.inbounds.sync(checkpoint=path) as sync:
            second = [item.id async for item in sync]
            # point 12: progress after a resume counts the window once
            assert sync.stats.total == 200 and sync.stats.already_done == 50
            assert sync.stats.already_done + sync.stats.items == sync.stats.total
    assert len(first) + len(second) == 200 and set(first) | set(second) == expected


@pytest.mark.parametrize(("every", "saves"), [(1, 250 + 1), ("page", 5 + 1), (100, 2 + 1)])
async def test_batched_commits(fake: FakeSinch, every: int | str, saves: int) -> None:
    _seed(fake, 250)
    store = MemoryCheckpoint()
    async with fake.client() as client:
        sync = client.inbounds.sync(
            since=SINCE,
            until=UNTIL,
            checkpoint=store,
            page_size=50,
            chunk=timedelta(hours=4),
            commit_every=every,  # type: ignore[arg-type]
        )
        got = [item.id async for item in sync]
    assert len(got) == 250
    # one commit per item / page / 100 items as the next is asked for, + the window's end
    assert store.saves == saves


async def test_exactly_once_with_the_position_in_the_consumers_transaction(
    fake: FakeSinch, tmp_path: Path
) -> None:
    expected = set(_seed(fake, 300))
    db = tmp_path / "app.db"
    kills = 0

    async def run(stop_after: int | None) -> None:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE IF NOT EXISTS items (id TEXT)")
        store = SqliteCheckpoint(conn, name="inbounds")
        try:
            async with fake.client() as client:
                sync = client.inbounds.sync(
                    since=SINCE, until=UNTIL, checkpoint=store, commit="manual", page_size=30
                )
                async with sync:
                    n = 0
                    async for item in sync:
                        if stop_after is not None and n == stop_after:
                            raise asyncio.CancelledError  # dies between two transactions
                        with conn:
                            conn.execute("INSERT INTO items VALUES (?)", (item.id,))
                            store.write(sync.position)
                        n += 1
        finally:
            conn.close()

    for stop_after in (17, 60, 1, 99):
        kills += 1
        with pytest.raises(asyncio.CancelledError):
            await run(stop_after)
    await run(None)
    conn = sqlite3.connect(db)
    ids = [row[0] for row in conn.execute("SELECT id FROM items")]
    conn.close()
    assert kills == 4 and len(ids) == len(set(ids)) == 300 and set(ids) == expected


async def test_a_second_sync_on_a_checkpoint_in_use_fails_at_once(
    fake: FakeSinch, tmp_path: Path
) -> None:
    _seed(fake, 100)
    path = tmp_path / "c.json"
    async with fake.client() as client:
        first = client.inbounds.sync(since=SINCE, until=UNTIL, checkpoint=path, page_size=10)
        async with first:
            await anext(first)
            second = client.inbounds.sync(checkpoint=path)
            with pytest.raises(CheckpointInUseError):
                await anext(second)
            conn = sqlite3.connect(tmp_path / "s.db")
            a, b = SqliteCheckpoint(conn, name="x"), SqliteCheckpoint(conn, name="x")
            await a.acquire()
            with pytest.raises(CheckpointInUseError):
                await b.acquire()
            await a.release()
            await b.acquire()  # free again once released
            await b.release()
            conn.close()
        # released when the first sync closed
        async with client.inbounds.sync(checkpoint=path) as again:
            assert len([i async for i in again]) == 100  # the first one's item came again


@pytest.mark.parametrize("name", ["c.json", "c.json.alt", "c.json.lock"])
async def test_a_planted_symlink_is_refused(tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / name).symlink_to(victim)
    store = JsonFileCheckpoint(tmp_path / "c.json")
    with pytest.raises(SinchValidationError, match="symbolic link"):
        await store.acquire()
        await store.load()
        for n in range(3):
            await store.save({"n": n})
    await store.release()
    assert victim.read_text() == "precious"


async def test_durable_file_checkpoint_round_trips(tmp_path: Path) -> None:
    store = JsonFileCheckpoint(tmp_path / "c.json", durable=True)
    await store.acquire()
    for n in range(5):
        await store.save({"n": n})
    await store.release()
    assert await JsonFileCheckpoint(tmp_path / "c.json").load() == {"n": 4}
    assert oct(os.stat(tmp_path / "c.json").st_mode & 0o777) == "0o600"
