"""Child process for ``tests/process/test_process_campaign_ops.py``: one campaign worker on a
RedisLedger.

Usage: ``proc_stalled_worker.py BASE_URL SERVICE_PLAN_ID API_TOKEN REDIS_URL CAMPAIGN N MPS
LEASE CONCURRENCY``

Sends N single-recipient texts (``send_many`` with a ``RedisLedger`` whose claims last
LEASE seconds) at MPS messages per second. Prints ``STARTED`` after the first outcome and
a final ``{"summary": ...}`` line. Meant to be stopped with SIGSTOP while its sends wait
for budget, and continued after its leases expired.
"""

from __future__ import annotations

import asyncio
import sys

from campaign_run import run_and_report  # beside this script (run by path)

from sinch_async import SinchClient, TextBatchRequest


async def main(
    base_url: str,
    plan: str,
    token: str,
    redis_url: str,
    campaign: str,
    n: str,
    mps: str,
    lease: str,
    concurrency: str,
) -> None:
    import redis.asyncio as redis_asyncio

    from sinch_async.redis._ledger import RedisLedger

    redis = redis_asyncio.from_url(redis_url)
    ledger = RedisLedger(redis, lease=float(lease))
    requests = [TextBatchRequest(to=[f"+4670{i:07d}"], body=f"Hello {i}") for i in range(int(n))]
    try:
        async with SinchClient(
            service_plan_id=plan,
            api_token=token,
            base_url=base_url,
            messages_per_second=float(mps),
        ) as client:
            sm = client.batches.send_many(
                requests, concurrency=int(concurrency), ledger=ledger, campaign=campaign
            )
            await run_and_report(sm)
    finally:
        await ledger.aclose()
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:10]))
    print("COMPLETED", flush=True)
