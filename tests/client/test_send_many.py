"""send_many and send reconciliation against FakeSinch with injected faults."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from sinch_async import (
    RetryPolicy,
    SendOutcome,
    SendOutcomeUnknown,
    SinchValidationError,
    TextBatchRequest,
    Timeouts,
)
from sinch_async.testing import FakeClock, FakeSinch, Fault
from sinch_async.testing.pytest_plugin import FakeSinchFactory
from tests.support.virtual_time import VirtualTime

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)

pytestmark = pytest.mark.fake_sinch(seed=7)


def requests(n: int, *, ref: bool = True) -> Iterator[TextBatchRequest]:
    for i in range(n):
        yield TextBatchRequest(
            to=[f"+4670{i:07d}"], body=f"msg {i}", client_reference=f"ref-{i}" if ref else None
        )


async def test_every_request_gets_one_outcome(fake: FakeSinch) -> None:
    async with fake.client(retry=FAST) as client:
        seen: list[int] = []
        async with client.batches.send_many(requests(300), concurrency=16) as outcomes:
            async for outcome in outcomes:
                assert outcome.ok and outcome.batch is not None
                seen.append(outcome.index)
        assert sorted(seen) == list(range(300))
        assert outcomes.progress.succeeded == 300 and outcomes.progress.in_flight == 0
    assert len(fake.batches) == 300


async def test_preserve_order(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", delay=0.02, probability=0.3))
    async with fake.client(retry=FAST) as client:
        indices = [
            o.index
            async for o in client.batches.send_many(
                requests(120), concurrency=8, preserve_order=True
            )
        ]
    assert indices == list(range(120))


async def test_failures_do_not_stop_the_run(fake: FakeSinch) -> None:
    def mixed() -> Iterator[TextBatchRequest]:
        for i, req in enumerate(requests(20)):
            yield TextBatchRequest(to=["not a number"], body="x") if i % 5 == 0 else req

    progress_calls = 0

    def on_progress(_: object) -> None:
        nonlocal progress_calls
        progress_calls += 1

    async with fake.client(retry=FAST) as client:
        outcomes = [o async for o in client.batches.send_many(mixed(), on_progress=on_progress)]
    errors = [o for o in outcomes if not o.ok]
    assert len(outcomes) == 20 and len(errors) == 4
    assert all(isinstance(o.error, SinchValidationError) for o in errors)
    assert progress_calls == 20 and len(fake.batches) == 16


async def test_async_iterable_input_and_input_errors(fake: FakeSinch) -> None:
    async def source() -> AsyncIterator[TextBatchRequest]:
        for req in requests(5):
            yield req
        raise RuntimeError("source broke")

    async with fake.client(retry=FAST) as client:
        got: list[SendOutcome] = []
        with pytest.raises(RuntimeError, match="source broke"):
            async for o in client.batches.send_many(source()):
                got.append(o)
    assert len(got) == 5 and len(fake.batches) == 5


async def test_leaving_early_accounts_for_in_flight_sends(fake: FakeSinch) -> None:
    fake.latency = 0.02
    async with fake.client(retry=FAST) as client:
        taken = 0
        async with client.batches.send_many(requests(10_000), concurrency=20) as outcomes:
            async for _ in outcomes:
                taken += 1
                if taken == 30:
                    break
        progress = outcomes.progress
    assert progress.in_flight == 0
    assert progress.submitted == progress.succeeded + progress.failed
    assert progress.succeeded == len(fake.batches)  # every stored batch is accounted for
    assert progress.submitted == taken + progress.unreported
    assert progress.submitted < 200  # the generator was not drained


async def test_cancelling_the_consumer_task(fake: FakeSinch) -> None:
    fake.latency = 0.05  # keeps ten sends in flight at the cancel; nothing waits on it
    async with fake.client(retry=FAST) as client:
        consumed = 0
        underway = asyncio.Event()
        sm = client.batches.send_many(requests(1000), concurrency=10)

        async def consume() -> None:
            nonlocal consumed
            async with sm as outcomes:
                async for _ in outcomes:
                    consumed += 1
                    if consumed == 20:
                        underway.set()

        task = asyncio.create_task(consume())
        async with asyncio.timeout(5):
            await underway.wait()  # in full swing: ten sends in flight, more queued
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stored = len(fake.batches)
        # Structural, not watching the clock: no sender outlived the cancellation ...
        leftover = [
            t
            for t in asyncio.all_tasks()
            if t.get_name().startswith("sinch-send-many") and not t.done()
        ]
        assert not leftover, f"send_many tasks still running after cancellation: {leftover}"
        assert sm.progress.in_flight == 0
        # ... and whatever reached the fake is handled: nothing more was stored
        await fake.settle()
        assert len(fake.batches) == stored == sm.progress.succeeded
        assert consumed < 1000


# --- reconciliation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "stored_before"),
    [
        (Fault(method="POST", path="/batches", status=500, phase="after", times=1), True),
        (Fault(method="POST", path="/batches", drop=True, phase="after", times=1), True),
        (Fault(method="POST", path="/batches", delay=1.0, phase="after", times=1), True),
        (Fault(method="POST", path="/batches", status=503, phase="before", times=1), False),
    ],
    ids=["5xx-after-store", "reset-after-store", "slow-after-store", "5xx-before-store"],
)
async def test_reconcile_finds_or_resends(
    virtual_time: VirtualTime,
    fake_sinch_factory: FakeSinchFactory,
    clock: FakeClock,
    fault: Fault,
    stored_before: bool,
) -> None:
    """slow-after-store: the client's 0.3 s request timeout is aiohttp's, on the event loop's
    clock (``virtual_time``: it fires once nothing else can happen); the fake holds the
    stored batch's response on the parked ``clock``, which nothing advances, so the
    response can never beat the timeout. The fake dates batches on the real wall clock, as
    the client (system clock) expects when it looks the batch up."""
    clock.auto_advance = False
    fake = await fake_sinch_factory(clock=clock, now=lambda: datetime.now(UTC), seed=7)
    fake.add_fault(fault)
    req = TextBatchRequest(to=["+46701234567"], body="once", client_reference="order-1")
    async with fake.client(retry=FAST, timeouts=Timeouts(total=0.3)) as client:
        batch = await client.batches.send(req)
    assert batch.client_reference == "order-1"
    assert list(fake.batches) == [batch.id]  # exactly one batch, whatever happened
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == (1 if stored_before else 2)


@pytest.mark.parametrize("phase", ["before", "after"])
async def test_without_reference_outcome_is_unknown(fake: FakeSinch, phase: str) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase=phase, times=1))
    req = TextBatchRequest(to=["+46701234567"], body="once")
    async with fake.client(retry=FAST) as client:
        with pytest.raises(SendOutcomeUnknown) as err:
            await client.batches.send(req)
    assert err.value.request == req
    assert len(fake.batches) == (1 if phase == "after" else 0)
    assert len([r for r in fake.requests if r.method == "POST"]) == 1  # never resent


async def test_reconcile_off_reports_unknown(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase="after", times=1))
    req = TextBatchRequest(to=["+46701234567"], body="once", client_reference="r")
    async with fake.client(retry=FAST, reconcile_sends=False) as client:
        with pytest.raises(SendOutcomeUnknown):
            await client.batches.send(req)


async def test_auto_client_reference(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase="after", times=1))
    async with fake.client(retry=FAST) as client:
        outcomes = [
            o
            async for o in client.batches.send_many(
                requests(5, ref=False), auto_client_reference=True
            )
        ]
    assert all(o.ok for o in outcomes)
    refs = [o.request.client_reference for o in outcomes]
    assert all(r and r.startswith("sa-") for r in refs) and len(set(refs)) == 5
    assert len(fake.batches) == 5


async def _fanout_under_faults(fake: FakeSinch, *, reconcile: bool, n: int) -> Counter[str]:
    for fault in (
        Fault(method="POST", path="/batches", status=503, phase="before", probability=0.03),
        Fault(
            method="POST",
            path="/batches",
            status=429,
            headers={"Retry-After": "0"},
            phase="before",
            probability=0.05,
        ),
        Fault(method="POST", path="/batches", status=500, phase="after", probability=0.02),
        Fault(method="POST", path="/batches", drop=True, phase="after", probability=0.02),
        # stored, then answered past the client's 1 s timeout (a send that timed out after
        # being stored is the case under test): the fake's delay and aiohttp's timeout both
        # run on the event loop's clock, virtual in these tests (``virtual_time``), so the
        # timeout always fires first, in no wall time
        Fault(method="POST", path="/batches", delay=2.5, phase="after", probability=0.01),
    ):
        fake.add_fault(fault)
    kinds: Counter[str] = Counter()
    indices: set[int] = set()
    policy = RetryPolicy(base_delay=0.001, max_delay=0.01, max_attempts=6)
    async with fake.client(
        retry=policy, timeouts=Timeouts(total=1.0), reconcile_sends=reconcile
    ) as client:
        async for o in client.batches.send_many(requests(n), concurrency=64):
            assert o.index not in indices
            indices.add(o.index)
            kinds["ok" if o.ok else type(o.error).__name__] += 1
    assert indices == set(range(n))  # exactly one outcome per request
    return kinds


async def test_acceptance_10k_sends_reconcile_on(
    virtual_time: VirtualTime, fake: FakeSinch
) -> None:
    kinds = await _fanout_under_faults(fake, reconcile=True, n=10_000)
    assert kinds == Counter({"ok": 10_000})
    refs = Counter(b["client_reference"] for b in fake.batches.values())
    assert len(fake.batches) == 10_000 and max(refs.values()) == 1  # no duplicates, no losses


async def test_acceptance_10k_sends_reconcile_off(
    virtual_time: VirtualTime, fake: FakeSinch
) -> None:
    kinds = await _fanout_under_faults(fake, reconcile=False, n=10_000)
    assert set(kinds) == {"ok", "SendOutcomeUnknown"}
    refs = Counter(b["client_reference"] for b in fake.batches.values())
    assert max(refs.values()) == 1  # nothing was resent
    posts = Counter(r.json["client_reference"] for r in fake.requests if r.method == "POST")
    # each ambiguous send was submitted once; only certain failures (429) were retried
    assert len(fake.batches) >= kinds["ok"]
    assert len(fake.batches) <= kinds["ok"] + kinds["SendOutcomeUnknown"]
    assert sum(1 for c in posts.values() if c > 1) > 0  # the 429s were retried
