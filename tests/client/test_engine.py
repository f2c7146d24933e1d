"""The engine seam: hooks, OpenTelemetry spans, structured logs, per-call options and
deadlines, default headers, and the 429 pause count."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from sinch_async import HookEvent, RetryPolicy, SinchTimeoutError, TextBatch
from sinch_async.testing import FakeClock, FakeSinch, Fault
from sinch_async.tracing import opentelemetry_hook

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


pytestmark = pytest.mark.fake_sinch(seed=9)


async def test_hooks_follow_one_send_through_its_attempts(fake: FakeSinch) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=503, phase="after", times=1))
    events: list[HookEvent] = []
    async with fake.client(retry=FAST, hooks=[events.append]) as client:
        batch = await client.batches.send_text(
            to=["+46701234567"], body="hooked", client_reference="hook-1"
        )
    assert isinstance(batch, TextBatch) and batch.id in fake.batches
    kinds = [(e.kind, e.method, e.status) for e in events]
    assert kinds == [
        ("operation_start", None, None),
        ("request", "POST", None),
        ("response", "POST", 503),  # stored, then 503: reconcile instead of resending
        ("request", "GET", None),
        ("response", "GET", 200),
        ("operation_end", None, None),
    ]
    assert len({e.operation.id for e in events}) == 1, "one SDK-level operation"
    assert [e.attempt for e in events if e.kind == "request"] == [1, 2]
    assert all(e.elapsed is not None for e in events if e.kind == "response")
    assert all("test-token" not in (e.url or "") for e in events)


async def test_hooks_see_retry_waits_and_a_raising_hook_breaks_nothing(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_fault(Fault(method="GET", path="/batches/*", status=503, times=2))
    events: list[HookEvent] = []

    def broken(_: HookEvent) -> None:
        raise RuntimeError("metrics backend down")

    async with fake.client(retry=FAST, hooks=[broken, events.append]) as client:
        batch = await client.batches.send_text(to=["+46701234567"], body="x")
        got = await client.batches.get(batch.id)
    assert got.id == batch.id
    retries = [e for e in events if e.kind == "retry"]
    assert len(retries) == 2 and all(e.wait is not None and e.error for e in retries)
    assert "metrics backend down" in caplog.text


async def test_opentelemetry_recipe_makes_one_span_per_operation(fake: FakeSinch) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="pip install -e '.[dev]' (opentelemetry-sdk)")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fake.add_fault(Fault(method="POST", path="/batches", status=503, phase="after", times=1))
    async with fake.client(retry=FAST) as client:
        client.add_hook(opentelemetry_hook(provider.get_tracer("test")))
        await client.batches.send_text(to=["+46701234567"], body="x", client_reference="otel")
    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["sinch batches.send_text"]
    children = [s for s in spans if s.parent is not None]
    assert [c.name for c in children] == ["POST /batches", "GET /batches"]
    assert {c.parent.span_id for c in children if c.parent} == {roots[0].context.span_id}
    statuses = [c.attributes["http.response.status_code"] for c in children if c.attributes]
    assert statuses == [503, 200]


async def test_info_logs_one_structured_record_per_retry_and_reconciliation(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sinch_async")
    fake.add_fault(
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "0"}, times=1)
    )
    async with fake.client(retry=FAST) as client:
        await client.batches.send_text(to=["+46701234567"], body="a")
        fake.add_fault(Fault(method="POST", path="/batches", status=503, phase="after", times=1))
        await client.batches.send_text(to=["+46701234567"], body="b", client_reference="r-b")
    records = [r for r in caplog.records if r.name == "sinch_async"]
    retries = [r for r in records if getattr(r, "sinch_event", None) == "retry"]
    assert len(retries) == 1
    assert retries[0].sinch_status == 429 and retries[0].sinch_method == "POST"  # type: ignore[attr-defined]
    assert retries[0].sinch_attempt >= 1 and retries[0].sinch_wait == 0.0  # type: ignore[attr-defined]
    reconciled = [r for r in records if getattr(r, "sinch_event", None) == "reconciled"]
    assert len(reconciled) == 1 and reconciled[0].sinch_batch_id in fake.batches  # type: ignore[attr-defined]
    assert all(r.levelno >= logging.INFO for r in retries + reconciled)
    assert "test-token" not in caplog.text


async def test_deadline_bounds_a_call_paused_by_retry_after(
    fake: FakeSinch, clock: FakeClock
) -> None:
    """The deadline and the pause both run on the client's clock: no wall time passes."""
    fake.add_fault(
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "60"}, times=1)
    )
    async with fake.client(retry=RetryPolicy(max_retry_after=120), clock=clock) as client:
        quick = client.with_options(deadline=1)
        with pytest.raises(SinchTimeoutError, match="deadline") as err:
            await quick.batches.send_text(to=["+46701234567"], body="x")
        assert clock.elapsed == pytest.approx(1)  # the deadline, not the 60 s pause
        assert err.value.may_have_reached_sinch is False  # it was waiting out the pause
        # an unrelated call through the same view is bounded too, while the pause lasts
        with pytest.raises(SinchTimeoutError):
            await quick.batches.get("01ANY")
        assert clock.elapsed == pytest.approx(2)
        assert client.limits.paused_for > 50  # the view shares the client's limits
    assert not fake.batches


async def test_with_options_shares_the_session_and_adds_headers(fake: FakeSinch) -> None:
    async with fake.client(default_headers={"X-Team": "growth"}) as client:
        view = client.with_options(headers={"X-Request-Id": "abc"}, retry=FAST)
        await view.batches.send_text(to=["+46701234567"], body="x")
        await client.batches.send_text(to=["+46701234567"], body="y")
        assert client._engine is view._engine
    first, second = (r for r in fake.requests if r.method == "POST")
    assert first.headers["X-Request-Id"] == "abc" and first.headers["X-Team"] == "growth"
    assert "X-Request-Id" not in second.headers and second.headers["X-Team"] == "growth"
    assert view.closed  # one lifecycle


async def test_user_agent_travels_through_a_borrowed_session(fake: FakeSinch) -> None:
    async with aiohttp.ClientSession(headers={"User-Agent": "theirs"}) as http:
        client = fake.client(session=http, user_agent="sinch-async-test/1")
        await client.batches.send_text(to=["+46701234567"], body="x")
        await client.aclose()
        assert not http.closed
    assert fake.requests[-1].headers["User-Agent"] == "sinch-async-test/1"


async def test_a_429_counts_one_pause(fake: FakeSinch) -> None:
    fake.add_fault(
        Fault(method="GET", path="/batches/*", status=429, headers={"Retry-After": "0.01"}, times=3)
    )
    async with fake.client(retry=RetryPolicy(base_delay=0.001, max_attempts=5)) as client:
        batch = await client.batches.send_text(to=["+46701234567"], body="x")
        await client.batches.get(batch.id)
        assert client.limits.pauses == 3


async def test_operations_do_not_leak_between_concurrent_calls(fake: FakeSinch) -> None:
    events: list[HookEvent] = []
    async with fake.client(hooks=[events.append]) as client:
        await asyncio.gather(
            *(client.batches.send_text(to=["+46701234567"], body=str(i)) for i in range(5))
        )
    by_op: dict[int, list[str]] = {}
    for e in events:
        by_op.setdefault(e.operation.id, []).append(e.kind)
    assert len(by_op) == 5
    assert all(
        k == ["operation_start", "request", "response", "operation_end"] for k in by_op.values()
    )
