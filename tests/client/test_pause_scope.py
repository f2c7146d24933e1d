"""How far a 429 pauses (issue 17, section 2): ``pause_scope`` = ``"shared"`` (the default:
every client using the rate limiter), ``"local"`` (this client) or ``"off"`` (only the
request's own retry wait); the cap by ``RetryPolicy.max_retry_after``; the waits and
pauses counted in ``client.limits.stats`` and logged at INFO on ``sinch_async.limits``.

All on the virtual clock (``FakeClock``): two clients share one in-process
``MessageRateLimiter``, or one ``SharedPause`` limiter standing in for Redis (the engine's
shared path); the Redis key itself is tested in ``tests/redis/test_redis_limiter.py``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from sinch_async import (
    HookEvent,
    LimiterStats,
    MessageRateLimiter,
    PauseScope,
    RateLimitError,
    RetryPolicy,
    SinchClient,
    SinchConfigError,
    SinchSettingError,
)
from sinch_async._accounts import SinchAccounts
from sinch_async._limits import Limits, WaitCounts
from sinch_async.testing import FakeClock, FakeSinch, Fault

NO_RETRY = RetryPolicy.disabled()
LIMITS_LOG = "sinch_async.limits"


def limits_events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    """The records of ``sinch_async.limits`` for ``event`` ("pause", "limits": a summary)."""
    return [
        r
        for r in caplog.records
        if r.name == LIMITS_LOG and getattr(r, "sinch_event", None) == event
    ]


def retry_after(seconds: str, *, method: str = "POST", path: str = "/batches") -> Fault:
    return Fault(method=method, path=path, status=429, headers={"Retry-After": seconds}, times=1)


class SharedOnClock:
    """A ``RateLimiter`` + ``SharedPause`` on a ``FakeClock`` (what ``RedisRateLimiter``
    is on Redis, without its budget): one object shared by several clients is "Redis".
    Its waits count in ``waits``, as ``RedisRateLimiter``'s do."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.until = 0.0
        self.published: list[float] = []
        self.waits = WaitCounts()

    async def acquire(self, cost: int) -> None:
        await self.wait_unpaused()

    async def pause(self, seconds: float) -> None:
        self.published.append(seconds)
        self.until = max(self.until, self.clock.monotonic() + seconds)

    async def wait_unpaused(self) -> None:
        while (left := self.until - self.clock.monotonic()) > 0:
            self.waits.add(left, paused=True)
            await self.clock.sleep(left)


# --- the Limits on their own ------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "a_paused", "b_paused"),
    [("shared", 2.0, 2.0), ("local", 2.0, 0.0), ("off", 0.0, 0.0)],
)
async def test_which_of_two_clients_sharing_a_limiter_pause(
    clock: FakeClock, scope: PauseScope, a_paused: float, b_paused: float
) -> None:
    limiter = MessageRateLimiter(1000, clock=clock.monotonic, sleep=clock.sleep)
    a = Limits(messages_per_second=limiter, pause_scope=scope, clock=clock.monotonic)
    b = Limits(messages_per_second=limiter, clock=clock.monotonic, sleep=clock.sleep)
    assert limiter.shared_by == 2
    assert a.pause(2.0, cause="429") is (scope != "off")
    assert (a.paused_for, b.paused_for) == (a_paused, b_paused)
    await b.acquire_messages(10)  # b's send: held by the budget only when the pause is shared
    assert clock.elapsed == b_paused
    stats = a.stats
    assert stats.pause_scope == scope and stats.pauses == (scope != "off")
    assert stats.pause_seconds == a_paused
    assert stats.pauses_by_scope == {k: int(k == scope) for k in ("shared", "local", "off")}
    assert b.stats.pauses == 0  # held by a's pause, not one of its own
    assert b.stats.pause_waits == (1 if b_paused else 0)
    assert b.stats.pause_wait_seconds == b_paused


