"""Campaign ledgers: what they cost in time and in space.

* ``python -m benchmarks.ledger [COUNT] [REPEATS]``: ``send_many`` sends/s with a
  ``SqliteLedger`` vs none. FakeSinch at zero latency in the same process (the worst case
  for the ledger: nothing else to wait for).
* ``python -m benchmarks.ledger bytes [N] [--old-redis PATH]``: bytes per finished row
  (``ok``, default ``CAMPAIGN:INDEX`` references, 26-character batch ids), for N rows
  (default 100,000) begun and finished through each ledger's own methods. ``RedisLedger``:
  the ``INFO memory`` ``used_memory`` delta (less the client buffers, which come and go)
  when the campaign's keys are deleted, on a ``redis-server`` this benchmark starts on a
  free loopback port (no persistence), also with a caller-given reference per row;
  ``SqliteLedger``: the file's growth.
  ``--old-redis PATH`` measures another ``RedisLedger`` too, e.g. the format-1 one:
  ``git show d977ddb:sinch_async/redis/_ledger.py > /tmp/old_redis_ledger.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sinch_async import TextBatchRequest
from sinch_async._ledger import LedgerRecord, SqliteLedger, campaign_reference
from sinch_async.testing import FakeSinch


def _requests(n: int) -> list[TextBatchRequest]:
    return [TextBatchRequest(to=[f"+4670{i:07d}"], body=f"bench {i}") for i in range(n)]


async def sends_per_second(count: int, *, ledger: bool, concurrency: int = 32) -> float:
    """Sends/s of one ``send_many`` run of ``count`` requests (with or without a ledger)."""
    async with FakeSinch() as fake, fake.client(max_concurrency=concurrency) as client:
        with tempfile.TemporaryDirectory() as tmp:
            led = SqliteLedger(Path(tmp) / "bench.db") if ledger else None
            kwargs = (
                {"ledger": led, "campaign": "bench"} if led else {"auto_client_reference": True}
            )
            start = time.perf_counter()
            async with client.batches.send_many(
                _requests(count), concurrency=concurrency, **kwargs
            ) as sm:
                async for outcome in sm:
                    assert outcome.ok
            elapsed = time.perf_counter() - start
            if led is not None:
                await led.aclose()
    return count / elapsed


async def compare(count: int = 5000, repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` runs each, alternating; ``ratio`` = ledger / none."""
    none, sqlite = [], []
    for _ in range(repeats):
        none.append(await sends_per_second(count, ledger=False))
        sqlite.append(await sends_per_second(count, ledger=True))
    result = {"none": max(none), "sqlite": max(sqlite)}
    result["ratio"] = result["sqlite"] / result["none"]
    return result


# --- bytes per finished row -------------------------------------------------------------

R = TypeVar("R")
NOW = 1_790_000_000.0


async def _gather(calls: list[Awaitable[R]], limit: int = 64) -> list[R]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[R]) -> R:
        async with gate:
            return await call

    return await asyncio.gather(*[one(c) for c in calls])


