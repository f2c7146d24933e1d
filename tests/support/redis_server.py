"""A real ``redis-server`` for the tests, started on a free loopback port.

``start_redis`` starts one; the fixtures ``redis_url`` (one server per session) and
``redis_client`` (an emptied database per test) are defined in ``tests/conftest.py``.
Without ``redis-server`` on PATH the tests skip with the install line; under ``CI=true`` they
fail instead (CI must run them: ``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.net import free_port


def start_redis(
    workdir: Path, port: int | None = None, config: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``redis-server`` on 127.0.0.1 (no persistence; on ``port``, default a free
    one; ``config``: more ``--name value`` arguments, which win, e.g. ``("--appendonly",
    "yes")``); returns (process, url)."""
    exe = shutil.which("redis-server")
    if exe is None:
        reason = "redis-server not found: apt-get install -y redis-server (or brew install redis)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must run the Redis tests", pytrace=False)
        pytest.skip(reason)
    port = free_port() if port is None else port
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
            *config,
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
