"""Shared test helpers and fixtures.

* ``clock``: a ``sinch_async.testing.FakeClock``, the test's virtual time: every wait of
  ``SinchClient(clock=clock)`` (``fake.client(clock=clock)``) runs on it, and it is the
  wall clock of ``FakeSinch(now=clock)``.
* ``fake``: a started ``FakeSinch``, configured per module or test with
  ``pytest.mark.fake_sinch(**kwargs)`` (``FakeSinch`` keywords, plus ``on_clock=True`` for
  ``now=clock``); without the mark, ``FakeSinch()`` on the real clock.
* ``http``: an ``aiohttp.ClientSession`` carrying FakeSinch's default bearer token.
* ``fake_sinch`` / ``fake_sinch_factory``: the package's pytest plugin fixtures, re-exported
  so a plain checkout (plugin not installed) has them too.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import pytest_asyncio

from sinch_async.testing import FakeClock as _FakeClock
from sinch_async.testing import pytest_plugin
from sinch_async.testing.pytest_plugin import FakeSinchFactory

if TYPE_CHECKING:
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

#: ``sinch_async.testing.FakeClock`` (re-exported: test modules import it from here).
FakeClock = _FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Virtual time starting at :data:`NOW`: pass it as ``SinchClient(clock=clock)`` (or
    ``fake.client(clock=clock)``) and ``FakeSinch(now=clock)``."""
    return FakeClock(NOW)


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
