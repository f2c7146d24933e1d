"""A messages-per-second budget and 429 pause shared by every process, on Redis.

One Lua script per round trip, clocked by the Redis server's ``TIME`` (never a host
clock), keeps a virtual schedule (GCRA): the hash at ``key`` holds ``tat`` (when the
bucket is full again), ``until`` (end of the shared 429 pause) and ``shift`` (how far
pauses have pushed the schedule back), all in microseconds of server time.

* ``acquire`` reserves a request's turn at once (``go = max(now, tat - (burst - cost) /
  rate)``, then ``tat = max(tat, go) + cost / rate``) and returns the wait; the caller
  sleeps that long. Turns are handed out in the order requests reach Redis, so a
  1,000-recipient batch is never starved by small ones: it waits its turn, and the ones
  behind it wait for it. A reserved turn is spent when it comes, whether or not the
  request is written then, so a turn must only be reserved by a request that nothing
  else holds back: the engine asks for it once it holds its concurrency slot (and the
  Authorization header), right before writing. Turns reserved by requests still queued
  for a slot would come and go while a stalled server holds the slots, and those
  requests would then leave together, a burst over the rate and its burst allowance.
* ``pause`` starts (or extends) the shared pause and pushes every pending turn back by
  the time it added; a request that slept towards its turn asks once more on waking
  (``wait``), and goes only when its (shifted) turn has come and no pause is in effect.
* The key expires once the schedule and pause are over (an idle bucket is a full one).

Any Redis error fails closed with [`LimiterUnavailableError`][] before the
request is sent: nothing is ever sent unlimited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .._clock import Clock
from .._errors import LimiterUnavailableError
from .._limits import SharedGroupSizes, WaitCounts
from .._validation import check_api_name, check_owner_id, check_rate, check_redis_key, check_seconds

__all__ = ["RedisGroupSizes", "RedisRateLimiter", "default_limiter_key"]

Sleep = Callable[[float], Awaitable[None]]

#: Milliseconds a key outlives its schedule and pause.
IDLE_MS = 10_000
_KEY_PREFIX = "sinch-async:mps:"


def default_limiter_key(owner_id: str, api: str = "sms") -> str:
    """The default Redis key of one API's budget for a service plan (or project).

    Every process sending for ``owner_id`` (the service plan id, or the project id of a
    client that sends SMS with project keys) must use the same key: the SMS budget is
    ``"sinch-async:mps:<owner_id>"`` (the key ``sinch-async send-bulk --redis`` has always
    used), another API's ``"sinch-async:mps:<api>:<owner_id>"``, so their 429 pauses never
    hold each other.
    """
    check_owner_id(owner_id)
    check_api_name(api)
    return _KEY_PREFIX + owner_id if api == "sms" else f"{_KEY_PREFIX}{api}:{owner_id}"


_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local key = KEYS[1]
local op = ARGV[1]
local v = redis.call('HMGET', key, 'tat', 'until', 'shift')
local tat = tonumber(v[1]) or 0
local pause_until = tonumber(v[2]) or 0
local shift = tonumber(v[3]) or 0
local idle = tonumber(ARGV[#ARGV])
local function save()
  redis.call('HSET', key, 'tat', string.format('%.3f', tat),
    'until', string.format('%.0f', pause_until), 'shift', string.format('%.3f', shift))
  local left = math.max(tat, pause_until) - now
  redis.call('PEXPIRE', key, math.max(0, math.ceil(left / 1000)) + idle)
end
if op == 'pause' then
  local new_until = now + tonumber(ARGV[2])
  if new_until <= pause_until then
    return {0, 0, 0}
  end
  local delta = new_until - math.max(now, pause_until)
  tat = math.max(tat, now) + delta
  shift = shift + delta
  pause_until = new_until
  save()
  return {math.ceil(new_until - now), 0, 0}
end
if op == 'wait' then
  local at = pause_until
  local go = tonumber(ARGV[2])
  if go > 0 then
    at = math.max(at, go + math.max(0, shift - tonumber(ARGV[3])))
  end
  return {math.max(0, math.ceil(at - now)), 0, 0}
end
-- acquire: ARGV[2] rate (messages/s), ARGV[3] burst (messages), ARGV[4] cost
if pause_until > now then
  return {math.ceil(pause_until - now), -1, 0}
end
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local go = math.max(now, tat - (burst - math.min(cost, burst)) * 1000000 / rate)
tat = math.max(tat, go) + cost * 1000000 / rate
save()
return {math.ceil(go - now), string.format('%.0f', go), string.format('%.3f', shift)}
"""