async def test_a_local_pause_still_holds_the_budget_of_a_limiter_of_its_own(
    clock: FakeClock,
) -> None:
    """No budget is granted during a pause (it would all leave when the pause ends), also
    for a local pause when nobody else uses the limiter."""
    limits = Limits(
        messages_per_second=10, pause_scope="local", clock=clock.monotonic, sleep=clock.sleep
    )
    limiter = limits.rate_limiter
    assert isinstance(limiter, MessageRateLimiter) and limiter.shared_by == 1
    limits.pause(3.0, cause="429")
    await limiter.acquire(1)  # straight to the limiter: held all the same
    assert clock.elapsed == 3.0
    assert limiter.waits.paused == 1 and limiter.waits.paused_seconds == 3.0


def test_a_pause_is_capped_and_never_shortened(clock: FakeClock) -> None:
    limits = Limits(max_pause=5.0, clock=clock.monotonic)
    assert limits.pause(30.0, cause="one")
    assert limits.paused_for == 5.0  # capped
    assert not limits.pause(1.0, cause="two")  # shorter than what is left: no change
    clock.advance(4.0)
    assert limits.pause(5.0, cause="three")  # extends by 4 s
    assert limits.paused_for == 5.0
    stats = limits.stats
    assert stats.pauses == 2 and stats.pause_seconds == 9.0  # the overlap counted once


def test_a_bad_scope_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(SinchConfigError, match="pause_scope must be 'shared', 'local' or 'off'"):
        Limits(pause_scope="process")  # type: ignore[arg-type]
    with pytest.raises(SinchConfigError, match="pause_scope"):
        SinchClient("plan", "token", region="eu", pause_scope="everyone")  # type: ignore[arg-type]


async def test_budget_waits_add_up_the_time_each_request_waited(clock: FakeClock) -> None:
    """Three 10-message sends at 10 msg/s (burst 5): the first goes at once, the second
    waits 1 s at the head of the line, the third 2 s (1 s in line behind it, then its
    own second)."""
    clock.auto_advance = False
    limiter = MessageRateLimiter(10, clock=clock.monotonic, sleep=clock.sleep)
    sends = asyncio.gather(*(limiter.acquire(10) for _ in range(3)))
    for _ in range(2):
        await clock.wait_for_sleepers(1)
        clock.advance(1.0)
    await sends
    assert limiter.waits.budget == 2 and limiter.waits.budget_seconds == 3.0
    assert limiter.waits.paused == 0


# --- clients against FakeSinch ----------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "other_waits", "own_waits"),
    [("shared", 2.0, 2.0), ("local", 0.0, 2.0), ("off", 0.0, 0.0)],
)
async def test_a_429_in_one_client_of_two_sharing_a_limiter(
    fake: FakeSinch,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    scope: PauseScope,
    other_waits: float,
    own_waits: float,
) -> None:
    """``one`` gets 429 with Retry-After: 2 (no retry): which of the two clients' next
    requests wait, and how long (sends and GETs alike); the pause's INFO line says whom."""
    caplog.set_level(logging.INFO, logger=LIMITS_LOG)
    limiter = MessageRateLimiter(1000, clock=clock.monotonic, sleep=clock.sleep)
    one = fake.client(
        messages_per_second=limiter,
        pause_scope=scope,
        retry=NO_RETRY,
        clock=clock,
    )
    two = fake.client(messages_per_second=limiter, retry=NO_RETRY, clock=clock)
    async with one, two:
        batch = await two.batches.send_text(to=["+46700000001"], body="x")
        fake.add_fault(retry_after("2"))
        with pytest.raises(RateLimitError):
            await one.batches.send_text(to=["+46700000002"], body="x")
        await two.batches.get(batch.id)  # a GET of the other client
        await two.batches.send_text(to=["+46700000003"], body="x")
        assert clock.elapsed == other_waits
        await one.batches.get(batch.id)  # the client that got the 429
        assert clock.elapsed == max(other_waits, own_waits)
        stats = one.limits.stats
    assert isinstance(stats, LimiterStats) and stats.api == "sms"
    assert stats.pause_scope == scope
    assert stats.pauses_by_scope[scope] == 1 and stats.pauses == (scope != "off")
    assert stats.pause_seconds == own_waits
    assert two.limits.stats.pause_waits == (1 if other_waits else 0)
    assert two.limits.stats.pause_wait_seconds == other_waits
    logged = [r.getMessage() for r in limits_events(caplog, "pause")]
    assert (
        logged
        == {
            "shared": [
                "sms: 429: pausing every client and process using its rate limiter for "
                "2.00s (pause_scope shared)"
            ],
            "local": ["sms: 429: pausing this client for 2.00s (pause_scope local)"],
            "off": [],
        }[scope]
    )


