"""``run_checks``'s Redis checks (issue 17, section 6) against real redis-servers: one with
persistence (AOF, appendfsync everysec, noeviction), the suite's own (no persistence), one
with RDB snapshots only and an evicting policy, one whose CONFIG and TIME are renamed away
(a locked-down managed Redis), and none at all."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sinch_async import Check, run_checks
from sinch_async._settings import AccountsConfig
from sinch_async.testing import FakeSinch
from tests.support.net import free_port
from tests.support.redis_server import start_redis

#: No accounts file: only what the test gives is checked.
NO_FILE = AccountsConfig(None, {}, {})


def _serve(workdir: Path, *config: str) -> Iterator[str]:
    proc, url = start_redis(workdir, config=config)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def durable_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server that keeps its promises: AOF, fsync every second, noeviction."""
    yield from _serve(
        tmp_path_factory.mktemp("durable"),
        *("--appendonly", "yes", "--appendfsync", "everysec"),
        *("--maxmemory-policy", "noeviction"),
    )


@pytest.fixture(scope="module")
def lru_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """RDB snapshots only, and allkeys-lru under a memory limit."""
    yield from _serve(
        tmp_path_factory.mktemp("lru"),
        *("--save", "3600 1", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"),
    )


@pytest.fixture(scope="module")
def locked_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CONFIG and TIME renamed away, as some managed services do (CONFIG, at least)."""
    yield from _serve(
        tmp_path_factory.mktemp("locked"),
        *("--rename-command", "CONFIG", "", "--rename-command", "TIME", ""),
    )


async def redis_checks(fake: FakeSinch, *targets: Any) -> dict[str, Check]:
    """The Redis checks of one target, by name (the Sinch checks pass: see the CLI tests)."""
    async with fake.client() as client:
        checks = await run_checks(client, redis=targets, config=NO_FILE)
    assert [c.status for c in checks if not c.name.startswith("redis")] == ["ok"] * 4
    found = {c.name: c for c in checks if c.name.startswith("redis")}
    assert len(found) == len([c for c in checks if c.name.startswith("redis")])
    return found


async def test_a_redis_with_persistence_and_noeviction_is_ok(
    fake: FakeSinch, durable_redis_url: str
) -> None:
    found = await redis_checks(fake, durable_redis_url)
    assert list(found) == ["redis", "redis_time", "redis_persistence", "redis_eviction"]
    assert {c.status for c in found.values()} == {"ok"}, found
    assert "appendfsync everysec" in found["redis_persistence"].detail
    assert "noeviction" in found["redis_eviction"].detail
    assert found["redis"].subject == durable_redis_url  # no password to hide


async def test_a_redis_without_persistence_is_a_warning(fake: FakeSinch, redis_url: str) -> None:
    found = await redis_checks(fake, redis_url)
    persistence = found["redis_persistence"]
    assert persistence.status == "warning"
    assert persistence.detail.startswith("no persistence (appendonly no, no RDB snapshot)")
    assert persistence.advice is not None and "appendonly yes" in persistence.advice
    assert found["redis_eviction"].status == "ok"  # redis-server's default: noeviction
    assert found["redis_time"].status == "ok"


async def test_an_evicting_policy_and_snapshots_only_are_warnings(
    fake: FakeSinch, lru_redis_url: str
) -> None:
    found = await redis_checks(fake, lru_redis_url)
    eviction = found["redis_eviction"]
    assert eviction.status == "warning"
    assert "allkeys-lru drops any key" in eviction.detail
    assert eviction.advice is not None and "noeviction" in eviction.advice
    persistence = found["redis_persistence"]
    assert persistence.status == "warning"
    assert "RDB snapshots only (save 3600 1)" in persistence.detail


async def test_volatile_policies_evict_leases_too(fake: FakeSinch, lru_redis_url: str) -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")
    other = redis_asyncio.from_url(lru_redis_url)
    await other.config_set("maxmemory-policy", "volatile-ttl")
    try:
        found = await redis_checks(fake, lru_redis_url)
    finally:
        await other.config_set("maxmemory-policy", "allkeys-lru")
        await other.aclose()
    assert found["redis_eviction"].status == "warning"
    assert "keys with a TTL (leases" in found["redis_eviction"].detail


async def test_appendfsync_no_is_a_warning(fake: FakeSinch, durable_redis_url: str) -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")
    other = redis_asyncio.from_url(durable_redis_url)
    await other.config_set("appendfsync", "no")
    try:
        found = await redis_checks(fake, durable_redis_url)
    finally:
        await other.config_set("appendfsync", "everysec")
        await other.aclose()
    assert found["redis_persistence"].status == "warning"
    assert "appendfsync no" in found["redis_persistence"].detail


async def test_config_renamed_away_is_a_warning_and_no_time_an_error(
    fake: FakeSinch, locked_redis_url: str
) -> None:
    found = await redis_checks(fake, locked_redis_url)
    assert found["redis"].status == "ok"
    for name in ("redis_persistence", "redis_eviction"):
        assert found[name].status == "warning"
        assert found[name].detail.startswith("cannot read the configuration")
    assert found["redis_time"].status == "error"
    assert found["redis_time"].advice is not None and "TIME" in found["redis_time"].advice


async def test_an_unreachable_redis_is_an_error_without_its_password(fake: FakeSinch) -> None:
    url = f"redis://worker:hunter2@127.0.0.1:{free_port()}/0"
    found = await redis_checks(fake, url)
    assert list(found) == ["redis"]  # nothing else to ask it
    assert found["redis"].status == "error"
    assert found["redis"].subject == url.replace("worker:hunter2", "***")
    assert "hunter2" not in repr(found)


async def test_a_redis_client_is_checked_and_left_open(
    fake: FakeSinch, redis_client: Any, redis_url: str
) -> None:
    found = await redis_checks(fake, redis_client)
    assert found["redis"].subject == redis_url
    assert found["redis_persistence"].status == "warning"
    assert await redis_client.ping()  # still the caller's, still open


async def test_each_redis_is_checked(
    fake: FakeSinch, durable_redis_url: str, lru_redis_url: str
) -> None:
    async with fake.client() as client:
        checks = await run_checks(client, redis=[durable_redis_url, lru_redis_url], config=NO_FILE)
    evictions = [(c.subject, c.status) for c in checks if c.name == "redis_eviction"]
    assert evictions == [(durable_redis_url, "ok"), (lru_redis_url, "warning")]
