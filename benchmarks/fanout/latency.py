"""Scenario 2, latency: raw aiohttp vs ``send_many`` against FakeSinch +20 ms, with the
same delay behind the echo server as a diagnostic.
"""

from __future__ import annotations

import argparse

from .._measure import log
from .._report import Report, Row
from .._servers import ServerSpec
from ._runs import all_ok, cpu_text, interleaved, median_rate, run_http


def scenario_latency(args: argparse.Namespace, report: Report) -> None:
    latency = 0.020
    ceiling = report.context.get("fake_ceiling")
    ceiling_source = "throughput scenario (raw vs FakeSinch, median)"
    if ceiling is None:
        log("latency: measuring FakeSinch's zero-latency ceiling first (1 raw run)")
        ceiling = run_http(
            "raw", ServerSpec("fake"), args.n, args.concurrency, args.warmup
        ).sends_per_s
        ceiling_source = "one raw run vs FakeSinch at zero latency"
    ideal = args.concurrency / latency
    target = 0.9 * min(ideal, ceiling)
    log(f"latency: FakeSinch +20 ms, n={args.latency_n}, concurrency={args.concurrency}")
    runs = interleaved(
        ServerSpec("fake", latency=latency),
        args.latency_n,
        args.concurrency,
        args.warmup,
        args.repeats,
    )
    raw, sdk = median_rate(runs["raw"]), median_rate(runs["sdk"])
    # Diagnostic: the same delay behind a server that does (almost) no work shows what
    # C / (20 ms + timer and scheduling slack) allows here, whatever FakeSinch costs.
    log(f"latency: echo server +20 ms (diagnostic), n={args.latency_n}")
    echo_runs = interleaved(
        ServerSpec("echo", latency=latency),
        args.latency_n,
        args.concurrency,
        args.warmup,
        args.repeats,
    )
    echo_raw, echo_sdk = median_rate(echo_runs["raw"]), median_rate(echo_runs["sdk"])
    report.data["latency"] = {
        "latency_s": latency,
        "n": args.latency_n,
        "concurrency": args.concurrency,
        "ideal": ideal,
        "ceiling": ceiling,
        "ceiling_source": ceiling_source,
        "target": target,
        "raw_median": raw,
        "sdk_median": sdk,
        "all_ok": all_ok(runs["raw"]) and all_ok(runs["sdk"]),
        "runs": {k: [r.as_json() for r in v] for k, v in runs.items()},
        "echo_raw_median": echo_raw,
        "echo_sdk_median": echo_sdk,
        "echo_runs": {k: [r.as_json() for r in v] for k, v in echo_runs.items()},
    }
    scen = f"2. FakeSinch +20 ms, C={args.concurrency}"
    tgt = f">= {target:,.0f} (0.9 x min({ideal:,.0f}, {ceiling:,.0f}))"
    report.rows += [
        Row(
            scen,
            f"raw aiohttp sends/s (median of {args.repeats})",
            f"{raw:,.0f}",
            tgt,
            raw >= target,
        ),
        Row(
            scen, f"send_many sends/s (median of {args.repeats})", f"{sdk:,.0f}", tgt, sdk >= target
        ),
        Row(scen, "send_many / raw", f"{sdk / raw:.3f}"),
        Row(scen, "CPU raw: client / server / other", cpu_text(runs["raw"])),
        Row(scen, "CPU send_many: client / server / other", cpu_text(runs["sdk"])),
        Row(
            scen,
            "diagnostic: echo server +20 ms, raw / send_many sends/s",
            f"{echo_raw:,.0f} / {echo_sdk:,.0f}",
        ),
        Row(
            scen,
            "implied mean round trip, FakeSinch raw / send_many (ms)",
            f"{args.concurrency / raw * 1000:.1f} / {args.concurrency / sdk * 1000:.1f}",
        ),
    ]
