"""``RedisLedger`` format 2 (issue 15): compact bucketed records, format detection, atomic
and fenced claims, references, expiry and the memory a finished row costs. Against a
real ``redis-server`` (``tests/support/redis_server.py``), the class used directly."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import pytest

from sinch_async._ledger import (
    CampaignState,
    ClaimLostError,
    Ledger,
    LedgerError,
    LedgerFormatError,
    LedgerRecord,
    campaign_reference,
)
from sinch_async.redis._ledger import BUCKET, RedisLedger
from sinch_async.testing import FakeClock

CAMPAIGN = "spring-sale"
R = TypeVar("R")
P = "sinch:ledger"
NOW = 1_790_000_000.123


def key(name: str, campaign: str = CAMPAIGN) -> str:
    return f"{P}:{{{campaign}}}:{name}"


def digest(i: int) -> str:
    return f"D{i:011d}"[-12:] if i >= 0 else "x" * 12


def batch_id(i: int) -> str:
    return f"01K{i:023d}"


def ref(i: int) -> str:
    return campaign_reference(CAMPAIGN, i)


async def encoding(redis: Any, k: str) -> str:
    value = await redis.object("encoding", k)
    return value.decode() if isinstance(value, bytes) else str(value)


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def gather(calls: list[Awaitable[R]], limit: int = 64) -> list[R]:
    """``asyncio.gather`` with at most ``limit`` running at once (the client's pool has
    100 connections)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[R]) -> R:
        async with gate:
            return await call

    return await asyncio.gather(*[one(c) for c in calls])


async def test_is_a_ledger(redis_client: Any) -> None:
    assert isinstance(RedisLedger(redis_client), Ledger)


async def test_round_trip_every_state(redis_client: Any) -> None:
    led = RedisLedger(redis_client, worker="w")
    long_error = "E" * 2000
    expected: dict[int, LedgerRecord] = {}
    # rows 0..5 in bucket 0, 130 in bucket 1; 3 and 130 carry caller references
    refs = {i: ref(i) for i in (0, 1, 2, 4, 5)} | {3: "order-3", 130: "order-130"}
    for i, reference in refs.items():
        claim = await led.begin(CAMPAIGN, i, reference, digest(i), intent_at=NOW + i)
        assert claim.status == "new" and claim.record is None
    ok0 = LedgerRecord(0, refs[0], "ok", digest(0), NOW, batch_id(0), done_at=NOW + 9)
    failed1 = LedgerRecord(
        1, refs[1], "failed", digest(1), NOW + 1, None, "SinchHTTPError", long_error, NOW + 9
    )
    unknown2 = LedgerRecord(
        2, refs[2], "unknown", digest(2), NOW + 2, None, "SendOutcomeUnknown", "timeout", NOW + 9
    )
    ok3 = LedgerRecord(3, "order-3", "ok", digest(3), NOW + 3, batch_id(3), done_at=NOW + 9)
    failed130 = LedgerRecord(130, "order-130", "failed", digest(130), NOW, None, "X", "y", NOW)
    for record in (ok0, failed1, unknown2, ok3, failed130):
        await led.finish(CAMPAIGN, record)
    # what comes back: finished ok rows keep no intent time and no done_at
    expected = {
        0: attrs.evolve(ok0, intent_at=0.0, done_at=None),
        1: failed1,
        2: unknown2,
        3: attrs.evolve(ok3, intent_at=0.0, done_at=None),
        4: LedgerRecord(4, ref(4), "intent", digest(4), NOW + 4),
        5: LedgerRecord(5, ref(5), "intent", digest(5), NOW + 5),
        130: failed130,
    }
    records = await led.records(CAMPAIGN)
    assert [r.index for r in records] == sorted(expected)
    for r in records:
        want = expected[r.index]
        # intent times are kept to the millisecond (rounded down)
        assert r.intent_at == pytest.approx(want.intent_at, abs=0.001), r
        assert r.intent_at <= want.intent_at
        assert attrs.evolve(r, intent_at=want.intent_at) == want
    # the buckets stay listpacks (the 2,000-character error went to the err hash)
    assert await encoding(redis_client, key("r:0")) == "listpack"
    assert await encoding(redis_client, key("r:1")) == "listpack"
    bucket = await redis_client.hgetall(key("r:0"))
    assert max(len(v) for v in bucket.values()) <= 64
    assert text(bucket[b"0"]) == "o" + digest(0) + batch_id(0)
    assert text(bucket[b"1"]) == "f" + digest(1)
    # the default reference is not stored; a caller's is, both ways
    assert await redis_client.hgetall(key("ref:0")) == {b"3": b"order-3"}
    assert await redis_client.hgetall(key("ref:1")) == {b"2": b"order-130"}
    assert text(await redis_client.hget(key("refs"), "order-130")) == "130"
    # a record claimed again comes back whole
    again = await led.begin(CAMPAIGN, 1, refs[1], digest(1))
    assert again.status == "done" and again.record == failed1
    doubt = await led.begin(CAMPAIGN, 2, refs[2], digest(2))
    assert doubt.status == "in_doubt" and doubt.record is not None
    assert doubt.record.error == "timeout" and doubt.record.state == "unknown"
    assert doubt.record.intent_at == pytest.approx(NOW + 2, abs=0.001)
    await led.aclose()


