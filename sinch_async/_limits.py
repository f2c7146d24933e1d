"""Client-side limits: requests in flight, messages per second, and the 429 pause.

A 429's pause reaches as far as ``pause_scope`` says ([`PauseScope`][]); the waits it
and the messages-per-second budget impose are counted where they happen (integer and
float adds only, `WaitCounts`) and read as a [`LimiterStats`][] snapshot
(``client.limits.stats``); pauses and a periodic summary of the waits are logged at INFO
on the ``sinch_async.limits`` logger.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from . import _clock
from ._validation import (
    PAUSE_SCOPES,
    PauseScope,
    check_pause_scope,
    check_positive_int,
    check_rate,
    check_seconds,
    is_group_id,
)

__all__ = [
    "PAUSE_SCOPES",
    "GroupSizes",
    "LimiterStats",
    "Limits",
    "MessageRateLimiter",
    "PauseScope",
    "PendingCost",
    "RateLimiter",
    "SharedGroupSizes",
    "SharedPause",
    "TokenBucket",
    "WaitCounts",
]

log = logging.getLogger("sinch_async")
#: Each 429 pause and the periodic summary of waits (INFO).
limits_log = logging.getLogger("sinch_async.limits")

# PauseScope (defined with its check in _validation): how far a 429 pauses
# (``SinchClient(pause_scope=...)``, ``SINCH_PAUSE_SCOPE``, ``send-bulk --pause-scope``):
#
# * "shared" (the default): every request of every client using the same rate limiter, so
#   with a RedisRateLimiter every process on its key (a real 429 means the plan is over
#   its limit);
# * "local": this client's requests only (in a worker, this process); the others sharing
#   its limiter keep sending;
# * "off": no pause; only the request that got the 429 waits (its retry wait).
#
# A pause never lasts longer than the client's RetryPolicy.max_retry_after. The scope is
# that of this client's 429s: a pause another process published still holds it.

#: Seconds between two INFO summaries of the waits (also logged when the client closes).
SUMMARY_INTERVAL = 60.0
#: A turn in line this short (the request ahead took its budget without sleeping) is not
#: counted as a wait.
_NOT_A_WAIT = 0.001

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@runtime_checkable
class RateLimiter(Protocol):
    """Grants permission to send ``cost`` messages. Implement this to share a limit
    between processes (for example on Redis)."""

    async def acquire(self, cost: int) -> None:
        """Wait until ``cost`` messages may be sent, then account for them."""
        ...


@runtime_checkable
class SharedPause(Protocol):
    """Optional extension of [`RateLimiter`][]: a 429 pause shared by every process
    using the limiter (see ``sinch_async.redis.RedisRateLimiter``).

    When the limiter has both methods, every request waits out the shared pause: a send
    through ``acquire(cost)`` (which must itself wait out the pause, ideally in the same
    round trip that takes the budget), a request that costs nothing (a GET) through
    ``wait_unpaused()``. A 429's ``Retry-After`` is published with ``pause(seconds)``.
    """

    async def pause(self, seconds: float) -> None:
        """Hold every process's requests for ``seconds`` from now (never shortens one)."""
        ...

    async def wait_unpaused(self) -> None:
        """Return once no shared pause is in effect."""
        ...


GroupSizes = dict[str, int]
"""Group sizes seen in responses (group id -> members), used to cost a send to a group."""


class PendingCost(int):
    """A send's message cost that still misses the size of some groups.

    Its ``int`` value counts each unknown group as 1; `resolve` asks the shared
    store (once, asynchronously, just before the budget is taken) for the real cost.
    """

    unknown: tuple[str, ...]
    known: int
    sizes: SharedGroupSizes

    def __new__(cls, known: int, unknown: tuple[str, ...], sizes: SharedGroupSizes) -> PendingCost:
        self = super().__new__(cls, known + len(unknown))
        self.known = known
        self.unknown = unknown
        self.sizes = sizes
        return self

    async def resolve(self) -> int:
        found = await self.sizes.load(self.unknown)
        return self.known + sum(found.get(g, 1) for g in self.unknown)


