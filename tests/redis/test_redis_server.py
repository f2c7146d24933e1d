"""The suite's own redis-server: started on a free loopback port, empty for each test."""

from __future__ import annotations

from typing import Any


async def test_the_suite_runs_a_real_redis_server(redis_client: Any, redis_url: str) -> None:
    assert redis_url.startswith("redis://127.0.0.1:")
    assert await redis_client.ping()
    await redis_client.set("k", "v")
    assert await redis_client.get("k") == b"v"
    assert "redis_version" in await redis_client.info("server")
