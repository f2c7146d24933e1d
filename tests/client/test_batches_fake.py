"""Behaviour of the batches API against FakeSinch over loopback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from sinch_async import (
    AuthenticationError,
    BadRequestError,
    BinaryBatch,
    ClientClosedError,
    ForbiddenError,
    MediaBatch,
    MediaBody,
    NotFoundError,
    PagerCheckpoint,
    RateLimitError,
    RetryPolicy,
    SendOutcomeUnknown,
    ServerError,
    SinchAPIError,
    SinchClient,
    SinchConnectionError,
    SinchDecodeError,
    SinchTimeoutError,
    TextBatch,
    TextBatchRequest,
    Timeouts,
    UnknownBatch,
)
from sinch_async.testing import FakeClock, FakeSinch, Fault
from tests.support.virtual_time import VirtualTime

# Retries off: these tests look at what one failed request raises.
pytestmark = pytest.mark.sinch_client(retry=RetryPolicy.disabled())


async def test_full_lifecycle(fake: FakeSinch, client: SinchClient) -> None:
    batch = await client.batches.send_text(
        to=["+46701234567"],
        from_="+12025550134",
        body="Hi ${name}",
        parameters={"name": {"+46701234567": "Ada", "default": "there"}},
        delivery_report="full",
        client_reference="order-17",
        feedback_enabled=True,
    )
    assert isinstance(batch, TextBatch)
    assert batch.id in fake.batches
    assert batch.client_reference == "order-17" and batch.canceled is False
    assert batch.created_at is not None and batch.created_at.tzinfo is not None

    got = await client.batches.get(batch.id)
    assert got == batch

    updated = await client.batches.update(batch.id, to_add=["+46701234568"], body="Hello ${name}")
    assert isinstance(updated, TextBatch)
    assert set(updated.to) == {"+46701234567", "+46701234568"}
    assert updated.body == "Hello ${name}"

    replaced = await client.batches.replace(
        batch.id, TextBatchRequest(to=["+46709999999"], body="replaced", feedback_enabled=True)
    )
    assert replaced.id == batch.id and isinstance(replaced, TextBatch)
    assert replaced.to == ("+46709999999",) and replaced.body == "replaced"

    await client.batches.send_delivery_feedback(batch.id, recipients=["+46709999999"])
    assert fake.feedback[batch.id] == ["+46709999999"]

    canceled = await client.batches.cancel(batch.id)
    assert canceled.id == batch.id and isinstance(canceled, TextBatch) and canceled.canceled


async def test_binary_media_and_dry_run(client: SinchClient) -> None:
    binary = await client.batches.send_binary(
        to=["+46701234567"], body="aGVsbG8=", udh="050003CC0201"
    )
    assert isinstance(binary, BinaryBatch) and binary.udh == "050003CC0201"
    media = await client.batches.send_media(
        to=["+12025550134"], media_body=MediaBody(url="https://example.com/a.png", subject="s")
    )
    assert isinstance(media, MediaBatch) and media.body == MediaBody(
        url="https://example.com/a.png", subject="s"
    )
    dry = await client.batches.dry_run(
        TextBatchRequest(to=["+46701234567", "+46701234568"], body="x" * 161),
        per_recipient=True,
        number_of_recipients=1,
    )
    assert dry.number_of_recipients == 2
    assert dry.number_of_messages == 4  # 161 GSM-7 characters = 2 parts, times 2 recipients
    assert dry.per_recipient is not None and len(dry.per_recipient) == 1
    assert dry.per_recipient[0].number_of_parts == 2


async def test_paging_with_partial_last_page(fake: FakeSinch, client: SinchClient) -> None:
    seeded = fake.seed_batches(65)
    pager = client.batches.list(page_size=30)
    sizes = [len(page.items) async for page in pager.pages()]
    assert sizes == [30, 30, 5]
    list_calls = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/batches")]
    assert len(list_calls) == 3  # stops at count, no extra request for an empty page
    assert pager.checkpoint.done and pager.count == 65

    ids = [b.id async for b in client.batches.list(page_size=30)]
    assert len(ids) == len(set(ids)) == 65
    assert set(ids) == {b["id"] for b in seeded}


async def test_max_items_is_exact(fake: FakeSinch, client: SinchClient) -> None:
    fake.seed_batches(65)
    before = len(fake.requests)
    items = [b async for b in client.batches.list(page_size=20, max_items=45)]
    assert len(items) == 45
    assert len(fake.requests) - before == 3
    pages = [p async for p in client.batches.list(page_size=20, max_items=45).pages()]
    assert [len(p.items) for p in pages] == [20, 20, 5]


async def test_stops_on_empty_page_even_if_count_lies(fake: FakeSinch, client: SinchClient) -> None:
    fake.seed_batches(3)
    fake.add_fault(
        Fault(
            method="GET",
            path="/batches",
            status=200,
            times=1,
            body=b'{"count": 500, "page": 0, "page_size": 0, "batches": []}',
        )
    )
    assert [b async for b in client.batches.list()] == []


async def test_resume_from_checkpoint(fake: FakeSinch, client: SinchClient) -> None:
    fake.seed_batches(50)
    pager = client.batches.list(page_size=15)
    first: list[str] = []
    async for b in pager:
        first.append(b.id)
        if len(first) == 22:
            break
    saved = pager.checkpoint.to_dict()
    assert (saved["page"], saved["offset"], saved["yielded"]) == (1, 7, 22)
    rest = [b.id async for b in client.batches.list(resume=PagerCheckpoint.from_dict(saved))]
    assert len(first) + len(rest) == 50
    assert len(set(first) | set(rest)) == 50


async def test_error_mid_walk_carries_checkpoint(fake: FakeSinch, client: SinchClient) -> None:
    fake.seed_batches(40)
    pager = client.batches.list(page_size=10)
    seen: list[str] = []
    with pytest.raises(ServerError) as err:
        async for b in pager:
            seen.append(b.id)
            if len(seen) == 10:
                fake.add_fault(Fault(method="GET", path="/batches", status=503, times=1))
    assert len(seen) == 10
    cp = err.value.checkpoint
    assert cp is not None and (cp.page, cp.offset) == (1, 0)
    rest = [b.id async for b in client.batches.list(resume=cp)]
    assert len(set(seen + rest)) == 40 and len(rest) == 30


async def test_filters(fake: FakeSinch, client: SinchClient) -> None:
    await client.batches.send_text(to=["+46701234567"], from_="+12025550134", body="a")
    await client.batches.send_text(to=["+46701234567"], from_="+12025550135", body="b")
    await client.batches.send_text(
        to=["+46701234567"], from_="+12025550136", body="c", client_reference="ref-1"
    )
    by_from = [b.body async for b in client.batches.list(from_=["+12025550134", "+12025550136"])]
    assert sorted(by_from) == ["a", "c"]  # type: ignore[type-var]
    by_ref = [b.body async for b in client.batches.list(client_reference="ref-1")]
    assert by_ref == ["c"]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert [b async for b in client.batches.list(start_date=future)] == []
    # the + of E.164 numbers reached the server intact, in one comma-separated parameter
    last = [r for r in fake.requests if r.method == "GET"][-3]
    assert [v for k, v in last.query if k == "from"] == ["+12025550134,+12025550136"]


async def test_api_errors_are_typed(fake: FakeSinch, clock: FakeClock) -> None:
    """The client waits on ``clock``: the 429's ``Retry-After: 2`` pause before the next
    case passes in virtual time."""
    async with fake.client(clock=clock, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(NotFoundError) as nf:
            await client.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
        assert nf.value.status == 404 and nf.value.code

        batch = await client.batches.send_text(to=["+46701234567"], body="x")
        with pytest.raises(BadRequestError) as bad:
            # feedback not enabled
            await client.batches.send_delivery_feedback(batch.id, recipients=[])
        assert bad.value.status == 400 and bad.value.code == "syntax_constraint_violation"

        cases: list[tuple[int, type[SinchAPIError]]] = [
            (403, ForbiddenError),
            (429, RateLimitError),
            (500, ServerError),
            (503, ServerError),
        ]
        for status, cls in cases:
            fake.add_fault(
                Fault(
                    method="GET",
                    path="/batches/{id}",
                    status=status,
                    times=1,
                    headers={"Retry-After": "2"},
                )
            )
            with pytest.raises(cls) as err:
                await client.batches.get(batch.id)
            assert err.value.status == status
            if isinstance(err.value, RateLimitError):
                assert err.value.retry_after == 2.0
    assert clock.elapsed == pytest.approx(2.0)  # the 429's pause, waited before the 500


async def test_bad_token_is_authentication_error_without_the_token(fake: FakeSinch) -> None:
    async with SinchClient(fake.service_plan_id, "wrong-token-xyz", base_url=fake.base_url) as c:
        with pytest.raises(AuthenticationError) as err:
            await c.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert err.value.status == 401
    assert "wrong-token-xyz" not in str(err.value) and "wrong-token-xyz" not in repr(err.value)


async def test_undecodable_body_is_decode_error(fake: FakeSinch, client: SinchClient) -> None:
    fake.add_fault(Fault(method="GET", path="/batches/{id}", status=200, body=b"<html>", times=1))
    with pytest.raises(SinchDecodeError):
        await client.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    for body in (b'{"to": 5}', b'{"type": "mt_text", "id": "x", "to": 5}', b'{"type": "mt_text"}'):
        fake.add_fault(Fault(method="GET", path="/batches/{id}", status=200, body=body, times=1))
        with pytest.raises(SinchDecodeError) as err:
            await client.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
        assert err.value.body == body and err.value.status == 200
    # a type this SDK does not know is not an error: it becomes an UnknownBatch
    fake.add_fault(
        Fault(
            method="GET",
            path="/batches/{id}",
            status=200,
            times=1,
            body=b'{"type": "mt_hologram", "id": "01X", "beam": 1}',
        )
    )
    unknown = await client.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert isinstance(unknown, UnknownBatch) and unknown.raw["beam"] == 1


@pytest.mark.fake_sinch(auto_advance=False)
async def test_read_timeout_says_request_may_have_reached(
    virtual_time: VirtualTime, fake_on_clock: FakeSinch
) -> None:
    """The 0.2 s timeout is aiohttp's, on the event loop's clock (``virtual_time``: it fires
    once nothing else can happen); the fake's latency parks on its stopped ``clock``, which
    nothing advances, so a response can never beat the timeout."""
    fake = fake_on_clock
    fake.latency = 1.0
    batch_id = fake.seed_batches(1)[0]["id"]
    async with fake.client(timeouts=Timeouts(total=0.2), retry=RetryPolicy.disabled()) as c:
        started = virtual_time.time()
        with pytest.raises(SinchTimeoutError) as err:
            await c.batches.get(batch_id)
        assert virtual_time.time() - started == pytest.approx(0.2, abs=0.01)  # the timeout
        assert err.value.may_have_reached_sinch is True
        assert isinstance(err.value, TimeoutError)
        # a send that times out is reported as such, not retried and not lost
        with pytest.raises(SendOutcomeUnknown) as unknown:
            await c.batches.send_text(to=["+46701234567"], body="x")
    assert isinstance(unknown.value.cause, SinchTimeoutError)
    assert unknown.value.cause.may_have_reached_sinch is True


async def test_dropped_connection_after_store(fake: FakeSinch, client: SinchClient) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", drop=True, phase="after", times=1))
    with pytest.raises(SendOutcomeUnknown) as err:
        await client.batches.send_text(to=["+46701234567"], body="x")
    assert isinstance(err.value.cause, SinchConnectionError)
    assert err.value.cause.may_have_reached_sinch is True
    assert len(fake.batches) == 1  # it *was* stored: exactly why a send is not blindly retried


async def test_connection_refused_did_not_reach_sinch() -> None:
    # Bind then close a socket to get a loopback port nothing listens on.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with SinchClient(
        "p", "t", base_url=f"http://127.0.0.1:{port}", retry=RetryPolicy.disabled()
    ) as c:
        with pytest.raises(SinchConnectionError) as err:
            await c.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert err.value.may_have_reached_sinch is False


async def test_close_and_use_after_close(fake: FakeSinch) -> None:
    c = fake.client()
    await c.batches.send_text(to=["+46701234567"], body="x")
    await c.aclose()
    assert c.closed
    await c.aclose()  # idempotent
    with pytest.raises(ClientClosedError):
        await c.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(ClientClosedError):
        [b async for b in c.batches.list()]


async def test_borrowed_session_is_not_closed(fake: FakeSinch) -> None:
    async with aiohttp.ClientSession() as session:
        async with SinchClient(
            fake.service_plan_id, fake.api_token, base_url=fake.base_url, session=session
        ) as c:
            await c.batches.send_text(to=["+46701234567"], body="x")
        assert not session.closed
        async with session.get(f"{fake.base_url}/xms/v1/{fake.service_plan_id}/batches") as r:
            assert r.status == 401  # the session still works (and got no auth header from us)


def test_client_can_be_built_outside_a_loop() -> None:
    # The aiohttp session is created lazily inside the running loop, not in __init__.
    c = SinchClient("plan", "t", region="eu")
    assert not c.closed and "t" not in repr(c).split("plan")[1]


async def test_token_never_logged(fake: FakeSinch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with fake.client() as c:
        await c.batches.send_text(to=["+46701234567"], body="x")
        with pytest.raises(NotFoundError) as err:
            await c.batches.get("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert caplog.records, "expected debug logs"
    assert fake.api_token not in caplog.text
    assert fake.api_token not in str(err.value)
    assert fake.api_token not in repr(c)