async def test_odd_digests_and_long_batch_ids_still_round_trip(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    long_id = "B" * 80
    await led.begin(CAMPAIGN, 0, ref(0), "d", intent_at=NOW)  # not a format-2 digest
    await led.begin(CAMPAIGN, 1, ref(1), digest(1), intent_at=NOW)
    assert (await led.records(CAMPAIGN))[0] == LedgerRecord(0, ref(0), "intent", "d", NOW)
    await led.finish(CAMPAIGN, LedgerRecord(0, ref(0), "ok", "d", NOW, "id0"))
    await led.finish(CAMPAIGN, LedgerRecord(1, ref(1), "ok", digest(1), NOW, long_id))
    r0, r1 = await led.records(CAMPAIGN)
    assert (r0.digest, r0.batch_id, r1.digest, r1.batch_id) == ("d", "id0", digest(1), long_id)
    assert await encoding(redis_client, key("r:0")) == "listpack"
    await led.aclose()


async def test_retry_failed_reclaims_and_clears_the_error(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    await led.begin(CAMPAIGN, 7, "mine", digest(7), intent_at=NOW)
    await led.finish(CAMPAIGN, LedgerRecord(7, "mine", "failed", digest(7), NOW, None, "T", "m"))
    done = await led.begin(CAMPAIGN, 7, "mine", digest(7))
    assert done.status == "done" and done.record is not None and done.record.error == "m"
    # retried with another reference: the intent replaces the failure, the index moves
    again = await led.begin(CAMPAIGN, 7, "other", digest(7), retry_failed=True, intent_at=NOW)
    assert again.status == "new"
    (record,) = await led.records(CAMPAIGN)
    assert record == LedgerRecord(7, "other", "intent", digest(7), NOW)
    assert await redis_client.hget(key("err"), "7") is None
    assert await led.with_reference(CAMPAIGN, "mine") == []
    assert [r.index for r in await led.with_reference(CAMPAIGN, "other")] == [7]
    await led.aclose()


@pytest.mark.realtime("redis clock: waits out a claim's lease TTL")
async def test_finish_never_overwrites_ok_and_warns_on_expired_claims(
    redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    a = RedisLedger(redis_client, lease=0.3, worker="a")
    await a.begin(CAMPAIGN, 0, ref(0), digest(0), intent_at=NOW)
    await a.finish(CAMPAIGN, LedgerRecord(0, ref(0), "ok", digest(0), NOW, batch_id(0)))
    await a.finish(CAMPAIGN, LedgerRecord(0, ref(0), "failed", digest(0), NOW, None, "T", "m"))
    (record,) = await a.records(CAMPAIGN)
    assert record.state == "ok" and record.batch_id == batch_id(0)
    # a's claim on 1 expires (a stopped) and b takes the row over
    await a.begin(CAMPAIGN, 1, ref(1), digest(1), intent_at=NOW)
    assert a._renewer is not None
    a._renewer.cancel()
    await asyncio.sleep(0.45)
    b = RedisLedger(redis_client, lease=5, worker="b")
    assert (await b.begin(CAMPAIGN, 1, ref(1), digest(1))).status == "in_doubt"
    with caplog.at_level(logging.WARNING, logger="sinch_async"):
        # a's late failure does not replace b's intent; a late ok would be recorded
        await a.finish(CAMPAIGN, LedgerRecord(1, ref(1), "failed", digest(1), NOW, None, "T", "m"))
    assert "had expired" in caplog.text and "another worker holds" in caplog.text
    assert (await a.records(CAMPAIGN))[1].state == "intent"
    await a.finish(CAMPAIGN, LedgerRecord(1, ref(1), "ok", digest(1), NOW, batch_id(1)))
    assert (await a.records(CAMPAIGN))[1].state == "ok"
    # b still holds its claim; its finish releases it
    assert await redis_client.exists(key("claim:1"))
    await b.finish(CAMPAIGN, LedgerRecord(1, ref(1), "ok", digest(1), NOW, batch_id(1)))
    assert not await redis_client.exists(key("claim:1"))
    await a.aclose()
    await b.aclose()


async def test_with_reference(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    for i in range(6):
        reference = ref(i) if i < 2 else ("shared" if i % 2 else "solo")
        await led.begin(CAMPAIGN, i, reference, digest(i), intent_at=NOW)
    # 2 and 4: "solo"; 3 and 5: "shared"
    await led.finish(CAMPAIGN, LedgerRecord(3, "shared", "ok", digest(3), NOW, batch_id(3)))
    shared = await led.with_reference(CAMPAIGN, "shared")
    assert [(r.index, r.reference, r.state) for r in shared] == [
        (3, "shared", "ok"),
        (5, "shared", "intent"),
    ]
    assert shared[0].batch_id == batch_id(3)
    assert [r.index for r in await led.with_reference(CAMPAIGN, "solo")] == [2, 4]
    # default references are never listed; unknown ones are empty
    assert await led.with_reference(CAMPAIGN, ref(0)) == []
    assert await led.with_reference(CAMPAIGN, "nope") == []
    await led.aclose()


async def test_a_reference_many_rows_share_moves_to_a_list(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    n = 300  # "0,1,...,299" is longer than 512 characters
    for start in range(0, n, 50):
        await gather(
            [
                led.begin(CAMPAIGN, i, "newsletter", digest(i), intent_at=NOW)
                for i in range(start, start + 50)
            ]
        )
    assert text(await redis_client.hget(key("refs"), "newsletter")).startswith("*")
    assert [r.index for r in await led.with_reference(CAMPAIGN, "newsletter")] == list(range(n))
    # a row retried under another reference leaves the list
    await led.finish(CAMPAIGN, LedgerRecord(5, "newsletter", "failed", digest(5), NOW))
    await led.begin(CAMPAIGN, 5, ref(5), digest(5), retry_failed=True, intent_at=NOW)
    listed = [r.index for r in await led.with_reference(CAMPAIGN, "newsletter")]
    assert listed == [i for i in range(n) if i != 5]
    assert (await led.records(CAMPAIGN))[5].reference == ref(5)
    await led.aclose()
    await led.expire(CAMPAIGN, 60)
    assert await redis_client.pttl(key("refl:1")) > 0


async def test_claims_are_exclusive_under_concurrency(redis_client: Any) -> None:
    a = RedisLedger(redis_client, worker="a")
    b = RedisLedger(redis_client, worker="b")
    n = 400
    # the first caller of a pair usually wins: alternate, so that both win some
    calls = [(led, i) for i in range(n) for led in ((a, b) if i % 2 else (b, a))]
    claims = await gather([led.begin(CAMPAIGN, i, ref(i), digest(i)) for led, i in calls])
    for i in range(n):
        assert sorted(c.status for c in claims[2 * i : 2 * i + 2]) == ["elsewhere", "new"], i
    held_a, held_b = a._held.get(CAMPAIGN, {}), b._held.get(CAMPAIGN, {})
    assert held_a and held_b
    assert set(held_a).isdisjoint(held_b)
    assert set(held_a) | set(held_b) == set(range(n))
    # every claim holds a token of its own
    tokens = [h.token for held in (held_a, held_b) for h in held.values()]
    assert len(set(tokens)) == n
    assert (await a.open(CAMPAIGN)).high_water == n - 1
    await a.aclose()
    await b.aclose()


@pytest.mark.realtime("redis clock: a 2 s run over several lease TTLs, extended by check")
async def test_check_passes_while_held_and_extends_the_lease(redis_client: Any) -> None:
    led = RedisLedger(redis_client, lease=2)
    await led.begin(CAMPAIGN, 0, ref(0), digest(0))
    await redis_client.pexpire(key("claim:0"), 1500)
    await led.check(CAMPAIGN, 0)
    assert await redis_client.pttl(key("claim:0")) > 1900
    # renewed past several leases: still held
    led2 = RedisLedger(redis_client, lease=0.9)
    await led2.begin(CAMPAIGN, 1, ref(1), digest(1))
    await asyncio.sleep(2.0)
    await led2.check(CAMPAIGN, 1)
    await led.aclose()
    await led2.aclose()


@pytest.mark.realtime("redis clock: waits out a claim's lease TTL")
async def test_check_raises_when_the_lease_expired_and_another_worker_claimed(
    redis_client: Any,
) -> None:
    a = RedisLedger(redis_client, lease=0.3, worker="a")
    b = RedisLedger(redis_client, lease=5, worker="b")
    await a.begin(CAMPAIGN, 0, ref(0), digest(0))
    assert a._renewer is not None
    a._renewer.cancel()  # a is stopped
    await asyncio.sleep(0.4)
    assert (await b.begin(CAMPAIGN, 0, ref(0), digest(0))).status == "in_doubt"
    # even with a's local clock unaware of the pause, Redis has the last word
    a._held[CAMPAIGN][0].since = a._clock()
    with pytest.raises(ClaimLostError):
        await a.check(CAMPAIGN, 0)
    assert 0 not in a._held.get(CAMPAIGN, {})
    with pytest.raises(ClaimLostError):  # forgotten: it stays lost
        await a.check(CAMPAIGN, 0)
    await b.check(CAMPAIGN, 0)
    await a.aclose()
    await b.aclose()


async def test_check_raises_when_too_little_lease_is_left(redis_client: Any) -> None:
    led = RedisLedger(redis_client, lease=3)
    await led.begin(CAMPAIGN, 0, ref(0), digest(0))
    await redis_client.pexpire(key("claim:0"), 500)  # under lease / 3
    with pytest.raises(ClaimLostError, match="left"):
        await led.check(CAMPAIGN, 0)
    await led.aclose()


@pytest.mark.realtime("redis clock: a stop (blocked loop) past the claim's lease TTL")
async def test_a_worker_stopped_past_its_lease_does_not_send(redis_client: Any) -> None:
    """The event loop blocked (as SIGSTOP, Ctrl-Z or a paused VM would) for longer than
    the lease: nothing else took the row, but the claim is gone all the same."""
    led = RedisLedger(redis_client, lease=0.3)
    await led.begin(CAMPAIGN, 0, ref(0), digest(0))
    await led.check(CAMPAIGN, 0)
    time.sleep(0.5)  # noqa: ASYNC251 - the stop being simulated
    with pytest.raises(ClaimLostError):
        await led.check(CAMPAIGN, 0)
    await led.aclose()


async def test_a_late_renewal_gives_claims_up_even_if_redis_still_has_them(
    redis_client: Any,
) -> None:
    led = RedisLedger(redis_client, lease=5)
    await led.begin(CAMPAIGN, 0, ref(0), digest(0))
    await led.begin(CAMPAIGN, 1, ref(1), digest(1))
    real: Callable[[], float] = led._clock
    led._clock = lambda: real() + 6  # the renew loop ran six seconds late
    lost = await led._renew_all(renew=True)
    assert sorted(lost) == [key("claim:0"), key("claim:1")]
    assert await redis_client.get(key("claim:0"))  # Redis would still have said yes
    for i in (0, 1):
        with pytest.raises(ClaimLostError):
            await led.check(CAMPAIGN, i)
    # a claim taken after the pause is fine
    await led.begin(CAMPAIGN, 2, ref(2), digest(2))
    await led.check(CAMPAIGN, 2)
    assert await led._renew_all(renew=True) == []
    await led.aclose()


async def test_renewal_reports_claims_it_could_not_renew(redis_client: Any) -> None:
    led = RedisLedger(redis_client, lease=5)
    for i in range(3):
        await led.begin(CAMPAIGN, i, ref(i), digest(i))
    await redis_client.set(key("claim:1"), "thief")
    assert await led._renew_all(renew=True) == [key("claim:1")]
    assert sorted(led._held[CAMPAIGN]) == [0, 2]
    with pytest.raises(ClaimLostError):
        await led.check(CAMPAIGN, 1)
    await led.aclose()
    assert text(await redis_client.get(key("claim:1"))) == "thief"  # not ours to release
    assert not await redis_client.exists(key("claim:0"))


async def test_check_fails_closed_after_a_failed_renewal(redis_client: Any) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    clock = FakeClock(auto_advance=False)  # the renewer waits on it: no wall time passes
    led = RedisLedger(redis_client, lease=0.3, clock=clock)
    await led.begin(CAMPAIGN, 0, ref(0), digest(0))

    async def down(**_: Any) -> Any:
        raise RedisConnectionError("Connection refused")

    led._renew = down  # type: ignore[assignment]
    await clock.wait_for_sleepers(1)  # the renewer waits for its turn (lease / 3)
    clock.advance(0.1)
    await clock.wait_for_sleepers(1)  # it ran, failed, and waits for the next turn
    with pytest.raises(LedgerError, match="not renewed"):
        await led.check(CAMPAIGN, 0)
    with pytest.raises(LedgerError, match="not renewed"):
        await led.begin(CAMPAIGN, 1, ref(1), digest(1))
    await led.aclose()


async def test_old_layout_is_refused(redis_client: Any) -> None:
    old = LedgerRecord(0, ref(0), "ok", "0" * 32, NOW, batch_id(0))
    await redis_client.hset(key("records"), "0", "o" + old.to_json())
    led = RedisLedger(redis_client)
    with pytest.raises(LedgerFormatError, match="earlier sinch-async") as info:
        await led.open(CAMPAIGN)
    assert "new campaign id" in str(info.value)
    assert (await led.open("other")).exists is False


async def test_newer_format_is_refused(redis_client: Any) -> None:
    await redis_client.hset(key("meta"), "v", "3")
    with pytest.raises(LedgerFormatError, match="newer"):
        await RedisLedger(redis_client).open(CAMPAIGN)


async def test_an_unreadable_record_is_a_format_error(redis_client: Any) -> None:
    await redis_client.hset(key("meta"), mapping={"v": "2", "hw": "0"})
    await redis_client.hset(key("r:0"), "0", "zgarbage")
    with pytest.raises(LedgerFormatError, match="unreadable"):
        await RedisLedger(redis_client).records(CAMPAIGN)


async def test_open_and_start(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    assert await led.open(CAMPAIGN) == CampaignState(exists=False, high_water=-1)
    await led.start(CAMPAIGN, NOW)
    await led.start(CAMPAIGN, NOW + 100)  # the first mark stays
    assert await led.open(CAMPAIGN) == CampaignState(True, -1, NOW)
    await led.begin(CAMPAIGN, 300, ref(300), digest(300))
    await led.begin(CAMPAIGN, 12, ref(12), digest(12))
    assert await led.open(CAMPAIGN) == CampaignState(True, 300, NOW)
    assert text(await redis_client.hget(key("meta"), "v")) == "2"
    # begun without start (no started mark): exists all the same
    await led.begin("other", 0, campaign_reference("other", 0), digest(0))
    assert await led.open("other") == CampaignState(True, 0, None)
    await led.aclose()


@pytest.mark.realtime("redis clock: waits for the keys' 0.2 s TTL")
async def test_expire_sets_a_ttl_on_every_key(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    await led.start(CAMPAIGN, NOW)
    for i in (0, 1, 200, 600):
        await led.begin(CAMPAIGN, i, "mine" if i == 1 else ref(i), digest(i), intent_at=NOW)
    await led.finish(CAMPAIGN, LedgerRecord(0, ref(0), "failed", digest(0), NOW, None, "T", "m"))
    await led.finish(CAMPAIGN, LedgerRecord(1, "mine", "ok", digest(1), NOW, batch_id(1)))
    await led.finish(CAMPAIGN, LedgerRecord(200, ref(200), "ok", digest(200), NOW, batch_id(2)))
    await led.expire(CAMPAIGN, 3600)
    keys = sorted(text(k) for k in await redis_client.keys(key("*")))
    assert keys == sorted(
        [key(n) for n in ("meta", "err", "refs", "r:0", "r:1", "r:4", "ref:0")] + [key("claim:600")]
    )
    for k in keys:
        ttl = await redis_client.pttl(k)
        if "claim" not in k:
            assert 3_500_000 < ttl <= 3_600_000, k
    await led.aclose()
    await led.expire(CAMPAIGN, 0.2)
    await asyncio.sleep(0.3)
    assert await redis_client.keys(key("*")) == []
    assert await led.open(CAMPAIGN) == CampaignState(exists=False)


async def test_aclose_releases_claims(redis_client: Any) -> None:
    led = RedisLedger(redis_client)
    for i in range(3):
        await led.begin(CAMPAIGN, i, ref(i), digest(i))
    await led.aclose()
    assert await redis_client.keys(key("claim:*")) == []
    assert [r.state for r in await led.records(CAMPAIGN)] == ["intent"] * 3


async def fill(led: RedisLedger, campaign: str, n: int, chunk: int = 2000) -> None:
    """``n`` rows begun and finished ``ok`` through the ledger's own scripts."""
    for start in range(0, n, chunk):
        rows = range(start, min(n, start + chunk))
        digests = {i: secrets.token_urlsafe(9) for i in rows}
        await gather(
            [
                led.begin(campaign, i, campaign_reference(campaign, i), digests[i], intent_at=NOW)
                for i in rows
            ]
        )
        await gather(
            [
                led.finish(
                    campaign,
                    LedgerRecord(
                        i,
                        campaign_reference(campaign, i),
                        "ok",
                        digests[i],
                        NOW,
                        secrets.token_hex(13).upper(),  # 26 characters, as Sinch's ids
                        done_at=NOW,
                    ),
                )
                for i in rows
            ]
        )


async def used_memory(redis: Any) -> int:
    """``used_memory`` less the client buffers (which grow and shrink by themselves)."""
    info = await redis.info("memory")
    return int(info["used_memory"]) - int(info["mem_clients_normal"])


async def test_a_finished_row_costs_under_100_bytes(redis_client: Any) -> None:
    """Measured as the ``used_memory`` the campaign's keys free when deleted (the growth
    while filling reads a few bytes lower: Redis frees memory of its own meanwhile)."""
    n = 100_000
    campaign = "spring-sale-2026"
    led = RedisLedger(redis_client)
    await fill(led, "warm-up", 3000)  # scripts loaded, connections open
    await fill(led, campaign, n)
    assert await encoding(redis_client, key("r:0", campaign)) == "listpack"
    last = (n - 1) // BUCKET
    assert await encoding(redis_client, key(f"r:{last}", campaign)) == "listpack"
    keys = await redis_client.keys(key("*", campaign))
    assert len(keys) == last + 2  # the buckets and meta: no claims, references, errors
    records = await led.records(campaign)
    assert len(records) == n and {r.state for r in records} == {"ok"}
    before = await used_memory(redis_client)
    await redis_client.delete(*keys)
    per_row = (before - await used_memory(redis_client)) / n
    print(f"\nRedisLedger: {per_row:.1f} bytes per finished row ({n} rows)")
    assert per_row < 100
    await led.aclose()
