"""Client-side limits: requests in flight, messages per second, and a shared 429 pause."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from ._errors import SinchConfigError

__all__ = ["Limits", "MessageRateLimiter", "RateLimiter", "TokenBucket"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@runtime_checkable
class RateLimiter(Protocol):
    """Grants permission to send ``cost`` messages. Implement this to share a limit
    between processes (for example on Redis)."""

    async def acquire(self, cost: int) -> None:
        """Wait until ``cost`` messages may be sent, then account for them."""
        ...


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

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def rebind(self) -> None:
        """A fresh lock for a new event loop (the old loop's waiters are gone)."""
        self._lock = asyncio.Lock()

    async def acquire(self, cost: int) -> None:
        if cost <= 0:
            return
        async with self._lock:
            while True:
                wait = self._bucket.wait_time(cost, self._clock())
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._bucket.take(cost)


class Limits:
    """Everything a request waits for before it is sent: the pause after a 429, the
    messages-per-second budget (sends only), and a free slot among ``max_concurrency``."""

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
        self._slots = None if max_concurrency is None else asyncio.Semaphore(max_concurrency)
        if messages_per_second is None or isinstance(messages_per_second, RateLimiter):
            self.rate_limiter: RateLimiter | None = messages_per_second
        else:
            self.rate_limiter = MessageRateLimiter(messages_per_second, clock=clock, sleep=sleep)
        self._clock = clock
        self._sleep = sleep
        self._resume_at = 0.0
        self._last_cause: object = None
        #: How many 429 pauses were applied (for tests and metrics).
        self.pauses = 0

    def rebind(self) -> None:
        """Fresh loop-bound primitives after the client moved to a new event loop."""
        if self.max_concurrency is not None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        rebind = getattr(self.rate_limiter, "rebind", None)
        if callable(rebind):
            rebind()

    def pause(self, seconds: float, *, cause: object = None) -> bool:
        """Hold every request of the client for ``seconds`` (after a 429's Retry-After).

        Returns True if this extended the pause. ``pauses`` counts 429s that paused the
        client, once each (``cause``: the error, so a retry of the same one is not
        counted again)."""
        until = self._clock() + max(0.0, seconds)
        if until <= self._resume_at:
            return False
        self._resume_at = until
        if cause is None or cause is not self._last_cause:
            self.pauses += 1
        self._last_cause = cause
        return True

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self._resume_at - self._clock())

    async def wait_unpaused(self) -> None:
        while (left := self._resume_at - self._clock()) > 0:
            await self._sleep(left)

    async def acquire_messages(self, cost: int) -> None:
        if self.rate_limiter is not None and cost > 0:
            await self.rate_limiter.acquire(cost)

    def slot(self) -> asyncio.Semaphore | _NoSlot:
        """A concurrency slot, as ``async with limits.slot():``."""
        return _NO_SLOT if self._slots is None else self._slots


class _NoSlot:
    """Stands in for a semaphore when concurrency is unbounded."""

    __slots__ = ()

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_SLOT = _NoSlot()
