"""Clocks: the one this process waits on (`Clock`), and Sinch's clock as this host
sees it (`SinchClock`).

Every wait of the SDK (retry backoff, 429 pauses, the messages-per-second budget, token
expiry, lease renewals) reads and sleeps through one `Clock`:
``SinchClient(clock=...)``; the default is `SYSTEM_CLOCK`, and
``sinch_async.testing.FakeClock`` runs those waits in virtual time.

`SinchClock` learns Sinch's clock from the ``Date`` header of its responses.

A response whose ``Date`` (RFC 7231, whole seconds) is ``D``, to a request sent at host
time ``t0`` and answered at ``t1``, was made while Sinch's clock read something in
``[D, D + 1)`` and this host's read something in ``[t0, t1]``: the offset (Sinch minus
host) lies in ``[D - t1, D + 1 - t0]``. `SinchClock` keeps the intersection of
those intervals (a second wide after one response, narrowing to about a round trip as
responses straddle Sinch's second ticks), widened by a drift allowance as time passes.
An observation that contradicts it means a clock moved: it starts again from that one.
"""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import Callable
from email.utils import parsedate_tz
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SinchClock", "SystemClock", "Timer", "call_later"]


@runtime_checkable
class Clock(Protocol):
    """What the SDK waits on: ``monotonic()`` for durations, ``time()`` (POSIX seconds) for
    the wall clock, and ``sleep(seconds)`` to let time pass."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The host's clocks and ``asyncio.sleep`` (the default `Clock`)."""

    __slots__ = ()

    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock of every client built without ``clock=``.
SYSTEM_CLOCK: Clock = SystemClock()


class Timer(Protocol):
    """What `call_later` returns: ``cancel()`` forgets the callback."""

    def cancel(self) -> object: ...


class _SleepTimer:
    __slots__ = ("_task",)

    def __init__(self, clock: Clock, delay: float, callback: Callable[[], object]) -> None:
        async def wait() -> None:
            await clock.sleep(delay)
            callback()

        self._task = asyncio.get_running_loop().create_task(wait(), name="sinch-async timer")

    def cancel(self) -> None:
        self._task.cancel()


def call_later(clock: Clock, delay: float, callback: Callable[[], object]) -> Timer:
    """Call ``callback()`` once ``delay`` seconds have passed on ``clock`` (inside a
    running loop): the loop's own timer for the system clock, the clock's
    ``call_later(delay, callback)`` when it has one (``FakeClock``: a timer that does not
    move virtual time itself), else a task sleeping on ``clock.sleep``."""
    if type(clock) is SystemClock:
        return asyncio.get_running_loop().call_later(delay, callback)
    timer = getattr(clock, "call_later", None)
    if callable(timer):
        handle: Timer = timer(delay, callback)
        return handle
    return _SleepTimer(clock, delay, callback)


#: Seconds per second the two clocks may drift apart (500 ppm: ntpd's largest slew).
DRIFT = 5e-4
#: A host wall-clock step larger than this (against the monotonic clock) restarts it.
STEP = 0.05
#: An interval wider than this asks for millisecond readings (`SinchClock.loose`).
PRECISE = 0.02


def parse_http_date(value: str) -> float | None:
    """An HTTP ``Date`` as POSIX seconds (None when it cannot be read)."""
    parts = parsedate_tz(value)
    if parts is None:
        return None
    try:
        return float(calendar.timegm(parts[:9]) - (parts[9] or 0))
    except (OverflowError, ValueError):
        return None


