"""Paging benchmarks: sequential vs prefetch, peak memory, and page decoding speed.

    python -m benchmarks.paging                 # all three
    python -m benchmarks.paging walk --items 100000 --latency 0.02 --prefetch 8
    python -m benchmarks.paging memory          # peak RSS walking 10,000 vs 100,000 items
    python -m benchmarks.paging decode          # records/s: our cattrs records vs sinch's models

The list server runs in its own process on 127.0.0.1: an aiohttp app holding pre-built
inbounds newest first, answering ``GET /xms/v1/{plan}/inbounds`` with xms paging (count,
page, items-on-page page_size) after ``--latency`` seconds. It is not FakeSinch: FakeSinch
filters its whole store on every request, which would measure its CPU, not paging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).with_name("results")
PLAN, TOKEN = "bench-plan", "bench-token"


def make_inbounds(n: int) -> list[dict[str, Any]]:
    """``n`` mo_text inbounds, newest first, one second apart, ending a minute ago."""
    end = datetime.now(UTC) - timedelta(minutes=1)
    out = []
    for i in range(n):
        when = end - timedelta(seconds=i)
        out.append(
            {
                "type": "mo_text",
                "id": f"01BENCH{i:019d}",
                "from": f"+4670{i % 10_000_000:07d}",
                "to": "12345",
                "body": f"inbound message number {i}",
                "received_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "operator_id": "24001",
            }
        )
    return out


def _serve(n: int, latency: float, conn: Connection) -> None:
    from aiohttp import web

    items = make_inbounds(n)

    async def list_inbounds(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"code": "unauthorized", "text": "no"}, status=401)
        page = int(request.query.get("page", "0"))
        size = int(request.query.get("page_size", "30"))
        chunk = items[page * size : (page + 1) * size]
        await asyncio.sleep(latency)
        body = orjson.dumps({"count": n, "page": page, "page_size": len(chunk), "inbounds": chunk})
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get(f"/xms/v1/{PLAN}/inbounds", list_inbounds)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(f"http://127.0.0.1:{runner.addresses[0][1]}")
        loop = asyncio.get_running_loop()
        # wait for "stop" from the parent, at most 15 minutes: it stops by itself
        await loop.run_in_executor(None, conn.poll, 900)
        await runner.cleanup()

    asyncio.run(main())


class ListServer:
    def __init__(self, n: int, latency: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(n, latency, child), daemon=True)

    def __enter__(self) -> str:
        self._proc.start()
        if not self._conn.poll(120):
            raise RuntimeError("list server did not start")
        return str(self._conn.recv())

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()


async def walk(url: str, *, prefetch: int, page_size: int) -> tuple[int, float]:
    from sinch_async import SinchClient

    start = datetime.now(UTC) - timedelta(days=13)
    async with SinchClient(PLAN, TOKEN, base_url=url) as client:
        began = time.perf_counter()
        n = 0
        async for _ in client.inbounds.list(
            start_date=start, page_size=page_size, prefetch=prefetch
        ):
            n += 1
        return n, time.perf_counter() - began


def _walk_child(url: str, prefetch: int, page_size: int, conn: Connection) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n, secs = asyncio.run(walk(url, prefetch=prefetch, page_size=page_size))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send(
        {
            "items": n,
            "seconds": secs,
            "peak_rss_mib": peak / 1024,
            "rss_before_walk_mib": before / 1024,
        }
    )


def walk_in_child(url: str, prefetch: int, page_size: int) -> dict[str, Any]:
    """One walk in a fresh process, so its peak RSS is its own."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_walk_child, args=(url, prefetch, page_size, child))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join(60)
    return result


def bench_walk(items: int, latency: float, prefetch: int, page_size: int) -> dict[str, Any]:
    with ListServer(items, latency) as url:
        seq = walk_in_child(url, 1, page_size)
        ahead = walk_in_child(url, prefetch, page_size)
    speedup = (ahead["items"] / ahead["seconds"]) / (seq["items"] / seq["seconds"])
    return {
        "items": items,
        "latency_s": latency,
        "page_size": page_size,
        "prefetch": prefetch,
        "sequential": seq,
        "prefetch_run": ahead,
        "sequential_items_per_s": seq["items"] / seq["seconds"],
        "prefetch_items_per_s": ahead["items"] / ahead["seconds"],
        "speedup": speedup,
        "target_speedup": 5.0,
        "met": speedup >= 5.0,
    }


