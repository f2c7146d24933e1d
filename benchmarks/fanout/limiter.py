"""Scenario 4, limiter: the client's messages-per-second limit against the same limit in
FakeSinch, batches of mixed sizes for ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Iterator, Sequence
from typing import Any

from sinch_async import SinchClient, TextBatchRequest

from .._measure import Meter, log, wait_for_quiet
from .._report import Report, Row
from .._servers import PLAN, TOKEN, ServerProcess, ServerSpec
from ._runs import BODY, Counts, msisdn

LIMITER_SIZES = (1, 2, 5, 10, 25, 50)


def _limited_requests(deadline: float, sizes: Sequence[int]) -> Iterator[TextBatchRequest]:
    """Batches cycling through ``sizes`` recipients, produced until ``deadline``."""
    i = 0
    for size in itertools.cycle(sizes):
        if time.monotonic() >= deadline:
            return
        yield TextBatchRequest(to=tuple(msisdn(i + k) for k in range(size)), body=BODY)
        i += size


async def _limiter_client(
    url: str, rate: float, duration: float, concurrency: int, meter: Meter
) -> dict[str, Any]:
    client = SinchClient(
        PLAN, TOKEN, base_url=url, messages_per_second=rate, max_connections=concurrency
    )
    done: list[tuple[float, int]] = []
    counts = Counts()
    async with client:
        meter.start()
        start = time.monotonic()
        requests = _limited_requests(start + duration, LIMITER_SIZES)
        async with client.batches.send_many(requests, concurrency=concurrency) as outcomes:
            async for outcome in outcomes:
                if outcome.ok:
                    counts.ok += 1
                    done.append((time.monotonic() - start, len(outcome.request.to)))
                else:
                    counts.fail(repr(outcome.error))
        elapsed = time.monotonic() - start
        meter.stop()
        pauses = client.limits.pauses
    total = sum(m for _, m in done)
    after_first = sum(m for t, m in done if t >= 1.0)
    per_second: dict[int, int] = {}
    for t, m in done:
        per_second[int(t)] = per_second.get(int(t), 0) + m
    in_window = sum(m for t, m in done if 1.0 <= t < duration)
    return {
        "elapsed_s": elapsed,
        "batches_ok": counts.ok,
        "batches_failed": counts.failed,
        "first_error": counts.first_error,
        "messages": total,
        "overall_rate": total / elapsed,
        "steady_rate": after_first / (elapsed - 1.0),
        "feeding_window_rate": in_window / (duration - 1.0),
        "first_second_messages": total - after_first,
        "messages_per_second_bucket": per_second,
        "client_429_pauses": pauses,
        "client_cpu_s": meter.client_cpu,
        "server_cpu_s": meter.server_cpu,
        "other_cpu_s": meter.other_cpu,
    }


def scenario_limiter(args: argparse.Namespace, report: Report) -> None:
    rate = 500.0
    log(f"limiter: {rate:g} msg/s on both sides, sizes {LIMITER_SIZES}, {args.duration:g}s")
    spec = ServerSpec("fake", messages_per_second=rate, max_lifetime=args.duration + 300)
    load_before = wait_for_quiet()
    with ServerProcess(spec) as server:
        meter = Meter(server)
        result = asyncio.run(
            _limiter_client(server.base_url, rate, args.duration, args.concurrency, meter)
        )
        stats = server.stop()
    result["server_stats"] = stats
    result["load_before"] = load_before
    rejected = int(stats.get("rate_limited", -1))
    steady, overall = result["steady_rate"], result["overall_rate"]
    log(
        f"limiter: steady {steady:.1f} msg/s, overall {overall:.1f} msg/s, "
        f"{rejected} x 429, {result['batches_failed']} failed batches"
    )
    report.data["limiter"] = {
        "rate": rate,
        "sizes": LIMITER_SIZES,
        "duration": args.duration,
        "concurrency": args.concurrency,
        **result,
    }
    scen = f"4. limiter {rate:g} msg/s, {args.duration:g} s"
    band = f"{rate * 0.97:g} .. {rate * 1.03:g}"
    report.rows += [
        Row(
            scen,
            "messages/s after the first second",
            f"{steady:.1f}",
            band,
            abs(steady - rate) <= 0.03 * rate,
        ),
        Row(scen, "messages/s overall (incl. initial burst)", f"{overall:.1f}"),
        Row(
            scen,
            f"messages/s within [1 s, {args.duration:g} s)",
            f"{result['feeding_window_rate']:.1f}",
        ),
        Row(scen, "server 429s", str(rejected), "0", rejected == 0),
        Row(
            scen,
            "failed batches",
            str(result["batches_failed"]),
            "0",
            result["batches_failed"] == 0,
        ),
    ]