class SharedGroupSizes(dict[str, int]):
    """Group sizes shared between processes: this dict is the local cache in front of a
    shared store (subclasses implement `_fetch` and `_store`, e.g.
    ``sinch_async.redis.RedisGroupSizes``).

    Costing a send stays synchronous and cheap: a recipient that looks like a group id and
    is not cached makes the cost a `PendingCost`, resolved from the store just
    before the rate limiter is asked, so a fresh worker charges a group send by the size
    another worker saw. Ids the store does not know are remembered as unknown for
    ``miss_ttl`` seconds (then charged 1 message each, as in-process).
    """

    def __init__(self, *, miss_ttl: float = 5.0, clock: Clock | None = None) -> None:
        super().__init__()
        self.miss_ttl = check_seconds(miss_ttl, "miss_ttl", config=True)
        self._own_clock = clock is not None
        self._clock: Clock = time.monotonic if clock is None else clock
        self._misses: dict[str, float] = {}

    def adopt_clock(self, clock: _clock.Clock) -> None:
        """Use the client's clock (``SinchClient(clock=...)``) unless built with one."""
        if not self._own_clock:
            self._clock = clock.monotonic

    def cost(self, recipients: Iterable[str]) -> int:
        """The message cost of a send to ``recipients`` (maybe a `PendingCost`)."""
        known = 0
        unknown: list[str] = []
        now: float | None = None
        for r in recipients:
            size = self.get(r)
            if size is not None:
                known += size
            elif is_group_id(r):  # the SDK's rule: ASCII, never a number
                now = self._clock() if now is None else now
                if self._misses.get(r, 0.0) > now:
                    known += 1
                else:
                    unknown.append(r)
            else:
                known += 1
        return PendingCost(known, tuple(unknown), self) if unknown else known

    async def load(self, group_ids: Iterable[str]) -> Mapping[str, int]:
        """Sizes of ``group_ids`` from the shared store (cached locally)."""
        ids = tuple(dict.fromkeys(group_ids))
        found = await self._fetch(ids) if ids else {}
        until = self._clock() + self.miss_ttl
        for g in ids:
            if g in found:
                self[g] = found[g]
                self._misses.pop(g, None)
            else:
                self._misses[g] = until
        return found

    async def record(self, group_id: str, size: int | None) -> None:
        """A response showed ``group_id`` with ``size`` members (``None``: deleted).

        A store that cannot be written is logged, not raised: the group call succeeded."""
        if size is None:
            self.pop(group_id, None)
        else:
            self[group_id] = size
            self._misses.pop(group_id, None)
        try:
            await self._store(group_id, size)
        except Exception as exc:  # the call itself succeeded; costing falls back locally
            log.warning("could not share the size of group %s: %r", group_id, exc)

    async def _fetch(self, group_ids: tuple[str, ...]) -> Mapping[str, int]:
        raise NotImplementedError

    async def _store(self, group_id: str, size: int | None) -> None:
        raise NotImplementedError


