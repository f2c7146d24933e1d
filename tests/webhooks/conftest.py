"""Callback signature verification, nonce stores, the webhook core and its aiohttp and ASGI
adapters (mirrors ``sinch_async/webhooks.py``, ``_webhooks.py``, ``_asgi.py`` and
``_callbacks.py``). Shared helpers: ``tests.support.webhooks`` (also used by
``tests/redis/test_redis_nonces.py``).

Fixture of this area: ``webhook_adapter``, the name of an adapter of the webhook core
(``core``, ``aiohttp``, ``asgi``): a test using it runs once per adapter, serving its
receiver with ``tests.support.webhooks.serve_receiver(webhook_adapter, receiver)``.
"""

from __future__ import annotations

import pytest

from tests.support.webhooks import ADAPTERS


@pytest.fixture(params=ADAPTERS)
def webhook_adapter(request: pytest.FixtureRequest) -> str:
    """One adapter of the webhook core, by name (the test runs once per adapter)."""
    name: str = request.param
    return name