@pytest.mark.parametrize(("scope", "published"), [("shared", [2.0]), ("local", []), ("off", [])])
async def test_only_a_shared_pause_is_published_to_the_shared_limiter(
    fake: FakeSinch, clock: FakeClock, scope: PauseScope, published: list[float]
) -> None:
    """The engine's shared path (a ``SharedPause`` limiter, as Redis is): ``local`` and
    ``off`` never publish; a pause published by another client still holds them."""
    shared = SharedOnClock(clock)
    one = fake.client(
        messages_per_second=shared,
        pause_scope=scope,
        retry=NO_RETRY,
        clock=clock,
    )
    two = fake.client(messages_per_second=shared, retry=NO_RETRY, clock=clock)
    async with one, two:
        fake.add_fault(retry_after("2"))
        with pytest.raises(RateLimitError):
            await one.batches.send_text(to=["+46700000002"], body="x")
        await one.limits.flush_pauses()
        assert shared.published == published
        await two.batches.send_text(to=["+46700000003"], body="x")
        assert clock.elapsed == (2.0 if published else 0.0)
        # another process's shared pause holds this client whatever its own scope
        await shared.pause(5.0)
        await one.batches.send_text(to=["+46700000004"], body="x")
        assert clock.elapsed == pytest.approx(5.0 + (2.0 if published else 0.0))
        assert one.limits.stats.pause_wait_seconds >= 5.0  # the shared one included


async def test_off_leaves_only_the_requests_own_retry_wait(
    fake: FakeSinch, clock: FakeClock
) -> None:
    """With retries on: the 429'd send waits its Retry-After and goes again, while the
    client's other requests go at once (the clock parked, nothing else sleeps)."""
    clock.auto_advance = False
    sent: list[float] = []

    def on_request(event: HookEvent) -> None:
        if event.kind == "request":
            sent.append(clock.elapsed)

    async with fake.client(pause_scope="off", clock=clock, hooks=[on_request]) as client:
        batch = await client.batches.send_text(to=["+46700000001"], body="x")
        fake.add_fault(retry_after("2"))
        retried = asyncio.create_task(client.batches.send_text(to=["+46700000002"], body="x"))
        await clock.wait_for_sleepers(1)  # its retry wait: Retry-After
        assert clock.sleeps[-1] == 2.0 and client.limits.paused_for == 0
        await asyncio.wait_for(client.batches.get(batch.id), 5)  # not held
        assert clock.elapsed == 0 and clock.sleepers == 1
        clock.advance(2.0)
        await retried
    assert sent == [0.0, 0.0, 0.0, 2.0]
    assert client.limits.stats.pauses_by_scope == {"shared": 0, "local": 0, "off": 1}


async def test_the_pause_is_capped_by_max_retry_after(fake: FakeSinch, clock: FakeClock) -> None:
    """Retry-After: 30 over ``max_retry_after=5``: the request fails at once, and the
    others wait 5 s, not 30."""
    async with fake.client(retry=RetryPolicy(max_retry_after=5), clock=clock) as client:
        fake.add_fault(retry_after("30"))
        with pytest.raises(RateLimitError):
            await client.batches.send_text(to=["+46700000001"], body="x")
        assert client.limits.paused_for == 5.0 and client.limits.max_pause == 5.0
        await client.batches.send_text(to=["+46700000002"], body="x")
        assert clock.elapsed == 5.0
        assert client.limits.stats.pause_seconds == 5.0


