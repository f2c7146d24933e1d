"""FakeSinch on a FakeClock (P1), ``fake.settle()`` (P2), ``fake.wait_for_requests`` (P3).

No test here lets wall time pass: delays and latency park on a FakeClock with
``auto_advance = False`` and are released by ``clock.advance``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import aiohttp
import pytest

from sinch_async.testing import FakeClock, FakeSinch, Fault
from sinch_async.testing.pytest_plugin import FakeSinchFactory

TEXT = {"from": "12345", "to": ["46701234567"], "body": "hi"}
#: ``fake_on_clock`` (tests/conftest.py) is ``FakeSinch(clock=clock, seed=3)`` on a parked clock.
pytestmark = pytest.mark.fake_sinch(seed=3, auto_advance=False)


@pytest.fixture
def parked(clock: FakeClock) -> FakeClock:
    clock.auto_advance = False
    return clock


async def _status(http: aiohttp.ClientSession, method: str, url: str, **kw: object) -> int:
    async with http.request(method, url, **kw) as resp:  # type: ignore[arg-type]
        await resp.read()
        return resp.status


# --- P1 ----------------------------------------------------------------------------------


async def test_now_follows_the_clock(fake_on_clock: FakeSinch, parked: FakeClock) -> None:
    fake = fake_on_clock
    assert fake.now() == parked.now()
    parked.advance(minutes=5)
    assert fake.now() == parked.now()
    assert fake.clock is parked


async def test_delay_fault_parks_until_the_clock_moves(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.add_fault(Fault(method="GET", path="/batches", delay=30.0, times=1))
    started = time.monotonic()
    get = asyncio.create_task(_status(http, "GET", fake.url("/batches")))
    await parked.wait_for_sleepers(1)  # the request is held by its fault
    assert not get.done()
    parked.advance(29.9)
    await asyncio.sleep(0)
    assert not get.done()
    parked.advance(0.1)
    assert await asyncio.wait_for(get, 5) == 200
    assert parked.sleeps == [30.0]
    assert time.monotonic() - started < 5  # a bound only: the 30 s passed in virtual time


async def test_latency_parks_after_the_batch_is_stored(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.latency = 10.0
    post = asyncio.create_task(_status(http, "POST", fake.url("/batches"), json=TEXT))
    await parked.wait_for_sleepers(1)
    assert len(fake.batches) == 1  # processed, the response held back
    assert not post.done()
    parked.advance(10)
    assert await asyncio.wait_for(post, 5) == 201
    assert parked.elapsed == 10


async def test_a_client_that_gives_up_still_leaves_the_batch(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.add_fault(Fault(method="POST", path="/batches", delay=0.3, phase="after", times=1))
    post = asyncio.create_task(_status(http, "POST", fake.url("/batches"), json=TEXT))
    await parked.wait_for_sleepers(1)
    post.cancel()  # the client gives up while the response is held
    with pytest.raises(asyncio.CancelledError):
        await post
    parked.advance(0.3)
    await fake.settle()
    assert len(fake.batches) == 1


async def test_message_bucket_refills_on_the_clock(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.messages_per_second = 1
    assert await _status(http, "POST", fake.url("/batches"), json=TEXT) == 201
    assert await _status(http, "POST", fake.url("/batches"), json=TEXT) == 429
    parked.advance(1)
    assert await _status(http, "POST", fake.url("/batches"), json=TEXT) == 201
    assert fake.rate_limited == 1


async def test_callback_delay_and_retries_wait_on_the_clock(
    fake_sinch_factory: FakeSinchFactory, parked: FakeClock
) -> None:
    from aiohttp import web

    statuses = [503, 200]
    got: list[float] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(parked.elapsed)
        return web.Response(status=statuses.pop(0))

    app = web.Application()
    app.router.add_post("/cb", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        fake = await fake_sinch_factory(
            clock=parked,
            inbound_callback_url=f"http://127.0.0.1:{port}/cb",
            callback_delay=60,
            callback_retry_delays=(120,),
        )
        fake.add_inbound(from_="+46701234567", to="12345")
        await parked.wait_for_sleepers(1)  # the callback delay
        assert fake.callbacks == []
        parked.advance(60)
        await fake.wait_for_callbacks(1)
        await parked.wait_for_sleepers(1)  # the retry delay after the 503
        parked.advance(120)
        attempts = await fake.wait_for_callbacks(2)
        assert [a.status for a in attempts] == [503, 200]
        assert got == [60, 180]
        await fake.settle()
    finally:
        await runner.cleanup()


async def test_clock_without_now_dates_responses_by_the_clock(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    parked.advance(timedelta(days=1).total_seconds())
    async with http.get(fake.url("/batches")) as resp:
        assert resp.headers["Date"] == "Tue, 24 Nov 2026 12:00:00 GMT"


# --- P2 ----------------------------------------------------------------------------------


async def test_settle_returns_at_once_when_idle(fake_on_clock: FakeSinch) -> None:
    fake = fake_on_clock
    await asyncio.wait_for(fake.settle(), 1)


async def test_settle_waits_for_handlers_in_flight(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.latency = 1.0
    posts = [
        asyncio.create_task(_status(http, "POST", fake.url("/batches"), json=TEXT))
        for _ in range(3)
    ]
    await parked.wait_for_sleepers(3)
    settled = asyncio.create_task(fake.settle())
    await asyncio.sleep(0)
    assert not settled.done()
    parked.advance(1)
    await asyncio.wait_for(settled, 5)
    assert [await p for p in posts] == [201, 201, 201]


async def test_settle_times_out_while_a_handler_is_parked(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.latency = 1.0
    post = asyncio.create_task(_status(http, "GET", fake.url("/batches")))
    await parked.wait_for_sleepers(1)
    with pytest.raises(TimeoutError, match="1 request handler"):
        await fake.settle(timeout=0.05)  # a bound on the failure only
    parked.advance(1)
    assert await post == 200


# --- P3 ----------------------------------------------------------------------------------


async def test_wait_for_requests_matches_method_and_path(
    fake_on_clock: FakeSinch, parked: FakeClock, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    fake.latency = 1.0
    waiting = asyncio.create_task(fake.wait_for_requests(2, method="post", path="/batches"))
    tasks = [asyncio.create_task(_status(http, "GET", fake.url("/batches")))]
    tasks += [
        asyncio.create_task(_status(http, "POST", fake.url("/batches"), json=TEXT))
        for _ in range(2)
    ]
    got = await asyncio.wait_for(waiting, 5)
    assert [r.method for r in got] == ["POST", "POST"]
    assert len(await fake.wait_for_requests(3)) == 3
    assert len(await fake.wait_for_requests(1, method="GET")) == 1
    one = await fake.wait_for_requests(1, path="/batches")
    assert len(one) == 3
    parked.advance(1)
    await asyncio.gather(*tasks)


async def test_wait_for_requests_by_template_and_aux_path(
    fake_on_clock: FakeSinch, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    await _status(http, "GET", fake.url("/batches/01ABC"))
    await _status(http, "POST", fake.auth_url, data={"grant_type": "client_credentials"})
    assert len(await fake.wait_for_requests(1, path="/batches/{id}")) == 1
    assert len(await fake.wait_for_requests(1, path="/oauth2/token")) == 1
    assert len(await fake.wait_for_requests(1, path="*")) == 1  # "*": API requests only


async def test_wait_for_requests_times_out_and_restarts_after_a_clear(
    fake_on_clock: FakeSinch, http: aiohttp.ClientSession
) -> None:
    fake = fake_on_clock
    await _status(http, "GET", fake.url("/batches"))
    with pytest.raises(TimeoutError, match="1 matching request"):
        await fake.wait_for_requests(2, timeout=0.05)  # a bound on the failure only
    fake.requests.clear()
    waiting = asyncio.create_task(fake.wait_for_requests(1, method="GET"))
    await asyncio.sleep(0)
    assert not waiting.done()
    await _status(http, "GET", fake.url("/batches"))
    assert len(await asyncio.wait_for(waiting, 5)) == 1
