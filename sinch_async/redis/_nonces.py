"""A callback nonce store in Redis, shared by every process receiving Sinch's callbacks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .._validation import check_expiry

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisNonceStore"]


class RedisNonceStore:
    """A [`NonceStore`][] in Redis: a replay is refused by
    whichever web worker it reaches.

    Each accepted nonce is the key ``prefix + nonce``, set with
    ``SET key 1 NX EXAT ceil(expires_at)``: ``add`` is True when the key was set (a new
    nonce), False when it exists (a replay). Redis expires it at ``expires_at`` (the
    signature timestamp + the verifier's tolerance), so the store needs no cleanup and
    never forgets an unexpired nonce (give the keys no ``maxmemory`` eviction: use
    ``noeviction`` or a ``volatile-*`` policy that other keys feed). ``discard`` is ``DEL``.

    Redis errors propagate: the webhook app answers 503 (``nonce_store_unavailable``),
    which Sinch retries, rather than accept a callback it cannot check for replay.
    """

    def __init__(self, redis: Redis, prefix: str = "sinch:nonce:") -> None:
        self.redis = redis
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"RedisNonceStore(prefix={self.prefix!r})"

    async def add(self, nonce: str, expires_at: float) -> bool:
        # EXAT must be > 0; a time in the past sets a key that is already expired.
        at = max(1, math.ceil(check_expiry(expires_at)))
        created = await self.redis.set(self.prefix + nonce, 1, nx=True, exat=at)
        return bool(created)

    async def discard(self, nonce: str) -> None:
        await self.redis.delete(self.prefix + nonce)
