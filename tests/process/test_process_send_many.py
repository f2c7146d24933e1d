"""``send_many`` interrupted for real: every batch the server stored has a recorded outcome.

The user pattern under test (README, "Bulk sending")::

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
* ``test_cancelled_consumer_*``: the same invariant in-process, for ``task.cancel()``.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sinch_async import SendOutcome, TextBatchRequest
from sinch_async.testing import FakeSinch
from tests.support.paths import PROCS

SCRIPT = PROCS / "proc_send_many.py"
COUNT = 2000
CONCURRENCY = 32
LATENCY = 0.05
ITERATIONS = 3
#: Seconds to let the fake handle bytes that reached its socket before we compare.
SETTLE = 0.2

Row = dict[str, Any]


def requests(count: int) -> Iterator[TextBatchRequest]:
    for i in range(count):
        yield TextBatchRequest(to=[f"+4670{i:07d}"], body=f"bulk {i}")


def row(outcome: SendOutcome, *, unreported: bool) -> Row:
    """The same record ``proc_send_many.py`` writes."""
    return {
        "index": outcome.index,
        "client_reference": getattr(outcome.request, "client_reference", None),
        "batch_id": outcome.batch_id,
        "ok": outcome.ok,
        "unknown": outcome.unknown,
        "failed": outcome.failed,
        "unreported": unreported,
        "error": None if outcome.error is None else repr(outcome.error),
    }


def assert_every_stored_batch_recorded(
    rows: list[Row], stored: dict[str, dict[str, Any]], *, submitted: int
) -> None:
    """The invariant. ``stored`` is the fake's id → batch JSON."""
    indices = Counter(r["index"] for r in rows)
    twice = sorted(i for i, n in indices.items() if n > 1)
    assert not twice, f"indices recorded more than once: {twice[:20]}"
    assert set(indices) == set(range(submitted)), (
        f"{submitted} requests read from the input but {len(indices)} recorded; missing "
        f"{sorted(set(range(submitted)) - set(indices))[:20]}"
    )
    refs = Counter(r["client_reference"] for r in rows)
    assert None not in refs, "auto_client_reference left a request without a reference"
    assert all(n == 1 for n in refs.values()), "a client_reference was recorded twice"

    for r in rows:
        kinds = [r["ok"], r["unknown"], r["failed"]]
        assert kinds.count(True) == 1, f"outcome is not exactly one of ok/unknown/failed: {r}"
        if r["ok"]:
            assert r["batch_id"] is not None, f"ok outcome without a batch id: {r}"

    stored_by_ref: dict[str, list[str]] = {}
    for batch_id, batch in stored.items():
        assert batch["id"] == batch_id
        stored_by_ref.setdefault(batch.get("client_reference"), []).append(batch_id)

    ok_rows = [r for r in rows if r["ok"]]
    recorded_ids = {r["batch_id"] for r in ok_rows}
    unrecorded = set(stored) - recorded_ids
    assert not unrecorded, (
        f"{len(unrecorded)} stored batch(es) without a recorded outcome, e.g. "
        f"{[stored[i] for i in sorted(unrecorded)[:3]]}"
    )
    phantom = recorded_ids - set(stored)
    assert not phantom, f"recorded ok batch ids the server never stored: {sorted(phantom)[:5]}"
    assert len(recorded_ids) == len(ok_rows), "two ok outcomes carry the same batch id"

    # ... and by client_reference: each stored batch is the one its reference's record names
    by_ref = {r["client_reference"]: r for r in rows}
    for ref, ids in stored_by_ref.items():
        assert ref in by_ref, f"stored batch(es) {ids} with reference {ref!r} nobody recorded"
        assert len(ids) == 1, f"reference {ref!r} was stored {len(ids)} times: {ids}"
        record = by_ref[ref]
        assert record["ok"] and record["batch_id"] == ids[0], (
            f"stored batch {ids[0]} (reference {ref!r}) but its record says {record}"
        )
    for r in rows:
        if r["unknown"]:
            assert len(stored_by_ref.get(r["client_reference"], [])) <= 1
        if r["failed"]:
            assert r["client_reference"] not in stored_by_ref, f"failed but stored: {r}"


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


async def test_cancelled_consumer_every_stored_batch_has_a_record() -> None:
    seed = random.randrange(2**32)
    delay = random.Random(seed).uniform(0.1, 0.3)
    rows: list[Row] = []
    first = asyncio.Event()
    async with FakeSinch(latency=LATENCY) as fake, fake.client() as client:
        sm = client.batches.send_many(
            requests(COUNT), concurrency=CONCURRENCY, auto_client_reference=True, grace=10
        )

        async def consume() -> None:
            try:
                async with sm as outcomes:
                    async for outcome in outcomes:
                        rows.append(row(outcome, unreported=False))
                        first.set()
            finally:
                for outcome in sm.unreported_outcomes:
                    rows.append(row(outcome, unreported=True))

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 10)
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stored = dict(fake.batches)
        await asyncio.sleep(SETTLE)
        assert dict(fake.batches) == stored, "batches stored after the run shut down"
        leftover = [
            t
            for t in asyncio.all_tasks()
            if t.get_name().startswith("sinch-send-many") and not t.done()
        ]
        assert not leftover, f"send_many tasks still running after shutdown: {leftover}"

    assert len(rows) < COUNT, f"seed={seed}: the run completed before the cancel"
    assert_every_stored_batch_recorded(rows, stored, submitted=sm.progress.submitted)
    unreported = [r for r in rows if r["unreported"]]
    assert len(unreported) == len(sm.unreported_outcomes) == sm.progress.unreported
    # 32 sends of >= 50 ms each were in flight when the cancel landed
    assert unreported, f"seed={seed}: nothing was in flight at the cancel"
    assert not any(r["unknown"] for r in rows), "sends reported unknown within the grace"
