"""Shared test helpers and fixtures.

* ``clock``: a :class:`FakeClock`, the test's virtual time (wall clock for
  ``FakeSinch(now=clock)``, monotonic clock and sleep for ``Limits``/``MessageRateLimiter``);
  :func:`use_clock` puts a client's waits on it.
* ``fake``: a started ``FakeSinch``, configured per module or test with
  ``pytest.mark.fake_sinch(**kwargs)`` (``FakeSinch`` keywords, plus ``on_clock=True`` for
  ``now=clock``); without the mark, ``FakeSinch()`` on the real clock.
* ``http``: an ``aiohttp.ClientSession`` carrying FakeSinch's default bearer token.
* ``fake_sinch`` / ``fake_sinch_factory``: the package's pytest plugin fixtures, re-exported
  so a plain checkout (plugin not installed) has them too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import backoff._async
import pytest
import pytest_asyncio

import sinch_async._session
from sinch_async import Limits, MessageRateLimiter
from sinch_async.testing import pytest_plugin
from sinch_async.testing.pytest_plugin import FakeSinchFactory

if TYPE_CHECKING:
    from sinch_async import SinchClient
    from sinch_async.testing import FakeSinch

ANCHORS = Path(
    os.environ.get(
        "SINCH_ANCHORS_DIR",
        Path(__file__).resolve().parents[2] / "shared" / "anchors" / "sinch-official",
    )
)

#: The wall-clock start of every :class:`FakeClock` (FakeSinch's "now" in most tests).
NOW = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
#: FakeSinch's default credentials as a request header.
AUTH = {"Authorization": "Bearer test-token"}

fake_sinch = pytest_plugin.fake_sinch
fake_sinch_factory = pytest_plugin.fake_sinch_factory


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fake_sinch(**kwargs): FakeSinch options of the `fake` fixture "
        "(on_clock=True: FakeSinch(now=clock))",
    )


def anchors_dir() -> Path:
    """The official fixture folder; skip (or fail, when CI requires it) if absent."""
    if not ANCHORS.is_dir():
        reason = f"Sinch anchor fixtures not found at {ANCHORS} (../shared is absent)"
        if os.environ.get("SINCH_REQUIRE_ANCHORS") == "1":
            pytest.fail(reason + "; SINCH_REQUIRE_ANCHORS=1 demands them", pytrace=False)
        pytest.skip(reason)
    return ANCHORS


# --- virtual time ----------------------------------------------------------------------------


class _Sleeper:
    __slots__ = ("deadline", "future")

    def __init__(self, deadline: float, future: asyncio.Future[None]) -> None:
        self.deadline = deadline
        self.future = future


class FakeClock:
    """Virtual time for one test: a monotonic clock and a wall clock that move together,
    and only when the test (or a sleep, see below) moves them.

    * ``clock.monotonic`` / ``clock.sleep``: for ``Limits(clock=, sleep=)`` and
      ``MessageRateLimiter(clock=, sleep=)``; :func:`use_clock` puts a client on them.
      ``clock.elapsed`` is the virtual time passed so far (``monotonic()`` starts at 0).
    * ``clock()`` (also ``clock.now()`` and ``clock.value``): the wall clock, an aware
      datetime starting at ``start``, for ``FakeSinch(now=clock)``.
    * ``clock.advance(seconds=..., minutes=...)`` moves time forward and wakes the sleepers
      whose time has come.

    ``sleep`` has two modes. With ``auto_advance`` (the default) a sleep moves time to its
    own deadline at once and yields to the loop: code that waits "until the clock says
    so" runs in no wall time, and the clock shows how long it would have waited. With
    ``auto_advance = False`` sleepers stay parked until the test advances the clock, so
    it can look at the world in the middle of a wait (:meth:`wait_for_sleepers` tells
    when they are parked). Every requested sleep is kept in ``sleeps``.
    """

    def __init__(self, start: datetime = NOW, *, auto_advance: bool = True) -> None:
        self._start = start
        self._elapsed = 0.0
        self.auto_advance = auto_advance
        self._sleeping: list[_Sleeper] = []
        self._parked_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.sleeps: list[float] = []

    # clocks

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the clock was made."""
        return self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

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
        due = [s for s in self._sleeping if s.deadline <= self._elapsed]
        for sleeper in due:
            self._sleeping.remove(sleeper)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


class _AsyncioOnClock:
    """The ``asyncio`` module as one module sees it, except that ``sleep`` is virtual."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def use_clock(client: SinchClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Limits:
    """Put every wait of ``client`` on ``clock``: the 429 pause and messages-per-second
    budget (its ``Limits``, rebuilt with ``clock=``/``sleep=``) and its retry waits.

    Call it before the client makes its first request. SinchClient builds its Limits
    itself and the engine sleeps between retries on ``asyncio.sleep`` (its first retry)
    and through ``backoff`` (later ones), so until the SDK takes a clock this swaps the
    Limits on the client and its engine and gives both modules a virtual ``sleep``
    (undone by ``monkeypatch``).
    """
    old = client.limits
    rate = old.rate_limiter
    if isinstance(rate, MessageRateLimiter):  # SinchClient(messages_per_second=<number>)
        rate = MessageRateLimiter(rate.rate, clock=clock.monotonic, sleep=clock.sleep)
    limits = Limits(
        max_concurrency=old.max_concurrency,
        messages_per_second=rate,
        clock=clock.monotonic,
        sleep=clock.sleep,
    )
    client.limits = limits
    client._engine.limits = limits
    on_clock = _AsyncioOnClock(clock.sleep)
    monkeypatch.setattr(sinch_async._session, "asyncio", on_clock)
    monkeypatch.setattr(backoff._async, "asyncio", on_clock)
    return limits


# --- FakeSinch and a raw HTTP session -----------------------------------------------------


@pytest_asyncio.fixture
async def fake(
    request: pytest.FixtureRequest, fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> FakeSinch:
    """A started FakeSinch (closed after the test); see the module docstring for options."""
    marker = request.node.get_closest_marker("fake_sinch")
    options = dict(marker.kwargs) if marker is not None else {}
    if options.pop("on_clock", False):
        options["now"] = clock
    return await fake_sinch_factory(**options)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, fake: FakeSinch, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    """One raw request to the fake: the status and the decoded JSON body (or None)."""
    async with http.request(method, fake.url(path), **kwargs) as resp:
        body = await resp.read()
        return resp.status, (await resp.json() if body else None)


# --- aioresponses on aiohttp 3.14 ---------------------------------------------------------


class _NoStreamWriter:
    """aiohttp >= 3.14 wants a stream_writer; aioresponses 0.7.x does not pass one."""

    output_size = 0


@pytest.fixture(autouse=True)
def _aioresponses_aiohttp314_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let aioresponses build responses on aiohttp 3.14 (pnuckowski/aioresponses#289).

    Test-only shim: aiohttp 3.14 is a security release, so we adapt the mock library
    instead of pinning aiohttp back.
    """
    import inspect

    import aioresponses.core as core
    from aiohttp import ClientResponse

    if "stream_writer" not in inspect.signature(ClientResponse.__init__).parameters:
        return

    class CompatResponse(ClientResponse):
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.setdefault("stream_writer", _NoStreamWriter())
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(core, "ClientResponse", CompatResponse)
