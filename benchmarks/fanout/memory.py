"""Scenario 5, memory: ``send_many`` over a generator of ``--count`` requests against the
echo server, sampling the client's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import attrs

from sinch_async import SinchClient

from .._measure import Meter, log, mib, pct, wait_for_quiet
from .._report import Report, Row
from .._servers import PLAN, TOKEN, ServerProcess, ServerSpec, process_rss_bytes
from ._runs import Counts, text_requests


async def _memory_client(url: str, count: int, concurrency: int, every: int) -> dict[str, Any]:
    samples: list[dict[str, Any]] = []
    counts = Counts()
    client = SinchClient(PLAN, TOKEN, base_url=url, max_connections=concurrency)
    start = time.perf_counter()
    samples.append({"done": 0, "rss_mib": mib(process_rss_bytes()), "t": 0.0})
    async with client:
        async with client.batches.send_many(
            text_requests(0, count), concurrency=concurrency
        ) as outcomes:
            async for outcome in outcomes:
                if outcome.ok:
                    counts.ok += 1
                else:
                    counts.fail(repr(outcome.error))
                done = counts.ok + counts.failed
                if done % every == 0:
                    t = time.perf_counter() - start
                    rss = mib(process_rss_bytes())
                    samples.append({"done": done, "rss_mib": rss, "t": round(t, 2)})
                    log(f"memory: {done:>9,} outcomes, RSS {rss} MiB, {done / t:,.0f}/s")
        progress = outcomes.progress
    elapsed = time.perf_counter() - start
    return {
        "elapsed_s": elapsed,
        "sends_per_s": count / elapsed,
        "ok": counts.ok,
        "failed": counts.failed,
        "first_error": counts.first_error,
        "progress": attrs.asdict(progress),
        "samples": samples,
    }


def scenario_memory(args: argparse.Namespace, report: Report) -> None:
    count, every = args.count, args.sample_every
    log(f"memory: {count:,} sends vs the echo server, concurrency={args.concurrency}")
    spec = ServerSpec("echo", max_lifetime=count / 200 + 300)
    load_before = wait_for_quiet()
    with ServerProcess(spec) as server:
        meter = Meter(server)
        meter.start()
        result = asyncio.run(_memory_client(server.base_url, count, args.concurrency, every))
        meter.stop()
        result["server_stats"] = server.stop()
    result.update(
        client_cpu_s=meter.client_cpu, server_cpu_s=meter.server_cpu, other_cpu_s=meter.other_cpu
    )
    result["load_before"] = load_before
    later = [s["rss_mib"] for s in result["samples"] if s["done"] >= 100_000]
    growth = (max(later) - min(later)) if len(later) >= 2 else None
    result["growth_after_100k_mib"] = growth
    report.data["memory"] = {
        "count": count,
        "concurrency": args.concurrency,
        "sample_every": every,
        **result,
    }
    scen = f"5. memory, {count:,} sends (echo)"
    samples = result["samples"]
    report.rows += [
        Row(
            scen,
            f"RSS every {every:,} outcomes (MiB)",
            ", ".join(f"{s['rss_mib']:g}" for s in samples),
        ),
        Row(
            scen,
            "RSS growth, max - min after 100k (MiB)",
            "n/a (fewer than 2 samples)" if growth is None else f"{growth:.1f}",
            "<= 8 MiB (flat)",
            None if growth is None else growth <= 8.0,
        ),
        Row(scen, "sends/s", f"{result['sends_per_s']:,.0f}"),
        Row(
            scen,
            "CPU client / server / other",
            " / ".join(
                pct(None if v is None else v / result["elapsed_s"])
                for v in (meter.client_cpu, meter.server_cpu, meter.other_cpu)
            ),
        ),
        Row(scen, "failed sends", str(result["failed"]), "0", result["failed"] == 0),
    ]
