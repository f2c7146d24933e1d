"""The command line of ``python -m benchmarks.fanout``: options, the scenarios to run,
the Markdown table on stdout and the JSON document.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from .._measure import DISCARDED, SETTINGS, log
from .._report import RESULTS, Report, code_info, machine_info, markdown
from .latency import scenario_latency
from .limiter import scenario_limiter
from .memory import scenario_memory
from .official import scenario_official
from .profiling import scenario_profile
from .throughput import scenario_throughput

SCENARIOS = ("all", "throughput", "latency", "official", "limiter", "memory", "profile")
ALL = ("throughput", "latency", "official", "limiter")


RUNNERS: dict[str, Callable[[argparse.Namespace, Report], None]] = {
    "throughput": scenario_throughput,
    "latency": scenario_latency,
    "official": scenario_official,
    "limiter": scenario_limiter,
    "memory": scenario_memory,
    "profile": scenario_profile,
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fanout",
        description="Fan-out benchmark of sinch_async send_many (servers on 127.0.0.1 only).",
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        default="all",
        choices=SCENARIOS,
        help="'all' = throughput, latency, official, limiter (plus memory when --count is given)",
    )
    parser.add_argument(
        "--n", type=int, default=5000, help="sends per zero-latency run (default 5000)"
    )
    parser.add_argument(
        "--latency-n", type=int, default=3000, help="sends per 20 ms-latency run (default 3000)"
    )
    parser.add_argument(
        "--official-n",
        type=int,
        default=2000,
        help="sends per official-SDK run, capped by --n (default 2000)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="sends in flight (64)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per client (3)")
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured sends before each measured run (200)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="limiter run length in seconds (10)"
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        help="memory: sends from the generator (default 1,000,000)",
    )
    parser.add_argument(
        "--sample-every",
        type=int,
        default=50_000,
        help="memory: RSS sample interval in outcomes (50,000)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="wait up to this many seconds before each run for other CPU load to drop (30)",
    )
    parser.add_argument(
        "--label", default="", help="free text stored in the JSON (e.g. which code state)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default benchmarks/results/fanout.json for 'all', "
        "else benchmarks/results/fanout-<scenario>.json)",
    )
    args = parser.parse_args(argv)
    for name in ("n", "latency_n", "official_n", "concurrency", "repeats", "sample_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0 or args.duration <= 1.0:
        parser.error("--warmup must be >= 0 and --duration > 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    SETTINGS.settle = max(0.0, args.settle)
    if args.scenario == "all":
        selected = list(ALL) + (["memory"] if args.count is not None else [])
    else:
        selected = [args.scenario]
    if args.count is None:
        args.count = 1_000_000
    out: Path = args.out or RESULTS / (
        "fanout.json" if args.scenario == "all" else f"fanout-{args.scenario}.json"
    )
    report = Report()
    started = datetime.now(UTC)
    for name in selected:
        t0 = time.monotonic()
        RUNNERS[name](args, report)
        log(f"{name}: done in {time.monotonic() - t0:.1f}s")
    document = {
        "command": shlex.join(["python", "-m", "benchmarks.fanout", *argv]),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "label": args.label,
        "code": code_info(),
        "machine": machine_info(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "scenarios": report.data,
        "discarded_disturbed_runs": DISCARDED,
        "table": [asdict(r) for r in report.rows],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    if args.label:
        print(f"**{args.label}**\n")
    print(markdown(report.rows))
    print(f"\nJSON: {out}")
    return 0
