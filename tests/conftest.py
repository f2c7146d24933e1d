"""Fixtures and hooks shared by every test area (fixtures and hooks only: helpers live in
``tests/support``, and no test imports a conftest).

* ``clock``: a ``sinch_async.testing.FakeClock``, the test's virtual time: every wait of
  ``SinchClient(clock=clock)`` (``fake.client(clock=clock)``) runs on it, and it is the
  wall clock of ``FakeSinch(now=clock)``.
* ``fake``: a started ``FakeSinch``, configured per module or test with
  ``pytest.mark.fake_sinch(**kwargs)`` (``FakeSinch`` keywords, plus ``on_clock=True`` for
  ``now=clock``); without the mark, ``FakeSinch()`` on the real clock.
* ``fake_on_clock``: a started ``FakeSinch(clock=clock, **kwargs)`` (kwargs from the same
  ``fake_sinch`` mark): its latency, fault delays, callbacks and rate bucket wait on the
  test's clock. For both, ``auto_advance=False`` in the mark starts ``clock`` parked.
* ``fake_sinch`` / ``fake_sinch_factory``: the package's pytest plugin fixtures, re-exported
  so a plain checkout (plugin not installed) has them too.
* ``redis_url`` (one redis-server per session) and ``redis_client`` (a ``redis.asyncio.Redis``
  on an emptied database).
* ``virtual_time``: the event loop's own clock made virtual for the test
  (``tests.support.virtual_time.VirtualTime``): when the loop is idle its clock jumps to the
  next timer, so aiohttp's transport timeouts, ``asyncio.timeout`` and ``asyncio.sleep``
  pass in no wall time, in deadline order. ``virtual_time.clock`` is a ``sinch_async``
  clock on that time (for clients and fakes whose waits re-read the clock: rate limits,
  429 pauses). Not for tests whose other side runs in a thread or process.
* Area markers, set by path and fixture use: everything under ``tests/process`` is
  ``process`` (and ``realtime``); every test under ``tests/redis`` or using ``redis_url`` /
  ``redis_client`` is ``redis``. Markers are registered in pyproject.toml.

Folder conftests (``tests/<area>/conftest.py``) hold the fixtures of one area.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from sinch_async.testing import FakeClock, pytest_plugin
from sinch_async.testing.pytest_plugin import FakeSinchFactory
from tests.support.fake_http import NOW
from tests.support.redis_server import start_redis
from tests.support.virtual_time import VirtualTime

if TYPE_CHECKING:
    from sinch_async.testing import FakeSinch

TESTS = Path(__file__).parent

fake_sinch = pytest_plugin.fake_sinch
fake_sinch_factory = pytest_plugin.fake_sinch_factory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Area markers by path and fixture use (one hook here: a folder conftest's hook would
    see every item of the session too)."""
    for item in items:
        try:
            parts = item.path.relative_to(TESTS).parts
        except ValueError:  # a test outside tests/ (e.g. a path given on the command line)
            parts = ()
        if parts[:1] == ("process",):
            item.add_marker(pytest.mark.process)
            item.add_marker(pytest.mark.realtime("real processes"))
        fixtures = set(getattr(item, "fixturenames", ()))
        if parts[:1] == ("redis",) or {"redis_url", "redis_client"} & fixtures:
            item.add_marker(pytest.mark.redis)


# --- virtual time ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    """Virtual time starting at ``tests.support.fake_http.NOW``: pass it as
    ``SinchClient(clock=clock)`` (or ``fake.client(clock=clock)``) and ``FakeSinch(now=clock)``."""
    return FakeClock(NOW)


@pytest_asyncio.fixture
async def virtual_time() -> AsyncIterator[VirtualTime]:
    """The running loop's clock, virtual for this test (its fixtures set up after it and
    torn down before it included); see ``tests/support/virtual_time.py``."""
    with VirtualTime(asyncio.get_running_loop()) as virtual:
        yield virtual


# --- FakeSinch --------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def fake(
    request: pytest.FixtureRequest, fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> FakeSinch:
    """A started FakeSinch (closed after the test); see the module docstring for options."""
    options = _fake_options(request, clock)
    if options.pop("on_clock", False):
        options["now"] = clock
    return await fake_sinch_factory(**options)


@pytest_asyncio.fixture
async def fake_on_clock(
    request: pytest.FixtureRequest, fake_sinch_factory: FakeSinchFactory, clock: FakeClock
) -> FakeSinch:
    """A started ``FakeSinch(clock=clock)`` (closed after the test); options as for ``fake``."""
    options = _fake_options(request, clock)
    options.pop("on_clock", None)
    return await fake_sinch_factory(clock=clock, **options)


def _fake_options(request: pytest.FixtureRequest, clock: FakeClock) -> dict[str, Any]:
    """The ``fake_sinch`` mark's keywords; ``auto_advance`` is applied to ``clock``."""
    marker = request.node.get_closest_marker("fake_sinch")
    options = dict(marker.kwargs) if marker is not None else {}
    if "auto_advance" in options:
        clock.auto_advance = options.pop("auto_advance")
    return options


# --- Redis -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server that lives for the test session."""
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Any]:
    """A ``redis.asyncio.Redis`` on an emptied database."""
    redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")
    client = redis_asyncio.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


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