class _Script:
    """The limiter script on one Redis client; every failure is LimiterUnavailableError."""

    def __init__(self, redis: Redis, key: str, timeout: float | None) -> None:
        self.key = key
        self.timeout = timeout
        self._script = redis.register_script(_SCRIPT)

    async def __call__(self, *args: Any) -> list[Any]:
        try:
            async with asyncio.timeout(self.timeout):
                reply: list[Any] = await self._script(keys=[self.key], args=[*args, IDLE_MS])
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimiterUnavailableError(
                f"shared rate limiter {self.key!r} unavailable, request not sent: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return reply


class RedisRateLimiter:
    """The plan's messages-per-second budget shared by every process using ``key``.

    Pass it as ``SinchClient(messages_per_second=RedisRateLimiter(redis, "sinch:plan-1",
    400))`` in every worker (same key, same rate). It implements the
    [`RateLimiter`][] protocol (weighted: a batch to N recipients costs N)
    and `SharedPause`, so a 429's ``Retry-After`` received by one
    process holds every process's requests, GETs included, until it has passed.

    Fair by arrival at Redis (a big batch reserves its turn and is not starved by small
    ones); the long-run rate is exactly ``messages_per_second`` across all processes;
    ``burst`` (default half a second of budget, like the in-process limiter) is how much
    may go out at once, leaving headroom for requests that reach Sinch out of order.
    Time is the Redis server's clock, so host clocks may disagree. The key expires when
    idle.

    Each send costs one script call (two when it had to wait: the second, on waking,
    checks for a pause that began meanwhile); a request that costs nothing costs one.
    The waits of this process's requests are counted in [`waits`][] (``client.limits.stats``).
    The budget belongs to one API ([`default_limiter_key`][] names it): only that API's
    requests wait for it, and only its 429s pause it. Waits pass through ``clock`` (by
    default the client's: ``SinchClient(clock=...)``).
    When Redis is down, errors or does not answer within ``timeout`` seconds (whatever
    the Redis client's own retries), the request fails with
    [`LimiterUnavailableError`][] before it is sent (never unlimited).
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        messages_per_second: float,
        *,
        burst: float | None = None,
        timeout: float | None = 1.0,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.rate, self.burst = check_rate(messages_per_second, burst)
        self.key = check_redis_key(key)
        timeout = check_seconds(timeout, "timeout", positive=True, optional=True, config=True)
        self._run = _Script(redis, key, timeout)
        self._own_sleep = sleep is not None or clock is not None
        self._sleep: Sleep = (
            sleep if sleep is not None else clock.sleep if clock is not None else asyncio.sleep
        )
        #: The waits of this process's requests (their sleeps, added up), read by
        #: ``client.limits.stats``.
        self.waits = WaitCounts()

    def adopt_clock(self, clock: Clock) -> None:
        """Wait on the client's clock (``SinchClient(clock=...)``) unless built with one."""
        if not self._own_sleep:
            self._sleep = clock.sleep

    async def acquire(self, cost: int) -> None:
        """Reserve ``cost`` messages in the shared schedule and wait for their turn (and
        out any shared pause)."""
        if cost <= 0:
            await self.wait_unpaused()
            return
        paused = 0.0
        while True:
            wait_us, go, shift = await self._run("acquire", repr(self.rate), repr(self.burst), cost)
            if int(go) >= 0:
                break
            paused += int(wait_us) / 1e6
            await self._sleep(int(wait_us) / 1e6)  # paused: nothing reserved yet
        if paused:
            self.waits.add(paused, paused=True)
        wait = int(wait_us)
        waited = 0.0
        while wait > 0:
            waited += wait / 1e6
            await self._sleep(wait / 1e6)
            reply = await self._run("wait", go, shift)
            wait = int(reply[0])
        if waited:  # its turn (pushed back by any pause published meanwhile)
            self.waits.add(waited, paused=False)

    async def pause(self, seconds: float) -> None:
        """Hold every process's requests for ``seconds`` from now (a 429's Retry-After)."""
        await self._run("pause", max(0, round(seconds * 1e6)))

    async def paused_for(self) -> float:
        """Seconds left of the shared pause (0 when there is none)."""
        reply = await self._run("wait", 0, 0)
        return int(reply[0]) / 1e6

    async def wait_unpaused(self) -> None:
        """Return once no shared pause is in effect."""
        waited = 0.0
        while (left := await self.paused_for()) > 0:
            waited += left
            await self._sleep(left)
        if waited:
            self.waits.add(waited, paused=True)

    def __repr__(self) -> str:
        return f"<RedisRateLimiter key={self.key!r} {self.rate:g}/s burst={self.burst:g}>"


class RedisGroupSizes(SharedGroupSizes):
    """Group sizes shared between processes in the Redis hash ``key``.

    ``SinchClient(group_sizes=RedisGroupSizes(redis, "sinch:group-sizes"))``: every size
    a group response shows is written to the hash, and a send to a group this process has
    not seen is costed by the size another process saw (one ``HMGET`` before the budget is
    taken; cached locally after). The hash expires ``ttl`` seconds after its last write.
    When Redis fails (or takes over ``timeout`` seconds) while costing a send, it fails with
    [`LimiterUnavailableError`][] (not sent); a failed write is logged.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        *,
        ttl: float = 86_400.0,
        miss_ttl: float = 5.0,
        timeout: float | None = 1.0,
    ) -> None:
        super().__init__(miss_ttl=miss_ttl)
        self._redis = redis
        self.key = check_redis_key(key)
        self.ttl = check_seconds(ttl, "ttl", positive=True, config=True)
        self.timeout = check_seconds(timeout, "timeout", positive=True, optional=True, config=True)

    async def _fetch(self, group_ids: tuple[str, ...]) -> Mapping[str, int]:
        try:
            async with asyncio.timeout(self.timeout):
                values: Iterable[Any] = await self._redis.hmget(self.key, list(group_ids))
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimiterUnavailableError(
                f"shared group sizes {self.key!r} unavailable, request not sent: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return {g: int(v) for g, v in zip(group_ids, values, strict=True) if v is not None}

    async def _store(self, group_id: str, size: int | None) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            if size is None:
                pipe.hdel(self.key, group_id)
            else:
                pipe.hset(self.key, group_id, size)
            pipe.expire(self.key, max(1, round(self.ttl)))
            async with asyncio.timeout(self.timeout):
                await pipe.execute()

    def __repr__(self) -> str:
        return f"<RedisGroupSizes key={self.key!r} cached={len(self)}>"