class SinchClock:
    """The offset between this host's clock and Sinch's, as an interval.

    The engine calls `observe` with every response's ``Date``; `to_sinch`
    maps a host time (``time.time()``) to the interval of Sinch times it may have been.

    Cheap per response: responses with the same ``Date`` text as the previous one (all
    of them within a second) only update the latest send and earliest answer seen for
    it, two comparisons; the header is parsed, and what it says merged into the
    interval, when it changes (or when the interval is read).

    ``monotonic`` (default ``time.monotonic``; ``None`` to disable) detects a step of
    this host's wall clock (``wall``, default ``time.time``) between merges, which
    restarts the interval.
    """

    __slots__ = (
        "_at",
        "_date",
        "_first",
        "_hi",
        "_last",
        "_lo",
        "_mono",
        "_monotonic",
        "_received",
        "_seen",
        "_sent",
        "_wall",
        "_wall_clock",
        "drift",
        "loose",
        "restarts",
    )

    def __init__(
        self,
        *,
        drift: float = DRIFT,
        monotonic: Callable[[], float] | None = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.drift = drift
        self._monotonic = monotonic
        self._wall_clock = wall
        # The pending Date: its text ("" for none), value, the latest send and earliest
        # answer of the responses that carried it, and the first and last answer times.
        self._date = ""
        self._seen = 0.0
        self._sent = 0.0
        self._received = 0.0
        self._first = 0.0
        self._last = 0.0
        # The interval, and the host time of its last update (None: nothing known yet).
        self._lo = 0.0
        self._hi = 0.0
        self._at: float | None = None
        self._wall = 0.0
        self._mono = 0.0
        #: Observations that contradicted the interval (a clock moved) and restarted it.
        self.restarts = 0
        #: True while the interval is wider than a few hundredths of a second: callers
        #: that have a millisecond reading of Sinch's clock should pass it on
        #: (`observe_timestamp`).
        self.loose = True

    def observe(self, date_header: str | None, sent: float, received: float) -> None:
        """Learn from a response with ``Date: date_header`` to a request sent at host
        time ``sent`` and received at ``received`` (both ``time.time()``)."""
        if date_header == self._date:  # the common case: Sinch's second has not changed
            if sent > self._sent:
                self._sent = sent
            if received < self._received:
                self._received = received
            elif received > self._last:
                self._last = received
            return
        if date_header is None or received < sent:
            return
        seen = parse_http_date(date_header)
        if seen is None:
            return
        self._flush()
        self._date = date_header
        self._seen = seen
        self._sent = sent
        self._received = self._first = self._last = received

    def observe_timestamp(
        self, sinch_ts: float, sent: float, received: float, resolution: float = 0.001
    ) -> None:
        """Learn from a time Sinch reported (``sinch_ts``, POSIX seconds truncated to
        ``resolution``, e.g. a new batch's ``created_at``) for something that happened
        between host times ``sent`` and ``received``."""
        if received >= sent:
            self._check_step()
            self._merge(sinch_ts - received, sinch_ts + resolution - sent, received)

    def _check_step(self) -> None:
        """Forget everything if this host's wall clock was stepped since the last check
        (what was observed is on the old time scale)."""
        if self._monotonic is None:
            return
        wall, mono = self._wall_clock(), self._monotonic()
        stepped = abs((wall - self._wall) - (mono - self._mono)) > STEP
        self._wall, self._mono = wall, mono
        if stepped and (self._at is not None or self._date):
            self._at = None
            self._date = ""
            self.loose = True
            self.restarts += 1

    def _flush(self) -> None:
        """Merge what the pending Date says (it stays pending: merging again is harmless)."""
        self._check_step()
        if self._date:
            widen = (self._last - self._first) * self.drift
            seen = self._seen
            lo = seen - self._received - widen
            hi = seen + 1.0 - self._sent + widen
            if lo > hi:  # one Date for over a second: Sinch's clock (or a cache) stood still
                self._received = self._first = self._last  # keep the latest answer only
                lo = seen - self._last
            self._merge(lo, hi, self._last)

    def _merge(self, lo: float, hi: float, received: float) -> None:
        at = self._at
        if at is not None:
            widen = abs(received - at) * self.drift
            old_lo = self._lo - widen
            old_hi = self._hi + widen
            if lo <= old_hi and old_lo <= hi:
                lo = max(lo, old_lo)
                hi = min(hi, old_hi)
                received = max(received, at)
            else:
                self.restarts += 1  # contradicts what we knew: a clock moved
        self._lo = lo
        self._hi = hi
        self._at = received
        self.loose = hi - lo > PRECISE

    @property
    def offset(self) -> tuple[float, float] | None:
        """Sinch's clock minus this host's, as ``(low, high)`` seconds (None: no
        observation yet). Not widened for the time since the last observation."""
        self._flush()
        if self._at is None:
            return None
        return self._lo, self._hi

    def to_sinch(self, host_ts: float) -> tuple[float, float] | None:
        """The interval of Sinch times (POSIX seconds on Sinch's clock) that host time
        ``host_ts`` corresponds to; None when no ``Date`` was observed yet."""
        self._flush()
        at = self._at
        if at is None:
            return None
        widen = abs(host_ts - at) * self.drift
        return host_ts + self._lo - widen, host_ts + self._hi + widen

    def reset(self) -> None:
        """Forget everything observed."""
        self._at = None
        self._date = ""
        self.loose = True

    def __repr__(self) -> str:
        offset = self.offset
        if offset is None:
            return "<SinchClock unknown>"
        return f"<SinchClock offset in [{offset[0]:+.3f}, {offset[1]:+.3f}] s>"
