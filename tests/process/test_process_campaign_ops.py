"""A campaign worker stopped past its lease (SIGSTOP, Ctrl-Z, a paused VM) and continued
after another worker finished its rows sends nothing that worker sent (issue 15, point 4).

Real processes on a real redis-server: worker A waits for rate budget with many rows
claimed; it is SIGSTOPped; worker B runs the campaign (again after A's leases ran out,
so it takes A's rows over); A is continued. Every row must be stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from typing import Any

import pytest

from sinch_async.testing import FakeSinch
from tests.support.paths import PROCS

SCRIPT = PROCS / "proc_stalled_worker.py"
N = 300
LEASE = 1.0
CAMPAIGN = "stalled"


async def start(
    fake: FakeSinch, redis_url: str, mps: float, concurrency: int
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        fake.base_url,
        fake.service_plan_id,
        fake.api_token,
        redis_url,
        CAMPAIGN,
        str(N),
        str(mps),
        str(LEASE),
        str(concurrency),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0 and "COMPLETED" in text, f"{text}\n{err.decode()}"
    line = next(x for x in text.splitlines() if x.startswith('{"summary"'))
    summary: dict[str, Any] = json.loads(line)["summary"]
    return summary


@pytest.mark.slow
async def test_worker_stopped_past_its_lease_sends_nothing_another_sent(
    redis_client: Any, redis_url: str
) -> None:
    async with FakeSinch(latency=0.002) as fake:
        slow = await start(fake, redis_url, mps=20, concurrency=64)
        assert slow.stdout is not None
        assert await asyncio.wait_for(slow.stdout.readline(), 60) == b"STARTED\n"
        while len(fake.batches) < 10:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        slow.send_signal(signal.SIGSTOP)
        try:
            stopped_at = len(fake.batches)
            runs = []
            for _ in range(5):  # until the other worker has taken every row over
                await asyncio.sleep(LEASE + 0.3)
                runs.append(await finish(await start(fake, redis_url, mps=5000, concurrency=32)))
                if runs[-1]["claimed_elsewhere"] == 0:
                    break
            assert runs[-1]["claimed_elsewhere"] == 0, runs
            done_by_b = len(fake.batches)
        finally:
            slow.send_signal(signal.SIGCONT)
        summary_a = await finish(slow)
        await asyncio.sleep(0.2)
        refs = Counter(b.get("client_reference") for b in fake.batches.values())
    twice = {r: n for r, n in refs.items() if n > 1}
    context = f"stopped_at={stopped_at} done_by_b={done_by_b} a={summary_a} b={runs}"
    assert not twice, f"{context}: sent twice: {twice}"
    assert set(refs) == {f"{CAMPAIGN}:{i}" for i in range(N)}, context
    assert summary_a["claimed_elsewhere"] > 0, context  # A held rows it then gave up
