"""Per-call speed: 64 tasks awaiting ``send_text`` in a loop vs a raw aiohttp + orjson loop.

Run from the repository root::

    python -m benchmarks.calls                       # raw / sdk-calls / sdk-send_many, echo server
    python -m benchmarks.calls --server fake         # the same against FakeSinch
    python -m benchmarks.calls --n 5000 --concurrency 64 --repeats 3
    python -m benchmarks.calls profile               # cProfile raw vs sdk-calls, diffed per send
    python -m benchmarks.calls components            # timeit of per-send SDK steps, no server

Target (issue #10 point 15): at zero latency against a minimal server, median of 3
interleaved rounds, sdk-calls >= 0.8 x raw and sdk-send_many >= 0.8 x raw (issue 16).

Contenders (same concurrency C, same N, warm-up of ``--warmup`` sends first):

* **raw**: C tasks sharing one ``aiohttp.ClientSession`` (``TCPConnector(limit=100)``),
  each POSTing orjson-encoded ``{"to": [...], "body": ..., "type": "mt_text"}`` with an
  Authorization header and orjson-decoding the response, until N sends in total;
* **sdk-calls**: C tasks each ``await client.batches.send_text(to=[...], body=...)`` in a
  loop on one ``SinchClient(PLAN, TOKEN, base_url=...)`` (defaults: 100 connections);
* **sdk-send_many**: ``client.batches.send_many(requests, concurrency=C)`` over N
  ``TextBatchRequest`` records built lazily by a generator.

Every measured run gets a fresh server process (``_servers.py``, 127.0.0.1 only). Rounds
are interleaved (raw, calls, many / many, calls, raw / ...). A Markdown table goes to
stdout, progress to stderr, and everything measured to JSON under
``benchmarks/results/`` (``calls.json``, ``calls-<mode>.json`` or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shlex
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import orjson

from sinch_async import SinchClient, SinchError, TextBatchRequest

from ._measure import SETTINGS, log, pct, wait_for_quiet
from ._measure import Meter as SharedMeter
from ._report import code_info
from ._report import machine_info as shared_machine_info
from ._servers import (
    PLAN,
    TOKEN,
    ServerKind,
    ServerProcess,
    ServerSpec,
)

BODY = "Hello from the calls benchmark"
RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("measure", "profile", "components")
RAW_CONNECTOR_LIMIT = 100  # the SDK's default max_connections

Contender = Literal["raw", "calls", "many"]
CONTENDERS: tuple[Contender, ...] = ("raw", "calls", "many")
NAMES: dict[Contender, str] = {"raw": "raw aiohttp", "calls": "sdk-calls", "many": "sdk-send_many"}
TARGETS: dict[Contender, float] = {"calls": 0.8, "many": 0.8}


def msisdn(i: int) -> str:
    """A distinct, valid E.164 number for send ``i``."""
    return f"+1555{i % 10_000_000:07d}"


def loadavg() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


# --- measurement ---------------------------------------------------------------------------


class Meter(SharedMeter):
    """The shared meter, plus hooks called right after start / right before stop (the
    profiler hooks in here)."""

    def __init__(self, server: ServerProcess | None) -> None:
        super().__init__(server)
        self.on_start: Callable[[], None] | None = None
        self.on_stop: Callable[[], None] | None = None

    def start(self) -> None:
        super().start()
        if self.on_start is not None:
            self.on_start()

    def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()
        super().stop()


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
class Run:
    contender: str
    server: str
    round: int
    n: int
    concurrency: int
    ok: int
    failed: int
    elapsed_s: float
    sends_per_s: float
    client_cpu_s: float | None
    server_cpu_s: float | None
    other_cpu_s: float | None
    load_before: float | None
    first_error: str | None = None
    server_stats: dict[str, Any] = field(default_factory=dict)

    def util(self, which: Literal["client", "server", "other"]) -> float | None:
        value = getattr(self, f"{which}_cpu_s")
        return None if value is None else value / self.elapsed_s

    @property
    def cpu_us_per_send(self) -> float | None:
        return None if self.client_cpu_s is None else self.client_cpu_s / self.n * 1e6

    def describe(self) -> str:
        return (
            f"{NAMES.get(self.contender, self.contender):>14} vs {self.server}: "  # type: ignore[call-overload]
            f"{self.sends_per_s:8.0f} sends/s ({self.ok} ok, {self.failed} failed, "
            f"{self.elapsed_s:.2f}s; cpu client {pct(self.util('client'))} server "
            f"{pct(self.util('server'))} other {pct(self.util('other'))}; "
            f"{fmt_us(self.cpu_us_per_send)} client CPU/send)"
        )


WHICH: tuple[Literal["client", "server", "other"], ...] = ("client", "server", "other")


def fmt_us(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} us"


# --- the three contenders -----------------------------------------------------------------


async def _workers(concurrency: int, work: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """``concurrency`` tasks, each awaiting ``work(i)`` for the next index until done."""
    await asyncio.gather(*(asyncio.create_task(work(w)) for w in range(concurrency)))


async def raw_client(url: str, n: int, concurrency: int, warmup: int, meter: Meter) -> Counts:
    """C tasks on one ClientSession(limit=100): orjson body out, orjson decode in."""
    endpoint = f"{url}/xms/v1/{PLAN}/batches"
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    connector = aiohttp.TCPConnector(limit=RAW_CONNECTOR_LIMIT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def phase(start: int, count: int, counts: Counts) -> None:
            indices = iter(range(start, start + count))

            async def work(_w: int) -> None:
                for i in indices:
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

            await _workers(concurrency, work)

        await phase(0, warmup, Counts())
        counts = Counts()
        meter.start()
        await phase(warmup, n, counts)
        meter.stop()
    return counts


async def calls_client(url: str, n: int, concurrency: int, warmup: int, meter: Meter) -> Counts:
    """C tasks each awaiting ``client.batches.send_text`` in a loop on one SinchClient."""
    async with SinchClient(PLAN, TOKEN, base_url=url) as client:
        batches = client.batches

        async def phase(start: int, count: int, counts: Counts) -> None:
            indices = iter(range(start, start + count))

            async def work(_w: int) -> None:
                for i in indices:
                    try:
                        batch = await batches.send_text(to=[msisdn(i)], body=BODY)
                        if batch.id:
                            counts.ok += 1
                        else:
                            counts.fail(f"no batch id in {batch!r}")
                    except SinchError as exc:
                        counts.fail(repr(exc))

            await _workers(concurrency, work)

        await phase(0, warmup, Counts())
        counts = Counts()
        meter.start()
        await phase(warmup, n, counts)
        meter.stop()
    return counts


def text_requests(start: int, count: int) -> Iterator[TextBatchRequest]:
    for i in range(start, start + count):
        yield TextBatchRequest(to=(msisdn(i),), body=BODY)


async def many_client(url: str, n: int, concurrency: int, warmup: int, meter: Meter) -> Counts:
    """``client.batches.send_many(requests, concurrency=C)`` over N lazily built requests."""
    async with SinchClient(PLAN, TOKEN, base_url=url) as client:

        async def phase(start: int, count: int, counts: Counts) -> None:
            requests = text_requests(start, count)
            async with client.batches.send_many(requests, concurrency=concurrency) as outcomes:
                async for outcome in outcomes:
                    if outcome.ok:
                        counts.ok += 1
                    else:
                        counts.fail(repr(outcome.error))

        await phase(0, warmup, Counts())
        counts = Counts()
        meter.start()
        await phase(warmup, n, counts)
        meter.stop()
    return counts


CLIENTS: dict[Contender, Callable[[str, int, int, int, Meter], Coroutine[Any, Any, Counts]]] = {
    "raw": raw_client,
    "calls": calls_client,
    "many": many_client,
}

#: Runs thrown away because other processes were busy meanwhile (kept in the JSON).
DISCARDED: list[dict[str, Any]] = []


def run_once(contender: Contender, kind: ServerKind, args: argparse.Namespace, rnd: int) -> Run:
    load_before = wait_for_quiet()
    with ServerProcess(ServerSpec(kind)) as server:
        meter = Meter(server)
        counts = asyncio.run(
            CLIENTS[contender](server.base_url, args.n, args.concurrency, args.warmup, meter)
        )
        stats = server.stop()
    run = Run(
        contender=contender,
        server=kind,
        round=rnd,
        n=args.n,
        concurrency=args.concurrency,
        ok=counts.ok,
        failed=counts.failed,
        elapsed_s=round(meter.wall, 4),
        sends_per_s=round(args.n / meter.wall, 1),
        client_cpu_s=meter.client_cpu,
        server_cpu_s=meter.server_cpu,
        other_cpu_s=meter.other_cpu,
        load_before=load_before,
        first_error=counts.first_error,
        server_stats=stats,
    )
    log(run.describe())
    return run


def run_measured(contender: Contender, kind: ServerKind, args: argparse.Namespace, rnd: int) -> Run:
    """One run; redone (3 tries in all) while other processes used too much CPU."""
    for attempt in range(1, 4):
        run = run_once(contender, kind, args, rnd)
        other = run.util("other")
        if other is None or other <= SETTINGS.disturbed_above or attempt == 3:
            return run
        log(f"disturbed: other processes used {other:.2f} cores; discarding, measuring again")
        DISCARDED.append(asdict(run))
    raise AssertionError("unreachable")


# --- report --------------------------------------------------------------------------------


@dataclass
class Row:
    metric: str
    value: str
    target: str = "—"
    met: bool | None = None

    @property
    def met_text(self) -> str:
        return "—" if self.met is None else ("yes" if self.met else "**NO**")


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| metric | value | target | met? |", "| --- | --- | --- | --- |"]
    for r in rows:
        cells = (r.metric, r.value, r.target, r.met_text)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def mode_measure(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    kind: ServerKind = args.server
    log(
        f"measure: {kind} server, n={args.n}, C={args.concurrency}, warm-up {args.warmup}, "
        f"{args.repeats} interleaved rounds; loadavg {loadavg()}"
    )
    runs: dict[Contender, list[Run]] = {c: [] for c in CONTENDERS}
    for rnd in range(args.repeats):
        order = CONTENDERS if rnd % 2 == 0 else CONTENDERS[::-1]
        for contender in order:
            runs[contender].append(run_measured(contender, kind, args, rnd))
    rate = {c: statistics.median(r.sends_per_s for r in runs[c]) for c in CONTENDERS}
    raw = rate["raw"]
    reps = f"median of {args.repeats}"
    server_name = "echo server" if kind == "echo" else "FakeSinch"
    rows: list[Row] = []
    summary: dict[str, Any] = {}
    for c in CONTENDERS:
        rates = [r.sends_per_s for r in runs[c]]
        cpu = _median([r.cpu_us_per_send for r in runs[c]])
        spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
        rows.append(
            Row(
                f"{NAMES[c]} sends/s vs {server_name} ({reps}; min-max)",
                f"{rate[c]:,.0f} ({spread})",
                "ceiling" if c == "raw" else f">= {TARGETS[c] * raw:,.0f}",
                None if c == "raw" else rate[c] >= TARGETS[c] * raw,
            )
        )
        summary[c] = {"median_sends_per_s": rate[c], "client_cpu_us_per_send": cpu}
    for c in ("calls", "many"):
        ratio = rate[c] / raw
        # each round's own ratio (contenders of one round ran back to back)
        paired = [runs[c][i].sends_per_s / runs["raw"][i].sends_per_s for i in range(args.repeats)]
        summary[c].update(ratio=ratio, per_round_ratios=paired)
        rows.append(
            Row(
                f"{NAMES[c]} / raw (ratio of medians)",
                f"{ratio:.3f}",
                f">= {TARGETS[c]:.2f}",
                ratio >= TARGETS[c],
            )
        )
        rows.append(
            Row(
                f"{NAMES[c]} / raw per round",
                ", ".join(f"{p:.3f}" for p in paired),
            )
        )
    rows.append(
        Row(
            "client CPU per send (median): raw / sdk-calls / sdk-send_many",
            " / ".join(fmt_us(summary[c]["client_cpu_us_per_send"]) for c in CONTENDERS),
        )
    )
    raw_cpu = summary["raw"]["client_cpu_us_per_send"]
    if raw_cpu is not None:
        rows.append(
            Row(
                "SDK client CPU over raw per send: sdk-calls / sdk-send_many",
                " / ".join(
                    fmt_us(
                        None
                        if summary[c]["client_cpu_us_per_send"] is None
                        else summary[c]["client_cpu_us_per_send"] - raw_cpu
                    )
                    for c in ("calls", "many")
                ),
            )
        )
    for c in CONTENDERS:
        rows.append(
            Row(
                f"CPU {NAMES[c]}: client / server / other (cores, median)",
                " / ".join(pct(_median([r.util(w) for r in runs[c]])) for w in WHICH),
            )
        )
    failed = sum(r.failed for rs in runs.values() for r in rs)
    bad = sum(r.ok != r.n for rs in runs.values() for r in rs)
    rows.append(Row("failed sends (all runs)", str(failed), "0", failed == 0 and bad == 0))
    data = {
        "server": kind,
        "n": args.n,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "summary": summary,
        "runs": {
            c: [asdict(r) | {"cpu_us_per_send": r.cpu_us_per_send} for r in runs[c]]
            for c in CONTENDERS
        },
    }
    return rows, data


# --- profile -------------------------------------------------------------------------------

#: (filename, line, function) -> (calls, own seconds, cumulative seconds)
ProfileTable = dict[tuple[str, int, str], tuple[int, float, float]]

_PACKAGES = (
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
    "logging",
    "contextvars",
)


def _package_of(filename: str) -> str:
    parts = Path(filename).parts
    for name in _PACKAGES:
        if name in parts:
            return name
    if filename.startswith(("~", "<built-in")):
        return "builtins"
    if filename.startswith("<"):
        return "generated"  # cattrs/attrs generated functions
    return "stdlib/other"


def _short(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name.split(" at 0x", 1)[0].removeprefix("<").removesuffix(">")
    if "/sinch_async/" in filename:
        return f"sinch_async/{filename.rsplit('/sinch_async/', 1)[1]}:{line}({name})"
    for marker in ("site-packages/", "python3.11/", "python3.12/", "python3.13/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{Path(filename).name if filename.startswith('/') else filename}:{line}({name})"


def _profile(contender: Contender, args: argparse.Namespace) -> tuple[ProfileTable, Run]:
    profiler = cProfile.Profile()
    wait_for_quiet()
    with ServerProcess(ServerSpec("echo")) as server:
        meter = Meter(server)
        meter.on_start, meter.on_stop = profiler.enable, profiler.disable
        counts = asyncio.run(
            CLIENTS[contender](server.base_url, args.n, args.concurrency, args.warmup, meter)
        )
        server.stop()
    run = Run(
        contender=contender,
        server="echo (profiled)",
        round=0,
        n=args.n,
        concurrency=args.concurrency,
        ok=counts.ok,
        failed=counts.failed,
        elapsed_s=round(meter.wall, 4),
        sends_per_s=round(args.n / meter.wall, 1),
        client_cpu_s=meter.client_cpu,
        server_cpu_s=meter.server_cpu,
        other_cpu_s=meter.other_cpu,
        load_before=None,
        first_error=counts.first_error,
    )
    log(run.describe())
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    table: ProfileTable = {k: (nc, tt, ct) for k, (_cc, nc, tt, ct, _callers) in stats.items()}
    buffer = io.StringIO()
    listing = pstats.Stats(profiler, stream=buffer)
    listing.sort_stats("tottime").print_stats(50)
    listing.sort_stats("cumulative").print_stats(60)
    out: Path = args.out_path  # listings go next to the JSON: <stem>-<contender>.txt
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_name(f"{out.stem}-{contender}.txt").write_text(buffer.getvalue())
    return table, run


def mode_profile(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    """cProfile one raw and one sdk-calls run vs the echo server; diff own time per send.

    cProfile inflates code making many small calls: read it as where the extra time
    goes; ``components`` gives unprofiled costs of the SDK's steps."""
    n = args.n
    contenders: tuple[Contender, ...] = (
        ("raw", "calls", "many") if args.with_many else ("raw", "calls")
    )
    log(f"profile: {', '.join(NAMES[c] for c in contenders)} vs echo, n={n}, C={args.concurrency}")
    tables: dict[Contender, ProfileTable] = {}
    profiled: dict[Contender, Run] = {}
    for c in contenders:
        tables[c], profiled[c] = _profile(c, args)

    def by_package(table: ProfileTable) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, (_calls, own, _cum) in table.items():
            out[_package_of(key[0])] = out.get(_package_of(key[0]), 0.0) + own / n * 1e6
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    packages = {c: by_package(t) for c, t in tables.items()}
    total = {c: sum(p.values()) for c, p in packages.items()}
    raw_t, sdk_t = tables["raw"], tables["calls"]
    diffs = sorted(
        (
            ((own - raw_t.get(key, (0, 0.0, 0.0))[1]) / n * 1e6, _short(key), calls, cum / n * 1e6)
            for key, (calls, own, cum) in sdk_t.items()
        ),
        reverse=True,
    )
    ours = sorted(
        (
            (cum / n * 1e6, own / n * 1e6, calls / n, _short(key))
            for key, (calls, own, cum) in sdk_t.items()
            if _package_of(key[0]) == "sinch_async"
        ),
        reverse=True,
    )
    rows = [
        Row(
            f"{NAMES[c]}: profiled own time per send",
            f"{total[c]:.0f} us: "
            + ", ".join(f"{k} {v:.0f}" for k, v in list(packages[c].items())[:8]),
        )
        for c in contenders
    ]
    for extra, name, calls, _cum in diffs[:20]:
        rows.append(
            Row(
                f"sdk-calls extra own vs raw: {name}",
                f"+{extra:.1f} us ({calls / n:.1f} calls/send)",
            )
        )
    for cum, own, per, name in ours[:25]:
        rows.append(
            Row(
                f"sinch_async cumulative: {name}",
                f"{cum:.1f} us (own {own:.1f}, {per:.1f} calls/send)",
            )
        )
    data = {
        "n": n,
        "concurrency": args.concurrency,
        "profiled_runs": {c: asdict(r) for c, r in profiled.items()},
        "own_us_per_send_total": total,
        "own_us_per_send_by_package": packages,
        "top_extra_own_us_per_send": [
            {"function": f, "extra_own_us": e, "calls_per_send": c / n, "cum_us": cu}
            for e, f, c, cu in diffs[:40]
        ],
        "sinch_async_by_cumulative_us_per_send": [
            {"function": f, "cum_us": cu, "own_us": o, "calls_per_send": c}
            for cu, o, c, f in ours[:40]
        ],
    }
    return rows, data


