"""A campaign says "complete" only when it is, with real processes (issue 17, section 1).

Three ``sinch-async send-bulk --redis URL --lease 1`` workers share a campaign; one of them
is SIGKILLed at a random point (by the server's progress) and restarted at once, once or
twice per round. Invariants, checked per worker as it exits:

* a worker that exits 0 says ``"complete": true``, and at that moment the server stores
  every row exactly once (the dead worker's claimed rows were taken over, not left);
* a worker that exits 4 says ``"complete": false`` and names rows without a final outcome;
  no other exit code;
* ``sinch-async campaign status`` agrees with the server: its ``sent`` is the number of
  rows the server stores, each once, with the batch id the ledger recorded.

Rounds with the default ``--takeover-wait`` (the lease plus 2 s) must end with every live
worker exiting 0: the usual crash needs no second run. A last round kills a worker with a
5 s lease and does not restart it, and the others run with ``--takeover-wait 0``: they
finish before its claims run out, so they cannot finish the campaign and say so (exit 4,
the rows named), ``campaign status`` says so too, and one more run after the lease
completes it. Seeds are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from sinch_async.testing import FakeSinch

N = 1500
LATENCY = 0.005
LEASE = 1.0
CONCURRENCY = "16"


@attrs.define
class Exit:
    """A worker that exited: its code, its JSON summary, the server's refs at that time."""

    code: int
    summary: dict[str, Any] | None
    refs: Counter[str]
    stderr: str


def write_csv(path: Path, n: int) -> Path:
    rows = [f"+4670{i:07d},Person {i}" for i in range(n)]
    path.write_text("to,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def child_env(fake: FakeSinch) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    env.update(
        SINCH_SERVICE_PLAN_ID=fake.service_plan_id,
        SINCH_API_TOKEN=fake.api_token,
        SINCH_BASE_URL=fake.base_url,
    )
    return env


def refs(fake: FakeSinch) -> Counter[str]:
    return Counter(b.get("client_reference") for b in fake.batches.values())


