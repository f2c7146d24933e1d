"""RedisNonceStore: callback replay protection shared by every web worker, on a real
redis-server (``SET NX EXAT``; ``DEL`` to release; Redis down -> the webhook app answers 503)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from sinch_async._callbacks import CallbackSignatureError, CallbackVerifier, NonceStore
from sinch_async.redis._nonces import RedisNonceStore
from tests.support.net import free_port
from tests.support.webhooks import BODY, SECRET, serve, signed

redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")


def test_it_is_a_nonce_store(redis_client: Any) -> None:
    store: NonceStore = RedisNonceStore(redis_client)
    assert "sinch:nonce:" in repr(store)


async def test_add_is_set_nx_exat_and_discard_is_del(redis_client: Any) -> None:
    store = RedisNonceStore(redis_client, prefix="t:")
    expires_at = math.floor(time.time()) + 100.25
    assert await store.add("n1", expires_at) is True
    assert await store.add("n1", expires_at) is False  # a replay
    assert await redis_client.get("t:n1") == b"1"
    assert await redis_client.expiretime("t:n1") == math.ceil(expires_at)
    await store.discard("n1")
    assert await redis_client.exists("t:n1") == 0
    assert await store.add("n1", expires_at) is True  # released: the retry gets in
    await store.discard("never-added")  # no error


@pytest.mark.realtime("redis clock: waits for the key's EXAT expiry")
async def test_expiry_is_honoured(redis_client: Any) -> None:
    store = RedisNonceStore(redis_client)
    expires_at = time.time() + 1.0
    assert await store.add("short", expires_at)
    assert not await store.add("short", expires_at)
    await asyncio.sleep(math.ceil(expires_at) - time.time() + 0.1)
    assert await store.add("short", time.time() + 100)  # expired: Redis forgot it
    # already expired when added: nothing to remember (the timestamp check refuses it)
    assert await store.add("past", time.time() - 5)
    assert await redis_client.exists("sinch:nonce:past") == 0
    with pytest.raises(ValueError):
        await store.add("nan", math.nan)


async def test_replay_refused_across_two_workers(redis_url: str, redis_client: Any) -> None:
    """Two verifiers (two web workers), each with its own connection, one Redis."""
    clients = [redis_asyncio.from_url(redis_url) for _ in range(2)]
    try:
        one, two = (CallbackVerifier(SECRET, nonce_store=RedisNonceStore(c)) for c in clients)
        headers = signed("shared", int(time.time()))
        assert await one.verify(BODY, headers) == "shared"
        with pytest.raises(CallbackSignatureError) as err:
            await two.verify(BODY, headers)
        assert err.value.reason == "replayed_nonce"
        with pytest.raises(CallbackSignatureError):
            await one.verify(BODY, headers)
        # worker one failed to handle it and released the nonce: Sinch's retry reaches two
        await one.release("shared")
        assert await two.verify(BODY, headers) == "shared"
        ttl = await redis_client.ttl("sinch:nonce:shared")
        assert one.tolerance - 5 <= ttl <= one.tolerance + 1  # timestamp + tolerance
    finally:
        for c in clients:
            await c.aclose()


async def test_replay_refused_by_the_other_webhook_app(redis_url: str, redis_client: Any) -> None:
    clients = [redis_asyncio.from_url(redis_url) for _ in range(2)]
    try:
        async with (
            serve(secret=SECRET, nonce_store=RedisNonceStore(clients[0])) as first,
            serve(secret=SECRET, nonce_store=RedisNonceStore(clients[1])) as second,
        ):
            headers = signed("via-app", int(time.time()))
            assert (await first.post(headers))[0] == 200
            status, (body, _) = await second.post(headers)
            assert (status, body["error"]) == (401, "replayed_nonce")
            assert len(first.events) == 1 and second.events == []
    finally:
        for c in clients:
            await c.aclose()


async def test_webhook_app_answers_503_when_redis_is_down() -> None:
    down = redis_asyncio.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=2)
    try:
        async with serve(secret=SECRET, nonce_store=RedisNonceStore(down)) as app:
            status, (body, _) = await app.post(signed("down", int(time.time())))
            assert (status, body["error"]) == (503, "nonce_store_unavailable")
            assert app.events == []
    finally:
        await down.aclose()
