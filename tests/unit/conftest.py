"""SDK parts without a server: rules, codecs, wire format, config table, package shape.

Fixtures of this area: ``offline_client`` (a client aimed at the discard port: a check that
failed to stop a request shows up as a connection error, not a ``SinchValidationError``),
``eu_client`` (region eu, for exact requests through aioresponses) and ``mocked`` (an active
``aioresponses``). Root fixtures used here: ``fake`` (a throwaway FakeSinch in a few tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses

from sinch_async import SinchClient


@pytest.fixture
async def offline_client() -> AsyncIterator[SinchClient]:
    # Port 9 (discard) on loopback: if validation failed to stop a request, the test
    # would see a connection error instead of a SinchValidationError.
    async with SinchClient("plan", "secret-token", base_url="http://127.0.0.1:9") as c:
        yield c


@pytest.fixture
async def eu_client() -> AsyncIterator[SinchClient]:
    """Service plan ``plan-1`` in region eu, token ``tok-very-secret-123``."""
    async with SinchClient("plan-1", "tok-very-secret-123", region="eu") as c:
        yield c


@pytest.fixture
def mocked() -> Iterator[Any]:
    """An active ``aioresponses``: requests are recorded, none leaves the process."""
    with aioresponses() as m:
        yield m
