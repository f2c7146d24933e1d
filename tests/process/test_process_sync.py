"""``inbounds.sync`` SIGKILLed for real, again and again, then resumed to the end.

A child process (``tests/support/procs/proc_sync.py``) walks a pinned window of inbounds served by a
FakeSinch running in this test's event loop, recording every item it is handed. The test
kills it with SIGKILL at random moments (a random delay after it started recording, or
once its output reached a random size), restarts it on the same checkpoint each time,
and finally lets one run finish. Then:

* ``commit="auto"`` with a JSON checkpoint file, **at least once**: every item of the
  window was recorded, nothing outside it was, and the only repeats are the item in hand
  at a kill (the first item of a run is the last item of the run killed before it), so
  repeats <= kills. After every kill the checkpoint's ``delivered`` is the number of
  distinct items recorded, or one less (the item in hand was not committed).
* ``commit="manual"`` with ``SqliteCheckpoint`` sharing the child's sqlite3 transaction,
  **exactly once**: the table (no key, so a repeat would show) holds every item of the
  window once, and after every kill the stored position's ``delivered`` equals its rows.

Both also check the final run's stats, that a rerun on the finished checkpoint hands out
nothing, and that >= ``MIN_MID_WALK`` kills landed mid-walk. The seed is printed in every
assertion message; set ``SINCH_PROC_SYNC_SEED`` to replay the same choices (the kills'
timing still varies with the machine).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sinch_async import JsonFileCheckpoint
from sinch_async._wire import parse_datetime
from sinch_async.testing import FakeSinch
from tests.support.paths import PROCS
from tests.support.procs.proc_sync import CHUNK

SCRIPT = PROCS / "proc_sync.py"
KILLS = 22
MIN_MID_WALK = 15
#: FakeSinch latency per response (the child also pauses 0-1 ms per item)
LATENCY = 0.005
#: kill trigger: a random delay after STARTED, or a random number of items more
MAX_DELAY = 0.2
MAX_ITEMS = 200
START_TIMEOUT = 20.0
FINAL_TIMEOUT = 60.0

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - timedelta(hours=4)
UNTIL = NOW - timedelta(minutes=10)


def seed_window(fake: FakeSinch) -> dict[str, int]:
    """4,000 inbounds inside [SINCE, UNTIL) (1,000 share their timestamp with another, so
    kills land among ties), and 60 outside it that the sync must not hand out. Returns
    the window's ids, each with the index of its sub-window (``CHUNK`` long)."""
    first = SINCE + timedelta(minutes=1)

    def ids(n: int, start: datetime, spacing: timedelta) -> dict[str, int]:
        seeded = fake.seed_inbounds(n, start=start, spacing=spacing, to="12345")
        return {i["id"]: (parse_datetime(i["received_at"]) - SINCE) // CHUNK for i in seeded}

    window = ids(3_000, first, timedelta(seconds=4)) | ids(1_000, first, timedelta(seconds=12))
    outside = ids(30, SINCE - timedelta(hours=1), timedelta(seconds=5)) | ids(
        30, UNTIL + timedelta(minutes=1), timedelta(seconds=5)
    )
    assert len(window) == 4_000 and not window.keys() & outside.keys()
    assert len(set(window.values())) >= 6, "the window should span several sub-windows"
    return window


@dataclass
class Kill:
    run: int
    trigger: str
    before: int  # records when the run started
    after: int  # records when it was dead
    delivered: int | None  # the checkpoint's "delivered" after the kill


@dataclass
class Walk:
    seed: int
    kills: list[Kill] = field(default_factory=list)
    final: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def context(self) -> str:
        return f"seed={self.seed} kills={len(self.kills)}"


async def _spawn(
    fake: FakeSinch, mode: str, out: Path, checkpoint: Path, child_seed: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        fake.base_url,
        fake.service_plan_id,
        fake.api_token,
        mode,
        str(out),
        str(checkpoint),
        SINCE.isoformat(),
        UNTIL.isoformat(),
        str(child_seed),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def walk_with_kills(
    fake: FakeSinch,
    mode: str,
    out: Path,
    checkpoint: Path,
    count: Callable[[], int],
    delivered: Callable[[], Awaitable[int | None]],
    seed: int,
) -> Walk:
    """Run the child KILLS times, SIGKILLing each run at a random moment; then once to the
    end and once more on the finished checkpoint."""
    rng = random.Random(seed)
    walk = Walk(seed)
    started_at = time.monotonic()
    for run in range(KILLS):
        before = count()
        proc = await _spawn(fake, mode, out, checkpoint, rng.randrange(2**32))
        try:
            assert proc.stdout is not None
            first = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
            if first != b"STARTED\n":
                rest, err = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
                pytest.fail(
                    f"{walk.context()} run {run}: child said {first + rest!r}, exit "
                    f"{proc.returncode} (finished before {KILLS} kills?)\n{err.decode()}"
                )
            if rng.random() < 0.5:
                delay = rng.uniform(0, MAX_DELAY)
                trigger = f"delay {delay:.3f}s"
                await asyncio.sleep(delay)
            else:
                target = before + rng.randint(1, MAX_ITEMS)
                trigger = f"at {target} records"
                # another process writes the records: poll them
                while count() < target and proc.returncode is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
            proc.kill()
            stdout, stderr = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == -signal.SIGKILL, (
            f"{walk.context()} run {run} ({trigger}): exit {proc.returncode}, the walk "
            f"ended before the kill\n{stdout.decode()}\n{stderr.decode()}"
        )
        walk.kills.append(Kill(run, trigger, before, count(), await delivered()))

    proc = await _spawn(fake, mode, out, checkpoint, rng.randrange(2**32))
    stdout, stderr = await asyncio.wait_for(proc.communicate(), FINAL_TIMEOUT)
    assert proc.returncode == 0, f"{walk.context()} final run: exit {proc.returncode}\n" + (
        stderr.decode()
    )
    walk.final = json.loads(stdout.decode().splitlines()[-1])["summary"]
    walk.elapsed = time.monotonic() - started_at

    recorded = count()
    proc = await _spawn(fake, mode, out, checkpoint, 0)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
    assert proc.returncode == 0, f"{walk.context()} rerun: exit {proc.returncode}\n" + (
        stderr.decode()
    )
    again = json.loads(stdout.decode().splitlines()[-1])["summary"]
    assert again["items"] == 0 and count() == recorded, (
        f"{walk.context()}: a rerun on the finished checkpoint handed out items: {again}"
    )
    return walk


def check_walk(walk: Walk, records: list[str], window: dict[str, int]) -> None:
    """What both modes guarantee: the window, all of it, nothing else. And that the kills
    were real: mid-walk (the run recorded items, later runs recorded more), spread over
    several sub-windows."""
    ctx = walk.context()
    got, expected = set(records), set(window)
    assert got <= expected, f"{ctx}: {len(got - expected)} ids outside the window, e.g. " + (
        str(sorted(got - expected)[:5])
    )
    assert got == expected, f"{ctx}: {len(expected - got)} ids of the window lost, e.g. " + (
        str(sorted(expected - got)[:5])
    )
    mid_walk = [k for k in walk.kills if k.before < k.after < len(records)]
    assert len(mid_walk) >= MIN_MID_WALK, (
        f"{ctx}: only {len(mid_walk)} kills landed mid-walk: {walk.kills}"
    )
    assert len(kill_windows(walk, records, window)) >= 2, (
        f"{ctx}: all kills landed in one sub-window: {walk.kills}"
    )


def kill_windows(walk: Walk, records: list[str], window: dict[str, int]) -> set[int]:
    """The sub-windows of the last item each killed run recorded."""
    return {window[records[k.after - 1]] for k in walk.kills}


def crossings(walk: Walk, records: list[str], window: dict[str, int]) -> int:
    """Killed runs that recorded items of more than one sub-window (resumed in one, went
    on into the next)."""
    return sum(len({window[i] for i in records[k.before : k.after]}) > 1 for k in walk.kills)


def check_final_stats(walk: Walk, records: list[str], window: dict[str, int]) -> None:
    """The final run's stats: this run's items + those committed by the killed runs = the
    window (a repeat of the uncommitted item in hand counts once: it was not committed)."""
    ctx, final = walk.context(), walk.final
    assert final["total"] == len(window), f"{ctx}: {final}"
    assert final["already_done"] + final["items"] == len(window), f"{ctx}: {final}"
    assert final["items"] == final["recorded"] == len(records) - walk.kills[-1].after, (
        f"{ctx}: {final}"
    )


def report(mode: str, walk: Walk, records: list[str], window: dict[str, int]) -> str:
    repeats = len(records) - len(set(records))
    triggers = Counter(k.trigger.split()[0] for k in walk.kills)
    per_run = [k.after - k.before for k in walk.kills]
    return (
        f"{mode}: seed={walk.seed} kills={len(walk.kills)} ({dict(triggers)}) "
        f"repeats={repeats} records={len(records)} per-run={min(per_run)}..{max(per_run)} "
        f"kill sub-windows={sorted(kill_windows(walk, records, window))} "
        f"runs crossing a sub-window end={crossings(walk, records, window)} "
        f"final run={walk.final['items']} items in {walk.elapsed:.1f}s total"
    )


def _seed() -> int:
    return int(os.environ.get("SINCH_PROC_SYNC_SEED") or random.randrange(2**32))


@pytest.mark.slow
async def test_sigkilled_auto_sync_delivers_the_window_at_least_once(tmp_path: Path) -> None:
    seed = _seed()
    out = tmp_path / "ids.txt"
    checkpoint = tmp_path / "inbounds.json"

    def lines(*, final: bool = True) -> list[str]:
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        if not final:  # read while the child writes: its last line may be half visible
            return text[: text.rfind("\n") + 1].splitlines()
        # the child writes and flushes one whole line per item
        assert not text or text.endswith("\n"), f"seed={seed}: torn line {text[-40:]!r}"
        return text.splitlines()

    async def delivered() -> int | None:
        state = await JsonFileCheckpoint(checkpoint).load()  # read as a resume reads it
        return None if state is None else int(state["delivered"])

    async with FakeSinch(latency=LATENCY, seed=seed) as fake:
        window = seed_window(fake)
        walk = await walk_with_kills(
            fake, "auto", out, checkpoint, lambda: len(lines(final=False)), delivered, seed
        )
    records = lines()
    ctx = walk.context()
    check_walk(walk, records, window)

    # The only repeats: the item in hand at a kill, handed out first by the next run.
    boundaries = [k.after for k in walk.kills]
    in_hand = Counter(records[b] for b in boundaries if records[b] == records[b - 1])
    unexplained = {
        item: n - 1 - in_hand[item] for item, n in Counter(records).items() if n - 1 > in_hand[item]
    }
    assert not unexplained, (
        f"{ctx}: ids repeated other than as the item in hand at a kill: "
        f"{list(unexplained.items())[:5]} (kills after records {boundaries})"
    )
    duplicates = len(records) - len(set(records))
    assert duplicates <= len(walk.kills), f"{ctx}: {duplicates} repeats for {len(walk.kills)}"
    # the child pauses after recording half the items: many kills land with one in hand
    assert duplicates > 0, f"{ctx}: no kill landed between recording an item and the next"
    # after each kill the checkpoint holds the distinct items recorded so far, or one less
    for k in walk.kills:
        distinct = len(set(records[: k.after]))
        assert k.delivered in (distinct, distinct - 1), (
            f"{ctx}: after kill {k.run} ({k.trigger}) {distinct} distinct ids were recorded "
            f"but the checkpoint says delivered={k.delivered}"
        )
    check_final_stats(walk, records, window)
    print(report("auto", walk, records, window))


@pytest.mark.slow
async def test_sigkilled_manual_sqlite_sync_delivers_the_window_exactly_once(
    tmp_path: Path,
) -> None:
    seed = _seed()
    db = tmp_path / "items.sqlite3"
    reader: sqlite3.Connection | None = None

    def conn() -> sqlite3.Connection:
        nonlocal reader
        if reader is None:  # the child created the database before it said STARTED
            reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        return reader

    def rows() -> list[str]:
        return [r[0] for r in conn().execute("SELECT id FROM items ORDER BY rowid")]

    def count() -> int:
        if not db.exists():  # before the first run
            return 0
        return int(conn().execute("SELECT count(*) FROM items").fetchone()[0])

    async def delivered() -> int | None:
        row = (
            conn()
            .execute("SELECT state FROM sinch_async_checkpoints WHERE name = 'inbounds'")
            .fetchone()
        )
        return None if row is None else int(json.loads(row[0])["delivered"])

    try:
        async with FakeSinch(latency=LATENCY, seed=seed) as fake:
            window = seed_window(fake)
            walk = await walk_with_kills(fake, "manual", db, db, count, delivered, seed)
        records = rows()
        ctx = walk.context()
        check_walk(walk, records, window)
        repeated = [item for item, n in Counter(records).items() if n > 1]
        assert not repeated, (
            f"{ctx}: {len(records) - len(set(records))} repeated rows, e.g. {repeated[:5]}"
        )
        # the position stored with each item's row counts exactly the rows before it
        for k in walk.kills:
            assert k.delivered == k.after, (
                f"{ctx}: after kill {k.run} ({k.trigger}) {k.after} rows but the checkpoint "
                f"stored with them says delivered={k.delivered}"
            )
        check_final_stats(walk, records, window)
        print(report("manual", walk, records, window))
    finally:
        if reader is not None:
            reader.close()