async def fill(
    ledger: Any, campaign: str, n: int, *, own_references: bool = False, start: int = 0
) -> None:
    """Rows ``start .. start + n - 1`` begun and finished ``ok`` through the ledger's own
    methods, 64 at a time (as ``send_many`` would)."""
    v2 = "intent_at" in inspect.signature(ledger.begin).parameters
    for first in range(start, start + n, 2000):
        rows = range(first, min(start + n, first + 2000))
        # 12 characters, as row_digest; a format-1 ledger (no intent_at) had 32
        digest = {i: secrets.token_urlsafe(9) if v2 else secrets.token_hex(16) for i in rows}
        ref = {
            i: f"order-{i:08d}" if own_references else campaign_reference(campaign, i) for i in rows
        }
        kw: dict[str, Any] = {"intent_at": NOW} if v2 else {}
        await _gather([ledger.begin(campaign, i, ref[i], digest[i], **kw) for i in rows])
        await _gather(
            [
                ledger.finish(
                    campaign,
                    LedgerRecord(
                        i,
                        ref[i],
                        "ok",
                        digest[i],
                        NOW,
                        secrets.token_hex(13).upper(),  # 26 characters, as Sinch's batch ids
                        done_at=NOW,
                    ),
                )
                for i in rows
            ]
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def redis_server() -> AsyncIterator[Any]:
    """A ``redis.asyncio.Redis`` on a fresh ``redis-server`` (loopback, no persistence)."""
    import redis.asyncio as redis_asyncio

    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = await asyncio.create_subprocess_exec(
            *(exe, "--bind", "127.0.0.1", "--port", str(port), "--save", ""),
            *("--appendonly", "no", "--dir", tmp),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_asyncio.Redis(host="127.0.0.1", port=port)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    await client.ping()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
            yield client
        finally:
            await client.aclose()
            proc.terminate()
            await proc.wait()


async def _redis_used(client: Any) -> int:
    info = await client.info("memory")
    return int(info["used_memory"]) - int(info["mem_clients_normal"])


async def redis_bytes_per_row(
    make: Callable[[Any], Any], n: int, *, own_references: bool = False
) -> float:
    """Redis memory per finished row of a ``RedisLedger``: ``used_memory`` (less client
    buffers) freed when the campaign's keys are deleted. (The growth while filling reads
    5 to 10 bytes lower at 100,000 rows: Redis frees some memory of its own meanwhile.)"""
    async with redis_server() as client:
        ledger = make(client)
        await fill(ledger, "warm-up", 3000, own_references=own_references)
        await fill(ledger, "spring-sale-2026", n, own_references=own_references)
        await ledger.aclose()
        keys = [k async for k in client.scan_iter(match="*{spring-sale-2026}*", count=1000)]
        before = await _redis_used(client)
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        after = await _redis_used(client)
    return (before - after) / n


def _size(path: Path) -> int:
    return path.stat().st_size


async def sqlite_bytes_per_row(n: int) -> float:
    """File growth per finished row of a ``SqliteLedger`` (closed: WAL checkpointed)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        ledger = SqliteLedger(path)
        await ledger.start("spring-sale-2026", NOW)
        await fill(ledger, "spring-sale-2026", 1000)
        await ledger.aclose()
        before = _size(path)
        ledger = SqliteLedger(path)
        await fill(ledger, "spring-sale-2026", n, start=1000)
        await ledger.aclose()
        return (_size(path) - before) / n


def _load_ledger_class(path: str) -> type:
    """``RedisLedger`` from a copy of ``sinch_async/redis/_ledger.py`` (any version)."""
    source = Path(path).read_text().replace("from .._", "from sinch_async._")
    module_path = Path(tempfile.mkdtemp()) / "other_redis_ledger.py"
    module_path.write_text(source)
    spec = importlib.util.spec_from_file_location("other_redis_ledger", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type = module.RedisLedger
    return cls


async def bytes_per_row(n: int = 100_000, old_redis: str | None = None) -> dict[str, float]:
    from sinch_async.redis._ledger import RedisLedger

    result = {
        "redis": await redis_bytes_per_row(RedisLedger, n),
        "redis, caller references": await redis_bytes_per_row(RedisLedger, n, own_references=True),
        "sqlite": await sqlite_bytes_per_row(n),
    }
    if old_redis:
        result["redis, --old-redis"] = await redis_bytes_per_row(_load_ledger_class(old_redis), n)
    return result


def main(argv: list[str]) -> None:
    if argv[:1] == ["bytes"]:
        parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger bytes")
        parser.add_argument("n", nargs="?", type=int, default=100_000)
        parser.add_argument("--old-redis", metavar="PATH")
        args = parser.parse_args(argv[1:])
        result = asyncio.run(bytes_per_row(args.n, args.old_redis))
        print(f"bytes per finished row ({args.n} rows):")
        for name, value in result.items():
            gib = value * 10_000_000 / 2**30
            print(f"  {name:26} {value:6.1f} B/row ({gib:.2f} GiB for 10M rows)")
        return
    count = int(argv[0]) if argv else 5000
    repeats = int(argv[1]) if len(argv) > 1 else 3
    r = asyncio.run(compare(count, repeats))
    print(
        f"{count} sends, best of {repeats}: none {r['none']:.0f}/s, "
        f"SqliteLedger {r['sqlite']:.0f}/s, ratio {r['ratio']:.2f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
