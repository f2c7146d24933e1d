"""``sinch_async.redis`` against a real redis-server (every test here is marked ``redis`` by
the root conftest).

Fixture of this area: ``other``, a second connection to the same server (another "process").
Root fixtures used here: ``redis_url``, ``redis_client``, ``fake``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture
async def other(redis_url: str, redis_client: Any) -> AsyncIterator[Any]:
    """A second connection to the same server (another "process")."""
    redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")
    client = redis_asyncio.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()
