"""Reconciliation on Sinch's clock: a host clock that is off neither duplicates a send nor
takes an older batch for it.

``SinchClock`` learns the offset between this host's clock and Sinch's from the ``Date``
header of every response (and from the ``created_at`` of created batches); FakeSinch
dates its responses on its own clock (``FakeSinch(now=...)``), here 10 s off the host's.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async import (
    LimiterUnavailableError,
    RetryPolicy,
    SendOutcomeUnknown,
    TextBatchRequest,
)
from sinch_async._clock import SinchClock, parse_http_date
from sinch_async.testing import FakeClock, FakeSinch, Fault
from sinch_async.testing.pytest_plugin import FakeSinchFactory
from tests.support.fake_http import AUTH, NOW

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


def _skewed(seconds: list[float]) -> Callable[[], datetime]:
    """The real clock moved by ``seconds[0]`` (changeable while the fake runs)."""
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds[0])


def _request(i: int, reference: str | None = None) -> TextBatchRequest:
    return TextBatchRequest(
        to=[f"+4670123{i:04d}"], body=f"hello {i}", client_reference=reference or f"skew-{i}"
    )


# --- SinchClock ------------------------------------------------------------------------------


def test_parse_http_date() -> None:
    expected = NOW.replace(microsecond=0).timestamp()
    assert parse_http_date("Mon, 23 Nov 2026 12:00:00 GMT") == expected
    assert parse_http_date("not a date") is None


def test_sinch_clock_bounds() -> None:
    clock = SinchClock(monotonic=None)
    assert clock.to_sinch(1000.0) is None and clock.offset is None
    clock.observe(None, 1000.0, 1000.1)  # no Date: nothing learnt
    assert clock.offset is None
    # Sinch's clock read 1010.x while this host's read 1000.2 .. 1000.3:
    date = email.utils.formatdate(1010, usegmt=True)
    clock.observe(date, 1000.2, 1000.3)
    lo, hi = clock.offset or (0, 0)
    assert lo == pytest.approx(1010 - 1000.3) and hi == pytest.approx(1011 - 1000.2)
    low, high = clock.to_sinch(1000.25) or (0, 0)
    assert low == pytest.approx(1000.25 + 9.7) and high == pytest.approx(1000.25 + 10.8)
    # Sinch's second ticked between 1000.7 (still 1010) and 1000.85 (1011): the offset is
    # within [1011 - 1000.85, 1011 - 1000.7] = [10.15, 10.3]
    clock.observe(date, 1000.7, 1000.75)
    clock.observe(email.utils.formatdate(1011, usegmt=True), 1000.8, 1000.85)
    lo, hi = clock.offset or (0, 0)
    assert lo == pytest.approx(10.15, abs=1e-3) and hi == pytest.approx(10.3, abs=1e-3)
    assert clock.restarts == 0
    # a millisecond reading (a batch's created_at) narrows it further
    clock.observe_timestamp(1011.100, 1000.84, 1000.86)
    lo, hi = clock.offset or (0, 0)
    assert lo == pytest.approx(10.24, abs=1e-3) and hi == pytest.approx(10.261, abs=1e-3)
    # far from the last observation the interval widens by the drift allowance
    low, high = clock.to_sinch(2000.86) or (0, 0)
    assert high - low == pytest.approx(hi - lo + 2 * 1000 * clock.drift, abs=1e-4)


def test_sinch_clock_restarts_when_a_clock_moves() -> None:
    clock = SinchClock(monotonic=None)
    clock.observe(email.utils.formatdate(1010, usegmt=True), 1000.0, 1000.1)
    # Sinch's clock jumped 30 s ahead: inconsistent with [9.9, 11.0], start again
    clock.observe(email.utils.formatdate(1040, usegmt=True), 1000.2, 1000.3)
    lo, hi = clock.offset or (0, 0)
    assert clock.restarts == 1
    assert lo == pytest.approx(39.7) and hi == pytest.approx(40.8)


def test_sinch_clock_restarts_when_this_hosts_clock_is_stepped() -> None:
    now = {"wall": 1000.1, "mono": 0.0}
    clock = SinchClock(monotonic=lambda: now["mono"], wall=lambda: now["wall"])
    clock.observe(email.utils.formatdate(1010, usegmt=True), 1000.0, 1000.1)
    assert clock.offset == (pytest.approx(9.9), pytest.approx(11.0))
    # 0.2 s passed, but the wall clock says 0.6 s: it was stepped forward 0.4 s
    now.update(wall=1000.7, mono=0.2)
    clock.observe(email.utils.formatdate(1011, usegmt=True), 1000.6, 1000.7)
    assert clock.offset == (pytest.approx(1011 - 1000.7), pytest.approx(1012 - 1000.6))
    assert clock.restarts == 1


def test_sinch_clock_parses_a_date_once() -> None:
    clock = SinchClock(monotonic=None)
    date = email.utils.formatdate(1010, usegmt=True)
    clock.observe(date, 1000.0, 1000.1)
    clock.observe("garbage", 1000.0, 1000.1)  # ignored, and does not spoil the cache
    clock.observe(date, 1000.05, 1000.1)
    assert clock.offset == (pytest.approx(9.9), pytest.approx(10.95))


# --- FakeSinch's Date ------------------------------------------------------------------------


@pytest.mark.fake_sinch(on_clock=True)
async def test_fake_dates_every_response_on_its_own_clock(
    fake: FakeSinch, clock: FakeClock
) -> None:
    expected = email.utils.format_datetime(NOW.replace(microsecond=0), usegmt=True)
    fake.add_fault(Fault(method="GET", path="/groups", status=503, times=1))
    async with aiohttp.ClientSession() as http:
        for method, url, kwargs in [
            ("GET", fake.url("/batches"), {"headers": AUTH}),  # an API route
            ("GET", fake.url("/nowhere"), {"headers": AUTH}),  # 404
            ("GET", fake.url("/batches"), {}),  # 401
            ("GET", fake.url("/groups"), {"headers": AUTH}),  # a fault
            ("POST", fake.auth_url, {}),  # the token endpoint
        ]:
            async with http.request(method, url, **kwargs) as resp:
                assert resp.headers["Date"] == expected, (method, url, resp.status)
        clock.advance(seconds=3600)
        async with http.get(fake.url("/batches"), headers=AUTH) as resp:
            assert resp.headers["Date"] == email.utils.format_datetime(
                (NOW + timedelta(hours=1)).replace(microsecond=0), usegmt=True
            )


async def test_the_client_learns_sinchs_clock(fake_sinch_factory: FakeSinchFactory) -> None:
    fake = await fake_sinch_factory(now=_skewed([-10.0]))
    async with fake.client() as client:
        assert client.batches._session.sinch_clock.offset is None
        await client.batches.send(_request(1))
        lo, hi = client.batches._session.sinch_clock.offset or (0, 0)
        view = client.with_options(deadline=5).batches._session.sinch_clock
    assert lo <= -10 <= hi and hi - lo < 0.5  # the created_at made it a narrow interval
    assert view is client.batches._session.sinch_clock  # views share it


# --- reconciliation with a skewed Sinch ------------------------------------------------------


@pytest.mark.parametrize("skew", [-10.0, 10.0], ids=["sinch-behind", "sinch-ahead"])
async def test_ambiguous_sends_reconcile_whatever_the_skew(
    fake_sinch_factory: FakeSinchFactory, skew: float
) -> None:
    """Five sends each stored and then answered 500: every one returns its stored batch,
    none is sent twice."""
    fake = await fake_sinch_factory(now=_skewed([skew]))
    stored_then_500 = Fault(method="POST", path="/batches", status=500, phase="after", times=1)
    sent = []
    async with fake.client(retry=FAST) as client:
        for i in range(5):
            fake.add_fault(stored_then_500)
            sent.append(await client.batches.send(_request(i)))
    assert len(fake.batches) == 5  # exactly one batch per send: no duplicate
    assert [b.id for b in sent] == list(fake.batches)
    assert [b.client_reference for b in sent] == [f"skew-{i}" for i in range(5)]
    assert not fake.faults  # every send was ambiguous once


@pytest.mark.parametrize("phase", ["after", "before"])
async def test_an_older_batch_is_never_taken_for_this_send(
    fake_sinch_factory: FakeSinchFactory, phase: Any
) -> None:
    """Sinch 10 s ahead of this host: a batch with the same reference and content made 5 s
    (on Sinch's clock) before this send is not this send's, whether this send's own batch
    was stored (``after``) or not (``before``)."""
    skew = [5.0]
    fake = await fake_sinch_factory(now=_skewed(skew))
    request = _request(7, "order-7")
    async with fake.client(retry=FAST) as other:  # another worker, earlier
        old = await other.batches.send(request)
    skew[0] = 10.0  # Sinch's clock moves on by 5 s: the old batch is 5 s old
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase=phase, times=1))
    async with fake.client(retry=FAST) as client:
        try:
            batch = await client.batches.send(request)
        except SendOutcomeUnknown:  # acceptable; taking the old batch is not
            batch = None
    assert batch is not None and batch.id != old.id
    assert set(fake.batches) == {old.id, batch.id}


async def test_a_batch_from_elsewhere_a_moment_before_is_not_taken(
    fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> None:
    """Sinch 10 s ahead: another worker's batch (same reference and content) made a
    moment before this send is not taken for it once a send of this client told it
    Sinch's clock to the millisecond (until then, ``Date`` headers know it to the second
    only, and a batch made less than that before the send cannot be told apart)."""
    fake = await fake_sinch_factory(now=lambda: clock.now() + timedelta(seconds=10))
    request = _request(8, "order-8")
    async with fake.client(retry=FAST, clock=clock) as other:
        old = await other.batches.send(request)
    clock.advance(0.01)  # a moment later
    fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
    async with fake.client(retry=FAST, clock=clock) as client:
        await client.batches.send(_request(9))  # its created_at: Sinch's clock to the ms
        try:
            batch = await client.batches.send(request)
        except SendOutcomeUnknown:
            batch = None
    assert batch is not None and batch.id != old.id
    assert len(fake.batches) == 3


# --- LimiterUnavailableError propagates as it is ------------------------------------------


class _FlakySharedLimiter:
    """A shared limiter (RateLimiter + SharedPause) whose store fails on cue."""

    def __init__(self) -> None:
        self.fail_acquire = False
        self.fail_wait = False

    async def acquire(self, cost: int) -> None:
        if self.fail_acquire:
            raise LimiterUnavailableError("limiter store down (acquire)")

    async def pause(self, seconds: float) -> None:
        return None

    async def wait_unpaused(self) -> None:
        if self.fail_wait:
            raise LimiterUnavailableError("limiter store down (wait)")


async def test_limiter_unavailable_propagates_from_a_send(fake: FakeSinch) -> None:
    limiter = _FlakySharedLimiter()
    limiter.fail_acquire = True
    async with fake.client(messages_per_second=limiter, retry=FAST) as client:
        with pytest.raises(LimiterUnavailableError, match=r"\(acquire\)"):
            await client.batches.send(_request(1))
    assert not fake.batches and not [r for r in fake.requests if r.method == "POST"]


async def test_limiter_unavailable_propagates_from_a_reconciliation_lookup(
    fake: FakeSinch,
) -> None:
    limiter = _FlakySharedLimiter()
    limiter.fail_wait = True  # GETs (the lookup) fail; the send's own budget does not
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase="after", times=1))
    async with fake.client(messages_per_second=limiter, retry=FAST) as client:
        with pytest.raises(LimiterUnavailableError, match=r"\(wait\)") as caught:
            await client.batches.send(_request(1))
    assert type(caught.value) is LimiterUnavailableError  # not SendOutcomeUnknown
    assert len(fake.batches) == 1  # stored before the 500; the lookup never left
    assert [r.method for r in fake.requests] == ["POST"]


def test_sinch_clock_survives_a_date_that_stands_still() -> None:
    """A Date that does not change for over a second (a cache, a frozen test clock)
    contradicts itself; the clock keeps the latest answer and an interval, not a hole."""
    clock = SinchClock(monotonic=None)
    date = email.utils.formatdate(1010, usegmt=True)
    clock.observe(date, 1000.0, 1000.1)
    clock.observe(date, 1002.0, 1002.1)
    low, high = clock.offset or (1, 0)
    assert low <= high
