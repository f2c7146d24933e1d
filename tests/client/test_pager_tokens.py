"""The token cursor of the one pager (issue 16, points 4 and 11): an error mid-walk carries
``error.checkpoint``, and a server that keeps handing out fresh tokens cannot keep the walk
going (0.1 made 13,301 requests in 3 s against one).

The hostile Numbers host below is served in this process (aiohttp), in the manner of
``tests/support/hostile_server.py``: the project id picks the misbehaviour, FakeSinch issues the
OAuth tokens, and a tripwire answers 400 past ``TRIPWIRE`` requests so that a walk that
does not stop fails fast instead of hanging.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from sinch_async import RetryPolicy, ServerError, SinchError, SinchPagingError, _pagination
from sinch_async.numbers import TokenPage, TokenPager
from sinch_async.testing import FakeSinch, Fault

TRIPWIRE = 500


class Boom(SinchError):
    pass


# --- a broken walk carries its checkpoint --------------------------------------------------


@pytest.mark.parametrize("break_at", [None, 37])
async def test_error_mid_walk_carries_a_checkpoint_that_resumes_exactly(
    break_at: int | None,
) -> None:
    async with FakeSinch(seed=5) as fake:
        seeded = fake.numbers.seed_active(230)
        path = f"/v1/projects/{fake.project_id}/activeNumbers"
        async with fake.project_client(retry=RetryPolicy.disabled()) as client:
            pager = client.numbers.list(page_size=25)
            seen: list[str] = []
            if break_at is not None:  # a break and a second loop first: same position
                async for number in pager:
                    seen.append(number.phone_number)
                    if len(seen) == break_at:
                        break
            with pytest.raises(ServerError) as err:
                async for number in pager:
                    seen.append(number.phone_number)
                    if len(seen) == 60:
                        fake.add_fault(Fault(method="GET", path=path, status=503, times=1))
            cp = err.value.checkpoint
            assert cp is not None and cp == pager.checkpoint
            assert (cp.resource, cp.yielded, cp.offset, cp.done) == ("activeNumbers", 75, 0, False)
            assert cp.page == 3 and cp.page_token is not None
            rest = [n.phone_number async for n in client.numbers.list(resume=cp.to_dict())]
    assert len(seen) == 75 and len(seen) + len(rest) == 230
    assert sorted(seen + rest) == sorted(seeded)  # each number exactly once


async def test_error_on_the_first_page_carries_the_start() -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(3)
        path = f"/v1/projects/{fake.project_id}/activeNumbers"
        fake.add_fault(Fault(method="GET", path=path, status=500, times=1))
        async with fake.project_client(retry=RetryPolicy.disabled()) as client:
            with pytest.raises(ServerError) as err:
                [n async for n in client.numbers.list()]
            cp = err.value.checkpoint
            assert cp is not None and (cp.page_token, cp.yielded) == (None, 0)
            assert len([n async for n in client.numbers.list(resume=cp)]) == 3


async def test_0_1_token_pager_sets_the_checkpoint_too() -> None:
    calls = 0

    async def fetch(query: list[tuple[str, str]]) -> TokenPage[int]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Boom("the third page failed")
        return TokenPage([calls * 10, calls * 10 + 1], f"t{calls}", 6)

    pager = TokenPager(fetch, resource="x", filters=(), page_size=2)
    assert isinstance(pager, _pagination.Pager)
    got: list[int] = []
    with pytest.raises(Boom) as err:
        async for item in pager:
            got.append(item)
    assert got == [10, 11, 20, 21]
    cp = err.value.checkpoint
    assert (cp.page_token, cp.page, cp.offset, cp.yielded) == ("t2", 2, 0, 4)


# --- a hostile token server ------------------------------------------------------------------


class TokenHost:
    """Scenarios (the project id of the request path):

    * ``honest``: 23 numbers, honest tokens and ``totalSize``;
    * ``fresh-empty``: empty pages, each with a fresh token, no ``totalSize``;
    * ``fresh-empty-big``: the same with ``totalSize`` 1,000,000;
    * ``fresh-empty-zero``: the same with ``totalSize`` 0;
    * ``fresh-full``: a full page with a fresh token every time, ``totalSize`` 40;
    * ``short-pages``: 23 numbers, honest tokens, at most 5 per page whatever is asked;
    * ``repeat-token``: a full page, always the token ``"again"``.
    """

    def __init__(self, fake: FakeSinch) -> None:
        self.fake = fake
        self.requests: Counter[str] = Counter()
        self.serial = itertools.count()

    def numbers(self, n: int) -> list[dict[str, Any]]:
        start = 12025550000 + 1000 * next(self.serial)
        return [self.fake.numbers.active_record(f"+{start + i}") for i in range(n)]

    async def handle(self, request: web.Request) -> web.Response:
        scenario = request.match_info["project"]
        self.requests[scenario] += 1
        if self.requests[scenario] > TRIPWIRE:
            return web.json_response({"error": {"code": 400, "message": "tripwire"}}, status=400)
        size = int(request.query.get("pageSize", "100"))
        fresh = f"tok-{next(self.serial)}"
        body: dict[str, Any]
        if scenario == "honest":
            start = int(request.query.get("pageToken", "0") or 0)
            end = min(start + size, 23)
            items = [
                self.fake.numbers.active_record(f"+{12025550000 + i}") for i in range(start, end)
            ]
            body = {"activeNumbers": items, "nextPageToken": str(end) if end < 23 else ""}
            body["totalSize"] = 23
        elif scenario == "short-pages":  # fewer than asked: allowed (AIP-158)
            start = int(request.query.get("pageToken", "0") or 0)
            end = min(start + min(size, 5), 23)
            items = [
                self.fake.numbers.active_record(f"+{12025550000 + i}") for i in range(start, end)
            ]
            body = {"activeNumbers": items, "nextPageToken": str(end) if end < 23 else ""}
            body["totalSize"] = 23
        elif scenario == "fresh-empty":
            body = {"activeNumbers": [], "nextPageToken": fresh}
        elif scenario == "fresh-empty-big":
            body = {"activeNumbers": [], "nextPageToken": fresh, "totalSize": 1_000_000}
        elif scenario == "fresh-empty-zero":
            body = {"activeNumbers": [], "nextPageToken": fresh, "totalSize": 0}
        elif scenario == "fresh-full":
            body = {"activeNumbers": self.numbers(size), "nextPageToken": fresh, "totalSize": 40}
        elif scenario == "repeat-token":
            body = {
                "activeNumbers": self.numbers(size),
                "nextPageToken": "again",
                "totalSize": 10**6,
            }
        else:
            return web.json_response({}, status=404)
        return web.json_response(body)


@pytest.fixture
async def host() -> AsyncIterator[tuple[TokenHost, str, FakeSinch]]:
    async with FakeSinch() as fake:
        served = TokenHost(fake)
        app = web.Application()
        app.router.add_get("/v1/projects/{project}/activeNumbers", served.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield served, f"http://127.0.0.1:{port}", fake
        finally:
            await runner.cleanup()


async def walk(host: tuple[TokenHost, str, FakeSinch], scenario: str, **kw: Any) -> list[str]:
    _, url, fake = host
    async with fake.project_client(project_id=scenario, numbers_base_url=url) as client:
        return [n.phone_number async for n in client.numbers.list(**kw)]


async def test_control_honest_host(host: tuple[TokenHost, str, FakeSinch]) -> None:
    got = await walk(host, "honest", page_size=5)
    assert len(got) == len(set(got)) == 23
    assert host[0].requests["honest"] == 5


async def test_pages_shorter_than_asked_are_walked_to_the_end(
    host: tuple[TokenHost, str, FakeSinch],
) -> None:
    """A token server may return fewer items than ``pageSize``: 23 numbers at 5 a page
    with ``page_size=10`` take 5 pages, past ``ceil(23 / 10) + 1`` (the bound that used to
    stop this walk at 20 items)."""
    got = await walk(host, "short-pages", page_size=10)
    assert len(got) == len(set(got)) == 23
    assert host[0].requests["short-pages"] == 5


@pytest.mark.parametrize(
    ("scenario", "page_size", "bound"),
    [
        ("fresh-empty", 10, "MAX_EMPTY_PAGES"),  # nothing else to go by
        ("fresh-empty-big", 10, "MAX_EMPTY_PAGES"),  # the count allows 100,001 pages
        ("fresh-empty-zero", 10, "MAX_EMPTY_PAGES"),  # no item ever exceeds the count
        ("fresh-full", 7, 7),  # 49 items > 40 reported + a page (7) of slack
    ],
)
async def test_fresh_tokens_end_in_a_paging_error_within_a_bound(
    host: tuple[TokenHost, str, FakeSinch], scenario: str, page_size: int, bound: int | str
) -> None:
    if isinstance(bound, str):
        bound = getattr(_pagination, bound, 10)  # 10 empty pages in a row (0.1 had no cap)
    with pytest.raises(SinchPagingError) as err:
        await walk(host, scenario, page_size=page_size)
    assert host[0].requests[scenario] == bound
    cp = err.value.checkpoint
    assert cp is not None and cp.resource == "activeNumbers" and not cp.done


async def test_a_repeated_token_is_a_paging_error(host: tuple[TokenHost, str, FakeSinch]) -> None:
    with pytest.raises(SinchPagingError, match="twice"):
        await walk(host, "repeat-token", page_size=3)
    assert host[0].requests["repeat-token"] == 2


async def test_a_few_empty_pages_are_walked_through() -> None:
    """An empty page that names a next page is allowed (AIP-158 lets a server return
    fewer items than asked, even none); only ``MAX_EMPTY_PAGES`` in a row stop the walk."""
    cap = _pagination.MAX_EMPTY_PAGES
    pages = [([], "a"), ([1, 2], "b"), *[([], f"e{i}") for i in range(cap - 1)]]
    pages.append(([3], ""))
    served = iter(pages)

    async def fetch(query: list[tuple[str, str]]) -> TokenPage[int]:
        items, token = next(served)
        return TokenPage(items, token, None)

    pager = _pagination.Pager(fetch, paging="token", resource="x", filters=(), page_size=2)
    assert [i async for i in pager] == [1, 2, 3]
    assert pager.checkpoint.done