async def test_a_numbers_429_pauses_numbers_only_with_its_scope(clock: FakeClock) -> None:
    async with FakeSinch() as fake:
        fake.add_fault(
            retry_after("30", method="GET", path=f"/v1/projects/{fake.project_id}/availableRegions")
        )
        client = fake.client(
            project_id=fake.project_id,
            key_id=fake.key_id,
            key_secret=fake.key_secret,
            auth_url=fake.auth_url,
            numbers_base_url=fake.base_url,
            pause_scope="local",
            retry=NO_RETRY,
            clock=clock,
        )
        async with client:
            numbers = client.numbers._session.limits
            assert numbers.pause_scope == "local" and numbers.name == "numbers"
            with pytest.raises(RateLimitError):
                await client.numbers.regions()
            assert client.limits.paused_for == 0 and numbers.paused_for == 30
            assert numbers.stats.pauses_by_scope["local"] == 1
            assert client.limits.stats.pauses == 0


# --- visible: stats and INFO logs ---------------------------------------------------------


async def test_budget_waits_are_counted_on_the_client(fake: FakeSinch, clock: FakeClock) -> None:
    async with fake.client(messages_per_second=10, clock=clock) as client:
        for _ in range(3):  # 10 messages each at 10/s: the first at once, then 1 s each
            await client.batches.send_text(to=[f"+4670123{i:04d}" for i in range(10)], body="x")
        stats = client.limits.stats
    assert clock.elapsed == pytest.approx(2.0)
    assert stats.budget_waits == 2 and stats.budget_wait_seconds == pytest.approx(2.0)
    assert (stats.pause_waits, stats.pauses) == (0, 0)


async def test_each_pause_is_logged_at_info_and_the_waits_at_close(
    fake: FakeSinch, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LIMITS_LOG)
    async with fake.client(messages_per_second=10, clock=clock) as client:
        fake.add_fault(retry_after("2"))
        await client.batches.send_text(to=["+46700000001"], body="x")  # 429, waits, retried
        for _ in range(2):
            await client.batches.send_text(to=[f"+4670123{i:04d}" for i in range(10)], body="x")
        records = [r for r in caplog.records if r.name == LIMITS_LOG]
        pauses = [r for r in records if getattr(r, "sinch_event", None) == "pause"]
        assert len(pauses) == 1 and pauses[0].levelno == logging.INFO
        assert pauses[0].sinch_scope == "shared" and pauses[0].sinch_wait == 2.0  # type: ignore[attr-defined]
        assert "pausing this client for 2.00s (pause_scope shared)" in pauses[0].getMessage()
        assert pauses[0].getMessage().startswith("sms: 429")
        stats = client.limits.stats
    summaries = limits_events(caplog, "limits")
    assert summaries and summaries[-1].levelno == logging.INFO  # at close at the latest
    last = summaries[-1]
    assert sum(r.sinch_budget_waits for r in summaries) == stats.budget_waits >= 1  # type: ignore[attr-defined]
    assert sum(r.sinch_pauses for r in summaries) == stats.pauses == 1  # type: ignore[attr-defined]
    assert "waits for the budget" in last.getMessage() and "1 pauses" in caplog.text


@pytest.mark.parametrize("scope", ["shared", "off"])
async def test_a_retry_after_over_max_retry_after_is_a_give_up_on_the_first_attempt(
    fake: FakeSinch, clock: FakeClock, caplog: pytest.LogCaptureFixture, scope: PauseScope
) -> None:
    """A 429 asking for 120 s with max_retry_after 60 s fails its request at once: a
    WARNING ``give_up`` says so (not retried is still given up), and the pause line says
    the request failed and only the others wait."""
    caplog.set_level(logging.DEBUG, logger="sinch_async")
    async with fake.client(pause_scope=scope, clock=clock) as client:
        fake.add_fault(retry_after("120"))
        with pytest.raises(RateLimitError):
            await client.batches.send_text(to=["+46700000001"], body="x")
        assert clock.elapsed == 0.0  # it did not wait
    (gave_up,) = [r for r in caplog.records if getattr(r, "sinch_event", None) == "give_up"]
    assert gave_up.levelno == logging.WARNING and gave_up.sinch_attempt == 1  # type: ignore[attr-defined]
    message = gave_up.getMessage()
    assert message.startswith("POST ")
    asked = "Sinch asked to wait 120s (Retry-After), more than max_retry_after 60s: "
    assert asked + "request failed; " in message
    pauses = limits_events(caplog, "pause")
    if scope == "off":
        assert message.endswith("other requests not paused (pause_scope off)")
        assert pauses == []
    else:
        assert message.endswith("other requests paused 60.00s (pause_scope shared)")
        assert [r.getMessage() for r in pauses] == [
            "sms: 429 with Retry-After 120s, more than max_retry_after: that request failed; "
            "pausing the other requests of this client for 60.00s (pause_scope shared)"
        ]


