"""Callback signature verification, nonce stores and the aiohttp webhook app (mirrors
``sinch_async/webhooks.py`` and ``_callbacks.py``). Shared helpers: ``tests.support.webhooks``
(also used by ``tests/redis/test_redis_nonces.py``). No fixtures of its own yet.
"""