# --- components: timeit of the SDK's per-send steps, no server, no profiler ----------------


def _components() -> list[tuple[str, Callable[[], object]]]:
    """Each step ``send_text`` takes for one send, reproduced outside the event loop.

    These reach into private modules on purpose (this is a benchmark); a step whose
    internals changed is reported as unavailable, not fatal."""
    import logging

    from yarl import URL

    from sinch_async import _converter, _validation
    from sinch_async.models.batches import Batch
    from sinch_async.resources import batches as batches_mod

    from ._servers import ECHO_BATCH

    echo_body = orjson.dumps(ECHO_BATCH)
    request = TextBatchRequest(to=("+15550000001",), body=BODY)
    checked = _validation.check_batch_request(request)
    sdk_log = logging.getLogger("sinch_async")
    base = f"http://127.0.0.1:1234/xms/v1/{PLAN}"
    base_headers = {"Accept": "application/json", "User-Agent": "sinch-async/x"}

    def copy_headers() -> dict[str, str]:
        headers = dict(base_headers)
        headers["Authorization"] = "Bearer x"
        headers["Content-Type"] = "application/json"
        return headers

    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "raw: orjson.dumps(dict body)",
            lambda: orjson.dumps({"to": ["+15550000001"], "body": BODY, "type": "mt_text"}),
        ),
        ("raw: orjson.loads(response)", lambda: orjson.loads(echo_body)),
        (
            "build TextBatchRequest (attrs + str_tuple converter)",
            lambda: TextBatchRequest(to=["+15550000001"], body=BODY),
        ),
        (
            "_text(fields) via build_record",
            lambda: batches_mod._text({"to": ["+15550000001"], "body": BODY}),
        ),
        (
            "check_batch_request (validation, whole)",
            lambda: _validation.check_batch_request(request),
        ),
        ("  _check_common", lambda: _validation._check_common(request)),
        ("  check_recipients(1 number)", lambda: _validation.check_recipients(request.to)),
        ("  normalize_number", lambda: _validation.normalize_number("+15550000001")),
        ("dumps(request) (cattrs unstructure + orjson)", lambda: _converter.dumps(checked)),
        ("  converter.unstructure only", lambda: _converter.converter.unstructure(checked)),
        (
            "decode(body, Batch) (orjson + cattrs structure)",
            lambda: _converter.decode(echo_body, Batch, status=201),
        ),
        (
            "  converter.structure only (parsed dict)",
            lambda: _converter.structure(orjson.loads(echo_body), Batch),
        ),
        (
            "datetime.now(UTC).replace(ms) (send's started)",
            lambda: (lambda now: now.replace(microsecond=now.microsecond // 1000 * 1000))(
                datetime.now(UTC)
            ),
        ),
        ("URL(base + path, encoded=True)", lambda: URL(base + "/batches", encoded=True)),
        ("dict(headers) + 2 sets (per attempt)", copy_headers),
        (
            "log.debug(...) with extra (logger disabled)",
            lambda: sdk_log.debug(
                "%s %s -> %s (%.1f ms)",
                "POST",
                base,
                201,
                1.0,
                extra={"sinch_method": "POST", "sinch_url": base, "sinch_status": 201},
            ),
        ),
        ("time.perf_counter() x2", lambda: (time.perf_counter(), time.perf_counter())),
    ]
    try:
        from sinch_async._session import _CURRENT

        steps.append(
            ("ContextVar.get() x3", lambda: (_CURRENT.get(), _CURRENT.get(), _CURRENT.get()))
        )
        steps.append(("ContextVar set+reset", lambda: _CURRENT.reset(_CURRENT.set(None))))
    except ImportError:
        pass
    return steps


