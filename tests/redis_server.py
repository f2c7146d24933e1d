"""A real ``redis-server`` for the tests, started on a free loopback port.

Import the fixtures into a test module (``from .redis_server import redis_url, redis_client``).
Without ``redis-server`` on PATH the tests skip with the install line; under ``CI=true`` they
fail instead (CI must run them: ``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["redis_client", "redis_url", "start_redis"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_redis(workdir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``redis-server`` on 127.0.0.1 (no persistence; on ``port``, default a free
    one); returns (process, url)."""
    exe = shutil.which("redis-server")
    if exe is None:
        reason = "redis-server not found: apt-get install -y redis-server (or brew install redis)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must run the Redis tests", pytrace=False)
        pytest.skip(reason)
    port = _free_port() if port is None else port
    proc = subprocess.Popen(
        [
            exe,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start within 10 s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server that lives for the test session."""
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Any]:
    """A ``redis.asyncio.Redis`` on an emptied database."""
    redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")
    client = redis_asyncio.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
