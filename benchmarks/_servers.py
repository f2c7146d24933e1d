"""Benchmark servers, each in its own process so client and server never share a loop.

``ServerProcess(ServerSpec(kind="fake", ...))`` starts a child process (``spawn``) that
runs either ``FakeSinch`` or a trivial "echo" aiohttp server on ``127.0.0.1`` and sends
its port back through a pipe. Leaving the ``with`` block asks the child to stop, collects
its counters (requests served, 429s, CPU time, peak RSS) and joins it; the child also
stops by itself after ``max_lifetime`` seconds or when the parent goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Literal, Self

import orjson
from aiohttp import web

__all__ = [
    "ECHO_BATCH",
    "PLAN",
    "TOKEN",
    "ServerKind",
    "ServerProcess",
    "ServerSpec",
    "process_cpu_seconds",
    "process_rss_bytes",
    "system_busy_seconds",
]

PLAN = "bench-plan"
TOKEN = "bench-token"
HOST = "127.0.0.1"

ServerKind = Literal["fake", "echo"]

#: What the echo server answers to every send: a FakeSinch-shaped 201 batch.
ECHO_BATCH: dict[str, Any] = {
    "id": "01ECHOBENCHMARKBATCH000000",
    "to": ["+15550000001"],
    "body": "Hello from the fan-out benchmark",
    "type": "mt_text",
    "created_at": "2026-01-01T00:00:00.000Z",
    "modified_at": "2026-01-01T00:00:00.000Z",
    "canceled": False,
    "delivery_report": "none",
    "expire_at": "2026-01-04T00:00:00.000Z",
    "feedback_enabled": False,
    "flash_message": False,
}
_ECHO_BODY = orjson.dumps(ECHO_BATCH)

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU seconds of ``pid`` (default: this process); None if unknown."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def system_busy_seconds() -> float | None:
    """CPU seconds all CPUs spent busy since boot (``/proc/stat``), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    # guest time is already counted in user time
    return (sum(values[:8]) - idle) / _CLK_TCK


def process_rss_bytes(pid: int | None = None) -> int | None:
    """Resident set size in bytes, from ``/proc/<pid>/statm``; None if unavailable."""
    path = "/proc/self/statm" if pid is None else f"/proc/{pid}/statm"
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


@dataclass(frozen=True)
class ServerSpec:
    """Which server to run and how."""

    kind: ServerKind
    latency: float = 0.0
    messages_per_second: float | None = None
    #: The child stops by itself after this many seconds, whatever happens.
    max_lifetime: float = 600.0


# --- child process ---------------------------------------------------------------------


def _server_main(spec: ServerSpec, conn: Connection) -> None:
    """Entry point of the child process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        asyncio.run(_serve(spec, conn))
    finally:
        conn.close()


async def _wait_for_stop(conn: Connection, max_lifetime: float) -> str:
    """Return when the parent says stop, the pipe closes, or ``max_lifetime`` passes."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reason = "timeout"

    def readable() -> None:
        nonlocal reason
        try:
            message = conn.recv()
            reason = str(message)
        except (EOFError, OSError):
            reason = "parent gone"
        stop.set()

    loop.add_reader(conn.fileno(), readable)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max_lifetime)
    finally:
        loop.remove_reader(conn.fileno())
    return reason


async def _serve(spec: ServerSpec, conn: Connection) -> None:
    started = time.monotonic()
    stats: dict[str, Any] = {"kind": spec.kind}
    if spec.kind == "fake":
        from sinch_async.testing import FakeSinch

        fake = FakeSinch(
            PLAN,
            TOKEN,
            latency=spec.latency,
            seed=1,
            messages_per_second=spec.messages_per_second,
        )
        await fake.start()
        try:
            conn.send(("ready", fake.base_url, os.getpid()))
            stats["stop_reason"] = await _wait_for_stop(conn, spec.max_lifetime)
            stats.update(
                requests=len(fake.requests),
                batches=len(fake.batches),
                rate_limited=fake.rate_limited,
                accepted_messages=fake.accepted_messages,
            )
        finally:
            await fake.close()
    else:
        served = 0

        async def batches(request: web.Request) -> web.Response:
            nonlocal served
            await request.read()
            served += 1
            if spec.latency > 0:
                await asyncio.sleep(spec.latency)
            return web.Response(status=201, body=_ECHO_BODY, content_type="application/json")

        app = web.Application()
        app.router.add_post("/xms/v1/{plan}/batches", batches)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, HOST, 0)
            await site.start()
            port = runner.addresses[0][1]
            conn.send(("ready", f"http://{HOST}:{port}", os.getpid()))
            stats["stop_reason"] = await _wait_for_stop(conn, spec.max_lifetime)
            stats["requests"] = served
        finally:
            await runner.cleanup()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats.update(
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        max_rss_mib=round(usage.ru_maxrss / 1024, 1),
        lifetime_s=round(time.monotonic() - started, 3),
    )
    with contextlib.suppress(OSError, EOFError):
        conn.send(("stats", stats))


# --- parent side -----------------------------------------------------------------------


class ServerProcess:
    """A benchmark server in a child process; use as a (synchronous) context manager."""

    def __init__(self, spec: ServerSpec, *, start_timeout: float = 30.0) -> None:
        self.spec = spec
        self._start_timeout = start_timeout
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._child_conn = child_conn
        self._process = ctx.Process(
            target=_server_main, args=(spec, child_conn), name=f"bench-{spec.kind}", daemon=True
        )
        self.base_url = ""
        self.pid = 0
        self.stats: dict[str, Any] = {}

    def __enter__(self) -> Self:
        self._process.start()
        self._child_conn.close()  # ours is closed; the child keeps its copy
        try:
            if not self._conn.poll(self._start_timeout):
                raise RuntimeError(f"{self.spec.kind} server did not start in time")
            tag, url, pid = self._conn.recv()
            if tag != "ready" or not str(url).startswith(f"http://{HOST}:"):
                raise RuntimeError(f"unexpected start message from server: {tag!r} {url!r}")
        except BaseException:
            self._kill()
            raise
        self.base_url = str(url)
        self.pid = int(pid)
        return self

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.pid) if self.pid else None

    def rss_bytes(self) -> int | None:
        return process_rss_bytes(self.pid) if self.pid else None

    def stop(self, timeout: float = 15.0) -> dict[str, Any]:
        """Ask the child to stop; return its counters (empty if it could not say)."""
        if self._conn.closed:
            return self.stats
        try:
            self._conn.send("stop")
            if self._conn.poll(timeout):
                tag, stats = self._conn.recv()
                if tag == "stats":
                    self.stats = stats
        except (OSError, EOFError):
            pass
        self._process.join(timeout)
        self._kill()
        self._conn.close()
        return self.stats

    def _kill(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn.closed:
            return
        self.stop()
