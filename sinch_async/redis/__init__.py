"""Redis-backed shared state for running sinch-async in several processes.

``pip install 'sinch-async[redis]'``. Every class takes a ``redis.asyncio.Redis`` client:

* [`RedisRateLimiter`][] / [`RedisGroupSizes`][]: one messages-per-second budget,
  one 429 pause and one table of group sizes for every process sending for a plan
  ([`default_limiter_key`][] names a plan's budget);
* [`RedisCheckpoint`][]: a sync checkpoint held under a lease with a fencing token;
* [`RedisNonceStore`][]: webhook replay protection shared by every web worker;
* [`RedisLedger`][]: a campaign ledger that many workers claim work from.

When Redis is unreachable they fail closed with a typed error: nothing is sent over the
limit, no item is handed out without a checkpoint, no callback is accepted unchecked.
"""

from ._checkpoint import RedisCheckpoint
from ._ledger import RedisLedger
from ._limiter import RedisGroupSizes, RedisRateLimiter, default_limiter_key
from ._nonces import RedisNonceStore

__all__ = [
    "RedisCheckpoint",
    "RedisGroupSizes",
    "RedisLedger",
    "RedisNonceStore",
    "RedisRateLimiter",
    "default_limiter_key",
]
