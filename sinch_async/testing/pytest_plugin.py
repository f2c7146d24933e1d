"""pytest plugin: the ``fake_sinch`` and ``fake_sinch_factory`` fixtures.

Registered through the ``pytest11`` entry point, so installing ``sinch-async`` makes the
fixtures available in every test suite (pytest-asyncio is required).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from ._fake import FakeSinch

__all__ = ["fake_sinch", "fake_sinch_factory"]

FakeSinchFactory = Callable[..., Awaitable[FakeSinch]]


@pytest_asyncio.fixture
async def fake_sinch() -> AsyncIterator[FakeSinch]:
    """A started ``FakeSinch()`` with default credentials, closed after the test."""
    async with FakeSinch() as fake:
        yield fake


@pytest_asyncio.fixture
async def fake_sinch_factory() -> AsyncIterator[FakeSinchFactory]:
    """``await fake_sinch_factory(**kwargs)`` starts a configured ``FakeSinch``.

    Every fake created this way is closed after the test.
    """
    fakes: list[FakeSinch] = []

    async def make(*args: Any, **kwargs: Any) -> FakeSinch:
        fake = FakeSinch(*args, **kwargs)
        await fake.start()
        fakes.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in reversed(fakes):
            await fake.close()
