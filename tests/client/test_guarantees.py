"""The promises, tried adversarially: one outcome per send, no blind resend, typed failures.

Each test names the point of issue #8 it reproduces; each failed on the main before it.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from sinch_async import (
    ClientClosedError,
    ClientLoopError,
    RedirectError,
    RetryPolicy,
    SendOutcome,
    SendOutcomeUnknown,
    SinchClient,
    SinchPagingError,
    SinchValidationError,
    TextBatch,
    TextBatchRequest,
    Timeouts,
    TokenEndpointError,
    UndecodableSendResponse,
)
from sinch_async.testing import FakeClock, FakeSinch, Fault
from tests.support.net import free_port
from tests.support.virtual_time import VirtualTime

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


pytestmark = pytest.mark.fake_sinch(seed=3)


def requests(n: int, *, ref: bool = True) -> Iterator[TextBatchRequest]:
    for i in range(n):
        yield TextBatchRequest(
            to=[f"+4670{i:07d}"], body=f"msg {i}", client_reference=f"g-{i}" if ref else None
        )


def _stored_ids(fake: FakeSinch) -> set[str]:
    return set(fake.batches)


def _recorded_ids(outcomes: list[SendOutcome]) -> set[str]:
    return {o.batch_id for o in outcomes if o.batch_id is not None}


# --- fan-out ---------------------------------------------------------------------------


@pytest.mark.parametrize("preserve_order", [False, True])
async def test_1_raising_on_progress_loses_no_outcome_and_reaches_the_caller(
    fake: FakeSinch, preserve_order: bool
) -> None:
    fake.latency = 0.01
    calls = 0

    def on_progress(_: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise ZeroDivisionError("user bug")

    yielded: list[SendOutcome] = []
    async with fake.client(retry=FAST) as client:
        sm = client.batches.send_many(
            requests(200), concurrency=8, on_progress=on_progress, preserve_order=preserve_order
        )
        with pytest.raises(ZeroDivisionError, match="user bug"):
            async with sm as outcomes:
                async for outcome in outcomes:
                    yielded.append(outcome)
    everything = yielded + sm.unreported_outcomes
    assert sm.progress.submitted < 200  # the run stopped
    assert sorted(o.index for o in everything) == list(range(sm.progress.submitted))
    assert _stored_ids(fake) == _recorded_ids(everything)
    assert all(t.done() for t in sm._workers)


async def test_2_cancelled_consumer_lets_sends_finish_and_records_them(fake: FakeSinch) -> None:
    fake.latency = 0.05  # only keeps 16 sends in flight at the cancel; nothing waits on it
    yielded: list[SendOutcome] = []
    underway = asyncio.Event()
    async with fake.client(retry=FAST) as client:
        sm = client.batches.send_many(requests(300), concurrency=16)

        async def consume() -> None:
            async with sm as outcomes:
                async for outcome in outcomes:
                    yielded.append(outcome)
                    if len(yielded) >= 20:
                        underway.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(underway.wait(), 5)  # a hang guard, not a wait for time
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sm.unreported_outcomes, "sends in flight at the cancel must be recorded"
    everything = yielded + sm.unreported_outcomes
    assert len({o.index for o in everything}) == len(everything) == sm.progress.submitted
    assert _stored_ids(fake) == _recorded_ids(everything)
    assert all(o.ok for o in everything)


@pytest.mark.fake_sinch(seed=3, auto_advance=False)
async def test_2_past_the_grace_period_in_flight_sends_are_unknown(
    fake_on_clock: FakeSinch, clock: FakeClock
) -> None:
    """No wall time: the fake holds the four stored sends on the parked clock, and the
    grace passes on the same clock."""
    fake = fake_on_clock
    fake.add_fault(Fault(method="POST", path="/batches", delay=2.0, phase="after"))
    async with fake.client(retry=FAST, clock=clock) as client:
        sm = client.batches.send_many(requests(4), concurrency=4, grace=0.2)
        task = asyncio.create_task(anext(aiter(sm)))
        await clock.wait_for_sleepers(4)  # all four POSTs stored, their responses held
        assert len(fake.batches) == 4
        task.cancel()  # the iterator's finaliser shuts the run down: the grace starts
        for _ in range(100):  # loop turns, not time: until the grace timer is set
            if clock.timers:
                break
            await asyncio.sleep(0)
        assert clock.timers == 1
        clock.advance(0.19)
        await asyncio.sleep(0)
        assert not task.done()  # still within the grace: the sends may yet answer
        clock.advance(0.01)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await sm.aclose()
        assert clock.elapsed == pytest.approx(0.2)  # the held responses (2 s) never came
    assert len(sm.unreported_outcomes) == 4
    assert all(o.unknown for o in sm.unreported_outcomes)
    assert sm.progress.unknown == 4


async def test_3_reconciliation_matches_normalised_recipients() -> None:
    """A server that stores the batch, answers 503, and echoes numbers without '+'."""
    stored: list[dict[str, Any]] = []

    async def post(request: web.Request) -> web.Response:
        data = await request.json()
        batch = {
            "id": f"01NORM{len(stored):020d}",
            "type": "mt_text",
            "to": sorted({n.lstrip("+").replace("00", "", 1) for n in data["to"]}),
            "body": data["body"],
            "client_reference": data.get("client_reference"),
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "canceled": False,
        }
        stored.append(batch)
        return web.json_response({"code": "internal_error", "text": "boom"}, status=503)

    async def get(request: web.Request) -> web.Response:
        ref = request.query.get("client_reference")
        items = [b for b in stored if b["client_reference"] == ref]
        return web.json_response(
            {"count": len(items), "page": 0, "page_size": len(items), "batches": items}
        )

    app = web.Application()
    app.router.add_post("/xms/v1/plan/batches", post)
    app.router.add_get("/xms/v1/plan/batches", get)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with SinchClient("plan", "t", base_url=f"http://127.0.0.1:{port}") as client:
            batch = await client.batches.send_text(
                to=["+46701234567", "0046701234568", "+46701234567"],
                body="hi",
                client_reference="norm-1",
            )
    finally:
        await runner.cleanup()
    assert len(stored) == 1, "a normalised echo must not cause a second send"
    assert isinstance(batch, TextBatch) and batch.id == stored[0]["id"]


async def test_4_reused_reference_never_reports_someone_elses_batch(fake: FakeSinch) -> None:
    async with fake.client(retry=FAST) as client:
        first = await client.batches.send_text(
            to=["+46701234567"], body="Hi", client_reference="order-17"
        )
        # the same send again, failing before Sinch stored it: this client knows `first`
        # was another send's result, so the lookup finds nothing and the message is sent
        fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
        second = await client.batches.send_text(
            to=["+46701234567"], body="Hi", client_reference="order-17"
        )
    assert second.id != first.id and set(fake.batches) == {first.id, second.id}


@pytest.mark.fake_sinch(seed=3, on_clock=True)
async def test_4_a_fresh_batch_from_elsewhere_is_doubt_not_success(
    fake: FakeSinch, clock: FakeClock
) -> None:
    async with fake.client(retry=FAST, clock=clock) as other:
        first = await other.batches.send_text(
            to=["+46701234567"], body="Hi", client_reference="order-17"
        )
    clock.advance(0.01)  # a moment later, well within the clock-skew allowance
    async with fake.client(retry=FAST, clock=clock) as client:  # another worker, same reference
        fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
        with pytest.raises(SendOutcomeUnknown, match="could be this send's"):
            await client.batches.send_text(
                to=["+46701234567"], body="Hi", client_reference="order-17"
            )
    assert set(fake.batches) == {first.id}  # neither resent blindly nor reported as sent


async def test_4_older_batch_with_the_reference_is_not_this_send(fake: FakeSinch) -> None:
    old = fake.seed_batches(
        1,
        start=datetime.now(UTC) - timedelta(minutes=1),
        to=["+46701234567"],
        body="Hi",
        client_reference="order-17",
    )[0]
    async with fake.client(retry=FAST) as client:
        fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
        batch = await client.batches.send_text(
            to=["+46701234567"], body="Hi", client_reference="order-17"
        )
    assert batch.id != old["id"]  # the lookup saw only the old one: this send was resent
    assert len(fake.batches) == 2


async def test_5_undecodable_2xx_is_a_sent_outcome_not_a_failure(fake: FakeSinch) -> None:
    fake.add_fault(
        Fault(
            method="POST",
            path="/batches",
            status=201,
            body={"id": "01UNDECODABLE", "type": "mt_text", "created_at": "yesterday"},
            phase="after",
        )
    )
    async with fake.client(retry=FAST) as client:
        with pytest.raises(UndecodableSendResponse) as err:
            await client.batches.send_text(to=["+46701234567"], body="x", client_reference="u")
        assert err.value.status == 201 and err.value.batch_id == "01UNDECODABLE"
        outcomes = [o async for o in client.batches.send_many(requests(3), concurrency=2)]
    assert len(fake.batches) == 4
    assert all(o.ok and o.undecodable and not o.unknown and not o.failed for o in outcomes)
    assert {o.batch_id for o in outcomes} == {"01UNDECODABLE"}


async def test_6_token_endpoint_503_is_retried_and_not_unknown(fake: FakeSinch) -> None:
    fake.add_fault(Fault(path="/oauth2/token", status=503, times=2))
    async with fake.project_client(retry=FAST) as client:
        batch = await client.batches.send_text(to=["+46701234567"], body="x")
    assert set(fake.batches) == {batch.id}


async def test_6_token_endpoint_refused_is_a_definite_failure(fake: FakeSinch) -> None:
    dead = f"http://127.0.0.1:{free_port()}/oauth2/token"
    async with fake.project_client(retry=FAST, auth_url=dead) as client:
        outcomes = [o async for o in client.batches.send_many(requests(2), concurrency=2)]
    assert all(o.failed and isinstance(o.error, TokenEndpointError) for o in outcomes)
    assert not fake.batches


@pytest.mark.fake_sinch(seed=3, auto_advance=False)
async def test_6_token_endpoint_slow_is_a_definite_failure(
    virtual_time: VirtualTime, fake_on_clock: FakeSinch
) -> None:
    """aiohttp's 0.2 s request timeout runs on the event loop's clock (``virtual_time``: it
    fires once nothing else can happen); the token response is held on the parked
    ``clock``, which nothing advances, so it can never answer first."""
    fake = fake_on_clock
    fake.add_fault(Fault(path="/oauth2/token", delay=1.0))
    slow = Timeouts(total=0.2)
    async with fake.project_client(retry=RetryPolicy.disabled(), timeouts=slow) as client:
        started = virtual_time.time()
        with pytest.raises(TokenEndpointError) as err:
            await client.batches.send_text(to=["+46701234567"], body="x")
        assert virtual_time.time() - started == pytest.approx(0.2, abs=0.01)  # the timeout
    assert err.value.may_have_reached_sinch is False
    assert not fake.batches


async def test_7_a_foreign_input_item_is_an_outcome_not_a_dead_worker(fake: FakeSinch) -> None:
    items: list[Any] = [*requests(2, ref=False), {"to": ["+4670"]}, *requests(3, ref=False)]
    async with fake.client(retry=FAST) as client:
        sm = client.batches.send_many(items, concurrency=1, auto_client_reference=True)
        outcomes = [o async for o in sm]
    assert sorted(o.index for o in outcomes) == list(range(6))
    bad = [o for o in outcomes if not o.ok]
    assert len(bad) == 1 and bad[0].index == 2 and bad[0].failed
    assert isinstance(bad[0].error, SinchValidationError)
    assert len(fake.batches) == 5


async def test_8_break_without_async_with_stops_the_workers(fake: FakeSinch) -> None:
    fake.latency = 0.02
    async with fake.client(retry=FAST) as client:
        sm = client.batches.send_many(requests(500), concurrency=8, grace=5)
        async for first in sm:  # noqa: B007
            break
        gc.collect()
        # the iterator's finaliser schedules the shutdown: wait for the workers to end
        # (an event; the timeout only bounds a hang)
        await asyncio.wait_for(asyncio.gather(*sm._workers, return_exceptions=True), 5)
        shutdown = sm._shutdown_task  # started by the finaliser, not by this test
        assert shutdown is not None
        await asyncio.wait_for(asyncio.shield(shutdown), 5)  # unreported outcomes collected
        leftover = [
            t
            for t in asyncio.all_tasks()
            if t.get_name().startswith("sinch-send-many") and not t.done()
        ]
        assert not leftover, f"send_many tasks still running after shutdown: {leftover}"
        await fake.settle()  # whatever reached the fake is handled: nothing more can come
    assert all(t.done() for t in sm._workers)
    assert len(fake.batches) < 500
    assert sm.progress.submitted == 1 + len(sm.unreported_outcomes)
    assert _stored_ids(fake) == _recorded_ids([first, *sm.unreported_outcomes])


# --- engine and pagers -------------------------------------------------------------------


async def test_13_repeated_page_is_a_typed_error_not_an_endless_walk(fake: FakeSinch) -> None:
    page0 = {
        "count": 10_000_000,
        "page": 0,
        "page_size": 1,
        "inbounds": [
            {
                "type": "mo_text",
                "id": "01REPEAT",
                "from": "+46701234567",
                "to": "12345",
                "body": "x",
                "received_at": "2026-01-01T00:00:00Z",
            }
        ],
    }
    fake.add_fault(Fault(method="GET", path="/inbounds", status=200, body=page0))
    async with fake.client(retry=FAST) as client:
        for prefetch in (1, 4):
            with pytest.raises(SinchPagingError, match="asked for page 1"):
                await asyncio.wait_for(
                    _drain(client.inbounds.list(page_size=1, prefetch=prefetch)), 10
                )


async def test_13_an_honest_walk_fits_the_request_bound(fake: FakeSinch) -> None:
    """The bound (ceil(count / page_size) + 1 requests) leaves room for the confirming page;
    lying servers are tried in test_hostile_server.py."""
    fake.seed_inbounds(30, to="12345")
    handle = fake.add_fault(Fault(method="GET", path="/inbounds"))  # counts requests
    async with fake.client(retry=FAST) as client:
        items = await _drain(client.inbounds.list(page_size=10))
    assert len(items) == 30 and handle.fired == 3  # the last page by count ends it


async def test_14_redirect_is_a_typed_error_and_no_batch(fake: FakeSinch) -> None:
    fake.add_fault(
        Fault(
            method="POST",
            path="/batches",
            status=307,
            headers={"Location": "http://127.0.0.1:1/elsewhere"},
            body={"id": "01REDIRECT", "type": "mt_text", "to": ["+4670"], "body": "x"},
        )
    )
    async with fake.client(retry=FAST) as client:
        with pytest.raises(RedirectError) as err:
            await client.batches.send_text(to=["+46701234567"], body="x", client_reference="r")
        assert err.value.status == 307 and err.value.location == "http://127.0.0.1:1/elsewhere"
        outcomes = [o async for o in client.batches.send_many(requests(2))]
    assert all(o.failed for o in outcomes)


async def test_15_aclose_during_a_pending_retry_is_client_closed(
    fake: FakeSinch, clock: FakeClock
) -> None:
    fake.seed_inbounds(50, to="12345")
    fake.add_fault(Fault(method="GET", path="/inbounds", status=503, times=20))
    slow = RetryPolicy(base_delay=0.3, max_delay=0.3, factor=1.0)
    clock.auto_advance = False  # the retry waits park until the test moves time
    client = fake.client(retry=slow, clock=clock)
    get = asyncio.create_task(_drain(client.inbounds.list(page_size=10)))
    await clock.wait_for_sleepers(1)  # the plain walk got its 503 and waits to retry
    pager = asyncio.create_task(_drain(client.inbounds.list(page_size=10, prefetch=4)))
    await clock.wait_for_sleepers(2)  # the prefetching walk too
    assert not get.done() and not pager.done()
    await client.aclose()
    clock.auto_advance = True
    clock.advance(1)  # harmless if aclose already woke them
    for task in (get, pager):
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(task, 5)


def test_16_one_client_across_successive_event_loops() -> None:
    holder: dict[str, Any] = {}
    ready = threading.Event()
    stop = threading.Event()
    # the server's clock, parked: a send held by it stays in flight until the test says so
    srv_clock = FakeClock(auto_advance=False)

    def serve() -> None:
        async def main() -> None:
            async with FakeSinch(clock=srv_clock) as server:
                holder["fake"] = server
                holder["loop"] = asyncio.get_running_loop()
                ready.set()
                await asyncio.to_thread(stop.wait)

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    fake: FakeSinch = holder["fake"]
    srv_loop: asyncio.AbstractEventLoop = holder["loop"]
    client = SinchClient(fake.service_plan_id, fake.api_token, base_url=fake.base_url)
    try:
        for i in range(3):  # a task queue: one asyncio.run per task, one client
            batch = asyncio.run(client.batches.send_text(to=["+46701234567"], body=f"t{i}"))
            assert batch.id in fake.batches

        # the same client from two running loops at once: a typed error, not a hang
        # (the other loop's send is held by the server until the check is done)
        held = Fault(method="POST", path="/batches", delay=1, times=1)
        asyncio.run_coroutine_threadsafe(_add_fault(fake, held), srv_loop).result(10)
        errors: list[BaseException] = []

        def other_loop() -> None:
            async def job() -> None:
                await client.batches.send_text(to=["+46701234567"], body="other")

            try:
                asyncio.run(job())
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        worker = threading.Thread(target=other_loop)
        worker.start()
        # the other loop's send is in flight: the server holds it on its parked clock
        asyncio.run_coroutine_threadsafe(srv_clock.wait_for_sleepers(1), srv_loop).result(10)
        with pytest.raises(ClientLoopError):
            asyncio.run(client.batches.get("01ANY"))
        srv_loop.call_soon_threadsafe(srv_clock.advance, 1)
        worker.join(10)
        assert not worker.is_alive()
        assert not errors
    finally:
        asyncio.run(client.aclose())
        stop.set()
        thread.join(10)


async def _add_fault(fake: FakeSinch, fault: Fault) -> None:
    """Add a fault from the fake's own loop (it runs in another thread)."""
    fake.add_fault(fault)


async def _drain(pager: Any) -> list[Any]:
    return [item async for item in pager]
