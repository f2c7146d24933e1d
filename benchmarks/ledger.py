"""Campaign ledger overhead: ``send_many`` sends/s with a ``SqliteLedger`` vs none.

FakeSinch at zero latency in the same process (the worst case for the ledger: nothing
else to wait for). Run: ``.venv/bin/python -m benchmarks.ledger [COUNT] [REPEATS]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sinch_async import TextBatchRequest
from sinch_async._ledger import SqliteLedger
from sinch_async.testing import FakeSinch


def _requests(n: int) -> list[TextBatchRequest]:
    return [TextBatchRequest(to=[f"+4670{i:07d}"], body=f"bench {i}") for i in range(n)]


async def sends_per_second(count: int, *, ledger: bool, concurrency: int = 32) -> float:
    """Sends/s of one ``send_many`` run of ``count`` requests (with or without a ledger)."""
    async with FakeSinch() as fake, fake.client(max_concurrency=concurrency) as client:
        with tempfile.TemporaryDirectory() as tmp:
            led = SqliteLedger(Path(tmp) / "bench.db") if ledger else None
            kwargs = (
                {"ledger": led, "campaign": "bench"} if led else {"auto_client_reference": True}
            )
            start = time.perf_counter()
            async with client.batches.send_many(
                _requests(count), concurrency=concurrency, **kwargs
            ) as sm:
                async for outcome in sm:
                    assert outcome.ok
            elapsed = time.perf_counter() - start
            if led is not None:
                await led.aclose()
    return count / elapsed


async def compare(count: int = 5000, repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` runs each, alternating; ``ratio`` = ledger / none."""
    none, sqlite = [], []
    for _ in range(repeats):
        none.append(await sends_per_second(count, ledger=False))
        sqlite.append(await sends_per_second(count, ledger=True))
    result = {"none": max(none), "sqlite": max(sqlite)}
    result["ratio"] = result["sqlite"] / result["none"]
    return result


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    r = asyncio.run(compare(count, repeats))
    print(
        f"{count} sends, best of {repeats}: none {r['none']:.0f}/s, "
        f"SqliteLedger {r['sqlite']:.0f}/s, ratio {r['ratio']:.2f}"
    )
