"""Crash-safe campaigns for real: child processes killed with SIGKILL mid-run, resumed.

Invariant: after the campaign is finished (rerun until a run completes), the server
stores every request exactly once (by ``client_reference``) and the ledger holds exactly
one outcome per request: ``ok`` with the id of the batch the server stored for it.

* ``test_sqlite_campaign_survives_sigkills`` (slow): 5,000 CSV rows, one process
  (``tests/support/procs/proc_campaign.py``) with a ``SqliteLedger``, SIGKILLed at 5 random points,
  resumed each time. FakeSinch runs in this test's event loop (a little latency), so it
  sees everything a child sent even after the child died.
* ``test_redis_campaign_four_workers_one_killed`` (slow): 4 processes share a
  ``RedisLedger``; one is SIGKILLed mid-run; the others finish; a rerun takes over the
  dead worker's claims (in doubt: looked up, then sent only if not found).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sinch_async._ledger import LedgerRecord, SqliteLedger
from sinch_async.testing import FakeSinch
from tests.support.paths import PROCS

SCRIPT = PROCS / "proc_campaign.py"
COUNT = 5000
LATENCY = 0.005
KILLS = 5
CAMPAIGN = "proc-campaign"
SETTLE = 0.3


def write_csv(path: Path, n: int) -> Path:
    rows = [f"+4670{i:07d},Person {i}" for i in range(n)]
    path.write_text("to,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


async def start(fake: FakeSinch, csv_file: Path, ledger: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        fake.base_url,
        fake.service_plan_id,
        fake.api_token,
        str(csv_file),
        ledger,
        CAMPAIGN,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def kill_after_start(proc: asyncio.subprocess.Process, delay: float) -> bool:
    """SIGKILL ``delay`` s after the child's first outcome; False if it finished first."""
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    if first != b"STARTED\n":
        await proc.wait()
        return False
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), delay)
        return False
    except TimeoutError:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return True


async def kill_at_progress(
    proc: asyncio.subprocess.Process, fake: FakeSinch, target: int, rng: random.Random
) -> bool:
    """SIGKILL once the server has stored ``target`` batches (plus a random 0-20 ms, so
    the kill lands anywhere in a send); False if the child finished first."""
    while len(fake.batches) < target and proc.returncode is None:  # noqa: ASYNC110
        await asyncio.sleep(0.002)
    await asyncio.sleep(rng.uniform(0, 0.02))
    if proc.returncode is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    return True


async def run_to_completion(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    text = out.decode()
    assert proc.returncode == 0 and "COMPLETED" in text, f"{text}\n{err.decode()}"
    line = next(x for x in text.splitlines() if x.startswith('{"summary"'))
    summary: dict[str, Any] = json.loads(line)["summary"]
    return summary


def check(stored: dict[str, dict[str, Any]], records: list[LedgerRecord], context: str) -> None:
    by_ref: dict[str, list[str]] = {}
    for batch_id, batch in stored.items():
        by_ref.setdefault(batch["client_reference"], []).append(batch_id)
    twice = {r: ids for r, ids in by_ref.items() if len(ids) > 1}
    assert not twice, f"{context}: stored more than once: {list(twice.items())[:5]}"
    expected = {f"{CAMPAIGN}:{i}" for i in range(COUNT)}
    assert set(by_ref) == expected, f"{context}: {len(expected - set(by_ref))} never stored"
    assert [r.index for r in records] == list(range(COUNT)), f"{context}: ledger rows"
    for r in records:
        assert r.state == "ok", f"{context}: {r}"
        assert by_ref[r.reference] == [r.batch_id], f"{context}: {r} vs {by_ref[r.reference]}"


@pytest.mark.slow
@pytest.mark.parametrize("skew", [0.0, -10.0])
async def test_sqlite_campaign_survives_sigkills(tmp_path: Path, skew: float) -> None:
    """``skew``: Sinch's clock against this host's (-10: Sinch 10 s behind, so a lookup
    dated on this host's clock would miss the batches a killed run made)."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    csv_file = write_csv(tmp_path / "rows.csv", COUNT)
    ledger_path = tmp_path / "campaign.db"
    kills = 0
    # kill points by progress (batches the server stored), not by time: every kill lands
    # mid-campaign however fast this machine is
    targets = sorted(rng.sample(range(100, COUNT - 300), KILLS))
    now = (lambda: datetime.now(UTC) + timedelta(seconds=skew)) if skew else None
    async with FakeSinch(latency=LATENCY, now=now) as fake:
        for target in targets:
            proc = await start(fake, csv_file, f"sqlite:{ledger_path}")
            kills += await kill_at_progress(proc, fake, target, rng)
        summary = await run_to_completion(await start(fake, csv_file, f"sqlite:{ledger_path}"))
        await asyncio.sleep(SETTLE)
        stored = dict(fake.batches)
    context = f"seed={seed} skew={skew} kills={kills} final={summary}"
    assert kills >= 3, f"{context}: the runs finished before the kills"
    assert summary["resumed"] > 0, context
    async with SqliteLedger(ledger_path) as ledger:
        records = await ledger.records(CAMPAIGN)
    check(stored, records, context)


@pytest.mark.slow
async def test_redis_campaign_four_workers_one_killed(redis_client: Any, redis_url: str) -> None:
    from sinch_async.redis._ledger import RedisLedger

    seed = random.randrange(2**32)
    delay = random.Random(seed).uniform(0.2, 1.0)
    csv_file = write_csv(tmp := Path(__file__).parent / f".campaign-{seed}.csv", COUNT)
    spec = f"redis:{redis_url}"
    try:
        async with FakeSinch(latency=LATENCY) as fake:
            procs = [await start(fake, csv_file, spec) for _ in range(4)]
            victim, *others = procs
            killed = await kill_after_start(victim, delay)
            summaries = [await run_to_completion(p) for p in others]
            await asyncio.sleep(2.5)  # the dead worker's 2 s leases run out
            final = await run_to_completion(await start(fake, csv_file, spec))
            await asyncio.sleep(SETTLE)
            stored = dict(fake.batches)
    finally:
        tmp.unlink(missing_ok=True)
    context = f"seed={seed} killed={killed} summaries={summaries} final={final}"
    assert killed, f"{context}: the victim finished before the kill"
    assert sum(s["claimed_elsewhere"] for s in summaries) > 0, f"{context}: no sharing"
    records = await RedisLedger(redis_client).records(CAMPAIGN)
    check(stored, records, context)
    assert Counter(r.state for r in records) == {"ok": COUNT}
