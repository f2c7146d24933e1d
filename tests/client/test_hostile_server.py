"""The client against a deliberately misbehaving server running in its own process.

``tests/support/hostile_server.py`` imitates the xms API and lies: pages that repeat, counts that
are wrong or jitter, redirects, undecodable 201s, recipients echoed in another format. Each
case must end in a typed error or a correct result within a bounded number of requests
(read back from the server's ``/_stats``). Every test runs under ``asyncio.wait_for`` so a
regression (an endless walk) fails instead of hanging; the server's tripwire (400 after
1000 requests for one plan) makes such a failure quick as well.
"""

from __future__ import annotations

import asyncio
import math
import select
import subprocess
import sys
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import pytest

import sinch_async
from sinch_async import (
    MemoryCheckpoint,
    RetryPolicy,
    SinchClient,
    SinchDecodeError,
    SinchError,
    TextBatchRequest,
)
from tests.support.paths import SUPPORT

SERVER = SUPPORT / "hostile_server.py"
DEADLINE = 30.0
PAGE_SIZE = 100
PREFETCH = [pytest.param(1, id="sequential"), pytest.param(4, id="prefetch4")]

T = TypeVar("T")

#: Batch ids the undecodable-201 scenarios put in their bodies (None: unreadable).
UNDECODABLE = [
    pytest.param("undecodable-201", "01HOSTILE00000000000000001", id="to-not-a-list"),
    pytest.param("undecodable-201-baddate", "01HOSTILE00000000000000002", id="bad-date"),
    pytest.param("undecodable-201-noid", None, id="no-id"),
    pytest.param("undecodable-201-nonjson", None, id="not-json"),
]


@pytest.fixture(scope="module")
def hostile_port() -> Iterator[int]:
    """Start ``hostile_server.py`` in its own process; its port."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--watch-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            pytest.fail(f"hostile server did not start (said {line!r}, rc={proc.poll()})")
        yield int(line.split()[1])
    finally:
        proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


class Hostile:
    """Talks to the hostile server: clients per scenario, stats, reset."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"

    def client(self, scenario: str) -> SinchClient:
        return SinchClient(
            service_plan_id=scenario,
            api_token="t",
            base_url=self.base_url,
            retry=RetryPolicy(base_delay=0.001, max_delay=0.01),
        )

    async def _call(self, method: str, path: str) -> Any:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base_url + path) as resp,
        ):
            resp.raise_for_status()
            return await resp.json()

    async def reset(self) -> None:
        await self._call("POST", "/_reset")

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self._call("GET", "/_stats")
        return stats

    async def requests(self, scenario: str, what: str | None = None) -> int:
        """Requests the server saw for ``scenario`` (``what``: e.g. ``"POST /batches"``)."""
        stats = await self.stats()
        assert scenario not in stats["tripped"], f"{scenario}: tripwire hit (an endless walk?)"
        key = scenario if what is None else f"{scenario} {what}"
        return int(stats["requests"].get(key, 0))


@pytest.fixture
async def hostile(hostile_port: int) -> Hostile:
    server = Hostile(hostile_port)
    await server.reset()
    return server


async def bounded(work: Awaitable[T]) -> T:
    """``work``, or a failure after DEADLINE seconds instead of a hang."""
    return await asyncio.wait_for(work, DEADLINE)


async def walk_inbounds(
    hostile: Hostile, scenario: str, prefetch: int
) -> tuple[list[str], BaseException | None]:
    """Walk ``inbounds.list``; the ids handed out and the error that ended it (if any)."""
    ids: list[str] = []
    async with hostile.client(scenario) as client:
        try:
            async for item in client.inbounds.list(page_size=PAGE_SIZE, prefetch=prefetch):
                ids.append(item.id)
        except SinchError as exc:
            return ids, exc
    return ids, None


async def _collect_sync(sync: Any, ids: list[str] | None = None) -> list[str]:
    """Run ``sync`` to its end; the ids it handed out (appended to ``ids`` as they come)."""
    ids = [] if ids is None else ids
    async with sync:
        async for item in sync:
            ids.append(item.id)
    return ids


def max_requests(count: int) -> int:
    """The contract's bound on one walk: ceil(count / page_size) + 1 (count of page 0)."""
    return math.ceil(count / PAGE_SIZE) + 1


def paging_error(ids: list[str], error: BaseException | None) -> BaseException:
    assert error is not None, f"walk ended without an error after {len(ids)} items"
    assert isinstance(error, sinch_async.SinchPagingError), repr(error)
    assert isinstance(error, SinchDecodeError)
    return error


# --- controls: the server's honest behaviour works with the client ---------------------------


