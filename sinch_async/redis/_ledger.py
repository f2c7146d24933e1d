"""A campaign ledger in Redis: many workers share one campaign, each claiming its requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import SinchConfigError
from .._ledger import Claim, ClaimStatus, LedgerError, LedgerRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLedger"]

log = logging.getLogger("sinch_async")

R = TypeVar("R")

_STATUS: dict[str, ClaimStatus] = {
    "new": "new",
    "in_doubt": "in_doubt",
    "done": "done",
    "elsewhere": "elsewhere",
}
# A record is stored as one state letter and its JSON: i(ntent), o(k), u(nknown), f(ailed).
_LETTER = {"intent": "i", "ok": "o", "unknown": "u", "failed": "f"}

# KEYS: records hash, claim key. ARGV: index, token, lease ms, retry_failed (0/1), intent.
# {"done", record} | {"elsewhere"} | {"in_doubt", record} | {"new"}
_BEGIN = """
local rec = redis.call('HGET', KEYS[1], ARGV[1])
local s = rec and string.sub(rec, 1, 1)
if s == 'o' or (s == 'f' and ARGV[4] == '0') then
  return {'done', rec}
end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return {'elsewhere'}
end
if rec and s ~= 'f' then
  return {'in_doubt', rec}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
return {'new'}
"""

# KEYS: records hash, claim key. ARGV: index, token, record.
# Writes the outcome (never over an ok one) and releases the claim if still held.
# 1: the claim was held; 0: it had expired (another worker may have taken the request).
_FINISH = """
local held = redis.call('GET', KEYS[2]) == ARGV[2]
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not (rec and string.sub(rec, 1, 1) == 'o') then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
if held then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""

# KEYS: claim keys. ARGV: token, lease ms, 1 to renew / 0 to release.
_RENEW = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    if ARGV[3] == '1' then
      redis.call('PEXPIRE', key, ARGV[2])
    else
      redis.call('DEL', key)
    end
    n = n + 1
  end
end
return n
"""


class RedisLedger:
    """A :class:`~sinch_async._ledger.Ledger` in Redis, shared by many workers.

    Per campaign: a hash ``{prefix}:{{campaign}}:records`` (index -> record) and one claim
    key per request being sent, ``{prefix}:{{campaign}}:claim:{index}`` (``SET NX PX``,
    holding this worker's token; all keys of a campaign share a cluster hash slot).
    :meth:`begin` is one Lua script: a final outcome is ``done``; otherwise the claim is
    taken (or ``elsewhere`` if another worker holds it) and the intent recorded. The
    claims a worker holds are renewed every ``lease / 3`` seconds while it runs; a killed
    worker's claims expire after ``lease`` seconds and the next worker to reach them
    finds them in doubt (intent without outcome) and looks them up before sending.

    Fails closed: a Redis error, or no answer within ``timeout`` seconds, raises
    :class:`LedgerError` (``send_many`` then sends nothing more and stops).

    ``lease`` must comfortably exceed the longest send (retries and reconciliation
    included): a worker stalled longer than its lease may see its request taken over.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "sinch:ledger",
        lease: float = 30.0,
        timeout: float = 5.0,
        worker: str | None = None,
    ) -> None:
        if not lease > 0 or not timeout > 0:
            raise SinchConfigError("lease and timeout must be positive seconds")
        self._redis = redis
        self._prefix = prefix
        self.lease = float(lease)
        self._lease_ms = max(1, int(lease * 1000))
        self._timeout = float(timeout)
        self.token = worker or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._begin = redis.register_script(_BEGIN)
        self._finish = redis.register_script(_FINISH)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, set[int]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._renew_error: BaseException | None = None

    def _records_key(self, campaign: str) -> str:
        return f"{self._prefix}:{{{campaign}}}:records"

    def _claim_key(self, campaign: str, index: int) -> str:
        return f"{self._prefix}:{{{campaign}}}:claim:{index}"

    async def _call(self, what: str, call: Awaitable[R]) -> R:
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except TimeoutError as exc:
            raise LedgerError(f"redis ledger: no answer to {what} in {self._timeout}s") from exc
        except (OSError, ConnectionError) as exc:
            raise LedgerError(f"redis ledger unavailable ({what}): {exc}") from exc
        except Exception as exc:
            if _is_redis_error(exc):
                raise LedgerError(f"redis ledger unavailable ({what}): {exc}") from exc
            raise

    async def begin(
        self,
        campaign: str,
        index: int,
        reference: str,
        digest: str,
        *,
        retry_failed: bool = False,
    ) -> Claim:
        if self._renew_error is not None:
            raise LedgerError(f"redis ledger: claims not renewed: {self._renew_error}")
        intent = LedgerRecord(
            index=index, reference=reference, state="intent", digest=digest, intent_at=time.time()
        )
        answer: Any = await self._call(
            "begin",
            self._begin(
                keys=[self._records_key(campaign), self._claim_key(campaign, index)],
                args=[
                    index,
                    self.token,
                    self._lease_ms,
                    "1" if retry_failed else "0",
                    "i" + intent.to_json(),
                ],
            ),
        )
        status = _STATUS[_text(answer[0])]
        if status in ("new", "in_doubt"):
            self._held.setdefault(campaign, set()).add(index)
            self._start_renewer()
        if status in ("done", "in_doubt"):
            return Claim(status, LedgerRecord.from_json(_text(answer[1])[1:]))
        return Claim(status)

    async def finish(self, campaign: str, record: LedgerRecord) -> None:
        held = self._held.get(campaign, set())
        try:
            still_held = await self._call(
                "finish",
                self._finish(
                    keys=[self._records_key(campaign), self._claim_key(campaign, record.index)],
                    args=[record.index, self.token, _LETTER[record.state] + record.to_json()],
                ),
            )
        finally:
            held.discard(record.index)
        if not still_held:
            log.warning(
                "redis ledger: claim of %s:%d had expired before its outcome was recorded "
                "(a send longer than the %.0fs lease?)",
                campaign,
                record.index,
                self.lease,
                extra={"sinch_event": "ledger_claim_expired"},
            )

    async def records(self, campaign: str) -> list[LedgerRecord]:
        raw: Any = await self._call("records", self._redis.hgetall(self._records_key(campaign)))
        records = [LedgerRecord.from_json(_text(v)[1:]) for v in raw.values()]
        return sorted(records, key=lambda r: r.index)

    def _start_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_loop(), name="sinch-ledger-renew")

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._renew_all(renew=True)
            except LedgerError as exc:
                log.error("redis ledger: cannot renew claims: %s", exc)
                self._renew_error = exc

    async def _renew_all(self, *, renew: bool) -> None:
        for campaign, indices in list(self._held.items()):
            if not indices:
                continue
            keys = [self._claim_key(campaign, i) for i in list(indices)]
            await self._call(
                "renew" if renew else "release",
                self._renew(keys=keys, args=[self.token, self._lease_ms, "1" if renew else "0"]),
            )

    async def aclose(self) -> None:
        """Stop renewing and release the claims still held (their intents stay: in doubt,
        looked up by the next run). Does not close the Redis client (it is yours)."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        try:
            await self._renew_all(renew=False)
        except LedgerError as exc:  # they expire after the lease anyway
            log.warning("redis ledger: could not release claims: %s", exc)
        self._held.clear()

    async def __aenter__(self) -> RedisLedger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_redis_error(exc: BaseException) -> bool:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is needed to have a client at all
        return False
    return isinstance(exc, RedisError)