def mode_components(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    data: dict[str, Any] = {}
    try:
        steps = _components()
    except (ImportError, AttributeError) as exc:
        return [Row("components", f"unavailable: {exc!r}")], {"error": repr(exc)}
    for name, fn in steps:
        try:
            timer = timeit.Timer(fn)
            number, _ = timer.autorange()
            best = min(timer.repeat(repeat=5, number=number)) / number * 1e6
        except Exception as exc:  # an internal that changed: report, go on
            rows.append(Row(name, f"unavailable: {type(exc).__name__}: {exc}"))
            continue
        data[name] = best
        rows.append(Row(name, f"{best:.2f} us"))
    return rows, data


# --- output --------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    return {**shared_machine_info(), "loadavg_at_start": loadavg()}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.calls",
        description="sdk-calls and send_many vs a raw aiohttp loop (servers on 127.0.0.1).",
    )
    parser.add_argument("mode", nargs="?", default="measure", choices=MODES)
    parser.add_argument(
        "--server",
        choices=("echo", "fake"),
        default="echo",
        help="measure: echo (minimal, default) or FakeSinch",
    )
    parser.add_argument("--n", type=int, default=5000, help="measured sends per run (5000)")
    parser.add_argument("--concurrency", type=int, default=64, help="tasks / sends in flight (64)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured sends before each measured run (200)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="wait up to this many seconds before each run for other load (30)",
    )
    parser.add_argument(
        "--with-many", action="store_true", help="profile: also profile sdk-send_many"
    )
    parser.add_argument("--label", default="", help="free text stored in the JSON")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default benchmarks/results/calls[-<mode>].json)",
    )
    args = parser.parse_args(argv)
    for name in ("n", "concurrency", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


MODE_RUNNERS: dict[str, Callable[[argparse.Namespace], tuple[list[Row], dict[str, Any]]]] = {
    "measure": mode_measure,
    "profile": mode_profile,
    "components": mode_components,
}


def main(argv: Sequence[str] | None = None) -> int:

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    SETTINGS.settle = max(0.0, args.settle)
    suffix = (
        ""
        if args.mode == "measure" and args.server == "echo"
        else (f"-{args.mode}" if args.mode != "measure" else f"-{args.server}")
    )
    out: Path = args.out or RESULTS / f"calls{suffix}.json"
    args.out_path = out
    started = datetime.now(UTC)
    t0 = time.monotonic()
    rows, data = MODE_RUNNERS[args.mode](args)
    log(f"{args.mode}: done in {time.monotonic() - t0:.1f}s")
    document = {
        "command": shlex.join(["python", "-m", "benchmarks.calls", *argv]),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "label": args.label,
        "code": code_info(),
        "machine": machine_info(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "result": data,
        "discarded_disturbed_runs": DISCARDED,
        "table": [asdict(r) for r in rows],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    if args.label:
        print(f"**{args.label}**\n")
    print(markdown(rows))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