async def test_the_summary_comes_at_most_once_per_interval(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """60 one-message sends at 1 msg/s wait a virtual 59 s: with a 10 s interval,
    about six summaries (never one per wait), which add up to the totals."""
    caplog.set_level(logging.INFO, logger=LIMITS_LOG)
    limits = Limits(messages_per_second=1, clock=clock.monotonic, sleep=clock.sleep)
    limits.summary_interval = 10.0
    for _ in range(60):
        await limits.acquire_messages(1)
    limits.report()  # as the client does when it closes
    summaries = limits_events(caplog, "limits")
    stats = limits.stats
    assert stats.budget_waits == 59 and clock.elapsed == pytest.approx(59.0)
    assert 5 <= len(summaries) <= 7
    assert sum(r.sinch_budget_waits for r in summaries) == 59  # type: ignore[attr-defined]
    assert sum(r.sinch_budget_wait_seconds for r in summaries) == pytest.approx(  # type: ignore[attr-defined]
        stats.budget_wait_seconds
    )
    assert limits.report().idle  # nothing new: nothing logged
    assert len(limits_events(caplog, "limits")) == len(summaries)


# --- the setting, through the one resolver ------------------------------------------------


def test_pause_scope_from_env_the_accounts_file_and_a_keyword(tmp_path: Path) -> None:
    plan = {"SINCH_SERVICE_PLAN_ID": "plan1", "SINCH_API_TOKEN": "tok1", "SINCH_REGION": "eu"}
    assert SinchClient.from_env(plan).limits.pause_scope == "shared"  # the default
    keys = {"SINCH_PROJECT_ID": "proj1", "SINCH_KEY_ID": "k", "SINCH_KEY_SECRET": "s"}
    client = SinchClient.from_env({**plan, **keys, "SINCH_PAUSE_SCOPE": "local"})
    assert client.limits.pause_scope == "local"
    assert client.numbers._session.limits.pause_scope == "local"  # every API's budget
    assert (
        SinchClient.from_env(
            {**plan, "SINCH_PAUSE_SCOPE": "local"}, pause_scope="off"
        ).limits.pause_scope
        == "off"
    )
    with pytest.raises(SinchSettingError) as err:
        SinchClient.from_env({**plan, "SINCH_PAUSE_SCOPE": "everyone"})
    assert (err.value.key, err.value.source) == ("pause_scope", "$SINCH_PAUSE_SCOPE")
    assert "everyone" not in str(err.value) and "'shared', 'local' or 'off'" in str(err.value)

    path = tmp_path / "c.toml"
    path.write_text(
        '[accounts.w]\nservice_plan_id = "p"\napi_token = "t"\nregion = "eu"\n'
        'pause_scope = "off"\n[accounts.bad]\nservice_plan_id = "p"\napi_token = "t"\n'
        'region = "eu"\npause_scope = "sometimes"\n'
    )
    path.chmod(0o600)
    assert SinchClient.from_account("w", config_path=path, environ={}).limits.pause_scope == "off"
    named = SinchClient.from_account(
        "w", config_path=path, environ={"SINCH_W_PAUSE_SCOPE": "local"}
    )
    assert named.limits.pause_scope == "local"
    with pytest.raises(SinchSettingError) as bad:
        SinchClient.from_account("bad", config_path=path, environ={})
    assert (bad.value.account, bad.value.key, bad.value.path) == ("bad", "pause_scope", path)
    # a registry-wide default, as max_concurrency
    accounts = SinchAccounts(config_path=path, environ={}, pause_scope="local")
    assert accounts._defaults == {"pause_scope": "local"}
