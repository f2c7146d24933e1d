"""Child process for ``tests/process/test_process_sync.py``: an inbound sync meant to be SIGKILLed.

Usage: ``proc_sync.py BASE_URL SERVICE_PLAN_ID API_TOKEN MODE OUT CHECKPOINT SINCE UNTIL SEED``

* ``MODE=auto``: the default, at-least-once sync (``commit="auto"``) with the checkpoint
  a JSON file path (CHECKPOINT). Each item's id is appended to the text file OUT as one
  line (written and flushed) before the next item is asked for.
* ``MODE=manual``: exactly once. OUT is a sqlite3 database; each item's id goes into the
  plain table ``items`` (no key, so a duplicate would show) in the same transaction as
  ``store.write(sync.position)``, with ``SqliteCheckpoint(conn, name="inbounds")`` on the
  same connection and ``commit="manual"``. CHECKPOINT is unused.

The child "handles" each item for a random 0-1 ms, before or after recording it (a coin
toss; ``SEED`` seeds both), so a kill often lands while an item is in hand: either not
yet recorded (a sync that committed it too early loses it) or recorded but not yet
followed by a request for the next one (at least once: it comes again).

On stdout: ``STARTED`` once the first item of this run was recorded, then, if the walk
ends, one JSON line ``{"summary": ...}`` with the sync's stats, and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import sys
from datetime import datetime, timedelta
from typing import IO, Any

from sinch_async import SinchClient, SqliteCheckpoint

CHUNK = timedelta(minutes=30)
PAGE_SIZE = 50
PREFETCH = 2
MAX_PAUSE = 0.001


def summary(stats: Any, recorded: int) -> dict[str, Any]:
    return {
        "recorded": recorded,
        "total": stats.total,
        "already_done": stats.already_done,
        "items": stats.items,
        "windows": stats.windows,
        "windows_done": stats.windows_done,
        "rewalks": stats.rewalks,
        "skipped_duplicates": stats.skipped_duplicates,
        "commits": stats.commits,
    }


class Started:
    def __init__(self) -> None:
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            print("STARTED", flush=True)


async def handle(rng: random.Random, before: bool) -> None:
    """Pause 0-1 ms if ``before`` matches this item's coin toss (made before recording)."""
    if before:
        await asyncio.sleep(rng.uniform(0, MAX_PAUSE))


async def run_auto(
    client: SinchClient,
    out: IO[str],
    checkpoint: str,
    since: datetime,
    until: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    started = Started()
    recorded = 0
    sync = client.inbounds.sync(
        checkpoint=checkpoint,
        since=since,
        until=until,
        chunk=CHUNK,
        page_size=PAGE_SIZE,
        prefetch=PREFETCH,
    )
    async with sync:
        async for item in sync:
            first = rng.random() < 0.5
            await handle(rng, first)
            out.write(f"{item.id}\n")  # recorded before the next item is asked for
            out.flush()
            recorded += 1
            started()
            await handle(rng, not first)
    return summary(sync.stats, recorded)


async def run_manual(
    client: SinchClient, db: str, since: datetime, until: datetime, rng: random.Random
) -> dict[str, Any]:
    started = Started()
    recorded = 0
    conn = sqlite3.connect(db)
    try:
        # WAL lets the test count rows while this process writes; NORMAL skips the fsync
        # per commit, which costs durability across power loss but not across a kill.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS items (id TEXT NOT NULL)")
        store = SqliteCheckpoint(conn, name="inbounds")
        sync = client.inbounds.sync(
            checkpoint=store,
            since=since,
            until=until,
            chunk=CHUNK,
            page_size=PAGE_SIZE,
            prefetch=PREFETCH,
            commit="manual",
        )
        async with sync:
            async for item in sync:
                first = rng.random() < 0.5
                await handle(rng, first)
                position = sync.position
                with conn:  # the item and the position after it: both or neither
                    conn.execute("INSERT INTO items (id) VALUES (?)", (item.id,))
                    store.write(position)
                recorded += 1
                started()
                await handle(rng, not first)
        return summary(sync.stats, recorded)
    finally:
        conn.close()


async def main(argv: list[str], out: IO[str] | None) -> dict[str, Any]:
    base_url, plan, token, _mode, out_file, checkpoint, since_s, until_s, seed = argv
    since, until = datetime.fromisoformat(since_s), datetime.fromisoformat(until_s)
    rng = random.Random(int(seed))
    async with SinchClient(service_plan_id=plan, api_token=token, base_url=base_url) as client:
        if out is not None:
            return await run_auto(client, out, checkpoint, since, until, rng)
        return await run_manual(client, out_file, since, until, rng)


if __name__ == "__main__":
    # The test kills with SIGKILL; this only makes a manual Ctrl-C work when the child
    # was started in the background by a non-interactive shell (SIGINT inherited ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = sys.argv[1:]
    if len(args) != 9 or args[3] not in ("auto", "manual"):
        raise SystemExit(__doc__)
    with contextlib.ExitStack() as stack:
        text = (
            stack.enter_context(open(args[4], "a", encoding="utf-8")) if args[3] == "auto" else None
        )
        result = asyncio.run(main(args, text))
    print(json.dumps({"summary": result}), flush=True)
