"""Campaign ledgers (``send_many(..., ledger=, campaign=)``): resume, in-doubt lookups,
deterministic references, exclusive Redis claims, failing closed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sinch_async import TextBatchRequest
from sinch_async._errors import SinchConfigError
from sinch_async._fanout import SendOutcome
from sinch_async._ledger import (
    LedgerBusyError,
    LedgerError,
    SqliteLedger,
    campaign_reference,
    request_digest,
)
from sinch_async.redis._ledger import RedisLedger
from sinch_async.testing import FakeSinch
from tests.support.campaigns import reqs, run_campaign, stored_refs

CAMPAIGN = "spring-sale"


async def run(client: Any, requests: Any, ledger: Any, **kw: Any) -> list[SendOutcome]:
    kw.setdefault("campaign", CAMPAIGN)
    return await run_campaign(client, requests, ledger, **kw)


async def test_rerun_resumes_without_sending_again(tmp_path: Path) -> None:
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        first = await run(client, reqs(20), ledger)
        assert all(o.ok and not o.resumed for o in first)
        second = await run(client, reqs(20), ledger)
        assert sorted(o.index for o in second) == list(range(20))
        assert all(o.ok and o.resumed and o.batch is None for o in second)
        by_index = {o.index: o.batch_id for o in first}
        assert {o.index: o.batch_id for o in second} == by_index
        assert len(fake.batches) == 20
        assert set(stored_refs(fake)) == {campaign_reference(CAMPAIGN, i) for i in range(20)}


async def test_deterministic_references_and_own_references_kept(tmp_path: Path) -> None:
    requests = reqs(3)
    requests[1] = TextBatchRequest(to=["+46700000001"], body="x", client_reference="mine")
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        outcomes = await run(client, requests, ledger)
        records = await ledger.records(CAMPAIGN)
    refs = {o.index: o.request.client_reference for o in outcomes}
    assert refs == {0: "spring-sale:0", 1: "mine", 2: "spring-sale:2"}
    assert [r.reference for r in records] == ["spring-sale:0", "mine", "spring-sale:2"]
    assert all(r.state == "ok" and r.batch_id for r in records)
    assert len(campaign_reference("c" * 2027, 10**18)) <= 2048
    async with FakeSinch() as fake, fake.client() as client:
        with pytest.raises(SinchConfigError):
            client.batches.send_many([], ledger=SqliteLedger(tmp_path / "x"))
        with pytest.raises(SinchConfigError):
            client.batches.send_many([], ledger=SqliteLedger(tmp_path / "x"), campaign="c" * 2048)


async def _intent_only(ledger: Any, request: TextBatchRequest, index: int) -> None:
    """What a run killed mid-send leaves: the intent, no outcome."""
    ref = campaign_reference(CAMPAIGN, index)
    claim = await ledger.begin(CAMPAIGN, index, ref, request_digest(_with_ref(request, ref)))
    assert claim.status == "new"


def _with_ref(request: TextBatchRequest, ref: str) -> TextBatchRequest:
    import attrs

    return attrs.evolve(request, client_reference=ref)


async def test_in_doubt_found_is_reconciled_not_found_is_sent(tmp_path: Path) -> None:
    requests = reqs(4)
    async with FakeSinch() as fake:
        async with fake.client() as client, SqliteLedger(tmp_path / "l.db") as ledger:
            for i in range(4):
                await _intent_only(ledger, requests[i], i)
            # 0 and 1 reached Sinch before the crash; 2 and 3 did not
            sent = {
                i: await client.batches.send(_with_ref(requests[i], f"{CAMPAIGN}:{i}"))
                for i in (0, 1)
            }
        async with fake.client() as fresh, SqliteLedger(tmp_path / "l.db") as ledger:
            outcomes = {o.index: o for o in await run(fresh, requests, ledger)}
            records = {r.index: r for r in await ledger.records(CAMPAIGN)}
    assert all(o.ok for o in outcomes.values())
    assert [outcomes[i].reconciled for i in range(4)] == [True, True, False, False]
    assert outcomes[0].batch_id == sent[0].id and outcomes[1].batch_id == sent[1].id
    assert all(n == 1 for n in stored_refs(fake).values()) and len(fake.batches) == 4
    assert all(r.state == "ok" for r in records.values())


async def test_changed_input_after_sending_is_not_sent_again(tmp_path: Path) -> None:
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        await run(client, reqs(3), ledger)
        again = await run(client, reqs(3, body="other"), ledger)
    assert all(o.ok and o.resumed and o.changed for o in again)
    assert len(fake.batches) == 3


async def test_changed_input_of_a_row_in_doubt_is_refused_not_sent(tmp_path: Path) -> None:
    async with FakeSinch() as fake:
        async with fake.client() as client, SqliteLedger(tmp_path / "l.db") as ledger:
            await run(client, reqs(1), ledger)
            await _intent_only(ledger, reqs(2)[1], 1)
        async with fake.client() as client, SqliteLedger(tmp_path / "l.db") as ledger:
            again = {o.index: o for o in await run(client, reqs(2, body="other"), ledger)}
    assert again[0].changed and again[1].failed and "differs" in str(again[1].error)
    assert len(fake.batches) == 1


async def test_failed_outcomes_are_final_unless_retry_failed(tmp_path: Path) -> None:
    async with (
        FakeSinch() as fake,
        fake.client() as client,
        SqliteLedger(tmp_path / "l.db") as ledger,
    ):
        bad = [TextBatchRequest(to=["+46700000001"], body="x" * 5000)]  # too long
        first = await run(client, bad, ledger)
        assert first[0].failed
        resumed = await run(client, bad, ledger)
        assert resumed[0].failed and resumed[0].resumed
        retried = await run(client, bad, ledger, retry_failed=True)
        assert retried[0].failed and not retried[0].resumed
    assert not fake.batches


async def test_sqlite_ledger_is_single_process(tmp_path: Path) -> None:
    async with SqliteLedger(tmp_path / "l.db"):
        other = SqliteLedger(tmp_path / "l.db")
        with pytest.raises(LedgerBusyError):
            await other.records(CAMPAIGN)


# --- Redis ----------------------------------------------------------------------------------


def _order(i: int, a: RedisLedger, b: RedisLedger) -> tuple[RedisLedger, RedisLedger]:
    return (a, b) if i % 2 else (b, a)


@pytest.mark.realtime("redis clock: claims expire by Redis PX after the 0.3 s lease")
async def test_redis_claims_are_exclusive_and_expire(redis_client: Any) -> None:
    a = RedisLedger(redis_client, lease=0.3, worker="a")
    b = RedisLedger(redis_client, lease=0.3, worker="b")
    results = await asyncio.gather(
        # alternate who asks first, so that each worker wins some claims
        *[led.begin(CAMPAIGN, i, f"r{i}", "d") for i in range(50) for led in _order(i, a, b)]
    )
    for i in range(50):
        pair = {results[2 * i].status, results[2 * i + 1].status}
        assert pair == {"new", "elsewhere"}, (i, pair)
    assert a._held[CAMPAIGN] and b._held[CAMPAIGN]
    # "a" dies (stops renewing): its claims expire and b finds them in doubt
    assert a._renewer is not None
    a._renewer.cancel()
    await asyncio.sleep(0.5)
    a_held = sorted(a._held[CAMPAIGN])
    retaken = [await b.begin(CAMPAIGN, i, f"r{i}", "d") for i in a_held]
    assert {c.status for c in retaken} == {"in_doubt"}
    # b's own claims were renewed past the lease: still exclusive
    b_held = sorted(set(range(50)) - set(a_held))
    c = RedisLedger(redis_client, lease=0.3, worker="c")
    assert {(await c.begin(CAMPAIGN, i, f"r{i}", "d")).status for i in b_held} == {"elsewhere"}
    await b.aclose()
    await c.aclose()


async def test_two_workers_share_a_campaign_each_request_sent_once(redis_client: Any) -> None:
    requests = reqs(300)
    async with FakeSinch(latency=0.002) as fake, fake.client() as c1, fake.client() as c2:
        l1 = RedisLedger(redis_client, worker="w1")
        l2 = RedisLedger(redis_client, worker="w2")
        o1, o2 = await asyncio.gather(
            run(c1, requests, l1, preserve_order=True), run(c2, requests, l2)
        )
        await l1.aclose()
        await l2.aclose()
        records = await l1.records(CAMPAIGN)
    fresh = [o.index for o in o1 + o2 if not o.resumed]
    assert sorted(fresh) == list(range(300)), "each request has exactly one fresh outcome"
    assert [o.index for o in o1] == sorted(o.index for o in o1)  # preserve_order kept
    assert len(fake.batches) == 300 and set(stored_refs(fake).values()) == {1}
    assert [r.index for r in records] == list(range(300))
    assert all(r.state == "ok" for r in records)


async def test_redis_down_fails_closed(tmp_path: Path) -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")
    dead = redis_asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    async with FakeSinch() as fake, fake.client() as client:
        ledger = RedisLedger(dead, timeout=1)
        sm = client.batches.send_many(reqs(10), ledger=ledger, campaign=CAMPAIGN)
        with pytest.raises(LedgerError):
            async with sm:
                async for _ in sm:
                    pass
        await ledger.aclose()
        assert not fake.batches
        assert all(o.failed for o in sm.unreported_outcomes)
    await dead.aclose()


async def test_reprs_say_what_the_ledger_and_the_run_are(tmp_path: Path) -> None:
    """``SqliteLedger``: its path and whether it is open; ``SendMany``: its campaign and
    progress counts (never an object address, nor a secret)."""
    path = tmp_path / "l.db"
    ledger = SqliteLedger(path)
    assert repr(ledger) == f"<SqliteLedger {str(path)!r} closed>"
    async with FakeSinch() as fake, fake.client() as client:
        async with ledger:
            assert repr(ledger) == f"<SqliteLedger {str(path)!r} open>"
            run = client.batches.send_many(reqs(3), ledger=ledger, campaign="c1")
            async with run as outcomes:
                assert repr(run).startswith("<SendMany campaign='c1' submitted=0 ")
                assert [o.ok async for o in outcomes] == [True] * 3
            assert repr(run) == (
                "<SendMany campaign='c1' submitted=3 succeeded=3 failed=0 unknown=0 in_flight=0>"
            )
            assert fake.api_token not in repr(run)
        assert repr(ledger).endswith(" closed>")
        plain = client.batches.send_many(reqs(1))
        async with plain as outcomes:
            async for _ in outcomes:
                pass
        assert repr(plain).startswith("<SendMany submitted=1 succeeded=1 ")
