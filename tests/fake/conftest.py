"""FakeSinch's own behaviour, driven with raw aiohttp (independent of the SDK).

Root fixtures used here: ``fake`` (``pytest.mark.fake_sinch(on_clock=True, ...)`` per module),
``clock``, ``fake_sinch``, ``fake_sinch_factory``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from tests.support.fake_http import AUTH


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session carrying FakeSinch's default bearer token."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


@pytest_asyncio.fixture
async def anon_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session without default headers (token calls pass ``auth=`` or their own
    ``Authorization``; aiohttp refuses ``auth=`` beside a default one)."""
    async with aiohttp.ClientSession() as session:
        yield session
