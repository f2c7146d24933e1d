"""Child process for the SIGKILL test of ``tests/redis/test_redis_checkpoint.py``: an inbound
sync on a :class:`RedisCheckpoint`, meant to be killed.

Usage: ``proc_redis_sync.py BASE_URL SERVICE_PLAN_ID API_TOKEN REDIS_URL KEY LEASE OUT SINCE
UNTIL``

At least once (``commit="auto"``): each item's id is appended to the text file OUT as one
line (written and flushed) before the next item is asked for; the item is "handled" for
2 ms after that, so a kill usually lands with an item in hand.

On stdout: ``STARTED`` once the first item of this run was recorded; then, if the walk
ends, one JSON line ``{"summary": ...}`` and exit 0. If another sync holds the checkpoint:
``IN_USE`` and exit 3.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from typing import IO, Any

import redis.asyncio

from sinch_async import CheckpointInUseError, SinchClient
from sinch_async.redis._checkpoint import RedisCheckpoint

PAGE_SIZE = 50
PAUSE = 0.002


async def main(argv: list[str], out: IO[str]) -> dict[str, Any]:
    base_url, plan, token, redis_url, key, lease, _out, since_s, until_s = argv
    since, until = datetime.fromisoformat(since_s), datetime.fromisoformat(until_s)
    client_r = redis.asyncio.from_url(redis_url, socket_timeout=5)
    try:
        store = RedisCheckpoint(client_r, key, lease=float(lease))
        async with SinchClient(service_plan_id=plan, api_token=token, base_url=base_url) as client:
            sync = client.inbounds.sync(
                checkpoint=store, since=since, until=until, page_size=PAGE_SIZE
            )
            recorded = 0
            fence = None
            async with sync:
                async for item in sync:
                    fence = store.fence
                    out.write(f"{item.id}\n")
                    out.flush()
                    recorded += 1
                    if recorded == 1:
                        print("STARTED", flush=True)
                    await asyncio.sleep(PAUSE)
            return {"recorded": recorded, "items": sync.stats.items, "fence": fence}
    finally:
        await client_r.aclose()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = sys.argv[1:]
    if len(args) != 9:
        raise SystemExit(__doc__)
    with open(args[6], "a", encoding="utf-8") as text:
        try:
            result = asyncio.run(main(args, text))
        except CheckpointInUseError:
            print("IN_USE", flush=True)
            raise SystemExit(3) from None
    print(json.dumps({"summary": result}), flush=True)
