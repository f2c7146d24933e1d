"""Child process for ``tests/redis/test_redis_limiter.py`` and ``benchmarks/workers.py``: one worker
with its own ``SinchClient`` sending batches of random sizes until a deadline.

Usage: ``proc_limiter.py BASE_URL PLAN TOKEN --rate R [--redis URL --key K] --start-at T
--duration S [--seed N] [--min-size A] [--max-size B] [--concurrency C] [--gets]``

Without ``--redis`` the worker uses the in-process limiter at ``--rate`` (the naive setup
the Redis limiter replaces). It waits until the wall-clock time ``--start-at`` so every
worker starts together, sends with ``--concurrency`` tasks until ``--start-at +
--duration``, and with ``--gets`` also reads the last batch back (a GET, cost 0) in a
loop. Prints one JSON line on stdout: ``sends``, ``messages``, ``gets``, ``errors``
(error type -> count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from typing import Any

from sinch_async import SinchClient, SinchError, TextBatchRequest
from sinch_async._limits import RateLimiter


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    redis_client: Any = None
    limiter: float | RateLimiter = args.rate
    if args.redis:
        import redis.asyncio as redis_asyncio

        from sinch_async.redis._limiter import RedisRateLimiter

        redis_client = redis_asyncio.from_url(args.redis, socket_timeout=2)
        limiter = RedisRateLimiter(redis_client, args.key, args.rate)
    stats: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    last: list[str] = []
    deadline = args.start_at + args.duration
    await asyncio.sleep(max(0.0, args.start_at - time.time()))

    async with SinchClient(
        args.plan, args.token, base_url=args.base_url, messages_per_second=limiter
    ) as client:

        async def sender(worker: int) -> None:
            n = 0
            while time.time() < deadline:
                size = rng.randint(args.min_size, args.max_size)
                to = [f"+46{args.seed % 100:02d}{worker:02d}{n:05d}{j:02d}" for j in range(size)]
                n += 1
                try:
                    batch = await client.batches.send(TextBatchRequest(to=to, body="x"))
                except SinchError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                stats["sends"] += 1
                stats["messages"] += size
                last[:] = [batch.id]

        async def reader() -> None:
            while time.time() < deadline:
                if last:
                    try:
                        await client.batches.get(last[0])
                        stats["gets"] += 1
                    except SinchError as exc:
                        errors[type(exc).__name__] += 1
                await asyncio.sleep(0.02)

        tasks = [sender(i) for i in range(args.concurrency)]
        if args.gets:
            tasks.append(reader())
        await asyncio.gather(*tasks)
    if redis_client is not None:
        await redis_client.aclose()
    return {
        "sends": stats["sends"],
        "messages": stats["messages"],
        "gets": stats["gets"],
        "errors": dict(errors),
    }


# --- the parent's side (tests and benchmarks) -------------------------------------------


async def run_workers(
    fake: Any,
    workers: int,
    *,
    rate: float,
    redis_url: str | None,
    key: str,
    duration: float,
    concurrency: int = 3,
    min_size: int = 1,
    max_size: int = 50,
    gets: bool = False,
    during: Any = None,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Run ``workers`` child processes against ``fake`` (served by this event loop) and
    return their summaries. ``during(start_at)``, if given, is awaited meanwhile."""
    start_at = time.time() + 1.5  # time for the children to import and connect
    argv = [
        sys.executable,
        __file__,
        fake.base_url,
        fake.service_plan_id,
        fake.api_token,
        "--rate",
        repr(rate),
        "--key",
        key,
        "--start-at",
        repr(start_at),
        "--duration",
        repr(duration),
        "--concurrency",
        str(concurrency),
        "--min-size",
        str(min_size),
        "--max-size",
        str(max_size),
    ]
    if redis_url is not None:
        argv += ["--redis", redis_url]
    if gets:
        argv.append("--gets")
    procs = [
        await asyncio.create_subprocess_exec(
            *argv,
            "--seed",
            str(i + 1),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL if quiet else None,
        )
        for i in range(workers)
    ]
    if during is not None:
        await during(start_at)
    outs = [await p.communicate() for p in procs]
    for p in procs:
        assert p.returncode == 0, f"worker exited {p.returncode}"
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs]


def accepted_arrivals(fake: Any) -> list[tuple[float, int]]:
    """Like :func:`send_arrivals`, but only the sends the fake accepted: of the attempts
    with the same recipients (a 429 and its retries) the last, if a batch was stored."""
    accepted = {tuple(b["to"]) for b in fake.batches.values()}
    last = {to: (t, n) for t, n, to in _sends(fake) if to in accepted}
    return sorted(last.values())


def _sends(fake: Any) -> list[tuple[float, int, tuple[str, ...]]]:
    return [
        (r.received_at, len(r.json["to"]), tuple(r.json["to"]))
        for r in fake.requests
        if r.method == "POST" and r.path.endswith("/batches") and isinstance(r.json, dict)
    ]


def send_arrivals(fake: Any) -> list[tuple[float, int]]:
    """(arrival time, messages) of every send the fake received, in arrival order."""
    return [
        (r.received_at, len(r.json["to"]))
        for r in fake.requests
        if r.method == "POST" and r.path.endswith("/batches") and isinstance(r.json, dict)
    ]


def steady_rate(
    arrivals: list[tuple[float, int]], *, skip: float = 1.0, tail: float = 0.3
) -> float:
    """Messages per second after the first ``skip`` seconds (the burst) and before the last
    ``tail`` (the drain): least-squares slope of the cumulative message count."""
    if not arrivals:
        return 0.0
    t0, t_end = arrivals[0][0] + skip, arrivals[-1][0] - tail
    points: list[tuple[float, float]] = []
    total = 0
    for t, n in arrivals:
        if t0 <= t <= t_end:
            points.append((t, total))  # messages before this one: the curve's lower step
        total += n
    if len(points) < 2:
        return 0.0
    mt = sum(t for t, _ in points) / len(points)
    mc = sum(c for _, c in points) / len(points)
    num = sum((t - mt) * (c - mc) for t, c in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return num / den if den else 0.0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("base_url")
    p.add_argument("plan")
    p.add_argument("token")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--redis", default=None)
    p.add_argument("--key", default="sinch:test:limiter")
    p.add_argument("--start-at", type=float, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-size", type=int, default=1)
    p.add_argument("--max-size", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=3)
    p.add_argument("--gets", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))), flush=True)
