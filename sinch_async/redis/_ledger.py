"""A campaign ledger in Redis: many workers share one campaign, each claiming its requests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from .._clock import Clock
from .._ledger import (
    LEDGER_FORMAT,
    STATUS_ROWS,
    CampaignState,
    CampaignStatus,
    Claim,
    ClaimLostError,
    ClaimStatus,
    LedgerError,
    LedgerFormatError,
    LedgerRecord,
    LedgerState,
    StatusCounter,
    campaign_reference,
)
from .._validation import check_redis_key, check_seconds

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLedger"]

log = logging.getLogger("sinch_async")

R = TypeVar("R")

#: rows per record bucket: Redis keeps a hash of at most ``hash-max-listpack-entries``
#: (128 by default) fields whose values are at most ``hash-max-listpack-value`` (64)
#: bytes as a compact listpack
BUCKET: Final = 128
#: the longest value kept in a bucket (longer ones would turn it into a hashtable)
_MAX_VALUE: Final = 64
#: the length of a format-2 digest (`row_digest`)
_DIGEST: Final = 12
#: a reverse reference list longer than this moves to a list key of its own
_MAX_REFLIST: Final = 512
#: keys per pipeline round trip (records, expire) and per renewal script call
_CHUNK: Final = 512

_STATUS: dict[str, ClaimStatus] = {
    "new": "new",
    "in_doubt": "in_doubt",
    "done": "done",
    "elsewhere": "elsewhere",
}
# A record's state letter: i(ntent), o(k), u(nknown), f(ailed). Lower case: the value is
# letter + 12-character digest + tail; upper case: the letter alone, every other field in
# the err hash (a digest that is not 12 characters, a batch id too long for a bucket).
_LETTER: dict[LedgerState, str] = {"intent": "i", "ok": "o", "unknown": "u", "failed": "f"}
_STATE: dict[str, LedgerState] = {v: k for k, v in _LETTER.items()}

# Shared Lua: the reverse reference index. refs: reference -> "3,17,42" (indexes, comma
# joined), or "*N" when the list grew past _MAX_REFLIST characters and moved to the list
# key ARGV_SPILL .. N (N from meta "spills"; a reference many rows share stays O(1) per
# row). The spill keys are named from the campaign's prefix, so they share its slot.
_REFS_LUA = """
local function ref_link(meta, refs, spill, r, idx)
  local cur = redis.call('HGET', refs, r)
  if not cur then
    redis.call('HSET', refs, r, idx)
  elseif string.sub(cur, 1, 1) == '*' then
    redis.call('RPUSH', spill .. string.sub(cur, 2), idx)
  elseif #cur + #idx + 1 > @MAXLIST@ then
    local n = redis.call('HINCRBY', meta, 'spills', 1)
    local parts = {}
    for p in string.gmatch(cur, '[^,]+') do parts[#parts + 1] = p end
    parts[#parts + 1] = idx
    redis.call('RPUSH', spill .. n, unpack(parts))
    redis.call('HSET', refs, r, '*' .. n)
  else
    redis.call('HSET', refs, r, cur .. ',' .. idx)
  end
end
local function ref_unlink(refs, spill, r, idx)
  local cur = redis.call('HGET', refs, r)
  if not cur then return end
  if string.sub(cur, 1, 1) == '*' then
    redis.call('LREM', spill .. string.sub(cur, 2), 0, idx)
    return
  end
  local kept = {}
  for p in string.gmatch(cur, '[^,]+') do
    if p ~= idx then kept[#kept + 1] = p end
  end
  if #kept == 0 then
    redis.call('HDEL', refs, r)
  else
    redis.call('HSET', refs, r, table.concat(kept, ','))
  end
end
""".replace("@MAXLIST@", str(_MAX_REFLIST))

# KEYS: bucket, claim, meta, err, reference bucket, refs.
# ARGV: field (in both buckets), claim token, lease ms, retry_failed (0/1), intent value,
# intent err entry ('' for none), index, caller reference ('' for the default one), spill
# key prefix.
# {"done", value, err, ref} | {"elsewhere", claim pttl ms, claim token} |
# {"in_doubt", value, err, ref} | {"new"}
_BEGIN = (
    _REFS_LUA
    + """
local rec = redis.call('HGET', KEYS[1], ARGV[1])
local s = rec and string.lower(string.sub(rec, 1, 1))
local idx = ARGV[7]
if s == 'o' or (s == 'f' and ARGV[4] == '0') then
  return {'done', rec, redis.call('HGET', KEYS[4], idx) or '',
          redis.call('HGET', KEYS[5], ARGV[1]) or ''}
end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  return {'elsewhere', redis.call('PTTL', KEYS[2]), redis.call('GET', KEYS[2]) or ''}
end
if rec and s ~= 'f' then
  return {'in_doubt', rec, redis.call('HGET', KEYS[4], idx) or '',
          redis.call('HGET', KEYS[5], ARGV[1]) or ''}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[4], idx, ARGV[6])
elseif rec then
  redis.call('HDEL', KEYS[4], idx)
end
local new = ARGV[8]
if rec or new ~= '' then
  local old = redis.call('HGET', KEYS[5], ARGV[1])
  if new == '' then
    if old then
      redis.call('HDEL', KEYS[5], ARGV[1])
      ref_unlink(KEYS[6], ARGV[9], old, idx)
    end
  elseif old ~= new then
    if old then ref_unlink(KEYS[6], ARGV[9], old, idx) end
    redis.call('HSET', KEYS[5], ARGV[1], new)
    redis.call('HSETNX', KEYS[3], 'refs', '1')
    ref_link(KEYS[3], KEYS[6], ARGV[9], new, idx)
  end
end
local hw = tonumber(redis.call('HGET', KEYS[3], 'hw'))
if not hw then
  redis.call('HSETNX', KEYS[3], 'v', '@FORMAT@')
end
if not hw or tonumber(idx) > hw then
  redis.call('HSET', KEYS[3], 'hw', idx)
end
return {'new'}
""".replace("@FORMAT@", str(LEDGER_FORMAT))
)

# KEYS: claim key. ARGV: claim token, safety margin ms, lease ms.
# 1: held (extended to the full lease); 0: not held (expired, taken); -1: held, but too
# close to its expiry to start a send.
_CHECK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if redis.call('PTTL', KEYS[1]) <= tonumber(ARGV[2]) then
  return -1
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS: bucket, claim, err, meta. ARGV: field, claim token ('' if not held here), value,
# err entry ('' for none), index.
# Writes the outcome (never over an ok one; and, when another worker holds the row now,
# only an ok one) and releases the claim if still held.
# 1: the claim was held; 0: it had expired (outcome written); 2: another worker holds the
# row (outcome written only if ok).
_FINISH = """
local cur = redis.call('GET', KEYS[2])
local held = cur and cur == ARGV[2]
local rec = redis.call('HGET', KEYS[1], ARGV[1])
local answer = 0
if held then
  answer = 1
elseif cur then
  answer = 2
end
local mine = string.lower(string.sub(ARGV[3], 1, 1))
if not (rec and string.lower(string.sub(rec, 1, 1)) == 'o')
   and (answer ~= 2 or mine == 'o') then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[5], ARGV[4])
  else
    redis.call('HDEL', KEYS[3], ARGV[5])
  end
  if not rec then
    local hw = tonumber(redis.call('HGET', KEYS[4], 'hw'))
    if not hw or tonumber(ARGV[5]) > hw then
      redis.call('HSET', KEYS[4], 'hw', ARGV[5])
    end
  end
end
if held then
  redis.call('DEL', KEYS[2])
end
return answer
"""

# KEYS: claim keys. ARGV: lease ms, 1 to renew / 0 to release, then one token per key.
# The (1-based) positions of the keys this worker no longer holds.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 2] then
    if ARGV[2] == '1' then
      redis.call('PEXPIRE', key, ARGV[1])
    else
      redis.call('DEL', key)
    end
  else
    lost[#lost + 1] = i
  end
end
return lost
"""


def _clock() -> float:
    """Seconds on a clock that never goes back and keeps counting while the machine
    sleeps (``CLOCK_BOOTTIME`` on Linux; ``time.monotonic`` elsewhere)."""
    return time.clock_gettime(_BOOTTIME)


_BOOTTIME: Final = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


@attrs.frozen
class _Meta:
    """What a campaign's meta hash says of its keys."""

    high_water: int
    spills: int
    refs: bool

    @property
    def buckets(self) -> int:
        return self.high_water // BUCKET + 1 if self.high_water >= 0 else 0


class _Hold:
    """A claim this worker holds: its fencing token and when (on the ledger's clock) its
    lease was last set in full (the time the command was sent: a lower bound)."""

    __slots__ = ("since", "token")

    def __init__(self, token: str, since: float) -> None:
        self.token = token
        self.since = since


class RedisLedger:
    """A [`Ledger`][] in Redis, shared by many workers.

    **Layout** (format 2; every key of a campaign shares one cluster hash slot through
    ``{campaign}``):

    * ``{prefix}:{{campaign}}:meta``: a hash: ``v`` (the format, 2), ``started`` (when
      the campaign was started), ``hw`` (the highest index ever recorded), ``refs`` (set
      once a row has a reference of the caller's), ``spills`` (see ``refs`` below),
      ``total`` (the campaign's row count, [`set_total`][]; earlier versions ignore it);
    * ``{prefix}:{{campaign}}:r:{index // 128}``: the records, 128 rows per hash (field
      ``index % 128``), so that each stays a compact listpack. A value is at most 64
      bytes: a state letter, the row's 12-character digest, then the batch id for
      ``ok``, the intent time for ``intent``/``unknown`` (milliseconds, base 36), nothing
      for ``failed``;
    * ``{prefix}:{{campaign}}:err``: index -> the error type and text of ``failed`` and
      ``unknown`` rows, and any field too long for a bucket (rare);
    * only for rows whose ``client_reference`` the caller gave (the default
      ``CAMPAIGN:INDEX`` is never stored): ``{prefix}:{{campaign}}:ref:{index // 128}``
      (field ``index % 128`` -> reference, bucketed as the records) and
      ``{prefix}:{{campaign}}:refs`` (reference -> comma-joined indexes; a list of more
      than 512 characters moves to a list key ``{prefix}:{{campaign}}:refl:{n}``);
    * ``{prefix}:{{campaign}}:claim:{index}``: one key per row being sent (``SET NX PX``,
      holding a fencing token unique to the claim: ``WORKER:N``, ``WORKER`` being
      [`token`][], the worker id [`status`][] reports), gone when its outcome is
      recorded.

    A finished ``ok`` row costs about 50 bytes of Redis memory (10 million rows: under
    0.5 GiB; the previous layout took about 300), a row with a reference of the caller's
    about 90 more (``python -m benchmarks.ledger bytes`` measures both). A finished row
    keeps no intent time (its [`intent_at`][sinch_async.LedgerRecord.intent_at] reads
    0) and no ``done_at``.

    **Claims.** [`begin`][] is one Lua script: a final outcome is ``done``; otherwise
    the claim is taken (or ``elsewhere`` if another worker holds it: the answer names
    that worker and the lease left on its claim) and the intent recorded. The claims a
    worker holds are renewed every ``lease / 3`` seconds while it runs; a killed worker's
    claims expire after ``lease`` seconds and the next worker to reach them (a live worker
    waiting at the end of its input included) finds them in doubt (intent without
    outcome) and looks them up before sending. [`check`][], called immediately before
    each POST, is fenced: it succeeds only if the claim key still holds this claim's token
    with more than ``lease / 3`` seconds left (and extends it), so a worker that was
    stopped past its lease (SIGSTOP, Ctrl-Z, a paused VM) does not send rows another
    worker has taken over. A renewal that
    runs more than a lease late gives up every claim it had not renewed in time, whatever
    Redis answers.

    **Fails closed**: a Redis error, or no answer within ``timeout`` seconds, raises
    [`LedgerError`][] (``send_many`` then sends nothing more and
    stops); after a renewal failed, [`check`][] and [`begin`][] raise it too.

    **Redis must keep the ledger.** Run it with persistence (AOF with ``appendfsync
    everysec`` at least: RDB snapshots alone can lose minutes of records; rows whose
    records are lost are looked up at Sinch before they are sent, within the limits the
    documentation's Campaigns page describes) and without eviction (``maxmemory-policy
    noeviction``: an evicted bucket is a lost ledger). Use [`expire`][] to let a finished
    campaign go.

    ``lease`` must comfortably exceed the longest send (retries and reconciliation
    included): a worker stalled longer than its lease may see its request taken over.
    Leases are timed, and renewals wait, on ``clock`` (default: a monotonic clock that
    keeps counting while the machine sleeps, and ``asyncio.sleep``; a test may pass the
    ``FakeClock`` its client uses).
    A campaign written by an earlier sinch-async (one ``{prefix}:{{campaign}}:records``
    hash) is refused by [`open`][] with `LedgerFormatError`.

    [`status`][] reports the whole campaign, every worker's rows (a
    [`StatusLedger`][]).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "sinch:ledger",
        lease: float = 30.0,
        timeout: float = 5.0,
        worker: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.lease = check_seconds(lease, "lease", positive=True, config=True)
        self._timeout = check_seconds(timeout, "timeout", positive=True, config=True)
        self._redis = redis
        self._prefix = check_redis_key(prefix, "prefix")
        self._lease_ms = max(1, int(self.lease * 1000))
        #: a claim with less than this left is not used for a send (seconds)
        self.margin = self.lease / 3
        self.token = worker or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._claims = itertools.count(1)
        self._clock: Callable[[], float] = _clock if clock is None else clock.monotonic
        self._sleep: Callable[[float], Awaitable[None]] = (
            asyncio.sleep if clock is None else clock.sleep
        )
        self._begin = redis.register_script(_BEGIN)
        self._check = redis.register_script(_CHECK)
        self._finish = redis.register_script(_FINISH)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, dict[int, _Hold]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._renew_error: BaseException | None = None

    # --- keys ----------------------------------------------------------------------------

    def _key(self, campaign: str, name: str) -> str:
        return f"{self._prefix}:{{{campaign}}}:{name}"

    def _bucket_key(self, campaign: str, index: int) -> str:
        return self._key(campaign, f"r:{index // BUCKET}")

    def _ref_key(self, campaign: str, index: int) -> str:
        return self._key(campaign, f"ref:{index // BUCKET}")

    def _claim_key(self, campaign: str, index: int) -> str:
        return self._key(campaign, f"claim:{index}")

    def _keys(self, campaign: str, meta: _Meta) -> list[str]:
        """Every key of a campaign's records (not its claims), meta last."""
        buckets = range(meta.buckets)
        keys = [self._key(campaign, f"r:{b}") for b in buckets]
        if meta.refs:
            keys += [self._key(campaign, f"ref:{b}") for b in buckets]
        keys += [self._key(campaign, name) for name in ("err", "refs")]
        keys += [self._key(campaign, f"refl:{n}") for n in range(1, meta.spills + 1)]
        keys.append(self._key(campaign, "meta"))
        return keys

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

    async def _pipelined(
        self, what: str, commands: Iterable[tuple[str, tuple[Any, ...]]]
    ) -> list[Any]:
        """Run ``(method, args)`` commands in pipelines of ``_CHUNK``, each round trip
        within the timeout; their answers in order."""
        answers: list[Any] = []
        batch = list(commands)
        for start in range(0, len(batch), _CHUNK):
            pipe = self._redis.pipeline(transaction=False)
            for method, args in batch[start : start + _CHUNK]:
                getattr(pipe, method)(*args)
            answers.extend(await self._call(what, pipe.execute()))
        return answers

    # --- the Ledger protocol -------------------------------------------------------------

    async def open(self, campaign: str) -> CampaignState:
        old = self._key(campaign, "records")
        exists_old, (v, started, hw) = await self._pipelined(
            "open",
            [("exists", (old,)), ("hmget", (self._key(campaign, "meta"), "v", "started", "hw"))],
        )
        if exists_old:
            raise LedgerFormatError(
                f"redis ledger: campaign {campaign!r} was written by an earlier sinch-async "
                f"(the format-1 hash {old!r}), which this version cannot resume. Nothing "
                "was sent. Finish the campaign with the version that wrote it, or start a "
                "new campaign id (and delete the old campaign's keys once it is done)"
            )
        if v is not None:
            try:
                version = int(_text(v))
            except ValueError:
                version = LEDGER_FORMAT + 1
            if version > LEDGER_FORMAT:
                raise LedgerFormatError(
                    f"redis ledger: campaign {campaign!r} was written in format {_text(v)} "
                    f"by a newer sinch-async; this version writes format {LEDGER_FORMAT}. "
                    "Nothing was sent"
                )
        try:
            return CampaignState(
                exists=v is not None or started is not None or hw is not None,
                high_water=-1 if hw is None else int(_text(hw)),
                started_at=None if started is None else float(_text(started)),
            )
        except ValueError as exc:
            raise LedgerFormatError(
                f"redis ledger: unreadable meta of campaign {campaign!r}: {exc}"
            ) from exc

    async def start(self, campaign: str, started_at: float) -> None:
        meta = self._key(campaign, "meta")
        await self._pipelined(
            "start",
            [
                ("hsetnx", (meta, "v", str(LEDGER_FORMAT))),
                ("hsetnx", (meta, "started", repr(float(started_at)))),
            ],
        )

    async def begin(
        self,
        campaign: str,
        index: int,
        reference: str,
        digest: str,
        *,
        retry_failed: bool = False,
        intent_at: float | None = None,
    ) -> Claim:
        if self._renew_error is not None:
            raise LedgerError(f"redis ledger: claims not renewed: {self._renew_error}")
        intent = LedgerRecord(
            index=index,
            reference=reference,
            state="intent",
            digest=digest,
            intent_at=time.time() if intent_at is None else intent_at,
        )
        value, extra = _encode(intent)
        token = f"{self.token}:{next(self._claims)}"
        sent = self._clock()
        answer: Any = await self._call(
            "begin",
            self._begin(
                keys=[
                    self._bucket_key(campaign, index),
                    self._claim_key(campaign, index),
                    self._key(campaign, "meta"),
                    self._key(campaign, "err"),
                    self._ref_key(campaign, index),
                    self._key(campaign, "refs"),
                ],
                args=[
                    index % BUCKET,
                    token,
                    self._lease_ms,
                    "1" if retry_failed else "0",
                    value,
                    extra,
                    index,
                    "" if reference == campaign_reference(campaign, index) else reference,
                    self._key(campaign, "refl:"),
                ],
            ),
        )
        status = _STATUS[_text(answer[0])]
        if status in ("new", "in_doubt"):
            self._held.setdefault(campaign, {})[index] = _Hold(token, sent)
            self._start_renewer()
        if status in ("done", "in_doubt"):
            return Claim(
                status,
                _decode(campaign, index, _text(answer[1]), _text(answer[2]), _text(answer[3])),
            )
        if status == "elsewhere" and len(answer) >= 3:
            return Claim(
                status, holder=_holder(_text(answer[2])), lease_left=_lease_left(answer[1])
            )
        return Claim(status)

    async def check(self, campaign: str, index: int) -> None:
        """Prove, immediately before a send, that this worker still holds row ``index``
        with more than [`margin`][] seconds of lease left, and extend it to the full
        lease (one round trip). Raises `ClaimLostError` (and forgets the claim)
        when it does not; [`LedgerError`][] when Redis does not answer or a renewal
        failed (fail closed)."""
        if self._renew_error is not None:
            raise LedgerError(f"redis ledger: claims not renewed: {self._renew_error}")
        held = self._held.get(campaign, {})
        hold = held.get(index)
        where = f"{campaign}:{index}"
        if hold is None:
            raise ClaimLostError(f"redis ledger: this worker holds no claim on {where}")
        sent = self._clock()
        if sent - hold.since >= self.lease - self.margin:
            del held[index]
            raise ClaimLostError(
                f"redis ledger: the claim on {where} was last extended "
                f"{sent - hold.since:.1f}s ago (lease {self.lease:g}s): given up"
            )
        answer = await self._call(
            "check",
            self._check(
                keys=[self._claim_key(campaign, index)],
                args=[hold.token, int(self.margin * 1000), self._lease_ms],
            ),
        )
        answered = self._clock()
        if int(answer) == 1 and answered - sent < self.lease - self.margin:
            hold.since = max(hold.since, sent)
            return
        if held.get(index) is hold:
            del held[index]
        if int(answer) == 1:  # stopped or stalled while the check was under way
            raise ClaimLostError(
                f"redis ledger: the check of {where} took {answered - sent:.1f}s (lease "
                f"{self.lease:g}s): too little of the claim may be left; given up"
            )
        if int(answer) == 0:
            raise ClaimLostError(
                f"redis ledger: the claim on {where} expired or another worker took it"
            )
        raise ClaimLostError(
            f"redis ledger: the claim on {where} has less than {self.margin:.1f}s left: given up"
        )

    async def finish(self, campaign: str, record: LedgerRecord) -> None:
        # forgotten first: a renewal answered meanwhile does not count it as lost
        hold = self._held.get(campaign, {}).pop(record.index, None)
        value, extra = _encode(record)
        answer = await self._call(
            "finish",
            self._finish(
                keys=[
                    self._bucket_key(campaign, record.index),
                    self._claim_key(campaign, record.index),
                    self._key(campaign, "err"),
                    self._key(campaign, "meta"),
                ],
                args=[
                    record.index % BUCKET,
                    "" if hold is None else hold.token,
                    value,
                    extra,
                    record.index,
                ],
            ),
        )
        if int(answer) != 1:
            log.warning(
                "redis ledger: claim of %s:%d had expired before its outcome was recorded "
                "(a send longer than the %.0fs lease, or a stopped worker?)%s",
                campaign,
                record.index,
                self.lease,
                "; another worker holds the row now" if int(answer) == 2 else "",
                extra={"sinch_event": "ledger_claim_expired"},
            )

    async def _meta(self, campaign: str) -> _Meta:
        hw, spills, refs = await self._call(
            "read", self._redis.hmget(self._key(campaign, "meta"), "hw", "spills", "refs")
        )
        return _Meta(
            high_water=-1 if hw is None else int(_text(hw)),
            spills=0 if spills is None else int(_text(spills)),
            refs=refs is not None,
        )

    async def records(self, campaign: str) -> list[LedgerRecord]:
        meta = await self._meta(campaign)
        buckets = range(meta.buckets)
        commands = [("hgetall", (self._key(campaign, f"r:{b}"),)) for b in buckets]
        if meta.refs:
            commands += [("hgetall", (self._key(campaign, f"ref:{b}"),)) for b in buckets]
        commands.append(("hgetall", (self._key(campaign, "err"),)))
        *answers, errs = await self._pipelined("records", commands)
        err = {int(_text(k)): _text(v) for k, v in errs.items()}
        rows, refs = answers[: meta.buckets], answers[meta.buckets :]
        records = []
        for b, bucket in enumerate(rows):
            ref = refs[b] if refs else {}
            for field, value in bucket.items():
                i = b * BUCKET + int(_text(field))
                stored = ref.get(field)
                records.append(
                    _decode(
                        campaign,
                        i,
                        _text(value),
                        err.get(i, ""),
                        "" if stored is None else _text(stored),
                    )
                )
        records.sort(key=lambda r: r.index)
        return records

    async def with_reference(self, campaign: str, reference: str) -> list[LedgerRecord]:
        listed = await self._call("read", self._redis.hget(self._key(campaign, "refs"), reference))
        if listed is None:
            return []
        text = _text(listed)
        if text.startswith("*"):
            items = await self._call(
                "read", self._redis.lrange(self._key(campaign, f"refl:{text[1:]}"), 0, -1)
            )
            indexes = sorted({int(_text(i)) for i in items})
        else:
            indexes = sorted({int(i) for i in text.split(",") if i})
        err = self._key(campaign, "err")
        commands: list[tuple[str, tuple[Any, ...]]] = []
        for i in indexes:
            commands += [
                ("hget", (self._bucket_key(campaign, i), str(i % BUCKET))),
                ("hget", (err, str(i))),
                ("hget", (self._ref_key(campaign, i), str(i % BUCKET))),
            ]
        answers = await self._pipelined("read", commands)
        records = []
        for n, i in enumerate(indexes):
            value, extra, stored = answers[3 * n : 3 * n + 3]
            if value is None or stored is None or _text(stored) != reference:
                continue
            records.append(
                _decode(campaign, i, _text(value), "" if extra is None else _text(extra), reference)
            )
        return records

    async def set_total(self, campaign: str, total: int) -> None:
        """Record the campaign's row count (meta field ``total``; the last value wins)."""
        await self._call(
            "set_total", self._redis.hset(self._key(campaign, "meta"), "total", str(int(total)))
        )

    async def status(self, campaign: str) -> CampaignStatus:
        """How the campaign stands across every worker (see
        [`CampaignStatus`][]): every record bucket is read (in
        pipelines), and the claim key of every row without a final outcome (its holder,
        from the claim's token, and the lease left on it, from Redis's ``PTTL``). Takes
        no claim; [`LedgerError`][] when Redis does not answer."""
        meta = self._key(campaign, "meta")
        v, hw, total_raw, started, refs = await self._call(
            "status", self._redis.hmget(meta, "v", "hw", "total", "started", "refs")
        )
        try:
            high = -1 if hw is None else int(_text(hw))
            total = None if total_raw is None else int(_text(total_raw))
        except ValueError as exc:
            raise LedgerFormatError(
                f"redis ledger: unreadable meta of campaign {campaign!r}: {exc}"
            ) from exc
        counter = StatusCounter(campaign, total)
        buckets = high // BUCKET + 1 if high >= 0 else 0
        if total is not None:
            buckets = min(buckets, -(-total // BUCKET))
        # (index, value) of rows without a final outcome; the first rows not started
        opened: list[tuple[int, str]] = []
        gaps: list[int] = []
        for start in range(0, buckets, _CHUNK):
            chunk = range(start, min(buckets, start + _CHUNK))
            answers = await self._pipelined(
                "status", [("hgetall", (self._key(campaign, f"r:{b}"),)) for b in chunk]
            )
            for b, bucket in zip(chunk, answers, strict=True):
                present: set[int] = set()
                for field, raw in bucket.items():
                    i = b * BUCKET + int(_text(field))
                    value = _text(raw)
                    state = _STATE.get(value[:1].lower())
                    if state is None:
                        raise LedgerFormatError(
                            f"redis ledger: unreadable record of {campaign}:{i} ({value!r})"
                        )
                    present.add(i)
                    if state in ("ok", "failed"):
                        counter.final(i, state)
                    elif counter.counts(i):
                        opened.append((i, value))
                if total is not None and len(gaps) < STATUS_ROWS:
                    end = min(total, (b + 1) * BUCKET)
                    gaps += [i for i in range(b * BUCKET, end) if i not in present]
        if total is not None:
            gaps += range(buckets * BUCKET, min(total, buckets * BUCKET + STATUS_ROWS))
        err = self._key(campaign, "err")
        for start in range(0, len(opened), _CHUNK):
            part = opened[start : start + _CHUNK]
            commands: list[tuple[str, tuple[Any, ...]]] = []
            for i, _ in part:
                claim = self._claim_key(campaign, i)
                commands += [("get", (claim,)), ("pttl", (claim,)), ("hget", (err, str(i)))]
                if refs is not None:
                    commands.append(("hget", (self._ref_key(campaign, i), str(i % BUCKET))))
            answers = await self._pipelined("status", commands)
            step = 4 if refs is not None else 3
            for n, (i, value) in enumerate(part):
                token, pttl, extra, *stored = answers[step * n : step * n + step]
                reference = _text(stored[0]) if stored and stored[0] is not None else ""
                record = _decode(
                    campaign, i, value, "" if extra is None else _text(extra), reference
                )
                held = token is not None and int(pttl) != -2
                error = None
                if record.state == "unknown":
                    error = f"{record.error_type or 'SendOutcomeUnknown'}: {record.error or ''}"
                counter.open(
                    i,
                    record.state,
                    record.reference,
                    holder=_holder(_text(token)) if held else None,
                    lease_left=_lease_left(pttl) if held else None,
                    error=error,
                )
        exists = any(x is not None for x in (v, hw, started)) or buckets > 0
        return counter.result(exists=exists, not_started=gaps[:STATUS_ROWS])

    async def expire(self, campaign: str, seconds: float) -> None:
        """Let a finished campaign go: every key of its ledger (meta, record buckets,
        errors, references) expires ``seconds`` from now.

        After expiry a rerun of the campaign finds no ledger: ``send_many`` then refuses
        it (`LedgerLostError`: it detects a lost ledger by
        looking up the first rows' references at Sinch). Meta gets its TTL last, so an
        interrupted call can simply be repeated."""
        ms = max(1, int(check_seconds(seconds, "seconds", positive=True, config=True) * 1000))
        meta = await self._meta(campaign)
        await self._pipelined(
            "expire", [("pexpire", (key, ms)) for key in self._keys(campaign, meta)]
        )

    # --- claims --------------------------------------------------------------------------

    def _start_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_loop(), name="sinch-ledger-renew")

    async def _renew_loop(self) -> None:
        """The lease renewal loop: every ``lease / 3`` on the ledger's clock until
        `close` cancels it (a failed renewal is kept for [`check`][])."""
        while True:
            await self._sleep(self.lease / 3)
            try:
                lost = await self._renew_all(renew=True)
            except LedgerError as exc:
                log.error("redis ledger: cannot renew claims: %s", exc)
                self._renew_error = exc
                continue
            if lost:
                log.warning(
                    "redis ledger: %d claim(s) lost (expired, taken by another worker, or "
                    "renewed too late: was this worker stopped?); they are not sent here",
                    len(lost),
                    extra={"sinch_event": "ledger_claims_lost"},
                )

    async def _renew_all(self, *, renew: bool) -> list[str]:
        """Renew (or release) every claim held; returns the claim keys this worker no
        longer holds, which are forgotten ([`check`][] fails for them). A claim whose
        lease was last set more than a lease ago is given up without asking Redis."""
        lost: list[str] = []
        for campaign, held in list(self._held.items()):
            sent = self._clock()
            holds = list(held.items())
            if renew:
                late = [(i, h) for i, h in holds if sent - h.since > self.lease]
                for i, _ in late:
                    del held[i]
                    lost.append(self._claim_key(campaign, i))
                holds = [(i, h) for i, h in holds if sent - h.since <= self.lease]
            for start in range(0, len(holds), _CHUNK):
                chunk = holds[start : start + _CHUNK]
                keys = [self._claim_key(campaign, i) for i, _ in chunk]
                failed: Any = await self._call(
                    "renew" if renew else "release",
                    self._renew(
                        keys=keys,
                        args=[self._lease_ms, "1" if renew else "0", *(h.token for _, h in chunk)],
                    ),
                )
                gone = {int(p) - 1 for p in failed}
                for n, (i, h) in enumerate(chunk):
                    if held.get(i) is not h:
                        continue  # finished (or given up) meanwhile
                    if n in gone:
                        lost.append(keys[n])
                        del held[i]
                    elif renew:
                        h.since = max(h.since, sent)
            if not held:
                self._held.pop(campaign, None)
        return lost

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


# --- record encoding ---------------------------------------------------------------------

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _ms36(seconds: float) -> str:
    """Seconds since the epoch as whole milliseconds (rounded down) in base 36."""
    n = max(0, math.floor(seconds * 1000))
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if not n:
            return out


def _encode(record: LedgerRecord) -> tuple[str, str]:
    """A record as its bucket value and its err entry ('' when it needs none)."""
    letter = _LETTER[record.state]
    if record.state == "ok":
        tail = record.batch_id or ""
    elif record.state == "failed":
        tail = ""
    else:
        tail = _ms36(record.intent_at)
    value = letter + record.digest + tail
    extra: dict[str, Any] = {}
    if len(record.digest) != _DIGEST or len(value.encode()) > _MAX_VALUE:
        value = letter.upper()
        extra = {"d": record.digest, "b": record.batch_id, "i": record.intent_at}
    if (
        record.error_type is not None
        or record.error is not None
        or (record.batch_id is not None and record.state != "ok")
    ):
        extra.update(
            b=record.batch_id,
            t=record.error_type,
            e=record.error,
            i=record.intent_at,
            a=record.done_at,
        )
    if not extra:
        return value, ""
    return value, json.dumps(
        {k: v for k, v in extra.items() if v is not None}, separators=(",", ":")
    )


def _decode(campaign: str, index: int, value: str, extra: str, reference: str) -> LedgerRecord:
    """The record of row ``index`` from its bucket value, err entry and stored reference
    ('' for the default one); `LedgerFormatError` when they cannot be read."""
    try:
        return _decode_record(campaign, index, value, extra, reference)
    except (KeyError, ValueError, TypeError) as exc:
        raise LedgerFormatError(
            f"redis ledger: unreadable record of {campaign}:{index} ({value!r}, {extra!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _decode_record(
    campaign: str, index: int, value: str, extra: str, reference: str
) -> LedgerRecord:
    letter = value[:1]
    state = _STATE[letter.lower()]
    x: dict[str, Any] = json.loads(extra) if extra else {}
    if letter.islower():
        digest, tail = value[1 : 1 + _DIGEST], value[1 + _DIGEST :]
    else:
        digest, tail = x["d"], ""
    batch_id = (tail or None) if state == "ok" else None
    intent_at = int(tail, 36) / 1000 if tail and state in ("intent", "unknown") else 0.0
    return LedgerRecord(
        index=index,
        reference=reference or campaign_reference(campaign, index),
        state=state,
        digest=digest,
        intent_at=float(x.get("i", intent_at)),
        batch_id=x.get("b", batch_id),
        error_type=x.get("t"),
        error=x.get("e"),
        done_at=x.get("a"),
    )


def _holder(token: str) -> str:
    """The worker id of a claim token (``WORKER:N``; [`RedisLedger.token`][] is the
    worker id)."""
    worker, _, n = token.rpartition(":")
    return worker if worker and n.isdigit() else token


def _lease_left(pttl: Any) -> float | None:
    """Seconds left from a ``PTTL`` answer (None: no key, or no expiry)."""
    ms = int(pttl)
    return None if ms < 0 else ms / 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_redis_error(exc: BaseException) -> bool:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is needed to have a client at all
        return False
    return isinstance(exc, RedisError)
