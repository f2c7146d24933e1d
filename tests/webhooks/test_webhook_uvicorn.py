"""Issue 17 §3 acceptance: the ASGI webhook app under two real uvicorn processes (on two
ports) sharing one Redis nonce store (``tests/support/procs/webhook_asgi.py``).

Signed callbacks are delivered to either process: the first delivery is answered 2xx and
its replay 401 by the *other* process; of N concurrent copies of a fresh callback spread over
both, exactly one is handled and answered 2xx, the others 401 as replays; a handler that
fails answers 500 and releases the nonce, so the retry is accepted by the other process;
a callback of an unknown ``type`` is answered 2xx and handed over; with Redis stopped both
answer 503 without calling the handler, and once Redis is back the retry is accepted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from sinch_async import sign_callback
from tests.support.net import free_port
from tests.support.redis_server import start_redis
from tests.support.webhooks import SECRET, start_uvicorn, stop, wait_listening

pytestmark = [
    pytest.mark.slow,
    pytest.mark.process,
    pytest.mark.redis,
    pytest.mark.realtime("real processes: uvicorn and redis-server"),
]

pytest.importorskip("uvicorn", reason="pip install -e '.[dev]'")
pytest.importorskip("redis.asyncio", reason="pip install -e '.[dev]'")

#: Concurrent copies of one callback.
COPIES = 16


def mo_text(message_id: str) -> bytes:
    return orjson.dumps(
        {
            "type": "mo_text",
            "id": message_id,
            "from": "+46701234567",
            "to": "12345",
            "body": "hello",
            "received_at": "2026-11-23T12:00:00.000Z",
        }
    )


def signed(body: bytes, nonce: str) -> dict[str, str]:
    return sign_callback(SECRET, body, nonce, int(time.time()))


def handled(records: list[Path]) -> list[dict[str, Any]]:
    """Every event the two processes' handlers recorded."""
    lines: list[dict[str, Any]] = []
    for path in records:
        if path.exists():
            lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


async def test_two_uvicorn_processes_share_one_redis_nonce_store(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis_proc, redis_url = start_redis(tmp_path / "redis")
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    ports = [free_port()]
    while len(ports) < 2:
        if (port := free_port()) not in ports:
            ports.append(port)
    records = [tmp_path / f"events-{i}.jsonl" for i in range(2)]
    logs = [tmp_path / f"uvicorn-{i}.log" for i in range(2)]
    fail = tmp_path / "fail"
    procs = [
        start_uvicorn(
            port,
            {
                "SINCH_WEBHOOK_REDIS": redis_url,
                "SINCH_WEBHOOK_SECRET": SECRET,
                "SINCH_WEBHOOK_RECORD": str(record),
                "SINCH_WEBHOOK_FAIL": str(fail),
            },
            log,
        )
        for port, record, log in zip(ports, records, logs, strict=True)
    ]

    def server_logs() -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in logs if log.exists())

    try:
        await asyncio.gather(
            *(wait_listening(p, port) for p, port in zip(procs, ports, strict=True))
        )
        pids = {p.pid for p in procs}
        async with aiohttp.ClientSession() as http:

            async def post(i: int, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
                url = f"http://127.0.0.1:{ports[i]}/"
                async with http.post(url, data=body, headers=headers) as response:
                    return response.status, await response.json()

            # first delivery on one process, its replay on the other (and on the first)
            body = mo_text("first")
            headers = signed(body, "nonce-first")
            assert await post(0, headers, body) == (200, {"ok": True}), server_logs()
            assert await post(1, headers, body) == (401, {"error": "replayed_nonce"})
            assert await post(0, headers, body) == (401, {"error": "replayed_nonce"})

            # concurrent copies of a fresh callback over both processes: one is handled
            body = mo_text("concurrent")
            headers = signed(body, "nonce-concurrent")
            answers = await asyncio.gather(*(post(i % 2, headers, body) for i in range(COPIES)))
            statuses = Counter(status for status, _ in answers)
            assert statuses == {200: 1, 401: COPIES - 1}, (answers, server_logs())
            assert all(
                answer == {"error": "replayed_nonce"} for status, answer in answers if status == 401
            )

            # the handler fails on one process: 500, the nonce is released, and Sinch's
            # retry of the same callback is accepted by the other process
            body = mo_text("retried")
            headers = signed(body, "nonce-retried")
            fail.touch()
            assert await post(0, headers, body) == (500, {"error": "handler_failed"})
            fail.unlink()
            assert await post(1, headers, body) == (200, {"ok": True}), server_logs()
            assert await post(0, headers, body) == (401, {"error": "replayed_nonce"})

            # a type this SDK does not know: handed over, answered 2xx
            unknown = orjson.dumps({"type": "mo_rcs", "id": "rcs-1", "card": {"title": "hi"}})
            assert await post(1, signed(unknown, "nonce-rcs"), unknown) == (200, {"ok": True})

            # Redis stopped: 503 from both (Sinch retries), the handler is not called
            stop(redis_proc)
            body = mo_text("outage")
            headers = signed(body, "nonce-outage")
            for i in (0, 1):
                status, answer = await post(i, headers, body)
                assert (status, answer) == (503, {"error": "nonce_store_unavailable"}), (
                    server_logs()
                )

            # Redis back (empty): Sinch's retry of that callback is handled
            redis_proc, _ = start_redis(tmp_path / "redis", port=redis_port)
            assert await post(1, headers, body) == (200, {"ok": True}), server_logs()

        events = handled(records)
        by_id = Counter(event.get("id") or event["raw"]["id"] for event in events)
        assert by_id == {"first": 1, "concurrent": 1, "retried": 1, "rcs-1": 1, "outage": 1}
        assert {event["pid"] for event in events} <= pids
        first = next(event for event in events if event.get("id") == "first")
        assert first["pid"] == procs[0].pid and first["class"] == "MoText"
        rcs = next(event for event in events if event["type"] == "mo_rcs")
        assert rcs["class"] == "UnknownCallback" and rcs["raw"]["card"] == {"title": "hi"}
        assert rcs["pid"] == procs[1].pid
    finally:
        for proc in procs:
            stop(proc)
        stop(redis_proc)
