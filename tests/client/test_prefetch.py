"""Pagers that fetch ahead: order, bounds, early stop without leaks, errors."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from sinch_async import RetryPolicy, ServerError, SinchValidationError
from sinch_async.testing import FakeSinch, Fault

pytestmark = pytest.mark.fake_sinch(seed=3)


@pytest.fixture
def inbounds(fake: FakeSinch) -> FakeSinch:
    """The fake with 1234 inbounds to walk."""
    fake.seed_inbounds(1234, to="12345")
    return fake


async def aenumerate(items: AsyncIterator[object]) -> AsyncIterator[tuple[int, object]]:
    n = 0
    async for item in items:
        yield n, item
        n += 1


def _list_calls(fake: FakeSinch) -> list[int]:
    return [
        int(r.query_value("page") or 0)
        for r in fake.requests
        if r.method == "GET" and r.path.endswith("/inbounds")
    ]


@pytest.mark.usefixtures("inbounds")
async def test_prefetch_yields_the_same_items_in_order(fake: FakeSinch) -> None:
    fake.latency = 0.005
    async with fake.client() as client:
        sequential = [i.id async for i in client.inbounds.list(page_size=100)]
        ahead = [i.id async for i in client.inbounds.list(page_size=100, prefetch=8)]
    assert len(sequential) == 1234 and ahead == sequential
    pages = _list_calls(fake)
    assert sorted(pages[:13]) == list(range(13)) and sorted(pages[13:]) == list(range(13))


@pytest.mark.usefixtures("inbounds")
async def test_prefetch_runs_fetches_concurrently(fake: FakeSinch) -> None:
    fake.latency = 0.02
    in_flight = peak = 0
    async with fake.client() as client:
        original = client.inbounds._fetch_page

        async def tracking(query: object) -> object:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await original(query)  # type: ignore[arg-type]
            finally:
                in_flight -= 1

        client.inbounds._fetch_page = tracking  # type: ignore[assignment,method-assign]
        ids = [i.id async for i in client.inbounds.list(page_size=100, prefetch=8)]
    assert len(ids) == 1234
    assert peak == 8  # up to 8 pages in flight at once, never more


@pytest.mark.usefixtures("inbounds")
async def test_prefetch_respects_max_items(fake: FakeSinch) -> None:
    async with fake.client() as client:
        ids = [i.id async for i in client.inbounds.list(page_size=100, prefetch=8, max_items=150)]
    assert len(ids) == 150
    assert sorted(_list_calls(fake)) == [0, 1]  # nothing fetched beyond what was needed


@pytest.mark.usefixtures("inbounds")
@pytest.mark.parametrize("explicit_close", [True, False])
async def test_early_stop_cancels_outstanding_fetches(
    fake: FakeSinch, explicit_close: bool
) -> None:
    fake.latency = 0.3  # keeps the fetches ahead in flight; nothing waits on it
    async with fake.client() as client:
        started_fetches: list[str] = []
        original = client.inbounds._fetch_page

        async def counting(query: object) -> object:
            started_fetches.append("x")
            return await original(query)  # type: ignore[arg-type]

        client.inbounds._fetch_page = counting  # type: ignore[assignment,method-assign]
        pager = client.inbounds.list(page_size=100, prefetch=8)
        if explicit_close:
            async with aclosing(pager.__aiter__()) as items:  # type: ignore[type-var]
                async for n, _ in aenumerate(items):
                    if n == 149:
                        break
        else:
            async for n, _ in aenumerate(pager):
                if n == 149:
                    break
            gc.collect()

        def leftover() -> list[asyncio.Task[object]]:
            return [
                t
                for t in asyncio.all_tasks()
                if "counting" in getattr(t.get_coro(), "__qualname__", "")
            ]

        for _ in range(200):  # loop turns, not time: the finaliser's task has to run
            if not leftover():
                break
            await asyncio.sleep(0)
        assert leftover() == []  # every prefetch task was cancelled and awaited
        assert len(started_fetches) >= 9  # the first page, then 8 fetched ahead
        assert pager.checkpoint.yielded == 150


@pytest.mark.usefixtures("inbounds")
async def test_error_during_prefetch_carries_checkpoint(fake: FakeSinch) -> None:
    async with fake.client(retry=RetryPolicy.disabled()) as client:
        pager = client.inbounds.list(page_size=100, prefetch=4)
        seen: list[str] = []
        with pytest.raises(ServerError) as err:
            async for item in pager:
                seen.append(item.id)
                if len(seen) == 100:
                    fake.add_fault(Fault(method="GET", path="/inbounds", status=500, times=1))
        cp = err.value.checkpoint
        assert cp is not None and cp.yielded == len(seen)
        rest = [i.id async for i in client.inbounds.list(resume=cp, prefetch=4)]
    assert len(seen) + len(rest) == 1234 and len(set(seen + rest)) == 1234


def test_prefetch_is_validated() -> None:
    from sinch_async import SinchClient

    client = SinchClient("p", "t", region="eu")
    with pytest.raises(SinchValidationError, match="prefetch"):
        client.inbounds.list(prefetch=0)