def bench_memory(prefetch: int, page_size: int) -> dict[str, Any]:
    runs = {}
    for n in (10_000, 100_000):
        with ListServer(n, 0.0) as url:
            runs[n] = walk_in_child(url, prefetch, page_size)
    growth = runs[100_000]["peak_rss_mib"] - runs[10_000]["peak_rss_mib"]
    return {
        "runs": {str(k): v for k, v in runs.items()},
        "peak_growth_mib": growth,
        "target_mib": 30.0,
        "met": growth <= 30.0,
    }


def bench_decode(pages: int) -> dict[str, Any]:
    from sinch_async import Inbound
    from sinch_async._converter import decode_page

    items = make_inbounds(100)
    body = orjson.dumps({"count": 100_000, "page": 0, "page_size": 100, "inbounds": items})
    began = time.perf_counter()
    for _ in range(pages):
        decode_page(body, "inbounds", Inbound)
    ours = pages * 100 / (time.perf_counter() - began)
    result: dict[str, Any] = {"pages": pages, "ours_records_per_s": ours}
    try:
        from sinch.domains.sms.models.v1.internal.list_inbounds_response import (
            ListInboundsResponse,
        )
    except ImportError:
        result["official"] = "not installed (pip install 'sinch-async[official]')"
        return result
    began = time.perf_counter()
    for _ in range(pages):
        ListInboundsResponse.model_validate_json(body)
    official = pages * 100 / (time.perf_counter() - began)
    result.update(official_records_per_s=official, ratio=ours / official, met=ours >= official)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paging")
    parser.add_argument(
        "scenario", nargs="?", default="all", choices=["all", "walk", "memory", "decode"]
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--prefetch", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--decode-pages", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "command": "python -m benchmarks.paging " + " ".join(argv or sys.argv[1:]),
        "machine": {"nproc": multiprocessing.cpu_count(), "python": platform.python_version()},
    }
    rows: list[tuple[str, str, str, str]] = []
    if args.scenario in ("all", "walk"):
        w = bench_walk(args.items, args.latency, args.prefetch, args.page_size)
        report["walk"] = w
        rows += [
            (
                f"walk {w['items']:,} items, {args.latency * 1000:.0f} ms/page",
                "sequential items/s",
                f"{w['sequential_items_per_s']:,.0f}",
                "",
            ),
            ("", f"prefetch={args.prefetch} items/s", f"{w['prefetch_items_per_s']:,.0f}", ""),
            ("", "speedup", f"{w['speedup']:.1f}x", f">= 5x: {'yes' if w['met'] else 'NO'}"),
        ]
    if args.scenario in ("all", "memory"):
        m = bench_memory(args.prefetch, args.page_size)
        report["memory"] = m
        rows += [
            (
                "peak RSS, prefetch walk",
                "10,000 items",
                f"{m['runs']['10000']['peak_rss_mib']:.1f} MiB",
                "",
            ),
            ("", "100,000 items", f"{m['runs']['100000']['peak_rss_mib']:.1f} MiB", ""),
            (
                "",
                "growth",
                f"{m['peak_growth_mib']:.1f} MiB",
                f"<= 30 MB: {'yes' if m['met'] else 'NO'}",
            ),
        ]
    if args.scenario in ("all", "decode"):
        d = bench_decode(args.decode_pages)
        report["decode"] = d
        rows.append(
            ("decode inbound pages", "sinch-async records/s", f"{d['ours_records_per_s']:,.0f}", "")
        )
        if "official_records_per_s" in d:
            rows += [
                (
                    "",
                    "official sinch (pydantic) records/s",
                    f"{d['official_records_per_s']:,.0f}",
                    "",
                ),
                ("", "ratio", f"{d['ratio']:.2f}x", f">= 1x: {'yes' if d['met'] else 'NO'}"),
            ]
        else:
            rows.append(("", "official sinch models", d["official"], ""))
    print("| scenario | metric | value | target |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    out = args.out or RESULTS / (
        "paging.json" if args.scenario == "all" else f"paging-{args.scenario}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
