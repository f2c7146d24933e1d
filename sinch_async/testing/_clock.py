"""``FakeClock``: virtual time for tests, for ``SinchClient(clock=...)`` and FakeSinch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]

#: Where a `FakeClock` starts by default (an aware UTC datetime).
DEFAULT_START = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)


class _Sleeper:
    __slots__ = ("deadline", "future")

    def __init__(self, deadline: float, future: asyncio.Future[None]) -> None:
        self.deadline = deadline
        self.future = future


class FakeTimer:
    """A callback due at a time of a [`FakeClock`][] ([`FakeClock.call_later`][])."""

    __slots__ = ("_clock", "callback", "when")

    def __init__(self, clock: FakeClock, when: float, callback: Callable[[], object]) -> None:
        self._clock = clock
        self.when = when
        self.callback = callback

    def cancel(self) -> None:
        """Forget the timer (no-op once it fired or was cancelled)."""
        if self in self._clock._timers:
            self._clock._timers.remove(self)

    def __repr__(self) -> str:
        return f"<FakeTimer at {self.when:g}s>"


class FakeClock:
    """Virtual time: a monotonic clock and a wall clock that move together, and only when
    the test (or a sleep, see below) moves them.

    It is a ``sinch_async`` clock: ``SinchClient(clock=clock)`` puts every wait of the
    client on it (retry backoff, 429 pauses, the messages-per-second budget, token expiry),
    so a test of retry logic runs in no wall time and can assert how long it would have
    taken::

        clock = FakeClock()
        async with FakeSinch(now=clock) as fake, fake.client(clock=clock) as client:
            fake.add_fault(Fault(method="POST", path="/batches", status=429,
                                 headers={"Retry-After": "30"}, times=1))
            await client.batches.send_text(to=["+46701234567"], body="hi")
            assert clock.elapsed == 30  # waited out Retry-After, instantly

    * ``clock.monotonic()`` / ``clock.time()`` / ``await clock.sleep(s)``: the clock
      protocol (``time()`` is POSIX seconds of the wall clock); ``clock.elapsed`` is the
      virtual time passed so far (``monotonic()`` starts at 0).
    * ``clock()`` (also ``clock.now()`` and ``clock.value``): the wall clock as an aware
      datetime starting at ``start``, for ``FakeSinch(now=clock)``.
    * ``clock.advance(seconds=..., minutes=...)`` moves time forward and wakes the sleepers
      whose time has come.

    ``sleep`` has two modes. With ``auto_advance`` (the default) a sleep moves time to its
    own deadline at once and yields to the loop: code that waits "until the clock says
    so" runs in no wall time, and the clock shows how long it would have waited. With
    ``auto_advance = False`` sleepers stay parked until the test advances the clock, so
    it can look at the world in the middle of a wait ([`wait_for_sleepers`][] tells
    when they are parked). Every requested sleep is kept in ``sleeps``.

    ``clock.call_later(delay, callback)`` is a timer: it never moves time itself, and
    fires when time reaches it (an [`advance`][], or a sleep, which in ``auto_advance``
    mode stops at each timer on the way, fires it and yields, so a timer that cancels the
    sleeper leaves time where the timer was). ``SinchClient(clock=clock)`` puts a call's
    ``deadline`` and ``send_many``'s ``grace`` on such timers: they pass in virtual time.
    """

    def __init__(self, start: datetime = DEFAULT_START, *, auto_advance: bool = True) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime (e.g. tzinfo=UTC)")
        self._start = start
        self._epoch = start.timestamp()
        self._elapsed = 0.0
        self.auto_advance = auto_advance
        self._sleeping: list[_Sleeper] = []
        self._parked_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._timers: list[FakeTimer] = []
        self.sleeps: list[float] = []

    # clocks

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the clock was made."""
        return self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    def time(self) -> float:
        """The wall clock in POSIX seconds."""
        return self._epoch + self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    __call__ = now

    @property
    def value(self) -> datetime:
        return self.now()

    # moving time

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move time forward by ``seconds`` plus ``timedelta(**delta)``; sleepers whose
        deadline has come resume at the loop's next turn."""
        step = seconds + timedelta(**delta).total_seconds()
        if step < 0:
            raise ValueError("a FakeClock only moves forward")
        self._move_to(self._elapsed + step)

    def _move_to(self, elapsed: float) -> None:
        self._elapsed = max(self._elapsed, elapsed)
        if self._timers:
            due_timers = sorted(
                (t for t in self._timers if t.when <= self._elapsed), key=lambda t: t.when
            )
            for timer in due_timers:
                if timer in self._timers:  # an earlier callback may have cancelled it
                    self._timers.remove(timer)
                    timer.callback()
        due = [s for s in self._sleeping if s.deadline <= self._elapsed]
        for sleeper in due:
            self._sleeping.remove(sleeper)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

    # timers

    def call_later(self, delay: float, callback: Callable[[], object]) -> FakeTimer:
        """Call ``callback()`` once the clock has moved ``delay`` seconds on (never moves
        time itself; a ``delay <= 0`` fires at the next move or sleep). Returns a timer
        with ``cancel()``."""
        timer = FakeTimer(self, self._elapsed + max(0.0, delay), callback)
        self._timers.append(timer)
        return timer

    @property
    def timers(self) -> int:
        """Timers ([`call_later`][]) that have not fired nor been cancelled."""
        return len(self._timers)

    # sleeping

    @property
    def sleepers(self) -> int:
        """Sleeps parked until the clock is advanced (``auto_advance`` off)."""
        return len(self._sleeping)

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep`` on virtual time (see the class docstring for the two modes)."""
        self.sleeps.append(seconds)
        deadline = self._elapsed + max(0.0, seconds)
        if self.auto_advance or deadline <= self._elapsed:
            # Stop at each timer on the way: one that cancels this sleep leaves time there.
            while self._timers:
                first = min(t.when for t in self._timers)
                if first >= deadline:
                    break
                self._move_to(first)
                await asyncio.sleep(0)
            self._move_to(deadline)
            await asyncio.sleep(0)
            return
        sleeper = _Sleeper(deadline, asyncio.get_running_loop().create_future())
        self._sleeping.append(sleeper)
        for count, waiter in self._parked_waiters:
            if len(self._sleeping) >= count and not waiter.done():
                waiter.set_result(None)
        try:
            await sleeper.future
        finally:
            if sleeper in self._sleeping:  # cancelled while parked
                self._sleeping.remove(sleeper)

    async def wait_for_sleepers(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (real time, at most ``timeout`` s) until ``count`` sleeps are parked."""
        if len(self._sleeping) >= count:
            return
        entry = (count, asyncio.get_running_loop().create_future())
        self._parked_waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await entry[1]
        finally:
            self._parked_waiters.remove(entry)

    def __repr__(self) -> str:
        return f"<FakeClock {self.now().isoformat()} elapsed={self._elapsed:g}s>"
