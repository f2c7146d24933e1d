"""Several worker processes sharing one plan limit: aggregate sends/s and limiter precision.

Run from the repository root (needs ``redis-server`` on PATH and ``redis`` installed)::

    python -m benchmarks.workers                      # 1, 2, 4 processes, 10 s each
    python -m benchmarks.workers --duration 4 --processes 4
    python -m benchmarks.workers --skip-naive --skip-ledger

Scenarios (one FakeSinch with ``messages_per_second=RATE`` served in this process, the
workers are ``tests/support/procs/proc_limiter.py`` child processes, each its own
``SinchClient`` with 3 sending tasks and batches of 1-50 recipients):

* **redis-N**: N workers, each ``RedisRateLimiter(redis, key, RATE)`` on one key. Reports
  the aggregate messages/s after the first second (least-squares slope of the cumulative
  count at the server), its error against RATE (target: within 3 %), sends/s and 429s
  (target: 0).
* **naive-N** (N > 1): the same workers with the in-process limiter at RATE each, which is
  what the Redis limiter replaces: the 429 storm it causes (count and share of sends).
* **ledger** (one process, no rate limit): sends/s of ``send_many`` with the sqlite3
  ledger vs none (``benchmarks.ledger``).

A Markdown table goes to stdout, everything measured to ``benchmarks/results/workers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sinch_async.testing import FakeSinch

from ._report import RESULTS, Row, code_info, machine_info, markdown

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.procs.proc_limiter import (  # noqa: E402
    accepted_arrivals,
    run_workers,
    send_arrivals,
    steady_rate,
)
from tests.support.redis_server import start_redis  # noqa: E402


async def workers(
    processes: int, *, rate: float, redis_url: str | None, duration: float
) -> dict[str, Any]:
    """One run: ``processes`` workers (shared Redis limiter, or in-process when
    ``redis_url`` is None) against a fresh FakeSinch limited to ``rate``."""
    key = f"sinch:bench:{time.time_ns()}"
    async with FakeSinch(messages_per_second=rate) as fake:
        summaries = await run_workers(
            fake, processes, rate=rate, redis_url=redis_url, key=key, duration=duration, quiet=True
        )
        arrivals = send_arrivals(fake)
        span = arrivals[-1][0] - arrivals[0][0] if len(arrivals) > 1 else 0.0
        accepted = fake.accepted_messages
        result = {
            "processes": processes,
            "shared": redis_url is not None,
            "rate": rate,
            "duration": duration,
            "send_requests": len(arrivals),
            "accepted_sends": sum(s["sends"] for s in summaries),
            "accepted_messages": accepted,
            "rate_limited": fake.rate_limited,
            "steady_rate": steady_rate(arrivals),
            "accepted_rate": steady_rate(accepted_arrivals(fake)),
            "sends_per_s": sum(s["sends"] for s in summaries) / span if span else 0.0,
            "errors": [s["errors"] for s in summaries],
        }
    result["precision"] = abs(result["steady_rate"] - rate) / rate
    return result


async def ledger(duration: float) -> dict[str, Any] | None:
    """Sends/s of ``send_many`` with ``SqliteLedger`` vs without, one process, no rate
    limit (``benchmarks.ledger``: FakeSinch at zero latency, best of 3)."""
    from .ledger import compare

    result = await compare(5000, 3)
    return {"none": result["none"], "sqlite3": result["sqlite"]}


def rows_for(result: dict[str, Any]) -> list[Row]:
    n = result["processes"]
    if result["shared"]:
        name = f"redis-{n} ({n} proc, RedisRateLimiter {result['rate']:g}/s)"
        return [
            Row(
                name,
                "msgs/s after 1st s",
                f"{result['steady_rate']:.1f} ({result['precision'] * 100:.2f} % off)",
                f"{result['rate']:g} ± 3 %",
                result["precision"] <= 0.03,
            ),
            Row(name, "sends/s", f"{result['sends_per_s']:.1f}"),
            Row(name, "429s", str(result["rate_limited"]), "0", result["rate_limited"] == 0),
        ]
    name = f"naive-{n} ({n} proc, in-process {result['rate']:g}/s each)"
    share = result["rate_limited"] / max(1, result["send_requests"])
    return [
        Row(
            name,
            "429s (storm replaced)",
            f"{result['rate_limited']} ({share * 100:.0f} % of sends)",
        ),
        Row(
            name,
            "msgs/s offered / accepted",
            f"{result['steady_rate']:.1f} / {result['accepted_rate']:.1f}",
        ),
    ]


async def main(args: argparse.Namespace) -> None:
    report: dict[str, Any] = {
        "argv": sys.argv,
        "code": code_info(),
        "machine": machine_info(),
        "runs": [],
    }
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_redis(Path(tmp))
        try:
            for n in args.processes:
                print(f"redis-{n} ...", file=sys.stderr)
                result = await workers(n, rate=args.rate, redis_url=url, duration=args.duration)
                report["runs"].append(result)
                rows += rows_for(result)
                if n > 1 and not args.skip_naive:
                    print(f"naive-{n} ...", file=sys.stderr)
                    result = await workers(
                        n, rate=args.rate, redis_url=None, duration=args.duration
                    )
                    report["runs"].append(result)
                    rows += rows_for(result)
        finally:
            proc.terminate()
            proc.wait(10)
    if not args.skip_ledger:
        led = await ledger(args.duration)
        report["ledger"] = led
        if led is not None:
            ratio = led["sqlite3"] / led["none"]
            rows.append(Row("ledger: none", "sends/s", f"{led['none']:.0f}"))
            rows.append(Row("ledger: sqlite3", "sends/s", f"{led['sqlite3']:.0f}"))
            rows.append(
                Row("ledger: sqlite3 / none", "ratio", f"{ratio:.2f}", ">= 0.80", ratio >= 0.8)
            )
    print(markdown(rows))
    RESULTS.mkdir(exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / "workers.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out}", file=sys.stderr)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rate", type=float, default=400.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--skip-ledger", action="store_true")
    p.add_argument("--out", default=None)
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
