"""A shared campaign ledger in memory, with leases on a ``FakeClock``: several
``MemoryLedger`` workers on one ``MemoryStore`` behave like ``RedisLedger`` workers on one
Redis (claims, leases, fencing, status), in virtual time.

A live worker's claims never run out (as if renewed continuously); :meth:`MemoryLedger.kill`
stops that: its claims expire ``lease`` seconds later on the clock, and then another worker
finds those rows in doubt.
"""

from __future__ import annotations

from typing import Any

import attrs

from sinch_async._ledger import (
    CampaignState,
    CampaignStatus,
    Claim,
    ClaimLostError,
    LedgerRecord,
    StatusCounter,
)
from sinch_async.testing import FakeClock


@attrs.define
class _Hold:
    worker: MemoryLedger
    token: int
    expires: float


class MemoryStore:
    """What every worker shares: the records, claims, totals and start marks."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.records: dict[str, dict[int, LedgerRecord]] = {}
        self.claims: dict[str, dict[int, _Hold]] = {}
        self.totals: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self._tokens = 0

    def live_claim(self, campaign: str, index: int) -> _Hold | None:
        hold = self.claims.get(campaign, {}).get(index)
        if hold is None:
            return None
        now = self.clock.monotonic()
        if hold.worker.alive:
            hold.expires = max(hold.expires, now + hold.worker.lease)  # renewed
        if hold.expires <= now:
            del self.claims[campaign][index]
            return None
        return hold

    def token(self) -> int:
        self._tokens += 1
        return self._tokens

    def finish(self, campaign: str, record: LedgerRecord) -> None:
        """Record an outcome at once (what another worker's ``finish`` does)."""
        current = self.records.setdefault(campaign, {}).get(record.index)
        if current is None or current.state != "ok":
            self.records[campaign][record.index] = record
        self.claims.get(campaign, {}).pop(record.index, None)


class MemoryLedger:
    """One worker's view of a :class:`MemoryStore` (a ``StatusLedger``)."""

    def __init__(self, store: MemoryStore, worker: str, *, lease: float = 30.0) -> None:
        self.store = store
        self.worker = worker
        self.lease = lease
        self.alive = True
        self.held: dict[int, int] = {}
        #: called (campaign) after :meth:`open`: a test's hook into "meanwhile"
        self.after_open: Any = None

    def kill(self) -> None:
        """This worker dies: its claims are no longer renewed."""
        self.alive = False

    async def open(self, campaign: str) -> CampaignState:
        records = self.store.records.get(campaign, {})
        state = CampaignState(
            exists=bool(records) or campaign in self.store.started,
            high_water=max(records, default=-1),
            started_at=self.store.started.get(campaign),
        )
        if self.after_open is not None:
            self.after_open(campaign)
        return state

    async def start(self, campaign: str, started_at: float) -> None:
        self.store.started.setdefault(campaign, started_at)

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
        records = self.store.records.setdefault(campaign, {})
        record = records.get(index)
        if record is not None and (
            record.state == "ok" or (record.state == "failed" and not retry_failed)
        ):
            return Claim("done", record)
        hold = self.store.live_claim(campaign, index)
        if hold is not None and hold.worker is not self:
            left = hold.expires - self.store.clock.monotonic()
            return Claim("elsewhere", holder=hold.worker.worker, lease_left=left)
        token = self.store.token()
        expires = self.store.clock.monotonic() + self.lease
        self.store.claims.setdefault(campaign, {})[index] = _Hold(self, token, expires)
        self.held[index] = token
        if record is not None and record.state != "failed":
            return Claim("in_doubt", record)
        at = self.store.clock.time() if intent_at is None else intent_at
        records[index] = LedgerRecord(index, reference, "intent", digest, at)
        return Claim("new")

    async def check(self, campaign: str, index: int) -> None:
        hold = self.store.live_claim(campaign, index)
        if hold is None or hold.worker is not self or hold.token != self.held.get(index):
            self.held.pop(index, None)
            raise ClaimLostError(f"memory ledger: lost the claim on {campaign}:{index}")

    async def finish(self, campaign: str, record: LedgerRecord) -> None:
        token = self.held.pop(record.index, None)
        hold = self.store.live_claim(campaign, record.index)
        if hold is not None and hold.token != token and record.state != "ok":
            return  # another worker holds it now: only an ok outcome is written
        self.store.finish(campaign, record)

    async def records(self, campaign: str) -> list[LedgerRecord]:
        return [r for _, r in sorted(self.store.records.get(campaign, {}).items())]

    async def with_reference(self, campaign: str, reference: str) -> list[LedgerRecord]:
        return [r for r in await self.records(campaign) if r.reference == reference]

    async def set_total(self, campaign: str, total: int) -> None:
        self.store.totals[campaign] = total

    async def status(self, campaign: str) -> CampaignStatus:
        counter = StatusCounter(campaign, self.store.totals.get(campaign))
        records = self.store.records.get(campaign, {})
        for i, r in records.items():
            if r.final:
                counter.final(i, r.state)
                continue
            hold = self.store.live_claim(campaign, i)
            counter.open(
                i,
                r.state,
                r.reference,
                holder=None if hold is None else hold.worker.worker,
                lease_left=None if hold is None else hold.expires - self.store.clock.monotonic(),
                error=r.error,
            )
        total = self.store.totals.get(campaign)
        gaps = [] if total is None else [i for i in range(total) if i not in records]
        return counter.result(
            exists=bool(records) or campaign in self.store.started, not_started=gaps[:20]
        )

    async def aclose(self) -> None:
        for index, token in list(self.held.items()):
            for holds in self.store.claims.values():
                hold = holds.get(index)
                if hold is not None and hold.token == token:
                    del holds[index]
        self.held.clear()
