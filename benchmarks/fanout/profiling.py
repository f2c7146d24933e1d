"""Scenario 6, profile (not in ``all``): cProfile one raw and one ``send_many`` run against
the echo server and diff them per send.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
from pathlib import Path
from typing import Any

from .._measure import Meter, log, wait_for_quiet
from .._report import RESULTS, Report, Row
from .._servers import ServerProcess, ServerSpec
from ._runs import CLIENTS, ClientKind


def _package_of(filename: str) -> str:
    parts = Path(filename).parts
    for name in (
        "sinch_async",
        "aiohttp",
        "asyncio",
        "cattrs",
        "attr",
        "attrs",
        "yarl",
        "multidict",
        "backoff",
        "benchmarks",
    ):
        if name in parts:
            return name
    if filename.startswith(("~", "<built-in")):
        return "builtins"
    if filename.startswith("<"):
        return "generated"  # e.g. cattrs/attrs generated functions
    return "stdlib/other"


def _short(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name.split(" at 0x", 1)[0].removeprefix("<").removesuffix(">")
    if "/sinch_async/" in filename:
        return f"sinch_async/{filename.rsplit('/sinch_async/', 1)[1]}:{line}({name})"
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


#: (filename, line, function) -> (calls, own seconds, cumulative seconds)
ProfileTable = dict[tuple[str, int, str], tuple[int, float, float]]


def _profile_client(client: ClientKind, args: argparse.Namespace) -> tuple[ProfileTable, float]:
    """cProfile one measured run of ``client`` vs a fresh echo server."""
    profiler = cProfile.Profile()
    wait_for_quiet()
    with ServerProcess(ServerSpec("echo")) as server:
        meter = Meter(server)
        original_start, original_stop = meter.start, meter.stop

        def start() -> None:
            original_start()
            profiler.enable()

        def stop() -> None:
            profiler.disable()
            original_stop()

        meter.start, meter.stop = start, stop  # type: ignore[method-assign]
        counts = asyncio.run(
            CLIENTS[client](server.base_url, args.n, args.concurrency, args.warmup, meter)
        )
        server.stop()
    if counts.failed:
        log(f"profile: {client}: {counts.failed} failed sends ({counts.first_error})")
    raw_stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    table: ProfileTable = {
        key: (ncalls, tottime, cumtime)
        for key, (_cc, ncalls, tottime, cumtime, _callers) in raw_stats.items()
    }
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(40)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"fanout-profile-{client}.txt").write_text(buffer.getvalue())
    return table, meter.wall


def scenario_profile(args: argparse.Namespace, report: Report) -> None:
    """cProfile raw and ``send_many`` vs the echo server and diff them per send.

    cProfile inflates code that makes many small Python calls, so read the numbers as
    where the extra time goes, not as absolute costs.
    """
    log(f"profile: raw and send_many vs the echo server, n={args.n}, C={args.concurrency}")
    tables: dict[ClientKind, ProfileTable] = {}
    walls: dict[ClientKind, float] = {}
    for client in ("raw", "sdk"):
        tables[client], walls[client] = _profile_client(client, args)
    n = args.n

    def per_send_by_package(table: ProfileTable) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, (_calls, own, _cum) in table.items():
            package = _package_of(key[0])
            out[package] = out.get(package, 0.0) + own / n * 1e6
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    packages = {client: per_send_by_package(t) for client, t in tables.items()}
    raw_table, sdk_table = tables["raw"], tables["sdk"]
    diffs: list[tuple[float, str, int, float]] = []
    for key, (calls, own, cum) in sdk_table.items():
        extra = own - raw_table.get(key, (0, 0.0, 0.0))[1]
        diffs.append((extra / n * 1e6, _short(key), calls, cum / n * 1e6))
    diffs.sort(reverse=True)
    ours = sorted(
        (
            (cum / n * 1e6, own / n * 1e6, calls, _short(key))
            for key, (calls, own, cum) in sdk_table.items()
            if _package_of(key[0]) == "sinch_async"
        ),
        reverse=True,
    )
    total = {c: sum(packages[c].values()) for c in packages}
    report.data["profile"] = {
        "n": n,
        "concurrency": args.concurrency,
        "wall_s_under_profiler": walls,
        "own_us_per_send_total": total,
        "own_us_per_send_by_package": packages,
        "top_extra_own_us_per_send": [
            {"function": f, "extra_own_us": e, "calls": c, "cum_us": cu}
            for e, f, c, cu in diffs[:30]
        ],
        "sinch_async_by_cumulative_us_per_send": [
            {"function": f, "cum_us": cu, "own_us": o, "calls": c} for cu, o, c, f in ours[:30]
        ],
    }
    scen = "profile (echo, us/send)"

    def fmt(pk: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.0f}" for k, v in list(pk.items())[:7])

    report.rows += [
        Row(
            scen,
            "raw: profiled own time per send",
            f"{total['raw']:.0f} us: {fmt(packages['raw'])}",
        ),
        Row(
            scen,
            "send_many: profiled own time per send",
            f"{total['sdk']:.0f} us: {fmt(packages['sdk'])}",
        ),
    ]
    for extra, name, calls, _cum in diffs[:15]:
        report.rows.append(Row(scen, f"extra vs raw: {name}", f"+{extra:.1f} us ({calls:,} calls)"))
    for cum, own, _calls, name in ours[:12]:
        report.rows.append(
            Row(scen, f"sinch_async cumulative: {name}", f"{cum:.0f} us (own {own:.1f})")
        )