@pytest.mark.parametrize("prefetch", PREFETCH)
async def test_control_honest_walk(hostile: Hostile, prefetch: int) -> None:
    ids, error = await bounded(walk_inbounds(hostile, "honest", prefetch))
    assert error is None, repr(error)
    assert len(ids) == len(set(ids)) == 250
    assert await hostile.requests("honest") <= max_requests(250)


async def test_control_honest_sync(hostile: Hostile) -> None:
    until = datetime.now(UTC)
    async with hostile.client("honest") as client:
        sync = client.inbounds.sync(
            since=until - timedelta(hours=2), until=until, checkpoint=MemoryCheckpoint()
        )
        ids = await bounded(_collect_sync(sync))
    assert len(ids) == len(set(ids)) == 250
    assert sync.stats.rewalks == 0
    assert await hostile.requests("honest") < 50


# --- pagers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", PREFETCH)
async def test_repeat_page_is_a_paging_error(hostile: Hostile, prefetch: int) -> None:
    ids, error = await bounded(walk_inbounds(hostile, "repeat-page", prefetch))
    paging_error(ids, error)
    assert len(ids) == len(set(ids)) <= PAGE_SIZE  # page 0 at most, nothing twice
    seen = await hostile.requests("repeat-page")
    if prefetch == 1:
        assert seen == 2
    else:
        assert seen <= max_requests(250)


@pytest.mark.parametrize("prefetch", PREFETCH)
async def test_repeat_page_with_huge_count_fails_fast(hostile: Hostile, prefetch: int) -> None:
    ids, error = await bounded(walk_inbounds(hostile, "repeat-page-bigcount", prefetch))
    paging_error(ids, error)
    assert len(ids) == len(set(ids)) <= PAGE_SIZE
    # page 0, then the first wrong page (plus whatever prefetch had in flight)
    assert await hostile.requests("repeat-page-bigcount") <= 1 + prefetch


@pytest.mark.parametrize("prefetch", PREFETCH)
async def test_relabelled_page_does_not_walk_forever(hostile: Hostile, prefetch: int) -> None:
    # Page 0's items under the asked page number: the page check cannot see it, so the
    # count bound must stop the walk (or a typed error, if the SDK spots the repeats).
    ids, error = await bounded(walk_inbounds(hostile, "relabel-page", prefetch))
    assert error is None or isinstance(error, SinchError)
    assert len(ids) <= max_requests(250) * PAGE_SIZE
    assert await hostile.requests("relabel-page") <= max_requests(250)


@pytest.mark.parametrize("prefetch", PREFETCH)
async def test_count_too_high_ends_at_the_empty_page(hostile: Hostile, prefetch: int) -> None:
    ids, error = await bounded(walk_inbounds(hostile, "lying-count-high", prefetch))
    assert error is None, repr(error)
    assert len(ids) == len(set(ids)) == 300
    seen = await hostile.requests("lying-count-high")
    # three real pages and the empty one (plus what prefetch had in flight)
    assert seen <= 4 if prefetch == 1 else seen <= 4 + prefetch


@pytest.mark.parametrize("prefetch", PREFETCH)
async def test_count_too_low_is_a_paging_error(hostile: Hostile, prefetch: int) -> None:
    ids, error = await bounded(walk_inbounds(hostile, "lying-count-low", prefetch))
    paging_error(ids, error)
    assert len(ids) == len(set(ids))
    assert await hostile.requests("lying-count-low") <= max_requests(10)


# --- redirects -------------------------------------------------------------------------------


async def test_redirect_on_a_list_is_a_redirect_error(hostile: Hostile) -> None:
    ids, error = await bounded(walk_inbounds(hostile, "redirect", 1))
    assert ids == []
    assert isinstance(error, sinch_async.RedirectError), repr(error)
    assert isinstance(error, sinch_async.SinchAPIError)
    assert error.status == 307
    assert error.location == "http://127.0.0.1:1/elsewhere"
    assert await hostile.requests("redirect") == 1


async def test_redirect_on_a_send_is_a_redirect_error(hostile: Hostile) -> None:
    async def send() -> object:
        async with hostile.client("redirect") as client:
            try:
                return await client.batches.send_text(
                    to=["+46701234567"], body="hi", client_reference="ref-redirect"
                )
            except SinchError as exc:
                return exc

    outcome = await bounded(send())
    assert isinstance(outcome, sinch_async.RedirectError), f"send returned {outcome!r}"
    assert outcome.status == 307
    assert outcome.location == "http://127.0.0.1:1/elsewhere"
    assert await hostile.requests("redirect", "POST /batches") == 1
    assert await hostile.requests("redirect") == 1  # no retry, no reconciling look-up


# --- sends answered 201 with an undecodable body -------------------------------------------


