"""A sync checkpoint in Redis, held under a renewed, fenced lease (one sync per key)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import CheckpointInUseError, CheckpointLeaseLost, SinchValidationError
from .._validation import check_redis_key, check_seconds

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .._clock import Clock

__all__ = ["RedisCheckpoint"]

log = logging.getLogger("sinch_async")

R = TypeVar("R")

#: The shortest lease (seconds): it is renewed every third of it.
MIN_LEASE = 0.1

# KEYS: lease, fence. ARGV: owner, lease ms. The fencing token, or 0 if the lease is held.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

# KEYS: lease, fence. ARGV: owner, lease ms, fencing token.
# 1: renewed. 0: another sync holds the checkpoint now (or has held it meanwhile).
# A lease that expired while nobody took it over (the fence did not move) is taken again.
_RENEW = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not owner and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS: state, fence, lease. ARGV: fencing token, state, owner, lease ms.
# Writes only while the caller's fencing token is the current one (and renews its lease).
_SAVE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
local owner = redis.call('GET', KEYS[3])
if owner == ARGV[3] then
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
elseif not owner then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
end
return 1
"""

# KEYS: lease. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCheckpoint:
    """A [`CheckpointStore`][] in Redis that one sync at a time may hold.

    The state (the same JSON a file checkpoint holds) is the string at ``key``. A sync
    takes a **lease** on it first: ``key + ":lease"`` is set to a random owner token for
    ``lease`` seconds (``SET NX PX``), and ``key + ":fence"`` is incremented, giving the
    holder a **fencing token** (both in one script). A second sync gets
    [`CheckpointInUseError`][] at once, or, with ``wait=`` seconds, polls for the lease
    that long first.

    While the sync runs, the lease is renewed in the background every ``lease / 3``
    seconds (only by its owner); if the holder dies (even ``kill -9``) it expires after at
    most ``lease`` seconds and another sync can take over from the last saved state. Every
    save is one script that writes only if the caller's fencing token is still the
    current one, so a stalled former holder's late save fails with
    [`CheckpointLeaseLost`][] instead of overwriting the newer state. The sync raises
    [`CheckpointLeaseLost`][] (and hands out nothing more) as soon as it knows the lease
    is gone: a renewal refused, a save fenced, or no renewal confirmed within ``lease``
    seconds. If Redis cannot be reached, taking, confirming or writing the lease fails the
    same way (``reason="unavailable"``): the sync fails closed.

    The three keys must live on one Redis node: in a Redis Cluster give ``key`` a hash tag
    (``"{sinch}:inbounds"``). Bound the client's own waits with ``socket_timeout``; each
    call here is also bounded by ``lease`` seconds.

    The polls for the lease (``wait``), the renewal interval and "certainly still held"
    are timed, and waited, on ``clock`` (a ``sinch_async`` clock: ``monotonic()`` and
    ``sleep()``; default ``time.monotonic`` / ``asyncio.sleep``). With a ``FakeClock``
    use ``auto_advance = False``: the renewer sleeps in a loop, and each auto-advanced
    sleep would move virtual time on. Redis's own lease TTL stays on Redis's clock.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        *,
        lease: float = 30.0,
        wait: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.redis = redis
        self.key = check_redis_key(key, config=False)
        self.lease = check_seconds(lease, "lease", minimum=MIN_LEASE)
        self.wait = check_seconds(wait, "wait", optional=True)
        self.lease_key = f"{key}:lease"
        self.fence_key = f"{key}:fence"
        self._lease_ms = max(1, round(self.lease * 1000))
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._renew_script = redis.register_script(_RENEW)
        self._save_script = redis.register_script(_SAVE)
        self._release_script = redis.register_script(_RELEASE)
        self._owner: str | None = None
        self._fence: int | None = None
        self._valid_until = 0.0  # monotonic: the lease is certainly ours until then
        self._lost: CheckpointLeaseLost | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._monotonic: Callable[[], float] = time.monotonic if clock is None else clock.monotonic
        self._sleep: Callable[[float], Awaitable[None]] = (
            asyncio.sleep if clock is None else clock.sleep
        )

    def __repr__(self) -> str:
        return f"RedisCheckpoint(key={self.key!r}, lease={self.lease:g}, fence={self._fence})"

    @property
    def fence(self) -> int | None:
        """The fencing token of the lease this store holds (None when not held)."""
        return self._fence

    async def _call(self, what: str, call: Awaitable[R]) -> R:
        """Run one Redis call, bounded by the lease; Redis errors become
        [`CheckpointLeaseLost`][] (``"unavailable"``)."""
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(self.lease):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            raise CheckpointLeaseLost(
                f"checkpoint {self.key!r}: Redis unavailable while trying to {what}: {exc!r}",
                reason="unavailable",
            ) from exc

    # --- the lease ------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Take the lease ([`CheckpointInUseError`][] if another sync holds it after
        ``wait`` seconds) and start renewing it in the background."""
        if self._owner is not None:
            return
        owner = secrets.token_hex(16)
        deadline = self._monotonic() + (self.wait or 0.0)
        poll = min(0.25, self.lease / 10)
        while True:
            sent = self._monotonic()
            fence = int(
                await self._call(
                    "take the lease",
                    self._acquire_script(
                        keys=[self.lease_key, self.fence_key], args=[owner, self._lease_ms]
                    ),
                )
            )
            if fence:
                break
            left = deadline - self._monotonic()
            if left <= 0:
                ttl = await self._call("read the lease", self.redis.pttl(self.lease_key))
                raise CheckpointInUseError(
                    f"checkpoint {self.key!r} is in use by another sync (its lease runs "
                    f"{max(0, int(ttl)) / 1000:.1f}s more unless renewed)"
                )
            await self._sleep(min(poll, left))
        self._owner, self._fence = owner, fence
        self._valid_until = sent + self.lease
        self._lost = None
        self._renewer = asyncio.create_task(self._renew_loop(), name=f"lease {self.key}")
        log.debug("checkpoint %s: lease taken (fence %d)", self.key, fence)

    def _lose(self, exc: CheckpointLeaseLost) -> CheckpointLeaseLost:
        if self._lost is None:
            self._lost = exc
            log.warning("%s", exc)
        return self._lost

    async def _renew(self) -> None:
        """Renew the lease now; [`CheckpointLeaseLost`][] if it is gone."""
        if self._lost is not None:
            raise self._lost
        if self._owner is None or self._fence is None:
            raise CheckpointLeaseLost(
                f"checkpoint {self.key!r}: the lease is not held", reason="expired"
            )
        sent = self._monotonic()
        try:
            renewed = await self._call(
                "renew the lease",
                self._renew_script(
                    keys=[self.lease_key, self.fence_key],
                    args=[self._owner, self._lease_ms, self._fence],
                ),
            )
        except CheckpointLeaseLost as exc:
            if self._monotonic() >= self._valid_until:
                raise self._lose(exc) from exc.__cause__
            raise  # not lost yet: the caller may retry while the lease lasts
        if not renewed:
            raise self._lose(
                CheckpointLeaseLost(
                    f"checkpoint {self.key!r}: lease lost, another sync took the "
                    f"checkpoint over (fence {self._fence} is stale)",
                    reason="expired",
                )
            )
        self._valid_until = sent + self.lease

    async def _renew_loop(self) -> None:
        interval = self.lease / 3
        me = asyncio.current_task()
        while self._lost is None:
            await self._sleep(max(0.0, min(interval, self._valid_until - self._monotonic())))
            try:
                await self._renew()
            except CheckpointLeaseLost:
                if self._lost is not None:
                    return
                # Redis unreachable, the lease not over yet: try again soon.
                if me is None or not me.cancelling():
                    await self._sleep(min(interval, 0.1))
            if me is not None and me.cancelling():
                # release() cancelled us while a Redis call timed out (on 3.11 the
                # timeout can swallow that cancellation): stop anyway.
                return

    async def ensure_held(self) -> None:
        """Raise [`CheckpointLeaseLost`][] unless the lease is still certainly held.

        Costs nothing while the last renewal is recent; past ``lease`` seconds without one
        (an event loop stalled longer than the lease) it renews first."""
        if self._lost is not None:
            raise self._lost
        if self._monotonic() < self._valid_until:
            return
        try:
            await self._renew()
        except CheckpointLeaseLost as exc:
            raise self._lose(exc) from exc.__cause__

    async def release(self) -> None:
        """Stop renewing and delete the lease if this store still owns it."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            while not renewer.done():
                renewer.cancel()
                await asyncio.wait([renewer], timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError):
                renewer.result()
        owner, self._owner, self._fence = self._owner, None, None
        if owner is None:
            return
        try:
            await self._call(
                "release the lease", self._release_script(keys=[self.lease_key], args=[owner])
            )
        except CheckpointLeaseLost as exc:
            log.warning("%s (the lease expires on its own)", exc)

    # --- the state ------------------------------------------------------------------------

    async def load(self) -> dict[str, Any] | None:
        raw = await self._call("load the checkpoint", self.redis.get(self.key))
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError as exc:
            raise SinchValidationError(
                "checkpoint", f"Redis key {self.key!r} holds no valid checkpoint"
            ) from exc
        if not isinstance(state, dict):
            raise SinchValidationError(
                "checkpoint", f"Redis key {self.key!r} holds no valid checkpoint"
            )
        return state

    async def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` if this store's fencing token is still the current one
        ([`CheckpointLeaseLost`][] otherwise; the stored state is then left as it is)."""
        if self._lost is not None:
            raise self._lost
        if self._owner is None or self._fence is None:
            raise CheckpointLeaseLost(
                f"checkpoint {self.key!r}: save without the lease (acquire() first)",
                reason="expired",
            )
        body = json.dumps(state, sort_keys=True, separators=(",", ":"))
        sent = self._monotonic()
        try:
            written = await self._call(
                "save the checkpoint",
                self._save_script(
                    keys=[self.key, self.fence_key, self.lease_key],
                    args=[self._fence, body, self._owner, self._lease_ms],
                ),
            )
        except CheckpointLeaseLost as exc:
            # The save may or may not have been applied: stop (the next holder resumes from
            # this state or the one before it: at least once either way).
            raise self._lose(exc) from exc.__cause__
        if not written:
            raise self._lose(
                CheckpointLeaseLost(
                    f"checkpoint {self.key!r}: save refused, another sync took the "
                    f"checkpoint over (fence {self._fence} is stale); newer state kept",
                    reason="fenced",
                )
            )
        self._valid_until = max(self._valid_until, sent + self.lease)