class TokenBucket:
    """A fair weighted token bucket (pure arithmetic; no waiting here).

    Holds up to ``capacity`` tokens, refilled at ``rate`` per second. A request costing more
    than the capacity is allowed once the bucket is full and leaves it in debt, so a batch
    bigger than one second's budget waits its turn instead of failing.
    """

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` may be taken (0 when it may be taken now)."""
        self.refill(now)
        need = min(cost, self.capacity)
        # The epsilon absorbs float rounding, which could otherwise ask for a wait
        # shorter than the clock can represent and spin.
        if self.tokens >= need - 1e-9:
            return 0.0
        return (need - self.tokens) / self.rate

    def take(self, cost: float) -> None:
        self.tokens -= cost


class WaitCounts:
    """Waits counted where they happen (a rate limiter, a client's [`Limits`][]):
    only a request that did wait adds to them, with an integer and a float add.

    ``budget`` / ``budget_seconds``: requests that waited for the messages-per-second
    budget, and the seconds they waited (added up: concurrent waits each count).
    ``paused`` / ``paused_seconds``: the same for requests a 429 pause held.
    """

    __slots__ = ("budget", "budget_seconds", "paused", "paused_seconds")

    def __init__(self) -> None:
        self.budget = 0
        self.budget_seconds = 0.0
        self.paused = 0
        self.paused_seconds = 0.0

    def add(self, seconds: float, *, paused: bool) -> None:
        """One request waited ``seconds`` (``paused``: a 429 pause held it)."""
        if seconds <= 0:
            return
        if paused:
            self.paused += 1
            self.paused_seconds += seconds
        else:
            self.budget += 1
            self.budget_seconds += seconds

    def __repr__(self) -> str:
        return (
            f"<WaitCounts budget={self.budget} ({self.budget_seconds:.3f}s) "
            f"paused={self.paused} ({self.paused_seconds:.3f}s)>"
        )


@attrs.frozen(kw_only=True)
class LimiterStats:
    """What one API's limits have cost so far (``client.limits.stats``, a snapshot).

    * ``budget_waits`` / ``budget_wait_seconds``: requests that waited for the
      messages-per-second budget and the seconds they waited, added up (counted by the
      rate limiter: clients sharing one limiter object count together);
    * ``pause_waits`` / ``pause_wait_seconds``: requests held by a 429 pause (this
      client's, or one another client or process shared) and the seconds they waited;
    * ``pauses`` / ``pause_seconds``: the pauses this client's 429s started or extended
      (each 429 once) and how long they held it (overlapping pauses counted once);
    * ``pauses_by_scope``: the same 429s by the ``pause_scope`` they met: ``"shared"``,
      ``"local"``, and ``"off"`` (429s that paused nothing: only their request waited).
    """

    api: str
    pause_scope: PauseScope
    budget_waits: int = 0
    budget_wait_seconds: float = 0.0
    pause_waits: int = 0
    pause_wait_seconds: float = 0.0
    pauses: int = 0
    pause_seconds: float = 0.0
    pauses_by_scope: Mapping[str, int] = attrs.field(factory=lambda: dict.fromkeys(PAUSE_SCOPES, 0))

    def __sub__(self, earlier: LimiterStats) -> LimiterStats:
        """What happened between ``earlier`` and this snapshot."""
        return attrs.evolve(
            self,
            budget_waits=self.budget_waits - earlier.budget_waits,
            budget_wait_seconds=self.budget_wait_seconds - earlier.budget_wait_seconds,
            pause_waits=self.pause_waits - earlier.pause_waits,
            pause_wait_seconds=self.pause_wait_seconds - earlier.pause_wait_seconds,
            pauses=self.pauses - earlier.pauses,
            pause_seconds=self.pause_seconds - earlier.pause_seconds,
            pauses_by_scope={
                k: n - earlier.pauses_by_scope.get(k, 0) for k, n in self.pauses_by_scope.items()
            },
        )

    @property
    def idle(self) -> bool:
        """Nothing waited and no 429 came."""
        return not (self.budget_waits or self.pause_waits or any(self.pauses_by_scope.values()))

    def __str__(self) -> str:
        by_scope = ", ".join(f"{k} {n}" for k, n in self.pauses_by_scope.items())
        return (
            f"{self.budget_waits} waits for the budget ({self.budget_wait_seconds:.2f}s), "
            f"{self.pause_waits} waits in a 429 pause ({self.pause_wait_seconds:.2f}s), "
            f"{self.pauses} pauses ({self.pause_seconds:.2f}s; 429s by scope: {by_scope})"
        )


class MessageRateLimiter:
    """``messages_per_second`` for one process: FIFO-fair, so a large batch is not starved.

    Waiters are served strictly in arrival order (``asyncio.Lock`` wakes them FIFO); the
    head waits for its tokens while the rest queue behind it. The long-run rate is exactly
    ``messages_per_second``; ``burst`` (default half a second of budget) is how much may go
    out at once. Keeping it below Sinch's own one-second bucket leaves headroom for
    concurrent requests that reach Sinch in a different order than they were granted.

    One limiter may be shared by several clients of a process (pass the same object as
    their ``messages_per_second``): they share the budget, and a 429 pause of scope
    ``"shared"`` holds all of them. Its waits are counted in [`waits`][].
    """

    def __init__(
        self,
        messages_per_second: float,
        *,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        rate, capacity = check_rate(messages_per_second, burst)
        self._bucket = TokenBucket(rate, capacity, clock())
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._in_line = 0  # requests holding or waiting for the lock (loops included)
        #: When the budget's 429 pause ends, on this limiter's clock (0: never paused): no
        #: budget is granted before, since budget granted during a pause would all leave
        #: together when it ends.
        self.resume_at = 0.0
        #: The waits of the requests that asked this limiter.
        self.waits = WaitCounts()
        #: The clients' budgets (`Limits`) using this limiter.
        self._users: weakref.WeakSet[Limits] = weakref.WeakSet()

    @property
    def rate(self) -> float:
        return self._bucket.rate

    @property
    def shared_by(self) -> int:
        """How many clients' budgets ([`Limits`][]) use this limiter."""
        return len(self._users)

    def rebind(self) -> None:
        """A fresh lock for a new event loop (the old loop's waiters are gone)."""
        self._lock = asyncio.Lock()

    def hold_for(self, seconds: float) -> None:
        """Grant no budget for ``seconds`` from now (never shortens a hold)."""
        self.resume_at = max(self.resume_at, self._clock() + seconds)

    def pause_users(self, seconds: float, *, origin: Limits | None = None) -> None:
        """A shared 429 pause: hold the budget and every client using it for ``seconds``
        (``origin``, the client whose 429 it was, has paused itself)."""
        self.hold_for(seconds)
        for user in list(self._users):
            if user is not origin:
                user.hold(seconds)

    async def acquire(self, cost: int) -> None:
        """Wait until ``cost`` messages may go (and no pause holds the budget), then take
        them. Only a request that waited is counted ([`waits`][]); one that finds the
        budget free and nobody ahead reads the clock once, as before."""
        if cost <= 0:
            return
        ahead = self._in_line
        self._in_line = ahead + 1
        queued_at = self._clock() if ahead else None  # it waits its turn in line
        try:
            async with self._lock:
                now = self._clock()
                began = now if queued_at is None else queued_at
                while True:
                    wait = max(self._bucket.wait_time(cost, now), self.resume_at - now)
                    if wait <= 0:
                        break
                    await self._sleep(wait)
                    now = self._clock()
                self._bucket.take(cost)
        finally:
            self._in_line -= 1
        if now - began > _NOT_A_WAIT:  # a pause that ended after it began waiting held it
            self.waits.add(now - began, paused=self.resume_at > began)

    def __repr__(self) -> str:
        return f"<MessageRateLimiter {self.rate:g}/s burst={self._bucket.capacity:g}>"


class Limits:
    """Everything a request waits for before it is sent, in this order: a free slot among
    ``max_concurrency``, the pause after a 429, and the messages-per-second budget (sends
    only). The budget comes last so that it is only taken by a request about to be
    written: a stall (slots held by slow answers) cannot turn into a burst.

    One per API of a client (``client.limits`` is the SMS API's): a Numbers 429 never
    pauses SMS. ``pause_scope`` ([`PauseScope`][]) is how far this API's 429s pause;
    ``max_pause`` caps a pause (the client's ``RetryPolicy.max_retry_after``). ``stats``
    counts the waits and pauses ([`LimiterStats`][]); each pause is logged at INFO on
    ``sinch_async.limits``, the waits in a summary at most every ``summary_interval``
    seconds (and by [`report`][] when the client closes).
    """

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        messages_per_second: float | RateLimiter | None = None,
        pause_scope: PauseScope = "shared",
        max_pause: float | None = None,
        name: str = "",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_concurrency = check_positive_int(
            max_concurrency, "max_concurrency", optional=True, config=True
        )
        #: How far this API's 429s pause (`PauseScope`).
        self.pause_scope: PauseScope = check_pause_scope(pause_scope)
        #: The longest pause (seconds; None: as long as asked).
        self.max_pause = check_seconds(max_pause, "max_pause", optional=True, config=True)
        #: The API these limits belong to (``"sms"``, ``"numbers"``), for logs and stats.
        self.name = name
        #: The ``max_concurrency`` semaphore (None when concurrency is unbounded).
        self.slots = None if max_concurrency is None else asyncio.Semaphore(max_concurrency)
        if messages_per_second is None or isinstance(messages_per_second, RateLimiter):
            self.rate_limiter: RateLimiter | None = messages_per_second
        else:
            self.rate_limiter = MessageRateLimiter(messages_per_second, clock=clock, sleep=sleep)
        #: The rate limiter when it shares 429 pauses between processes (else None: the
        #: engine then takes the in-process fast path, with no extra awaits).
        self.shared: SharedPause | None = (
            self.rate_limiter if isinstance(self.rate_limiter, SharedPause) else None
        )
        #: The in-process limiter, whose budget a pause holds (no budget is granted while
        #: paused); it may be shared by several clients of the process.
        self._local = (
            self.rate_limiter if isinstance(self.rate_limiter, MessageRateLimiter) else None
        )
        if self._local is not None:
            self._local._users.add(self)
        self._publishing: set[asyncio.Task[None]] = set()
        self._clock = clock
        self._sleep = sleep
        #: When the current 429 pause ends, on ``clock`` (0: never paused).
        self.resume_at = 0.0
        self._last_cause: object = None
        #: How many 429s paused this API (started or extended a pause; each 429 once).
        self.pauses = 0
        #: Seconds of pause this API's 429s added (overlaps counted once).
        self.pause_seconds = 0.0
        #: This API's 429s by the scope they met (``"off"``: paused nothing).
        self.pauses_by_scope: dict[str, int] = dict.fromkeys(PAUSE_SCOPES, 0)
        #: Waits for a pause outside the rate limiter (`wait_unpaused`).
        self.waits = WaitCounts()
        #: Seconds between two INFO summaries of the waits.
        self.summary_interval = SUMMARY_INTERVAL
        self._report_at = 0.0
        self._reported: LimiterStats | None = None
        self._reported_since = clock()

    def rebind(self) -> None:
        """Fresh loop-bound primitives after the client moved to a new event loop."""
        if self.max_concurrency is not None:
            self.slots = asyncio.Semaphore(self.max_concurrency)
        self._publishing = set()  # the old loop's tasks are gone with it
        rebind = getattr(self.rate_limiter, "rebind", None)
        if callable(rebind):
            rebind()

    def pause(self, seconds: float, *, cause: object = None, failed: float | None = None) -> bool:
        """A 429 asked to hold requests for ``seconds`` (its Retry-After, or the backoff
        wait when it had none): pause as far as [`pause_scope`][] says.

        * ``"shared"``: this client at once, and every user of its rate limiter: the other
          clients sharing an in-process [`MessageRateLimiter`][], and through a
          `SharedPause` limiter (Redis) every process (published in the
          background);
        * ``"local"``: this client only;
        * ``"off"``: nothing (returns False; the request's own retry wait remains).

        ``failed``: the 429's ``Retry-After`` when it was longer than its request may wait
        (``RetryPolicy.max_retry_after``): that request failed, the pause holds the others
        (the log line says so).

        ``seconds`` is capped by [`max_pause`][]. Returns True if this started or
        extended the pause. ``pauses`` counts the 429s that paused, once each (``cause``:
        the error, so a retry of the same one is not counted again)."""
        scope = self.pause_scope
        first = cause is None or cause is not self._last_cause
        seconds = max(0.0, seconds)
        if self.max_pause is not None and seconds > self.max_pause:
            seconds = self.max_pause
        name = self.name or "client"
        if scope == "off":
            if first:
                self._last_cause = cause
                self.pauses_by_scope["off"] += 1
                if failed is None:
                    text = f"only its request waits {seconds:.2f}s"
                else:
                    text = f"its request failed (Retry-After {failed:g}s, over max_retry_after)"
                limits_log.debug(
                    "%s: 429 pauses nothing (pause_scope off): %s",
                    name,
                    text,
                    extra={"sinch_event": "pause_off", "sinch_wait": seconds},
                )
            return False
        now = self._clock()
        until = now + seconds
        if until <= self.resume_at:
            return False
        added = until - max(now, self.resume_at)
        self.resume_at = until
        local = self._local
        if scope == "shared":
            if self.shared is not None:
                self._publish(seconds)
            if local is not None:
                local.pause_users(seconds, origin=self)
        elif local is not None and local.shared_by <= 1:
            local.hold_for(seconds)  # its own limiter: no budget granted while paused
        self.pause_seconds += added
        if first:
            self.pauses += 1
            self.pauses_by_scope[scope] += 1
        self._last_cause = cause
        everyone = scope == "shared" and (
            self.shared is not None or (local is not None and local.shared_by > 1)
        )
        who = "every client and process using its rate limiter" if everyone else "this client"
        if failed is None:
            limits_log.info(
                "%s: 429: pausing %s for %.2fs (pause_scope %s)",
                name,
                who,
                seconds,
                scope,
                extra={"sinch_event": "pause", "sinch_wait": seconds, "sinch_scope": scope},
            )
        else:
            limits_log.info(
                "%s: 429 with Retry-After %gs, more than max_retry_after: that request "
                "failed; pausing the other requests of %s for %.2fs (pause_scope %s)",
                name,
                failed,
                who,
                seconds,
                scope,
                extra={"sinch_event": "pause", "sinch_wait": seconds, "sinch_scope": scope},
            )
        return True

    def hold(self, seconds: float) -> None:
        """Hold this client's requests for ``seconds`` from now without counting a pause of
        its own (another client's shared pause; never shortens one)."""
        self.resume_at = max(self.resume_at, self._clock() + max(0.0, seconds))

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self.resume_at - self._clock())

    async def wait_unpaused(self) -> None:
        """Return once this client's pause is over (counted in [`waits`][])."""
        now = began = self._clock()
        while (left := self.resume_at - now) > 0:
            await self._sleep(left)
            now = self._clock()
        if now > began:
            self.waits.add(now - began, paused=True)
            if now >= self._report_at:
                self.report(now)

    async def acquire_messages(self, cost: int) -> None:
        """The in-process budget for ``cost`` messages, never granted during a 429 pause
        (taken once it is over); call it holding a slot, right before writing."""
        limiter = self.rate_limiter
        if limiter is not None and cost > 0:
            if type(cost) is PendingCost:
                cost = await cost.resolve()
            await limiter.acquire(cost)
            now = self._clock()
            if self.resume_at > now:  # paused while it waited (another limiter)
                await self.wait_unpaused()
            elif now >= self._report_at:
                self.report(now)

    async def acquire_shared(self, cost: int) -> None:
        """Everything before a request when the limiter is shared ([`shared`][]): this
        client's own pause, then the shared pause and, for a send, the shared budget (one
        round trip to the limiter's store either way)."""
        if self.resume_at > self._clock():
            await self.wait_unpaused()
        shared = self.shared
        assert shared is not None and self.rate_limiter is not None
        if cost > 0:
            if type(cost) is PendingCost:
                cost = await cost.resolve()
            await self.rate_limiter.acquire(cost)
        else:
            await shared.wait_unpaused()
        now = self._clock()
        if self.resume_at > now:  # paused here while it waited its turn
            await self.wait_unpaused()
        elif now >= self._report_at:
            self.report(now)

    @property
    def stats(self) -> LimiterStats:
        """The waits and pauses so far (a snapshot; see [`LimiterStats`][])."""
        own = self.waits
        budget, budget_s = own.budget, own.budget_seconds
        paused, paused_s = own.paused, own.paused_seconds
        counted = getattr(self.rate_limiter, "waits", None)
        if isinstance(counted, WaitCounts):
            budget += counted.budget
            budget_s += counted.budget_seconds
            paused += counted.paused
            paused_s += counted.paused_seconds
        return LimiterStats(
            api=self.name,
            pause_scope=self.pause_scope,
            budget_waits=budget,
            budget_wait_seconds=budget_s,
            pause_waits=paused,
            pause_wait_seconds=paused_s,
            pauses=self.pauses,
            pause_seconds=self.pause_seconds,
            pauses_by_scope=dict(self.pauses_by_scope),
        )

    def report(self, now: float | None = None) -> LimiterStats:
        """Log (INFO, ``sinch_async.limits``) the waits and pauses since the last report,
        if there were any; the client calls it when it closes, and the limits every
        [`summary_interval`][] seconds while requests wait. Returns what it covered."""
        now = self._clock() if now is None else now
        self._report_at = now + self.summary_interval
        stats = self.stats
        new = stats if self._reported is None else stats - self._reported
        if not new.idle:
            limits_log.info(
                "%s limits, last %.0fs: %s",
                self.name or "client",
                now - self._reported_since,
                new,
                extra={
                    "sinch_event": "limits",
                    "sinch_budget_waits": new.budget_waits,
                    "sinch_budget_wait_seconds": new.budget_wait_seconds,
                    "sinch_pause_waits": new.pause_waits,
                    "sinch_pause_wait_seconds": new.pause_wait_seconds,
                    "sinch_pauses": new.pauses,
                    "sinch_pause_seconds": new.pause_seconds,
                },
            )
            self._reported = stats
            self._reported_since = now
        return new

    def _publish(self, seconds: float) -> None:
        shared = self.shared
        assert shared is not None
        try:
            task = asyncio.get_running_loop().create_task(shared.pause(seconds))
        except RuntimeError:  # no running loop: nothing to publish from
            return
        self._publishing.add(task)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Task[None]) -> None:
        self._publishing.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("could not share a 429 pause with other processes: %r", exc)

    async def flush_pauses(self) -> None:
        """Wait until every pause recorded so far was published (tests, shutdown)."""
        while self._publishing:
            await asyncio.gather(*self._publishing, return_exceptions=True)

    def slot(self) -> asyncio.Semaphore | _NoSlot:
        """A concurrency slot, as ``async with limits.slot():``."""
        return _NO_SLOT if self.slots is None else self.slots


class _NoSlot:
    """Stands in for a semaphore when concurrency is unbounded."""

    __slots__ = ()

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_SLOT = _NoSlot()
