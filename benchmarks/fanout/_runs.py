"""The fan-out benchmark's measured runs: the raw aiohttp ceiling and ``send_many`` as
clients, one run against a fresh server process, interleaved repeats, and their medians.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import aiohttp
import orjson

from sinch_async import RetryPolicy, SinchClient, TextBatchRequest

from .._measure import Meter, log, pct, undisturbed, wait_for_quiet
from .._servers import PLAN, TOKEN, ServerProcess, ServerSpec

BODY = "Hello from the fan-out benchmark"
SENDER = "+15550009999"

ClientKind = Literal["raw", "sdk", "sdk_noretry"]


def msisdn(i: int) -> str:
    """A distinct, valid E.164 number for request ``i``."""
    return f"+1555{i % 10_000_000:07d}"


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