async def cli(fake: FakeSinch, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sinch_async",
        "--json",
        *args,
        env=child_env(fake),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def watch(proc: asyncio.subprocess.Process, fake: FakeSinch) -> Exit:
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    at_exit = refs(fake)
    lines = out.decode().strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    assert proc.returncode is not None
    return Exit(proc.returncode, summary, at_exit, err.decode()[-2000:])


async def status(fake: FakeSinch, campaign: str, redis_url: str) -> tuple[int, dict[str, Any]]:
    proc = await cli(fake, "campaign", "status", "--campaign", campaign, "--redis", redis_url)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode in (0, 4), err.decode()
    data: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return proc.returncode, data


def check_exit(e: Exit, campaign: str, context: str) -> None:
    expected = {f"{campaign}:{i}" for i in range(N)}
    ctx = f"{context} exit={e.code} summary={e.summary} stderr={e.stderr}"
    assert e.code in (0, 4), ctx
    assert e.summary is not None, ctx
    twice = {r: n for r, n in e.refs.items() if n > 1}
    assert not twice, f"{ctx}: stored twice: {list(twice.items())[:5]}"
    if e.code == 0:
        assert e.summary["complete"] is True, ctx
        # "complete" is true: every row is on the server, once
        mine = {r for r in e.refs if r.startswith(campaign + ":")}
        assert mine == expected, f"{ctx}: {len(expected - mine)} rows not stored at exit"
        assert e.summary["status"]["sent"] == N and e.summary["open_rows"] == [], ctx
    else:
        assert e.summary["complete"] is False and e.summary["open_rows"], ctx


async def one_round(
    fake: FakeSinch,
    redis_url: str,
    csv_file: Path,
    campaign: str,
    rng: random.Random,
    *,
    lease: float,
    restart: bool,
    extra: tuple[str, ...] = (),
) -> tuple[list[Exit], int]:
    """Three workers, one killed (and, with ``restart``, restarted at once; 1 or 2
    times); every exit."""
    args = ["send-bulk", "--csv", str(csv_file), "--body", "Hello {name}"]
    args += ["--campaign", campaign, "--redis", redis_url, "--lease", str(lease)]
    args += ["--concurrency", CONCURRENCY, *extra]
    before = len(fake.batches)
    procs = [await cli(fake, *args) for _ in range(3)]
    watches = {p: asyncio.ensure_future(watch(p, fake)) for p in procs}
    kills = 0
    victim = procs[rng.randrange(3)]
    times = rng.choice((1, 2)) if restart else 1
    for target in sorted(rng.sample(range(N // 10, N * 6 // 10), times)):
        while len(fake.batches) - before < target and victim.returncode is None:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        await asyncio.sleep(rng.uniform(0, 0.02))
        if victim.returncode is not None:
            break
        victim.send_signal(signal.SIGKILL)
        killed = await watches.pop(victim)
        assert killed.code == -signal.SIGKILL, killed
        kills += 1
        if restart:
            victim = await cli(fake, *args)  # restarted at once
            watches[victim] = asyncio.ensure_future(watch(victim, fake))
    exits = list(await asyncio.gather(*watches.values()))
    return exits, kills


@pytest.mark.slow
async def test_three_workers_one_killed_and_restarted(redis_client: Any, redis_url: str) -> None:
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    from sinch_async.redis._ledger import RedisLedger

    tmp = Path(__file__).parent / f".takeover-{seed}.csv"
    csv_file = write_csv(tmp, N)
    rounds: list[dict[str, Any]] = [
        {"lease": LEASE, "restart": True},
        {"lease": LEASE, "restart": True},
        {"lease": 5.0, "restart": False, "extra": ("--takeover-wait", "0")},
    ]
    try:
        async with FakeSinch(latency=LATENCY) as fake:
            for n, options in enumerate(rounds):
                campaign = f"takeover-{seed}-{n}"
                context = f"seed={seed} round={n} {options}"
                exits, kills = await one_round(fake, redis_url, csv_file, campaign, rng, **options)
                context += f" kills={kills} codes={[e.code for e in exits]}"
                assert kills >= 1, f"{context}: the victim finished before the kill"
                for e in exits:
                    check_exit(e, campaign, context)
                if "extra" not in options:  # the usual crash needs no second run
                    assert all(e.code == 0 for e in exits), context
                code, st = await status(fake, campaign, redis_url)
                if code == 4:  # a run could not finish: it said so; one more run does
                    assert any(e.code == 4 for e in exits), f"{context}: status={st}"
                    assert st["claimed"] + st["in_doubt"] + st["not_started"] > 0, st
                    await asyncio.sleep(options["lease"] + 0.2)
                    args = ["send-bulk", "--csv", str(csv_file), "--body", "Hello {name}"]
                    args += ["--campaign", campaign, "--redis", redis_url]
                    last = await watch(await cli(fake, *args), fake)
                    check_exit(last, campaign, context + " (after the lease)")
                    assert last.code == 0, context
                    code, st = await status(fake, campaign, redis_url)
                # campaign status agrees with the server
                assert code == 0 and st["complete"], f"{context}: status={st}"
                stored = {r: n for r, n in refs(fake).items() if r.startswith(campaign + ":")}
                assert st["sent"] == len(stored) == N and set(stored.values()) == {1}, context
                by_ref = {
                    b["client_reference"]: i
                    for i, b in fake.batches.items()
                    if b["client_reference"].startswith(campaign + ":")
                }
                records = await RedisLedger(redis_client).records(campaign)
                assert [r.index for r in records] == list(range(N)), context
                assert all(r.state == "ok" and by_ref[r.reference] == r.batch_id for r in records)
                taken = [e.summary["taken_over"] for e in exits if e.summary]
                print(f"{context} taken_over={taken} final_status={code}")
    finally:
        tmp.unlink(missing_ok=True)
