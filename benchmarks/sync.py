"""Sync commit modes: what checkpointing costs per item, against a plain pager walk.

    python -m benchmarks.sync                           # 100,000 items, 0 and 20 ms/page
    python -m benchmarks.sync --items 20000 --latency 0 --repeats 5
    python -m benchmarks.sync --fsync-items 500         # shorter runs for fsync-per-item modes

Every mode walks the same pinned window of pre-built inbounds with ``page_size=100`` and
``prefetch=8``: a plain ``client.inbounds.list(...)`` walk (the baseline), then
``client.inbounds.sync(...)`` with each checkpoint store and commit mode (see ``MODES``).
``chunk`` covers the whole window, so the sync probes once (``page_size=1``) and walks
one sub-window. Modes that reach the disk's ``fsync`` once per item stop after
``--fsync-items`` items (a ``break``, then ``aclose()``); the others walk everything.

The list server runs in its own process on 127.0.0.1 (``spawn``): the inbounds of
``paging.make_inbounds``, one second apart, newest first, filtered by ``start_date``
(inclusive) and ``end_date`` (exclusive) with a bisection, paged as xms pages after
``--latency`` seconds. It keeps no state, so one server serves all runs of a latency.

Time per item is measured from the first item handed out to the end of the run (the loop
done and the sync closed), so the one-off probe and first page do not weigh on the capped
runs; overhead is a mode's median microseconds per item minus the plain walk's. Client
CPU (threads included) is measured over the same interval. Checkpoint files go to a fresh
directory per run under ``--dir`` (default ``benchmarks/results/``, i.e. the repository's
disk), removed afterwards. Table on stdout, progress on stderr, every run in JSON
(``benchmarks/results/sync.json`` or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import multiprocessing
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from ._servers import process_cpu_seconds, system_busy_seconds
from .fanout import code_info, log, machine_info
from .paging import PLAN, TOKEN, make_inbounds

RESULTS = Path(__file__).resolve().parent / "results"
PAGE_SIZE = 100
PREFETCH = 8
#: the batched transactional consumer commits one transaction per this many items
TX_BATCH = 100
#: a run during which other processes used more than this many cores is measured again
DISTURBED_ABOVE = 0.3


# --- list server (child process) ---------------------------------------------------------


def _serve(n: int, latency: float, conn: Connection) -> None:
    from aiohttp import web

    items = make_inbounds(n)
    # newest first, so the negated times ascend: bisection finds a window's slice
    neg_times = [-datetime.fromisoformat(i["received_at"]).timestamp() for i in items]

    def bound(text: str | None, default: int) -> int:
        """Index of the first item older than ``text`` (``default`` without one)."""
        if text is None:
            return default
        return bisect.bisect_right(neg_times, -datetime.fromisoformat(text).timestamp())

    async def list_inbounds(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"code": "unauthorized", "text": "no"}, status=401)
        q = request.query
        page = int(q.get("page", "0"))
        size = int(q.get("page_size", "30"))
        lo = bound(q.get("end_date"), 0)  # received_at < end_date
        hi = bound(q.get("start_date"), n)  # received_at >= start_date
        first = lo + page * size
        chunk = items[first : max(first, min(hi, first + size))]
        await asyncio.sleep(latency)
        body = orjson.dumps(
            {"count": hi - lo, "page": page, "page_size": len(chunk), "inbounds": chunk}
        )
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get(f"/xms/v1/{PLAN}/inbounds", list_inbounds)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(
            (f"http://127.0.0.1:{runner.addresses[0][1]}", multiprocessing.current_process().pid)
        )
        loop = asyncio.get_running_loop()
        # wait for "stop" (or EOF) from the parent, at most 30 minutes: it stops by itself
        await loop.run_in_executor(None, conn.poll, 1800)
        await runner.cleanup()

    asyncio.run(main())


class ListServer:
    """The filtering list server in a child process; ``with`` gives its base URL."""

    def __init__(self, n: int, latency: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(n, latency, child), daemon=True)
        self.pid = 0

    def __enter__(self) -> str:
        self._proc.start()
        if not self._conn.poll(120):
            self._proc.kill()
            raise RuntimeError("list server did not start")
        url, self.pid = self._conn.recv()
        if not str(url).startswith("http://127.0.0.1:"):
            raise RuntimeError(f"unexpected server address {url!r}")
        return str(url)

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.pid) if self.pid else None

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)


# --- modes -----------------------------------------------------------------------------------

Store = Literal["none", "memory", "json", "json-durable", "sqlite", "tx-item", "tx-batch"]


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    store: Store
    commit_every: int | Literal["page"] = 1
    #: reaches fsync once per item: stop after --fsync-items
    fsync_per_item: bool = False


MODES: tuple[Mode, ...] = (
    Mode("plain", "plain list() walk (baseline, no checkpoint)", "none"),
    Mode("memory", "sync, MemoryCheckpoint, commit per item", "memory"),
    Mode("json", "sync, JsonFileCheckpoint, commit per item", "json"),
    Mode("json-page", 'sync, JsonFileCheckpoint, commit_every="page"', "json", "page"),
    Mode(
        "durable",
        "sync, JsonFileCheckpoint(durable=True), commit per item",
        "json-durable",
        fsync_per_item=True,
    ),
    Mode(
        "durable-page",
        'sync, JsonFileCheckpoint(durable=True), commit_every="page"',
        "json-durable",
        "page",
    ),
    Mode(
        "sqlite",
        "sync, SqliteCheckpoint(path), commit per item",
        "sqlite",
        fsync_per_item=True,
    ),
    Mode("sqlite-page", 'sync, SqliteCheckpoint(path), commit_every="page"', "sqlite", "page"),
    Mode(
        "tx-item",
        "manual: INSERT + store.write(position), one transaction per item",
        "tx-item",
        fsync_per_item=True,
    ),
    Mode(
        "tx-batch",
        f"manual: {TX_BATCH} INSERTs + store.write(position), one transaction per {TX_BATCH}",
        "tx-batch",
    ),
)
MODE_KEYS = [m.key for m in MODES]


@dataclass
class Run:
    mode: str
    latency: float
    items: int
    #: from the first item handed out to the end of the run
    seconds: float
    wall_s: float
    client_cpu_s: float | None
    server_cpu_s: float | None
    other_cpu_s: float | None
    commits: int | None
    sync_stats: dict[str, Any] | None = None
    checkpoint_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def us_per_item(self) -> float:
        return self.seconds / max(1, self.items - 1) * 1e6

    @property
    def other_cores(self) -> float | None:
        return None if self.other_cpu_s is None else self.other_cpu_s / max(self.seconds, 1e-9)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "us_per_item": round(self.us_per_item, 3)}


class Clock:
    """Starts at the first item: wall time, client CPU, server CPU, machine busy time."""

    def __init__(self, server: ListServer) -> None:
        self._server = server
        self.t0: float | None = None
        self.c0: float | None = None
        self.s0: float | None = None
        self.b0: float | None = None
        self.began = time.perf_counter()

    def first_item(self) -> None:
        if self.t0 is None:
            self.c0, self.s0 = process_cpu_seconds(), self._server.cpu_seconds()
            self.b0 = system_busy_seconds()
            self.t0 = time.perf_counter()

    def finish(self) -> dict[str, Any]:
        end = time.perf_counter()
        c1, s1, b1 = process_cpu_seconds(), self._server.cpu_seconds(), system_busy_seconds()
        client = None if c1 is None or self.c0 is None else c1 - self.c0
        server = None if s1 is None or self.s0 is None else s1 - self.s0
        other = None
        if b1 is not None and self.b0 is not None:
            other = max(0.0, (b1 - self.b0) - (client or 0.0) - (server or 0.0))
        return {
            "seconds": end - (self.t0 if self.t0 is not None else self.began),
            "wall_s": end - self.began,
            "client_cpu_s": client,
            "server_cpu_s": server,
            "other_cpu_s": other,
        }


# --- one run -----------------------------------------------------------------------------------


async def _consume(
    items: AsyncIterator[Any],
    clock: Clock,
    limit: int | None,
    handle: Callable[[Any], None] | None = None,
) -> int:
    n = 0
    async for item in items:
        if n == 0:
            clock.first_item()
        n += 1
        if handle is not None:
            handle(item)
        if limit is not None and n >= limit:
            break
    return n


async def one_run(
    mode: Mode, url: str, server: ListServer, latency: float, workdir: Path, limit: int | None
) -> Run:
    from sinch_async import JsonFileCheckpoint, MemoryCheckpoint, SinchClient, SqliteCheckpoint

    until = datetime.now(UTC)
    since = until - timedelta(days=2)
    extra: dict[str, Any] = {}
    async with SinchClient(PLAN, TOKEN, base_url=url) as client:
        clock = Clock(server)
        if mode.store == "none":
            pager = client.inbounds.list(
                start_date=since, end_date=until, page_size=PAGE_SIZE, prefetch=PREFETCH
            )
            n = await _consume(pager, clock, limit)
            return Run(mode.key, latency, n, commits=None, **clock.finish())

        conn: sqlite3.Connection | None = None
        store: Any
        if mode.store == "memory":
            store = MemoryCheckpoint()
        elif mode.store in ("json", "json-durable"):
            store = JsonFileCheckpoint(workdir / "cp.json", durable=mode.store == "json-durable")
        elif mode.store == "sqlite":
            store = SqliteCheckpoint(workdir / "cp.db")
        else:
            conn = sqlite3.connect(workdir / "items.db")
            conn.execute("PRAGMA journal_mode=WAL")  # as SqliteCheckpoint(path) does
            conn.execute("CREATE TABLE items (id TEXT PRIMARY KEY, body TEXT)")
            store = SqliteCheckpoint(conn, name="bench")
        manual = mode.store in ("tx-item", "tx-batch")
        sync = client.inbounds.sync(
            checkpoint=store,
            since=since,
            until=until,
            chunk=until - since,  # one sub-window
            page_size=PAGE_SIZE,
            prefetch=PREFETCH,
            commit="manual" if manual else "auto",
            commit_every=mode.commit_every,
        )
        insert = "INSERT INTO items VALUES (?, ?)"
        transactions = 0
        batch: list[tuple[str, str | None]] = []
        handle: Callable[[Any], None] | None = None

        if mode.store == "tx-item":
            assert conn is not None
            db = conn

            def handle(item: Any) -> None:
                nonlocal transactions
                with db:
                    db.execute(insert, (item.id, item.body))
                    store.write(sync.position)
                transactions += 1

        elif mode.store == "tx-batch":
            assert conn is not None
            db = conn

            def handle(item: Any) -> None:
                nonlocal transactions
                batch.append((item.id, item.body))
                if len(batch) >= TX_BATCH:
                    with db:
                        db.executemany(insert, batch)
                        store.write(sync.position)
                    batch.clear()
                    transactions += 1

        try:
            async with sync:
                n = await _consume(sync, clock, limit, handle)
            if batch:
                # NB: the sync saved "window done" when asked for the item after the last
                # one, before this tail was stored: a crash here would lose the tail.
                assert conn is not None
                with conn:
                    conn.executemany(insert, batch)
                    store.write(sync.position)
                batch.clear()
                transactions += 1
            timing = clock.finish()
        finally:
            if isinstance(store, SqliteCheckpoint):
                store.close()
            if conn is not None:
                conn.close()
        stats = attrs.asdict(sync.stats)
        commits = sync.stats.commits + transactions if manual else sync.stats.commits
        if manual:
            extra["transactions"] = transactions
        return Run(
            mode.key,
            latency,
            n,
            commits=commits,
            sync_stats={k: str(v) if isinstance(v, datetime) else v for k, v in stats.items()},
            extra=extra,
            **timing,
        )


def wait_for_quiet(settle: float, below: float = 0.25) -> float | None:
    """Wait up to ``settle`` seconds until other processes use < ``below`` cores."""
    deadline = time.monotonic() + settle
    started = time.monotonic()
    while True:
        b0, t0 = system_busy_seconds(), time.monotonic()
        time.sleep(0.25)
        b1, t1 = system_busy_seconds(), time.monotonic()
        if b0 is None or b1 is None:
            return None
        load = (b1 - b0) / (t1 - t0)
        if load < below or t1 >= deadline:
            if t1 - started > 1.0:
                state = "quiet" if load < below else "still busy"
                log(f"waited {t1 - started:.0f}s for other load to drop: {state} ({load:.2f})")
            return round(load, 3)


DISCARDED: list[dict[str, Any]] = []


def measured(
    mode: Mode,
    url: str,
    server: ListServer,
    latency: float,
    args: argparse.Namespace,
    expected: int,
) -> Run:
    """One run; redone (3 tries in all) while other processes used > DISTURBED_ABOVE cores."""
    limit = args.fsync_items if mode.fsync_per_item else None
    for attempt in range(1, 4):
        workdir = Path(tempfile.mkdtemp(prefix="sync-bench-", dir=args.dir))
        try:
            run = asyncio.run(one_run(mode, url, server, latency, workdir, limit))
            if mode.store != "none":
                run.checkpoint_bytes = sum(p.stat().st_size for p in workdir.iterdir())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        want = expected if limit is None else min(limit, expected)
        if run.items != want:
            raise RuntimeError(f"{mode.key}: walked {run.items} items, expected {want}")
        other = run.other_cores
        log(
            f"{latency * 1000:>3.0f} ms  {mode.key:<13} {run.items:>7,} items "
            f"{run.items / run.seconds:>9,.0f}/s {run.us_per_item:>8.2f} us/item"
            f"  other {other or 0:.2f} cores"
        )
        if other is None or other <= DISTURBED_ABOVE or attempt == 3:
            return run
        log(f"disturbed: other processes used {other:.2f} cores; measuring again")
        DISCARDED.append(run.as_json())
        wait_for_quiet(args.settle)
    raise AssertionError("unreachable")


# --- driver ------------------------------------------------------------------------------------


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, rs in runs.items():
        us = statistics.median([r["us_per_item"] for r in rs])
        cpu = [r["client_cpu_s"] / max(1, r["items"] - 1) * 1e6 for r in rs if r["client_cpu_s"]]
        out[key] = {
            "items": rs[0]["items"],
            "us_per_item": us,
            "items_per_s": 1e6 / us,
            "client_cpu_us_per_item": statistics.median(cpu) if cpu else None,
            "commits": rs[0]["commits"],
            # kept after 3 tries although other processes used > DISTURBED_ABOVE cores
            "disturbed_runs": sum(
                1
                for r in rs
                if r["other_cpu_s"] and r["other_cpu_s"] / r["seconds"] > DISTURBED_ABOVE
            ),
            "spread_us": [
                round(min(r["us_per_item"] for r in rs), 2),
                round(max(r["us_per_item"] for r in rs), 2),
            ],
        }
    base = out.get("plain", {}).get("us_per_item")
    for summary in out.values():
        summary["overhead_us_per_item"] = None if base is None else summary["us_per_item"] - base
    return out


def table(summaries: dict[float, dict[str, dict[str, Any]]], modes: list[Mode]) -> str:
    lines = [
        "| page latency | mode | items | items/s | us/item (min-max) | overhead us/item vs plain"
        " | client CPU us/item | commits |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    disturbed = False
    for latency, summary in summaries.items():
        for mode in modes:
            s = summary[mode.key]
            over = s["overhead_us_per_item"]
            cpu = s["client_cpu_us_per_item"]
            lo, hi = s["spread_us"]
            mark = f" *{s['disturbed_runs']}" if s["disturbed_runs"] else ""
            disturbed = disturbed or bool(mark)
            cells = [
                f"{latency * 1000:.0f} ms",
                mode.label,
                f"{s['items']:,}",
                f"{s['items_per_s']:,.0f}",
                f"{s['us_per_item']:.2f} ({lo:.2f}-{hi:.2f}){mark}",
                "—" if mode.key == "plain" or over is None else f"{over:+.2f}",
                "?" if cpu is None else f"{cpu:.2f}",
                "—" if s["commits"] is None else f"{s['commits']:,}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if disturbed:
        lines.append(
            f"\n*n: n of the runs behind that median were still disturbed after 3 tries (other "
            f"processes used > {DISTURBED_ABOVE} cores); the min is the better estimate."
        )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync",
        description="Cost per item of the sync's commit modes (server on 127.0.0.1 only).",
    )
    parser.add_argument("--items", type=int, default=100_000, help="inbounds served (100,000)")
    parser.add_argument(
        "--latency",
        type=float,
        nargs="+",
        default=[0.0, 0.02],
        help="seconds per page, one or more (0 0.02)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode and latency (3)")
    parser.add_argument(
        "--fsync-items",
        type=int,
        default=2_000,
        help="items walked by the modes that fsync once per item (2,000)",
    )
    parser.add_argument(
        "--modes", nargs="+", choices=MODE_KEYS, default=MODE_KEYS, help="modes to run (all)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        help="wait up to this many seconds before each round for other CPU load to drop (20)",
    )
    parser.add_argument(
        "--dir", default=str(RESULTS), help="where checkpoint files go (benchmarks/results)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON (results/sync.json)")
    args = parser.parse_args(argv)
    if args.items < 2 or args.items > 150_000:
        parser.error("--items must be 2..150,000 (the window is 2 days, items 1 s apart)")
    if args.repeats < 1 or args.fsync_items < 2:
        parser.error("--repeats must be >= 1 and --fsync-items >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    modes = [m for m in MODES if m.key in args.modes or m.key == "plain"]
    started = datetime.now(UTC)
    t0 = time.monotonic()
    runs: dict[str, Any] = {}
    summaries: dict[float, dict[str, dict[str, Any]]] = {}
    for latency in args.latency:
        log(
            f"sync modes: {args.items:,} items, {latency * 1000:.0f} ms/page, "
            f"{args.repeats} repeats"
        )
        server = ListServer(args.items, latency)
        with server as url:
            asyncio.run(one_run(MODES[0], url, server, latency, Path(args.dir), 2000))  # warm up
            per: dict[str, list[Run]] = {m.key: [] for m in modes}
            for rep in range(args.repeats):
                wait_for_quiet(args.settle)
                order = modes if rep % 2 == 0 else modes[::-1]
                for mode in order:
                    per[mode.key].append(measured(mode, url, server, latency, args, args.items))
        runs[str(latency)] = {k: [r.as_json() for r in v] for k, v in per.items()}
        summaries[latency] = summarize(runs[str(latency)])
    log(f"done in {time.monotonic() - t0:.0f}s")
    out: Path = args.out or RESULTS / "sync.json"
    document = {
        "command": shlex.join(["python", "-m", "benchmarks.sync", *argv]),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "code": code_info(),
        "machine": machine_info(),
        "settings": {**vars(args), "out": str(out), "page_size": PAGE_SIZE, "prefetch": PREFETCH},
        "summary": {str(k): v for k, v in summaries.items()},
        "runs": runs,
        "discarded_disturbed_runs": DISCARDED,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(table(summaries, modes))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
