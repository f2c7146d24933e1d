"""``send_many`` interrupted for real: every batch the server stored has a recorded outcome.

The user pattern under test (docs/campaigns.md, "Every request gets exactly one outcome")::

    sm = client.batches.send_many(reqs, concurrency=32, auto_client_reference=True, grace=10)
    try:
        async with sm as outcomes:
            async for o in outcomes:
                record(o)
    finally:
        for o in sm.unreported_outcomes:
            record(o, unreported=True)

Invariant: the batches stored by the server are exactly the recorded outcomes that carry
a batch (yielded or unreported), matched by id and by ``client_reference``; nothing is
stored without a record, no request is recorded twice, and every request read from the
input (``progress.submitted``) has a record.

* ``test_sigint_mid_run_*`` (slow): a child process
  (``tests/support/procs/proc_send_many.py``) under
  ``asyncio.run`` gets a real SIGINT while sends are in flight; FakeSinch runs in this
  test's event loop, so it sees everything the child sent, even after the child died.

The same invariant in-process, for ``task.cancel()``, is tests/client/test_send_many_records.py
(helpers shared through ``tests/support/send_many_records.py``).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
from pathlib import Path

import pytest

from sinch_async.testing import FakeSinch
from tests.support.paths import PROCS
from tests.support.send_many_records import Row, assert_every_stored_batch_recorded

SCRIPT = PROCS / "proc_send_many.py"
COUNT = 2000
CONCURRENCY = 32
LATENCY = 0.05
ITERATIONS = 3
#: Seconds to let the fake handle bytes that reached its socket before we compare.
SETTLE = 0.2


def read_rows(path: Path) -> list[Row]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines()
    # every line must be whole: the child flushes per record and exits cleanly
    assert not text or text.endswith("\n"), f"torn last line: {lines[-1]!r}"
    return [json.loads(line) for line in lines]


@pytest.mark.slow
async def test_sigint_mid_run_every_stored_batch_has_a_record(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for iteration in range(ITERATIONS):
        delay = rng.uniform(0.1, 0.5)
        context = f"seed={seed} iteration={iteration} delay={delay:.3f}s"
        out = tmp_path / f"outcomes-{iteration}.jsonl"
        async with FakeSinch(latency=LATENCY) as fake:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SCRIPT),
                fake.base_url,
                fake.service_plan_id,
                fake.api_token,
                str(out),
                str(COUNT),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                assert proc.stdout is not None
                first = await asyncio.wait_for(proc.stdout.readline(), 20)
                assert first == b"STARTED\n", f"{context}: child said {first!r}"
                await asyncio.sleep(delay)
                proc.send_signal(signal.SIGINT)
                stdout_b, stderr_b = await asyncio.wait_for(proc.communicate(), 30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            await asyncio.sleep(SETTLE)  # the fake handles whatever reached it
            stored = dict(fake.batches)

        stdout, stderr = stdout_b.decode(), stderr_b.decode()
        assert proc.returncode == 130, (
            f"{context}: exit {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )
        assert "INTERRUPTED" in stdout and "Traceback" not in stderr, (
            f"{context}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )
        summary = next(
            json.loads(line)["summary"] for line in stdout.splitlines() if '"summary"' in line
        )
        rows = read_rows(out)
        assert len(rows) < COUNT, f"{context}: the run completed before the SIGINT"
        assert_every_stored_batch_recorded(rows, stored, submitted=summary["submitted"])
        unreported = sum(r["unreported"] for r in rows)
        assert unreported == summary["unreported"], context
        unknown = [r for r in rows if r["unknown"]]
        assert not unknown, f"{context}: sends reported unknown within grace: {unknown[:3]}"
        # the SIGINT lands mid-run with ~32 sends of >= 50 ms in flight: they finish after
        # the consumer stopped, so every run has unreported outcomes (32 or more observed)
        assert unreported > 0, f"{context}: nothing was in flight at the SIGINT"
