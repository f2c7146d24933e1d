"""One module-level client, one event loop per task (Celery, RQ), in a real process (issue
17, section 5): the connections of each finished loop are closed (counted by the server
side, while the worker still runs), and the worker exits without "Unclosed client
session", "Unclosed connector" or any ``ResourceWarning``, although it never closes the
client.

The child (``tests/support/procs/proc_loop_per_task.py``) runs with ``-X dev -W
error::ResourceWarning``: a leaked socket, transport, session or connector would print an
"Exception ignored" with the warning, or asyncio's "Unclosed ..." error log. It talks to
FakeSinch (in this test's loop) through a :class:`CountingProxy`, which counts the
connections it opened and those it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from sinch_async.testing import FakeSinch
from tests.support.net import CountingProxy
from tests.support.paths import PROCS

SCRIPT = PROCS / "proc_loop_per_task.py"
TASKS = 3
LEAKS = ("Unclosed", "unclosed", "ResourceWarning", "Traceback", "Exception ignored")


@pytest.mark.parametrize(
    ("mode", "closed_while_running"),
    [
        ("run", TASKS),  # asyncio.run(): each loop's session closed as that loop shuts down
        ("close", TASKS - 1),  # loop.close() alone: closed on the next use; the last at exit
    ],
    ids=["asyncio.run", "loop.close"],
)
async def test_each_finished_loop_leaves_no_connection_and_exit_is_quiet(
    mode: str, closed_while_running: int
) -> None:
    async with FakeSinch() as fake, CountingProxy(fake.base_url.split("//")[1]) as proxy:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-X",
            "dev",
            "-W",
            "error::ResourceWarning",
            str(SCRIPT),
            proxy.url,
            fake.service_plan_id,
            fake.api_token,
            mode,
            str(TASKS),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdin is not None and proc.stdout is not None
            lines = []
            async with asyncio.timeout(30):
                while (line := (await proc.stdout.readline()).decode()) not in ("DONE\n", ""):
                    lines.append(line)
            assert len(lines) == TASKS, lines
            # the worker is still alive, its client never closed: what the server sees
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await proxy.wait_closed(closed_while_running)
            seen = f"{proxy.closed} of {proxy.opened} connections closed by the worker"
            assert proxy.opened == TASKS, seen  # one pooled connection per loop
            assert proxy.closed == closed_while_running and proxy.by_server == 0, seen
            proc.stdin.write(b"EXIT\n")
            await proc.stdin.drain()
            async with asyncio.timeout(30):
                _, stderr_b = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        stored = {b["id"] for b in fake.batches.values()}
    stderr = stderr_b.decode()
    assert proc.returncode == 0, stderr
    assert not [word for word in LEAKS if word in stderr], stderr
    assert {line.split()[2] for line in lines} == stored and len(stored) == TASKS