@pytest.mark.parametrize("reference", [None, "ref-undecodable"])
@pytest.mark.parametrize(("scenario", "batch_id"), UNDECODABLE)
async def test_undecodable_201_is_reported_not_resent(
    hostile: Hostile, scenario: str, batch_id: str | None, reference: str | None
) -> None:
    async def send() -> object:
        async with hostile.client(scenario) as client:
            try:
                return await client.batches.send_text(
                    to=["+46701234567"], body="hi", client_reference=reference
                )
            except SinchError as exc:
                return exc

    outcome = await bounded(send())
    assert isinstance(outcome, sinch_async.UndecodableSendResponse), repr(outcome)
    assert isinstance(outcome, SinchDecodeError)
    assert outcome.status == 201
    assert outcome.batch_id == batch_id
    assert isinstance(outcome.request, TextBatchRequest)
    assert outcome.request.to == ("+46701234567",)
    assert outcome.request.client_reference == reference
    assert await hostile.requests(scenario, "POST /batches") == 1


@pytest.mark.parametrize(("scenario", "batch_id"), UNDECODABLE)
async def test_undecodable_201_in_send_many_counts_as_sent(
    hostile: Hostile, scenario: str, batch_id: str | None
) -> None:
    requests = [TextBatchRequest(to=[f"+4670123456{i}"], body=f"hi {i}") for i in range(3)]

    async def send_all() -> list[Any]:
        async with hostile.client(scenario) as client:
            got = []
            async with client.batches.send_many(requests, concurrency=3) as outcomes:
                async for outcome in outcomes:
                    got.append(outcome)
            return got

    outcomes = sorted(await bounded(send_all()), key=lambda outcome: outcome.index)
    assert [outcome.index for outcome in outcomes] == [0, 1, 2]
    for outcome in outcomes:
        assert outcome.ok is True, repr(outcome)
        assert outcome.unknown is False, repr(outcome)
        assert outcome.batch_id == batch_id, repr(outcome)
    assert await hostile.requests(scenario, "POST /batches") == 3


# --- a send whose recipients come back in another format -------------------------------------


async def test_reconciliation_matches_normalised_recipients(hostile: Hostile) -> None:
    # The first POST of each reference is stored, then answered 503; the lookup finds it
    # with "to" normalised and "created_at" at millisecond precision. Several references,
    # so a comparison that trips over the millisecond rounding fails every run, not
    # only sometimes.
    references = [f"ref-{i}" for i in range(1, 9)]

    async def send_all() -> list[object]:
        results: list[object] = []
        async with hostile.client("normalised-echo") as client:
            for reference in references:
                try:
                    results.append(
                        await client.batches.send_text(
                            to=["+46701234567", "0046701234568"],
                            body="hi",
                            client_reference=reference,
                        )
                    )
                except SinchError as exc:
                    results.append(exc)
        return results

    results = await bounded(send_all())
    stored = (await hostile.stats())["stored"].get("normalised-echo", [])
    assert len(stored) == len(references), f"{len(stored)} batches stored (a send was repeated)"
    wrong = {
        reference: outcome
        for reference, outcome, batch_id in zip(references, results, stored, strict=True)
        if not (isinstance(outcome, sinch_async.TextBatch) and outcome.id == batch_id)
    }
    assert not wrong, f"not reconciled to the stored batch: {wrong!r}"
    assert await hostile.requests("normalised-echo", "POST /batches") == len(references)


# --- sync ------------------------------------------------------------------------------------


async def test_sync_with_jittering_count_ends_with_each_item_once(hostile: Hostile) -> None:
    until = datetime.now(UTC)
    async with hostile.client("jitter-count") as client:
        sync = client.inbounds.sync(
            since=until - timedelta(hours=2), until=until, checkpoint=MemoryCheckpoint()
        )
        ids = await bounded(_collect_sync(sync))
    assert len(ids) == len(set(ids)) == 300
    assert sync.stats.rewalk_limit_hits >= 1
    assert await hostile.requests("jitter-count") < 200


async def test_sync_over_a_repeating_page_ends_in_a_typed_error(hostile: Hostile) -> None:
    until = datetime.now(UTC)

    async def run() -> tuple[list[str], BaseException | None]:
        ids: list[str] = []
        async with hostile.client("repeat-page") as client:
            sync = client.inbounds.sync(
                since=until - timedelta(hours=2), until=until, checkpoint=MemoryCheckpoint()
            )
            try:
                await _collect_sync(sync, ids)
            except SinchError as exc:
                return ids, exc
        return ids, None

    ids, error = await bounded(run())
    assert isinstance(error, SinchError), f"sync ended normally with {len(ids)} items"
    assert await hostile.requests("repeat-page") < 200
