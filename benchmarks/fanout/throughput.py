"""Scenario 1, throughput: raw aiohttp vs ``send_many`` (and with retries off) at zero
latency, against FakeSinch and the echo server.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._measure import log
from .._report import Report, Row
from .._servers import ServerKind, ServerSpec
from ._runs import all_ok, cpu_per_send, cpu_text, interleaved, median_rate


def scenario_throughput(args: argparse.Namespace, report: Report) -> None:
    section: dict[str, Any] = {
        "n": args.n,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "repeats": args.repeats,
    }
    kinds: tuple[ServerKind, ...] = ("fake", "echo")
    for kind in kinds:
        label = "FakeSinch" if kind == "fake" else "echo server"
        log(f"throughput: {label}, n={args.n}, concurrency={args.concurrency}")
        runs = interleaved(
            ServerSpec(kind),
            args.n,
            args.concurrency,
            args.warmup,
            args.repeats,
            ("raw", "sdk", "sdk_noretry"),
        )
        raw, sdk = median_rate(runs["raw"]), median_rate(runs["sdk"])
        noretry = median_rate(runs["sdk_noretry"])
        ratio = sdk / raw
        if kind == "fake":
            report.context["fake_ceiling"] = raw
            report.context["fake_ceiling_sdk"] = sdk
        section[kind] = {
            "raw_median": raw,
            "sdk_median": sdk,
            "sdk_noretry_median": noretry,
            "ratio": ratio,
            "client_cpu_us_per_send": {c: cpu_per_send(r) for c, r in runs.items()},
            "all_ok": all(all_ok(r) for r in runs.values()),
            "runs": {k: [r.as_json() for r in v] for k, v in runs.items()},
        }
        scen = f"1. zero latency, {label}"
        reps = f"median of {args.repeats}"
        per_send = section[kind]["client_cpu_us_per_send"]
        report.rows += [
            Row(scen, f"raw aiohttp sends/s ({reps})", f"{raw:,.0f}", "ceiling"),
            Row(
                scen,
                f"send_many sends/s ({reps})",
                f"{sdk:,.0f}",
                f">= {0.85 * raw:,.0f} (0.85 x raw)",
                sdk >= 0.85 * raw,
            ),
            Row(scen, "send_many / raw", f"{ratio:.3f}", ">= 0.85", ratio >= 0.85),
            Row(scen, "CPU raw: client / server / other", cpu_text(runs["raw"])),
            Row(scen, "CPU send_many: client / server / other", cpu_text(runs["sdk"])),
            Row(
                scen,
                "client CPU per send: raw / send_many / retry-off",
                " / ".join(
                    "?" if per_send[c] is None else f"{per_send[c]:.0f} us"
                    for c in ("raw", "sdk", "sdk_noretry")
                ),
            ),
            Row(
                scen,
                "diagnostic: send_many with RetryPolicy.disabled() sends/s",
                f"{noretry:,.0f} ({noretry / raw:.3f} x raw)",
            ),
        ]
        if not section[kind]["all_ok"]:
            report.rows.append(Row(scen, "failed sends", "some runs had failures", "0", False))
    report.data["throughput"] = section
