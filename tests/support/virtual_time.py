"""Virtual time for the event loop itself (the ``virtual_time`` fixture).

``FakeClock`` runs the waits of the SDK and of FakeSinch in virtual time, but some waits
run on the event loop's own clock, ``loop.time()``: aiohttp's transport timeouts
(``ClientTimeout`` total / sock_read), ``asyncio.timeout`` and ``asyncio.sleep``.
:class:`VirtualTime` makes that clock virtual too:

* ``loop.time()`` reads a virtual time, which starts where the loop's clock was (so timers
  scheduled before keep their meaning) and moves only when the loop is idle;
* the loop is idle when it has no ready callback and a non-blocking poll of its selector
  (``select(0)``) finds no I/O: then nothing can happen before the next timer, so instead of
  blocking until it, the clock jumps to it.

Everything the loop can see happen (its callbacks, sockets, in-loop servers such as FakeSinch
and aiohttp.web apps over loopback) takes no virtual time, and timers fire in the order of
their deadlines, whatever the machine's load: a 0.2 s timeout against a 1 s answer always
times out, in no wall time. Loopback data is in the peer's socket when ``send`` returns
(Linux delivers it in the sender's system call), so ``select(0)`` sees it and the clock
never jumps past a message on its way.

What the loop cannot see is not virtual: work in a thread or another process. While a
future of ``loop.run_in_executor`` (``getaddrinfo`` too) is pending the clock does not move
and the loop waits for it in real time; a server running in a thread or a child process,
or Redis's clock, is outside: such tests stay ``realtime``. With no timer left at all,
the loop blocks as usual (only the outside world can wake it).

The SDK's system clock (the default of ``SinchClient`` and ``FakeSinch``) sleeps with
``asyncio.sleep`` (virtual here) but reads ``time.monotonic`` (real): a single sleep, such
as a retry backoff or a fault's delay, is fine, but a wait that sleeps until
``time.monotonic`` says so (a 429 pause, the messages-per-second budget, the fake's rate
bucket) would spin through virtual time while real time crawls. Give those
``clock=virtual_time.clock``: :attr:`VirtualTime.clock` is a ``sinch_async`` clock on this
virtual time (``monotonic()`` is ``loop.time()``). A test that hangs jumps from timer to
timer: past ``limit`` virtual seconds :class:`VirtualTimeLimitError` ends it.
"""

from __future__ import annotations

import asyncio
import selectors
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["LoopClock", "VirtualTime", "VirtualTimeLimitError"]

#: Real seconds per wait for an executor's thread (the loop is woken as soon as it is done).
_THREAD_POLL = 0.05


class VirtualTimeLimitError(RuntimeError):
    """The loop's virtual time ran past :attr:`VirtualTime.limit` (a hang, in no wall time)."""


class LoopClock:
    """A ``sinch_async`` clock on the loop's (virtual) time: ``monotonic()`` is
    ``loop.time()``, ``time()`` the wall clock moving with it, ``sleep`` ``asyncio.sleep``
    and ``call_later`` the loop's timer (as for the system clock)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wall_at_start: float) -> None:
        self._loop = loop
        self._epoch = wall_at_start - loop.time()

    def monotonic(self) -> float:
        return self._loop.time()

    def time(self) -> float:
        return self._epoch + self._loop.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return self._loop.call_later(delay, callback)

    def __repr__(self) -> str:
        return f"<LoopClock {self._loop.time():g}>"


class VirtualTime:
    """Makes ``loop``'s clock virtual between :meth:`install` and :meth:`uninstall` (or as a
    context manager); see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, limit: float = 600.0) -> None:
        if not isinstance(loop, asyncio.BaseEventLoop) or not hasattr(loop, "_selector"):
            raise TypeError(f"virtual time needs an asyncio selector event loop, not {loop!r}")
        self.loop = loop
        #: Virtual seconds after which the loop gives up (:class:`VirtualTimeLimitError`).
        self.limit = limit
        #: How many times the clock jumped to the next timer.
        self.jumps = 0
        self._selector: selectors.BaseSelector = loop._selector
        self._real_time: Callable[[], float] = type(loop).time.__get__(loop)
        self._real_select: Callable[[float | None], list[tuple[Any, int]]] = self._selector.select
        self._real_run_in_executor = loop.run_in_executor
        self._threads: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()
        self._now = self._start = 0.0
        self._installed = False
        self.clock: LoopClock | None = None

    # --- the clock -------------------------------------------------------------------------

    def time(self) -> float:
        """The loop's virtual time (what ``loop.time()`` returns while installed)."""
        return self._now

    @property
    def elapsed(self) -> float:
        """Virtual seconds since :meth:`install`."""
        return self._now - self._start

    # --- installing ------------------------------------------------------------------------

    def install(self) -> VirtualTime:
        if self._installed or "time" in vars(self.loop):
            raise RuntimeError("this loop's clock is already patched")
        self._now = self._start = self.loop.time()
        self.loop.time = self.time  # type: ignore[method-assign]
        self._selector.select = self._select  # type: ignore[method-assign]
        self.loop.run_in_executor = self._run_in_executor  # type: ignore[method-assign,assignment]
        self.clock = LoopClock(self.loop, time.time())
        self._installed = True
        return self

    def uninstall(self) -> None:
        """Back to real time, continuing from the virtual time reached (the loop's clock
        never goes back, so timers already scheduled keep their order)."""
        if not self._installed:
            return
        self._installed = False
        del self._selector.select
        del self.loop.run_in_executor
        offset = self._now - self._real_time()
        real_time = self._real_time
        self.loop.time = lambda: real_time() + offset  # type: ignore[method-assign]

    def __enter__(self) -> VirtualTime:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    # --- the loop's hooks ------------------------------------------------------------------

    def _run_in_executor(self, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        future = self._real_run_in_executor(executor, func, *args)
        self._threads.add(future)
        return future

    def _select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        events = self._real_select(0)
        if events or timeout == 0:
            return events
        if any(not f.done() for f in self._threads):
            # A thread is working: the clock waits for it (its result wakes the loop).
            wait = _THREAD_POLL if timeout is None else min(timeout, _THREAD_POLL)
            return self._real_select(wait)
        if timeout is None:
            # No timer at all: only another thread or process can wake the loop.
            return self._real_select(None)
        # Idle until the next timer: jump to it.
        target = self._now + timeout
        scheduled = getattr(self.loop, "_scheduled", None)
        if scheduled and scheduled[0].when() <= target + 1e-6:
            target = max(target, scheduled[0].when())  # exactly there, no rounding short
        if target - self._start > self.limit:
            self.uninstall()  # let the loop wind down in real time
            raise VirtualTimeLimitError(
                f"the event loop idled past {self.limit:g} s of virtual time with timers "
                "still pending (a hang: nothing else could happen)"
            )
        self._now = target
        self.jumps += 1
        return []
