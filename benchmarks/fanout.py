"""Fan-out benchmark: ``client.batches.send_many`` against a raw aiohttp loop and more.

Run from the repository root::

    python -m benchmarks.fanout                      # all (throughput, latency, official, limiter)
    python -m benchmarks.fanout throughput --n 5000 --concurrency 64
    python -m benchmarks.fanout memory --count 1000000
    python -m benchmarks.fanout profile              # cProfile of send_many vs the echo server

Every server runs in a child process bound to 127.0.0.1 (see ``_servers.py``); a fresh
one is started for every measured run, so FakeSinch's stored batches never slow a later
run. A Markdown table goes to stdout, progress to stderr, raw numbers to a JSON file
under ``benchmarks/results/``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import importlib
import io
import itertools
import json
import os
import platform
import pstats
import shlex
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import aiohttp
import attrs
import orjson

from sinch_async import RetryPolicy, SinchClient, TextBatchRequest

from ._servers import (
    PLAN,
    TOKEN,
    ServerKind,
    ServerProcess,
    ServerSpec,
    process_cpu_seconds,
    process_rss_bytes,
    system_busy_seconds,
)

BODY = "Hello from the fan-out benchmark"
SENDER = "+15550009999"
LIMITER_SIZES = (1, 2, 5, 10, 25, 50)
RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("all", "throughput", "latency", "official", "limiter", "memory", "profile")
ALL = ("throughput", "latency", "official", "limiter")

ClientKind = Literal["raw", "sdk", "sdk_noretry"]


def msisdn(i: int) -> str:
    """A distinct, valid E.164 number for request ``i``."""
    return f"+1555{i % 10_000_000:07d}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Settings:
    #: wait up to this many seconds before each measured run for other load to drop
    settle: float = 30.0
    #: "quiet" = other processes use less than this many cores
    quiet_below: float = 0.25
    #: a run during which other processes used more than this many cores is redone
    disturbed_above: float = 0.3


SETTINGS = Settings()


def wait_for_quiet() -> float | None:
    """Wait (bounded by ``SETTINGS.settle``) until the machine is nearly idle.

    The benchmark shares a 2-core machine with whatever else runs (test suites...), so
    each measured run starts when other processes use < ``quiet_below`` cores, or when
    the wait runs out. Returns the last measured load in cores (None if unknown).
    """
    deadline = time.monotonic() + SETTINGS.settle
    started = time.monotonic()
    while True:
        b0, t0 = system_busy_seconds(), time.monotonic()
        time.sleep(0.5)
        b1, t1 = system_busy_seconds(), time.monotonic()
        if b0 is None or b1 is None:
            return None
        load = (b1 - b0) / (t1 - t0)
        if load < SETTINGS.quiet_below or t1 >= deadline:
            waited = t1 - started
            if waited > 1.0:
                state = "quiet" if load < SETTINGS.quiet_below else "still busy"
                log(f"waited {waited:.0f}s for other load to drop: {state} ({load:.2f} cores)")
            return round(load, 3)


def mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


# --- measurement plumbing --------------------------------------------------------------


class Meter:
    """Wall time plus client and server CPU seconds over the measured window."""

    def __init__(self, server: ServerProcess | None) -> None:
        self._server = server
        self.wall = 0.0
        self.client_cpu: float | None = None
        self.server_cpu: float | None = None
        #: CPU seconds used by everything else on the machine during the window
        self.other_cpu: float | None = None
        self._t0 = 0.0
        self._b0: float | None = None
        self._c0: float | None = None
        self._s0: float | None = None

    def _server_cpu(self) -> float | None:
        return None if self._server is None else self._server.cpu_seconds()

    def start(self) -> None:
        self._c0 = process_cpu_seconds()
        self._s0 = self._server_cpu()
        self._b0 = system_busy_seconds()
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        c1, s1, b1 = process_cpu_seconds(), self._server_cpu(), system_busy_seconds()
        if c1 is not None and self._c0 is not None:
            self.client_cpu = c1 - self._c0
        if s1 is not None and self._s0 is not None:
            self.server_cpu = s1 - self._s0
        if b1 is not None and self._b0 is not None:
            self.other_cpu = max(
                0.0, (b1 - self._b0) - (self.client_cpu or 0.0) - (self.server_cpu or 0.0)
            )


@dataclass
class Counts:
    ok: int = 0
    failed: int = 0
    first_error: str | None = None

    def fail(self, error: str) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = error[:300]


@dataclass
class RunResult:
    client: str
    server: str
    latency: float
    n: int
    concurrency: int
    ok: int
    failed: int
    elapsed_s: float
    sends_per_s: float
    client_cpu_s: float | None
    server_cpu_s: float | None
    other_cpu_s: float | None = None
    #: cores busy (with other work) just before the run
    load_before: float | None = None
    first_error: str | None = None
    server_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def client_util(self) -> float | None:
        return None if self.client_cpu_s is None else self.client_cpu_s / self.elapsed_s

    @property
    def server_util(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s / self.elapsed_s

    @property
    def other_util(self) -> float | None:
        """CPU used by other processes on the machine (noise), in cores."""
        return None if self.other_cpu_s is None else self.other_cpu_s / self.elapsed_s

    @property
    def _latency_text(self) -> str:
        return f" +{self.latency * 1000:g} ms" if self.latency else ""

    def describe(self) -> str:
        return (
            f"{self.client:>16} vs {self.server}{self._latency_text}"
            f": {self.sends_per_s:8.0f} sends/s  ({self.ok} ok, {self.failed} failed, "
            f"{self.elapsed_s:.2f}s; cpu client {pct(self.client_util)} server "
            f"{pct(self.server_util)} other {pct(self.other_util)})"
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["client_cpu_util"] = self.client_util
        data["server_cpu_util"] = self.server_util
        data["other_cpu_util"] = self.other_util
        return data


def pct(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.0f}%"


@dataclass
class Row:
    scenario: str
    metric: str
    value: str
    target: str = "—"
    met: bool | None = None

    @property
    def met_text(self) -> str:
        return "—" if self.met is None else ("yes" if self.met else "**NO**")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: numbers one scenario hands to another (the latency target needs the ceiling)
    context: dict[str, float] = field(default_factory=dict)


# --- the two HTTP clients ----------------------------------------------------------------


def text_requests(start: int, count: int) -> Iterator[TextBatchRequest]:
    for i in range(start, start + count):
        yield TextBatchRequest(to=(msisdn(i),), body=BODY)


async def raw_sends(url: str, n: int, concurrency: int, warmup: int, meter: Meter) -> Counts:
    """The ceiling: one ClientSession, a semaphore of ``concurrency``, orjson both ways."""
    endpoint = f"{url}/xms/v1/{PLAN}/batches"
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, counts: Counts) -> None:
            try:
                payload = orjson.dumps({"to": [msisdn(i)], "body": BODY, "type": "mt_text"})
                async with session.post(endpoint, data=payload, headers=headers) as resp:
                    data = orjson.loads(await resp.read())
                    if resp.status == 201 and isinstance(data, dict) and "id" in data:
                        counts.ok += 1
                    else:
                        counts.fail(f"HTTP {resp.status}: {data!r}")
            except (aiohttp.ClientError, OSError, orjson.JSONDecodeError) as exc:
                counts.fail(repr(exc))
            finally:
                sem.release()

        async def fan_out(start: int, count: int, counts: Counts) -> None:
            tasks: set[asyncio.Task[None]] = set()
            for i in range(start, start + count):
                await sem.acquire()
                task = asyncio.create_task(one(i, counts))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)

        await fan_out(0, warmup, Counts())
        counts = Counts()
        meter.start()
        await fan_out(warmup, n, counts)
        meter.stop()
    return counts


async def _drain(
    client: SinchClient, requests: Iterator[TextBatchRequest], concurrency: int, counts: Counts
) -> None:
    async with client.batches.send_many(requests, concurrency=concurrency) as outcomes:
        async for outcome in outcomes:
            if outcome.ok:
                counts.ok += 1
            else:
                counts.fail(repr(outcome.error))


async def sdk_sends(
    url: str, n: int, concurrency: int, warmup: int, meter: Meter, *, retry: bool = True
) -> Counts:
    """``send_many`` with default options (retries on, validation on, unordered).

    ``retry=False`` passes ``RetryPolicy.disabled()``, which skips the per-request
    ``backoff`` wrapper: a diagnostic of what the retry machinery costs when nothing fails.
    """
    client = SinchClient(
        PLAN,
        TOKEN,
        base_url=url,
        max_connections=concurrency,
        retry=None if retry else RetryPolicy.disabled(),
    )
    async with client:
        await _drain(client, text_requests(0, warmup), concurrency, Counts())
        counts = Counts()
        meter.start()
        await _drain(client, text_requests(warmup, n), concurrency, counts)
        meter.stop()
    return counts


CLIENTS: dict[ClientKind, Callable[[str, int, int, int, Meter], Coroutine[Any, Any, Counts]]] = {
    "raw": raw_sends,
    "sdk": sdk_sends,
    "sdk_noretry": functools.partial(sdk_sends, retry=False),
}
CLIENT_NAMES: dict[ClientKind, str] = {
    "raw": "raw aiohttp",
    "sdk": "send_many",
    "sdk_noretry": "send_many retry-off",
}

#: Runs thrown away because other processes used > ``disturbed_above`` cores meanwhile.
DISCARDED: list[dict[str, Any]] = []


def undisturbed(measure: Callable[[], RunResult], attempts: int = 3) -> RunResult:
    """Run ``measure``; redo it (up to ``attempts`` times in all) while other processes
    used more than ``SETTINGS.disturbed_above`` cores during the run."""
    for attempt in range(1, attempts + 1):
        result = measure()
        other = result.other_util
        if other is None or other <= SETTINGS.disturbed_above or attempt == attempts:
            return result
        log(f"disturbed: other processes used {other:.2f} cores; discarding, measuring again")
        DISCARDED.append(result.as_json())
    raise AssertionError("unreachable")


def run_http(
    client: ClientKind, spec: ServerSpec, n: int, concurrency: int, warmup: int
) -> RunResult:
    """One measured run against a fresh server process (redone if disturbed)."""
    return undisturbed(lambda: _run_http_once(client, spec, n, concurrency, warmup))


def _run_http_once(
    client: ClientKind, spec: ServerSpec, n: int, concurrency: int, warmup: int
) -> RunResult:
    load_before = wait_for_quiet()
    with ServerProcess(spec) as server:
        meter = Meter(server)
        counts = asyncio.run(CLIENTS[client](server.base_url, n, concurrency, warmup, meter))
        stats = server.stop()
    result = RunResult(
        client=CLIENT_NAMES[client],
        server=spec.kind,
        latency=spec.latency,
        n=n,
        concurrency=concurrency,
        ok=counts.ok,
        failed=counts.failed,
        elapsed_s=round(meter.wall, 4),
        sends_per_s=round(n / meter.wall, 1),
        client_cpu_s=meter.client_cpu,
        server_cpu_s=meter.server_cpu,
        other_cpu_s=meter.other_cpu,
        load_before=load_before,
        first_error=counts.first_error,
        server_stats=stats,
    )
    log(result.describe())
    return result


def interleaved(
    spec: ServerSpec,
    n: int,
    concurrency: int,
    warmup: int,
    repeats: int,
    clients: tuple[ClientKind, ...] = ("raw", "sdk"),
) -> dict[ClientKind, list[RunResult]]:
    """``repeats`` runs of each client, interleaved, the order reversed every other round."""
    runs: dict[ClientKind, list[RunResult]] = {c: [] for c in clients}
    for rep in range(repeats):
        order = clients if rep % 2 == 0 else clients[::-1]
        for client in order:
            runs[client].append(run_http(client, spec, n, concurrency, warmup))
    return runs


def cpu_per_send(runs: Sequence[RunResult]) -> float | None:
    """Median client CPU microseconds per send."""
    values = [r.client_cpu_s / r.n * 1e6 for r in runs if r.client_cpu_s is not None]
    return round(statistics.median(values), 1) if values else None


def median_rate(runs: Sequence[RunResult]) -> float:
    return statistics.median(r.sends_per_s for r in runs)


def median_util(
    runs: Sequence[RunResult], which: Literal["client", "server", "other"]
) -> float | None:
    values = [getattr(r, f"{which}_util") for r in runs]
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def cpu_text(runs: Sequence[RunResult]) -> str:
    """Median CPU use (100% = one core) of client / server / everything else."""
    return " / ".join(pct(median_util(runs, w)) for w in ("client", "server", "other"))


def all_ok(runs: Sequence[RunResult]) -> bool:
    return all(r.failed == 0 and r.ok == r.n for r in runs)


# --- scenarios -----------------------------------------------------------------------------


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


def _official_client(url: str) -> Any:
    """The official sync ``sinch.SinchClient`` pointed at ``url``, or an exception."""
    official_client: Any = importlib.import_module("sinch").SinchClient
    client = official_client(service_plan_id=PLAN, sms_api_token=TOKEN, sms_region="us")
    # 2.x builds the service-plan origin as sms_domain_with_service_plan_id.format(region)
    client.configuration.sms_domain_with_service_plan_id = url
    origin = client.configuration.get_sms_origin_for_auth()
    if origin != url:  # never let a benchmark reach the real API
        raise RuntimeError(f"official SDK would send to {origin!r}, not {url!r}")
    return client


def _official_send(client: Any, i: int, counts: Counts) -> None:
    try:
        batch = client.sms.batches.send_sms(to=[msisdn(i)], from_=SENDER, body=BODY)
        if getattr(batch, "id", None):
            counts.ok += 1
        else:
            counts.fail(f"no batch id in {batch!r}")
    except Exception as exc:  # the official SDK raises its own hierarchy
        counts.fail(repr(exc))


def _official_run(
    mode: Literal["sequential", "threads"], n: int, concurrency: int, warmup: int
) -> RunResult:
    return undisturbed(lambda: _official_run_once(mode, n, concurrency, warmup))


def _official_run_once(
    mode: Literal["sequential", "threads"], n: int, concurrency: int, warmup: int
) -> RunResult:
    threads = 1 if mode == "sequential" else concurrency
    load_before = wait_for_quiet()
    with ServerProcess(ServerSpec("fake")) as server:
        meter = Meter(server)
        counts = Counts()
        lock = threading.Lock()
        next_index = itertools.count(warmup)
        ready = threading.Barrier(threads + 1, timeout=120)
        go = threading.Barrier(threads + 1, timeout=120)
        errors: list[BaseException] = []

        def worker(w: int) -> None:
            local = Counts()
            try:
                client = _official_client(server.base_url)
                for k in range(max(1, warmup // threads)):
                    _official_send(client, w * 1000 + k, Counts())
            except BaseException as exc:
                errors.append(exc)
                ready.abort()
                return
            ready.wait()
            go.wait()
            while (i := next(next_index)) < warmup + n:
                _official_send(client, i, local)
            with lock:
                counts.ok += local.ok
                counts.failed += local.failed
                counts.first_error = counts.first_error or local.first_error

        pool = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(threads)]
        for t in pool:
            t.start()
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            for t in pool:
                t.join(10)
            raise errors[0] if errors else RuntimeError("official SDK workers failed") from None
        meter.start()
        go.wait()
        for t in pool:
            t.join(600)
        meter.stop()
        stats = server.stop()
    result = RunResult(
        client=f"official {mode}" + ("" if threads == 1 else f" x{threads}"),
        server="fake",
        latency=0.0,
        n=n,
        concurrency=threads,
        ok=counts.ok,
        failed=counts.failed,
        elapsed_s=round(meter.wall, 4),
        sends_per_s=round(n / meter.wall, 1),
        client_cpu_s=meter.client_cpu,
        server_cpu_s=meter.server_cpu,
        other_cpu_s=meter.other_cpu,
        load_before=load_before,
        first_error=counts.first_error,
        server_stats=stats,
    )
    log(result.describe())
    return result


def scenario_official(args: argparse.Namespace, report: Report) -> None:
    scen = "3. official `sinch` SDK (sync)"
    try:
        sinch = importlib.import_module("sinch")
    except ImportError:
        log("official: `import sinch` failed: not installed, skipped")
        report.data["official"] = {"installed": False}
        report.rows.append(Row(scen, "sends/s", "not installed", "—", None))
        return
    version = getattr(sinch, "__version__", "?")
    try:
        with ServerProcess(ServerSpec("fake")) as server:
            _official_client(server.base_url)
    except Exception as exc:
        log(f"official: sinch {version} cannot be pointed at 127.0.0.1: {exc!r}")
        report.data["official"] = {"installed": True, "version": version, "error": repr(exc)}
        report.rows.append(Row(scen, "sends/s", "cannot target 127.0.0.1", "—", None))
        return
    n = min(args.n, args.official_n)
    log(f"official: sinch {version}, n={n}, sequential and {args.concurrency} threads")
    seq = _official_run("sequential", n, args.concurrency, args.warmup)
    thr = _official_run("threads", n, args.concurrency, args.warmup)
    ours = report.context.get("fake_ceiling_sdk")
    report.data["official"] = {
        "installed": True,
        "version": version,
        "n": n,
        "runs": [seq.as_json(), thr.as_json()],
        "sinch_async_send_many_vs_fake": ours,
    }
    report.rows += [
        Row(
            scen,
            f"sinch {version}: 1 thread sends/s",
            f"{seq.sends_per_s:,.0f}" + ("" if seq.failed == 0 else f" ({seq.failed} failed)"),
        ),
        Row(
            scen,
            f"sinch {version}: {args.concurrency} threads sends/s",
            f"{thr.sends_per_s:,.0f}" + ("" if thr.failed == 0 else f" ({thr.failed} failed)"),
        ),
    ]
    if ours:
        report.rows.append(
            Row(
                scen,
                "send_many / official threads (vs FakeSinch)",
                f"{ours / thr.sends_per_s:.2f}x",
            )
        )


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


RUNNERS: dict[str, Callable[[argparse.Namespace, Report], None]] = {
    "throughput": scenario_throughput,
    "latency": scenario_latency,
    "official": scenario_official,
    "limiter": scenario_limiter,
    "memory": scenario_memory,
    "profile": scenario_profile,
}


# --- output --------------------------------------------------------------------------------


def code_info() -> dict[str, Any]:
    """Which sinch_async was measured: its location and a hash of its sources."""
    import hashlib

    import sinch_async

    root = Path(sinch_async.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return {"sinch_async_path": str(root), "sinch_async_sources_sha256": digest.hexdigest()}


def machine_info() -> dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for package in ("sinch-async", "aiohttp", "orjson", "attrs", "cattrs", "yarl", "sinch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "event_loop": "asyncio default",
        "packages": versions,
    }


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| scenario | metric | value | target | met? |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = (r.scenario, r.metric, r.value, r.target, r.met_text)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


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


if __name__ == "__main__":
    raise SystemExit(main())
