"""Client-side limits: requests in flight, messages per second, and a shared 429 pause."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from . import _clock
from ._errors import SinchConfigError

__all__ = [
    "GroupSizes",
    "Limits",
    "MessageRateLimiter",
    "PendingCost",
    "RateLimiter",
    "SharedGroupSizes",
    "SharedPause",
    "TokenBucket",
]

log = logging.getLogger("sinch_async")

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
    """Optional extension of :class:`RateLimiter`: a 429 pause shared by every process
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

    Its ``int`` value counts each unknown group as 1; :meth:`resolve` asks the shared
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


def _is_group_id(recipient: str) -> bool:
    """A recipient that is not a phone number (digits, optionally after ``+``)."""
    return not recipient.lstrip("+").isdigit()


class SharedGroupSizes(dict[str, int]):
    """Group sizes shared between processes: this dict is the local cache in front of a
    shared store (subclasses implement :meth:`_fetch` and :meth:`_store`, e.g.
    ``sinch_async.redis.RedisGroupSizes``).

    Costing a send stays synchronous and cheap: a recipient that looks like a group id and
    is not cached makes the cost a :class:`PendingCost`, resolved from the store just
    before the rate limiter is asked, so a fresh worker charges a group send by the size
    another worker saw. Ids the store does not know are remembered as unknown for
    ``miss_ttl`` seconds (then charged 1 message each, as in-process).
    """

    def __init__(self, *, miss_ttl: float = 5.0, clock: Clock | None = None) -> None:
        super().__init__()
        self.miss_ttl = miss_ttl
        self._own_clock = clock is not None
        self._clock: Clock = time.monotonic if clock is None else clock
        self._misses: dict[str, float] = {}

    def adopt_clock(self, clock: _clock.Clock) -> None:
        """Use the client's clock (``SinchClient(clock=...)``) unless built with one."""
        if not self._own_clock:
            self._clock = clock.monotonic

    def cost(self, recipients: Iterable[str]) -> int:
        """The message cost of a send to ``recipients`` (maybe a :class:`PendingCost`)."""
        known = 0
        unknown: list[str] = []
        now: float | None = None
        for r in recipients:
            size = self.get(r)
            if size is not None:
                known += size
            elif _is_group_id(r):
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


class MessageRateLimiter:
    """``messages_per_second`` for one process: FIFO-fair, so a large batch is not starved.

    Waiters are served strictly in arrival order (``asyncio.Lock`` wakes them FIFO); the
    head waits for its tokens while the rest queue behind it. The long-run rate is exactly
    ``messages_per_second``; ``burst`` (default half a second of budget) is how much may go
    out at once. Keeping it below Sinch's own one-second bucket leaves headroom for
    concurrent requests that reach Sinch in a different order than they were granted.
    """

    def __init__(
        self,
        messages_per_second: float,
        *,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not messages_per_second > 0:
            raise SinchConfigError("messages_per_second must be positive")
        capacity = messages_per_second / 2 if burst is None else burst
        if not capacity > 0:
            raise SinchConfigError("burst must be positive")
        self._bucket = TokenBucket(messages_per_second, capacity, clock())
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        #: Seconds the budget must stay untaken (a client's 429 pause, set by the
        #: :class:`Limits` that uses this limiter): budget granted during a pause would
        #: all leave together when it ends.
        self.hold: Callable[[], float] | None = None

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def rebind(self) -> None:
        """A fresh lock for a new event loop (the old loop's waiters are gone)."""
        self._lock = asyncio.Lock()

    async def acquire(self, cost: int) -> None:
        """Wait until ``cost`` messages may go (and :attr:`hold` is over), then take them."""
        if cost <= 0:
            return
        async with self._lock:
            while True:
                wait = self._bucket.wait_time(cost, self._clock())
                hold = self.hold
                if hold is not None:
                    wait = max(wait, hold())
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._bucket.take(cost)


class Limits:
    """Everything a request waits for before it is sent, in this order: a free slot among
    ``max_concurrency``, the pause after a 429, and the messages-per-second budget (sends
    only). The budget comes last so that it is only taken by a request about to be
    written: a stall (slots held by slow answers) cannot turn into a burst."""

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        messages_per_second: float | RateLimiter | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise SinchConfigError("max_concurrency must be a positive integer or None")
        self.max_concurrency = max_concurrency
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
        if type(self.rate_limiter) is MessageRateLimiter and self.rate_limiter.hold is None:
            self.rate_limiter.hold = self._pause_left  # no budget granted while paused
        self._publishing: set[asyncio.Task[None]] = set()
        self._clock = clock
        self._sleep = sleep
        #: When the current 429 pause ends, on ``clock`` (0: never paused).
        self.resume_at = 0.0
        self._last_cause: object = None
        #: How many 429 pauses were applied (for tests and metrics).
        self.pauses = 0

    def rebind(self) -> None:
        """Fresh loop-bound primitives after the client moved to a new event loop."""
        if self.max_concurrency is not None:
            self.slots = asyncio.Semaphore(self.max_concurrency)
        self._publishing = set()  # the old loop's tasks are gone with it
        rebind = getattr(self.rate_limiter, "rebind", None)
        if callable(rebind):
            rebind()

    def pause(self, seconds: float, *, cause: object = None) -> bool:
        """Hold every request of the client for ``seconds`` (after a 429's Retry-After).

        Returns True if this extended the pause. ``pauses`` counts 429s that paused the
        client, once each (``cause``: the error, so a retry of the same one is not
        counted again). With a shared limiter (:class:`SharedPause`) the pause is also
        published to every process using it (in the background: this client is held
        locally at once)."""
        until = self._clock() + max(0.0, seconds)
        if until <= self.resume_at:
            return False
        if self.shared is not None:
            self._publish(seconds)
        self.resume_at = until
        if cause is None or cause is not self._last_cause:
            self.pauses += 1
        self._last_cause = cause
        return True

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self.resume_at - self._clock())

    async def wait_unpaused(self) -> None:
        while (left := self.resume_at - self._clock()) > 0:
            await self._sleep(left)

    def _pause_left(self) -> float:
        return self.resume_at - self._clock()

    async def acquire_messages(self, cost: int) -> None:
        """The in-process budget for ``cost`` messages, never granted during a 429 pause
        (taken once it is over); call it holding a slot, right before writing."""
        limiter = self.rate_limiter
        if limiter is not None and cost > 0:
            if type(cost) is PendingCost:
                cost = await cost.resolve()
            await limiter.acquire(cost)
            if self.resume_at > self._clock():  # paused while it waited (another limiter)
                await self.wait_unpaused()

    async def acquire_shared(self, cost: int) -> None:
        """Everything before a request when the limiter is shared (:attr:`shared`): this
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
            if self.resume_at > self._clock():  # paused here while it waited its turn
                await self.wait_unpaused()
        else:
            await shared.wait_unpaused()

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
