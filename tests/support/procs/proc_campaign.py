"""Child process for ``tests/process/test_process_campaign.py``: one run of a crash-safe campaign.

Usage: ``proc_campaign.py BASE_URL SERVICE_PLAN_ID API_TOKEN CSV LEDGER CAMPAIGN``

``LEDGER`` is ``sqlite:PATH`` or ``redis:URL`` (a 2 s claim lease, so a killed worker's
claims are taken over quickly). Reads the CSV (``to,name``), sends one text per row with
``send_many(..., ledger=, campaign=)``. Prints ``STARTED`` after the first outcome and a
final ``{"summary": ...}`` line; meant to be killed with SIGKILL at any point.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from collections.abc import Iterator
from typing import Any

from campaign_run import run_and_report  # beside this script (run by path)

from sinch_async import SinchClient, TextBatchRequest
from sinch_async._ledger import Ledger, SqliteLedger

CONCURRENCY = 32
LEASE = 2.0


def requests(path: str) -> Iterator[TextBatchRequest]:
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            yield TextBatchRequest(to=[row["to"]], body=f"Hello {row['name']}")


async def open_ledger(spec: str) -> tuple[Ledger, Any]:
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return SqliteLedger(where), None
    import redis.asyncio as redis_asyncio

    from sinch_async.redis._ledger import RedisLedger

    redis = redis_asyncio.from_url(where)
    return RedisLedger(redis, lease=LEASE), redis


async def main(base_url: str, plan: str, token: str, path: str, spec: str, campaign: str) -> None:
    ledger, redis = await open_ledger(spec)
    try:
        async with SinchClient(service_plan_id=plan, api_token=token, base_url=base_url) as client:
            sm = client.batches.send_many(
                requests(path), concurrency=CONCURRENCY, ledger=ledger, campaign=campaign
            )
            await run_and_report(sm)
    finally:
        await ledger.aclose()
        if redis is not None:
            await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
    print("COMPLETED", flush=True)
