"""``batches.send_many``: many sends under the client's limits, one outcome per request."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sized,
)
from types import TracebackType
from typing import Any

import attrs

from ._clock import SYSTEM_CLOCK, Clock, call_later
from ._errors import (
    LimiterUnavailableError,
    SendOutcomeUnknown,
    SinchConfigError,
    SinchError,
    SinchValidationError,
    UndecodableSendResponse,
)
from ._ledger import (
    CampaignState,
    CampaignStatus,
    Claim,
    ClaimLostError,
    Ledger,
    LedgerError,
    LedgerLostError,
    LedgerRecord,
    RecordedSendError,
    StatusLedger,
    campaign_reference,
    campaign_status,
    check_campaign,
    digest_matches,
    row_digest,
)
from ._telemetry import reference_fields
from ._validation import check_count, check_positive_int, check_request_type, check_seconds
from .models.batches import Batch, BatchRequest, UnknownBatch

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_TAKEOVER_WAIT",
    "LOST_LEDGER_SAMPLE",
    "TAKEOVER_MARGIN",
    "FanoutProgress",
    "SendCancelled",
    "SendMany",
    "SendNotAttempted",
    "SendOutcome",
]

log = logging.getLogger("sinch_async")

#: ``send(request, before_write=...)``: one send (``before_write`` awaited right before
#: each attempt is written).
SendFn = Callable[..., Awaitable[Batch]]
#: Look a request up by its reference: the batches with its reference and content created
#: at or after ``since`` (epoch seconds on Sinch's clock; None: no time bound) whose ids
#: are not in ``exclude``; `SendOutcomeUnknown` when the lookup fails.
FindFn = Callable[[BatchRequest, "float | None", frozenset[str]], Awaitable[list[Batch]]]
#: Whether Sinch has any batch with this client_reference (the lost-ledger probe).
ExistsFn = Callable[[str], Awaitable[bool]]
#: Now on Sinch's clock (a lower bound, epoch seconds), None when not known yet.
SinchNowFn = Callable[[], "float | None"]

#: Seconds the sends in flight may take to finish after the consumer went away.
DEFAULT_GRACE = 10.0
#: Rows looked up at Sinch before a campaign the ledger knows nothing of is started.
LOST_LEDGER_SAMPLE = 3
#: Rows past the highest recorded one (or the last one found at Sinch) that a resumed
#: campaign looks up before sending, in case their records were lost: at least this, or
#: twice the concurrency.
LOST_RECORD_LOOKAHEAD = 64
#: ``send_many(takeover_wait=None)``: how long a campaign run waits, at the end of its
#: input, for rows other workers still hold: the ledger's ``lease`` plus this (seconds)...
TAKEOVER_MARGIN = 2.0
#: ...or this, for a ledger without a ``lease`` attribute (seconds).
DEFAULT_TAKEOVER_WAIT = 32.0
#: A row held elsewhere is looked at again after this, then twice as long each time, up to
#: _POLL_MAX (and never much later than the holder's lease runs out)
_POLL_MIN = 0.05
_POLL_MAX = 1.0
#: Without a Date header from Sinch, intents are dated this much before this host's clock
#: (a lookup then accepts batches created up to this long before the intent).
_UNKNOWN_CLOCK_MARGIN = 300.0


def new_client_reference() -> str:
    """A unique ``client_reference``: ``sa-`` and 32 hex digits (a random UUID), as
    ``SinchClient(auto_client_reference=True)`` and ``send_many(auto_client_reference=True)``
    give a send without one."""
    return f"sa-{uuid.uuid4().hex}"


class SendCancelled(SendOutcomeUnknown):
    """The send was still in flight when ``send_many`` shut down past its grace period."""


class SendNotAttempted(SinchError):
    """Not sent: the run stopped before this request was attempted (a shared rate limiter
    or the ledger was unavailable). The request stays pending: a rerun of the campaign
    sends it (looking it up first if its intent was recorded)."""


@attrs.frozen
class SendOutcome:
    """What happened to one request. ``index`` is its position in the input.

    Exactly one of three things:

    * **sent** (``ok``): Sinch created the batch. ``batch`` is the decoded batch, or
      ``None`` when Sinch answered 2xx with a body the SDK could not decode: then
      ``error`` is an [`UndecodableSendResponse`][] (``undecodable`` is True) and
      ``batch_id`` is the id when it could still be read. Never resend these.
    * **unknown** (``unknown``): the request may have reached Sinch without a usable
      answer (``error`` is [`SendOutcomeUnknown`][]); look it up by
      ``request.client_reference`` before sending again.
    * **failed** (``failed``): certainly not sent (``error`` says why: a 4xx, a refused
      connection, invalid input, a token endpoint that was down).
    * **pending** (``pending``): not attempted because the run stopped on an unavailable
      shared store (``error`` is [`LimiterUnavailableError`][], [`LedgerError`][] or
      `SendNotAttempted`); a ledger does not record it, so a rerun sends it.

    In a campaign (``send_many(..., ledger=..., campaign=...)``): ``resumed`` marks an
    outcome recorded by an earlier run and not sent again (``batch`` is None; an ``ok``
    one has ``batch_id`` from the ledger, a ``failed`` one a [`RecordedSendError`][]),
    ``reconciled`` a request found in doubt (sent by a run that died) whose batch was
    then found by its reference, ``changed`` a request whose input differs from what the
    ledger recorded when it was sent (not sent again), ``taken_over`` a request another
    worker held when this run first reached it, which this run took over at the end of
    its input (that worker's claim had expired: it died or stalled).
    """

    index: int
    request: Any
    batch: Batch | None = None
    error: SinchError | None = None
    resumed: bool = False
    reconciled: bool = False
    #: the batch id a ledger recorded (resumed outcomes)
    recorded_batch_id: str | None = None
    #: resumed, and the input at this index changed since the ledger recorded it
    changed: bool = False
    #: taken over from another worker whose claim expired (see ``send_many``)
    taken_over: bool = False

    @property
    def ok(self) -> bool:
        """Sinch created the batch (also when its response could not be decoded)."""
        return self.error is None or isinstance(self.error, UndecodableSendResponse)

    @property
    def undecodable(self) -> bool:
        """Sent, but the 2xx body could not be decoded (``batch`` is None)."""
        return isinstance(self.error, UndecodableSendResponse)

    @property
    def unknown(self) -> bool:
        """The batch may or may not exist."""
        return isinstance(self.error, SendOutcomeUnknown)

    @property
    def pending(self) -> bool:
        """Not attempted: the run stopped on an unavailable limiter or ledger."""
        return isinstance(self.error, _PENDING_ERRORS)

    @property
    def failed(self) -> bool:
        """Certainly not sent, refused by Sinch or by the input checks (not pending)."""
        return not self.ok and not self.unknown and not self.pending

    @property
    def batch_id(self) -> str | None:
        """The created batch's id, when known."""
        if self.batch is not None and not isinstance(self.batch, UnknownBatch):
            return self.batch.id
        if isinstance(self.batch, UnknownBatch):
            raw_id = self.batch.raw.get("id")
            return raw_id if isinstance(raw_id, str) else None
        if isinstance(self.error, UndecodableSendResponse):
            return self.error.batch_id
        return self.recorded_batch_id


_PENDING_ERRORS = (LimiterUnavailableError, LedgerError, SendNotAttempted)


@attrs.define
class FanoutProgress:
    """Live counters of a ``send_many`` run (the same object is passed to ``on_progress``).

    ``succeeded`` counts sent batches (undecodable 2xx included), ``failed`` every other
    outcome but ``pending`` ones, ``unknown`` the part of ``failed`` that may exist at
    Sinch, ``pending`` requests not attempted because the run stopped on an unavailable
    store. In a campaign, ``resumed``, ``reconciled``, ``changed`` and ``taken_over`` are
    parts of ``succeeded``/``failed`` (see [`SendOutcome`][]), and ``claimed_elsewhere``
    counts requests that get no outcome from this run because another worker holds them,
    took them over from this one, or finished them during this run (the worker that
    finished a row reports it): ``finished_elsewhere`` is the part that another worker
    finished, [`held_elsewhere`][] the rest. Rows held elsewhere are looked at again
    at the end of the input (``send_many(takeover_wait=)``): taken over when their claim
    has expired, counted as ``finished_elsewhere`` once their holder finishes them.
    ``lookups`` counts the campaign's lookups at Sinch before sending (rows in doubt,
    rows whose records may be lost, the lost-ledger probe).
    """

    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    #: outcomes that completed after the consumer stopped reading (see
    #: ``SendMany.unreported_outcomes``)
    unreported: int = 0
    resumed: int = 0
    reconciled: int = 0
    claimed_elsewhere: int = 0
    pending: int = 0
    changed: int = 0
    lookups: int = 0
    finished_elsewhere: int = 0
    taken_over: int = 0

    @property
    def held_elsewhere(self) -> int:
        """Rows another worker held when this run last looked (no outcome here)."""
        return self.claimed_elsewhere - self.finished_elsewhere

    @property
    def in_flight(self) -> int:
        return self.submitted - self.succeeded - self.failed - self.pending - self.claimed_elsewhere

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.pending


_END = object()
_GRACE_OVER = object()  # the grace period ended before the next result


@attrs.frozen
class _Skipped:
    """A request another worker holds or finished: no outcome here (keeps the order
    window dense; if this run takes it over later, its outcome is yielded then)."""

    index: int


class SendMany:
    """Async iterator of [`SendOutcome`][]; also an async context manager.

    Reads requests lazily (a generator of millions is never materialised), keeps at most
    ``concurrency`` sends in flight and a bounded buffer of finished outcomes, and never
    stops on a failed send.

    Every request that was read from the input ends in exactly one outcome: yielded to
    you, or, when you stop early (``break``, an exception, cancellation, Ctrl-C, an
    ``on_progress`` that raised), collected in [`unreported_outcomes`][]. The sends in
    flight then get ``grace`` seconds to finish; those still running after it are
    cancelled and reported as unknown ([`SendOutcomeUnknown`][]).

    In a campaign with a shared ledger, rows another worker held when this run reached
    them are looked at again once the input is exhausted, for up to ``takeover_wait``
    seconds (on the client's clock): rows their holder finished are counted in
    ``progress.finished_elsewhere``; rows whose claim expired (a dead or stalled worker)
    are taken over (looked up by reference, then sent only if not found) and yielded
    then, after the other outcomes (``taken_over``). [`status`][] then says whether
    the whole campaign is complete.
    """

    def __init__(
        self,
        send: SendFn,
        requests: Iterable[BatchRequest] | AsyncIterable[BatchRequest],
        *,
        concurrency: int,
        preserve_order: bool,
        auto_client_reference: bool,
        on_progress: Callable[[FanoutProgress], None] | None,
        grace: float = DEFAULT_GRACE,
        ledger: Ledger | None = None,
        campaign: str | None = None,
        find: FindFn | None = None,
        retry_failed: bool = False,
        force_resend: bool = False,
        exists: ExistsFn | None = None,
        sinch_now: SinchNowFn | None = None,
        clock: Clock = SYSTEM_CLOCK,
        takeover_wait: float | None = None,
        total: int | None = None,
    ) -> None:
        concurrency = check_positive_int(concurrency, "concurrency", config=True)
        grace = check_seconds(grace, "grace", config=True)
        if (ledger is None) != (campaign is None):
            raise SinchConfigError("ledger and campaign go together: pass both or neither")
        if ledger is not None and (find is None or exists is None):
            raise SinchConfigError("a campaign needs a lookup for in-doubt requests")
        self._ledger = ledger
        self._campaign = None if campaign is None else check_campaign(campaign)
        self._find = find
        self._exists = exists
        self._sinch_now = sinch_now
        self._retry_failed = retry_failed
        self._force_resend = force_resend
        self._takeover_wait = _takeover_wait(takeover_wait, ledger)
        if total is None and isinstance(requests, Sized):
            total = len(requests)
        if total is not None:
            total = check_count(total, "total", config=True)
        #: the input's length when known before it is read (recorded in the ledger)
        self._total = total
        # rows held elsewhere, looked at again at the end of the input: index ->
        # (request, the last wait between looks); when, by index (a heap on the clock)
        self._deferred: dict[int, tuple[Any, float]] = {}
        self._due: list[tuple[float, int]] = []
        self._exhausted = False
        self._deadline: float | None = None
        self._stopping = asyncio.Event()
        self._state = CampaignState(exists=False)
        #: rows up to this index without a record are looked up before they are sent
        self._frontier = -1
        self._lookahead = max(LOST_RECORD_LOOKAHEAD, 2 * concurrency)
        self._peeked: list[Any] = []
        # batches this run's lookups attributed to a row: never to another one
        self._taken: set[str] = set()
        self._prepared = False
        # the first error that stops the run (ledger or limiter unavailable)
        self._stop_error: BaseException | None = None
        self._stop_raised = False
        self._send = send
        self._source: Iterator[Any] | AsyncIterator[Any]
        if isinstance(requests, AsyncIterable):
            self._source = aiter(requests)
        else:
            self._source = iter(requests)
        self._concurrency = concurrency
        self._preserve_order = preserve_order
        self._auto_ref = auto_client_reference
        self._on_progress = on_progress
        self._grace = float(grace)
        self._clock = clock
        self.progress = FanoutProgress()
        #: Outcomes nobody read: completed after the consumer stopped (in completion order).
        self.unreported_outcomes: list[SendOutcome] = []
        # Unbounded queue, bounded by _buffer: finished outcomes nobody has read yet.
        self._results: asyncio.Queue[Any] = asyncio.Queue()
        self._buffer = asyncio.Semaphore(concurrency * 2)
        self._window = asyncio.Semaphore(concurrency * 4) if preserve_order else None
        self._intake = asyncio.Lock()
        self._next_index = 0
        self._closing = False
        self._input_error: BaseException | None = None
        self._callback_error: BaseException | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._pending: dict[int, SendOutcome | _Skipped] = {}
        self._next_out = 0
        self._finished_workers = 0
        self._shutdown_task: asyncio.Task[None] | None = None

    # --- workers --------------------------------------------------------------------------

    async def _take(self) -> tuple[int, Any, bool] | None:
        """The next row to handle: ``(index, request, revisit)`` (``revisit``: a row held
        elsewhere, looked at again at the end of the input), None when there is none."""
        async with self._intake:
            if self._closing or self._input_error is not None:
                return None
            if self._exhausted:
                return await self._next_revisit()
            try:
                if self._peeked:
                    request = self._peeked.pop(0)
                elif isinstance(self._source, AsyncIterator):
                    request = await anext(self._source)
                else:
                    request = next(self._source)
            except (StopIteration, StopAsyncIteration):
                await self._input_done()
                return await self._next_revisit()
            except Exception as exc:  # the caller's generator failed: stop, report it
                self._input_error = exc
                return None
            index = self._next_index
            self._next_index += 1
            self.progress.submitted += 1
            return index, request, False

    async def _input_done(self) -> None:
        """The input is exhausted: record the campaign's row count, and start the time
        rows held elsewhere are waited for."""
        self._exhausted = True
        self._deadline = self._clock.monotonic() + self._takeover_wait
        ledger, campaign = self._ledger, self._campaign
        if isinstance(ledger, StatusLedger) and campaign is not None:
            try:
                await ledger.set_total(campaign, self._next_index)
            except Exception as exc:  # the status will not know it: not a reason to stop
                log.warning("send_many: could not record the campaign's row count: %s", exc)

    async def _next_revisit(self) -> tuple[int, Any, bool] | None:
        """The next row held elsewhere to look at again (waiting for its turn, within the
        takeover deadline), or None when none is left to look at."""
        while self._due and not self._closing:
            due, index = self._due[0]
            now = self._clock.monotonic()
            deadline = self._deadline if self._deadline is not None else now
            if due > now:
                if due > deadline:
                    break
                await self._nap(due - now)
                continue
            heapq.heappop(self._due)
            entry = self._deferred.get(index)
            if entry is not None:
                return index, entry[0], True
        return None

    def __repr__(self) -> str:
        p = self.progress
        campaign = "" if self._campaign is None else f" campaign={self._campaign!r}"
        return (
            f"<SendMany{campaign} submitted={p.submitted} succeeded={p.succeeded} "
            f"failed={p.failed} unknown={p.unknown} in_flight={p.in_flight}>"
        )

    def _defer(self, index: int, request: Any, claim: Claim | None) -> None:
        """Remember a row another worker holds, to look at it again: at the end of the
        input the first time, then after a growing wait (no later than just past the
        holder's lease, when the ledger tells it), while the takeover deadline allows."""
        previous = self._deferred.get(index)
        wait = _POLL_MIN if previous is None else min(previous[1] * 2, _POLL_MAX)
        self._deferred[index] = (request, wait)
        if previous is None:
            heapq.heappush(self._due, (0.0, index))
            return
        now = self._clock.monotonic()
        deadline = self._deadline if self._deadline is not None else now
        if now >= deadline:  # looked at for the last time: it stays held elsewhere
            log.warning(
                "send_many: item %d still held by another worker (%s) after waiting %.1fs; "
                "no outcome here",
                index,
                "unknown" if claim is None or claim.holder is None else claim.holder,
                self._takeover_wait,
                extra={"sinch_event": "held_elsewhere"},
            )
            return
        if claim is not None and claim.lease_left is not None:
            wait = min(wait, claim.lease_left + _POLL_MIN)
        heapq.heappush(self._due, (min(now + wait, deadline), index))

    async def _nap(self, seconds: float) -> None:
        """Sleep on the client's clock, cut short when the run stops."""
        nap = asyncio.ensure_future(self._clock.sleep(seconds))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((nap, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            stop.cancel()

    def _close_intake(self) -> None:
        """Read no more input and look at no more rows held elsewhere."""
        self._closing = True
        self._stopping.set()

    async def _worker(self) -> None:
        try:
            while True:
                windowed = self._window is not None and not self._exhausted
                if windowed:
                    assert self._window is not None
                    await self._window.acquire()
                taken = await self._take()
                if taken is None or taken[2]:
                    if windowed:  # no input row: no place in the order window
                        assert self._window is not None
                        self._window.release()
                    if taken is None:
                        return
                index, request, revisit = taken
                outcome = await self._one(index, request, revisit=revisit)
                if outcome is None:
                    continue
                try:
                    await self._buffer.acquire()  # the consumer (or the shutdown) frees it
                finally:  # even when cancelled here: the outcome is recorded, not lost
                    self._results.put_nowait(outcome)
        finally:
            self._results.put_nowait(_END)

    async def _one(
        self, index: int, request: Any, *, revisit: bool = False
    ) -> SendOutcome | _Skipped | None:
        """Send one request; always returns its outcome (a cancelled send is recorded
        as unknown before the cancellation goes on). In a campaign: claim it in the
        ledger first, and record its outcome after; a row another worker holds or
        finished is a `_Skipped`. ``revisit``: a row held elsewhere, looked at
        again: None unless this run takes it over (then its outcome)."""
        claim: Claim | None = None
        digest = ""
        intent_at = 0.0
        reconciled = False
        took_over = False  # a revisited row this run now holds: its outcome is ours
        try:
            request = check_request_type(request, "requests", index=index)
            if self._stop_error is not None:
                if revisit:
                    return None  # stays held elsewhere
                raise SendNotAttempted(f"not sent: the run stopped ({self._stop_error})")
            if request.client_reference is None:
                if self._campaign is not None:
                    reference = campaign_reference(self._campaign, index)
                    request = attrs.evolve(request, client_reference=reference)
                elif self._auto_ref:
                    request = attrs.evolve(request, client_reference=new_client_reference())
            if self._ledger is None or self._campaign is None:
                batch = await self._send(request)
            else:
                ledger, campaign = self._ledger, self._campaign
                digest = row_digest(request, campaign, index)
                intent_at = self._intent_time()
                claim = await ledger.begin(
                    campaign,
                    index,
                    request.client_reference,
                    digest,
                    retry_failed=self._retry_failed,
                    intent_at=intent_at,
                )
                if claim.status == "elsewhere":
                    self._defer(index, request, claim)
                    if revisit:
                        return None
                    self.progress.claimed_elsewhere += 1
                    return _Skipped(index)
                if claim.status == "done" and (revisit or index > self._state.high_water):
                    # finished by another worker during this run (it had no record when
                    # this run opened the campaign): that worker reports it, not resumed
                    self._deferred.pop(index, None)
                    self.progress.finished_elsewhere += 1
                    if revisit:
                        return None
                    self.progress.claimed_elsewhere += 1
                    return _Skipped(index)
                if revisit:  # the holder's claim expired: this run holds the row now
                    took_over = True
                    self._deferred.pop(index, None)
                    self.progress.claimed_elsewhere -= 1
                record = claim.record
                if record is not None and not digest_matches(
                    record.digest, request, campaign, index
                ):
                    if claim.status == "done":
                        outcome = _resumed(index, request, record, changed=True)
                        self.progress.resumed += 1
                        self.progress.changed += 1
                        self._count(outcome)
                        return outcome
                    claim = None  # not ours to record: the ledger holds another request
                    raise SinchValidationError(
                        "requests",
                        f"item {index} differs from the request campaign {campaign!r} "
                        "recorded at this index while it was in flight (is the input the "
                        "same, in the same order?); not sent",
                    )
                if claim.status == "done" and record is not None:
                    outcome = _resumed(index, request, record)
                    self.progress.resumed += 1
                    self._count(outcome)
                    return outcome
                if record is not None and claim.status == "in_doubt":
                    # format 1 records were dated on this host's clock: no time bound
                    since = None if len(record.digest) == 32 else record.intent_at
                    found = await self._look_up(index, request, digest, since)
                    reconciled = found is not None
                elif self._maybe_lost(index):
                    found = await self._look_up(index, request, digest, self._state.started_at)
                    reconciled = found is not None
                    if reconciled:
                        self._frontier = max(self._frontier, index)
                if reconciled:
                    assert found is not None
                    batch = found
                else:

                    async def check() -> None:
                        await ledger.check(campaign, index)

                    batch = await self._send(request, before_write=check)
        except asyncio.CancelledError:
            if revisit and not took_over:
                raise  # still held elsewhere: no outcome of this run
            # Not recorded in the ledger: the intent stays, so a rerun looks it up.
            cause = asyncio.CancelledError("send_many shut down past its grace period")
            outcome = SendOutcome(
                index=index,
                request=request,
                error=SendCancelled(request, cause, "cancelled while in flight"),
            )
            self._count(outcome)
            self._results.put_nowait(outcome)
            raise
        except ClaimLostError as exc:  # another worker owns the row now: not sent here
            log.warning("send_many: item %d not sent: %s", index, exc)
            self.progress.claimed_elsewhere += 1
            self._defer(index, request, None)
            return None if revisit else _Skipped(index)
        except (LedgerError, LimiterUnavailableError) as exc:  # fail closed: not sent, stop
            log.error(
                "send_many: stopping: %s unavailable for item %d: %s",
                "ledger" if isinstance(exc, LedgerError) else "rate limiter",
                index,
                exc,
            )
            self._fail_closed(exc)
            if revisit and not took_over:
                return None  # still held elsewhere as far as this run knows
            outcome = SendOutcome(index=index, request=request, error=exc)
            claim = None  # the intent (if recorded) stays: a rerun looks it up
        except SendNotAttempted as exc:
            outcome = SendOutcome(index=index, request=request, error=exc)
            claim = None
        except SinchError as exc:
            outcome = SendOutcome(index=index, request=request, error=exc)
        except Exception as exc:  # a bug, not a send outcome: still recorded, typed
            log.error("send_many: unexpected %r for item %d", exc, index, exc_info=True)
            wrapped = SinchError(f"unexpected {type(exc).__name__}: {exc}")
            wrapped.__cause__ = exc
            outcome = SendOutcome(index=index, request=request, error=wrapped)
        else:
            outcome = SendOutcome(index=index, request=request, batch=batch, reconciled=reconciled)
        if claim is not None and self._ledger is not None and self._campaign is not None:
            try:
                await self._ledger.finish(
                    self._campaign, _record(outcome, claim, digest, intent_at)
                )
            except asyncio.CancelledError:
                self._count(outcome)
                self._results.put_nowait(outcome)
                raise
            except LedgerError as exc:  # sent, but not recorded: in doubt for the next run
                log.error("send_many: ledger failed recording item %d: %s", index, exc)
                self._fail_closed(exc)
            except Exception as exc:  # a broken ledger: the same, typed
                self._fail_closed(LedgerError(f"ledger failed: {type(exc).__name__}: {exc}"))
        if outcome.reconciled:
            self.progress.reconciled += 1
        if took_over:
            outcome = attrs.evolve(outcome, taken_over=True)
            self.progress.taken_over += 1
        self._count(outcome)
        return outcome

    # --- campaign helpers ---------------------------------------------------------------

    async def status(self) -> CampaignStatus:
        """How this run's campaign stands in its ledger, across every worker (a
        [`CampaignStatus`][]: ``complete`` when every row has a
        final outcome). Call it after the run: this run's own outcomes are recorded then.
        [`SinchConfigError`][] outside a campaign, or for a ledger that cannot tell
        (not a [`StatusLedger`][])."""
        if self._ledger is None or self._campaign is None:
            raise SinchConfigError("status() needs a campaign (send_many(ledger=, campaign=))")
        return await campaign_status(self._ledger, self._campaign)

    def _intent_time(self) -> float:
        """Now, on Sinch's clock when known (a lower bound), for an intent record."""
        if self._sinch_now is not None:
            now = self._sinch_now()
            if now is not None:
                return now
        return time.time() - _UNKNOWN_CLOCK_MARGIN

    def _maybe_lost(self, index: int) -> bool:
        """Whether row ``index``, new to the ledger, may have been sent by a run whose
        records were lost (a resumed campaign, at most ``lookahead`` rows past the last
        row known to have been sent)."""
        return (
            self._state.exists
            and not self._force_resend
            and index <= max(self._frontier, self._state.high_water) + self._lookahead
        )

    async def _look_up(
        self, index: int, request: Any, digest: str, since: float | None
    ) -> Batch | None:
        """The batch an earlier run created for this row, or None when there is none.
        Batches the ledger recorded for other rows are never taken; when other rows in
        doubt carry the same reference and content, a match is ambiguous (unknown)."""
        assert self._ledger is not None and self._campaign is not None and self._find
        campaign = self._campaign
        exclude: set[str] = set()
        rivals = 0
        if request.client_reference != campaign_reference(campaign, index):
            for other in await self._ledger.with_reference(campaign, request.client_reference):
                if other.index == index:
                    continue
                if other.batch_id:
                    exclude.add(other.batch_id)
                elif not other.final and digest_matches(
                    other.digest, request, campaign, other.index
                ):
                    rivals += 1
        self.progress.lookups += 1
        matches = await self._find(request, since, frozenset(exclude | self._taken))
        if not matches:
            return None
        if len(matches) > 1 or rivals:
            raise SendOutcomeUnknown(
                request,
                SinchError("ambiguous lookup"),
                f"{len(matches)} batch(es) with this client_reference and content could "
                f"belong to this row or to {rivals} other row(s) in doubt; not resending",
            )
        self._taken.add(matches[0].id)
        shown, fields = reference_fields(request.client_reference)
        log.info(
            "campaign send reconciled: batch %s found by %s",
            matches[0].id,
            shown,
            extra={"sinch_event": "reconciled", "sinch_batch_id": matches[0].id, **fields},
        )
        return matches[0]

    async def _prepare(self) -> None:
        """Before anything is sent in a campaign: open the ledger (unusable, busy or of an
        unknown format: raised here), learn Sinch's clock, and, when the ledger knows
        nothing of the campaign, make sure Sinch does not either (a lost ledger)."""
        if self._ledger is None or self._campaign is None:
            return
        assert self._exists is not None
        campaign = self._campaign
        self._state = await self._ledger.open(campaign)
        self._frontier = self._state.high_water
        if self._total is not None and isinstance(self._ledger, StatusLedger):
            # the row count, for status() while the run goes (recorded again at the end)
            await self._ledger.set_total(campaign, self._total)
        if self._state.exists and self._state.started_at is not None:
            if self._sinch_now is not None and self._sinch_now() is None:
                # one cheap request to learn Sinch's clock from its Date header
                await self._exists(campaign_reference(campaign, 0))
            return
        if not self._state.exists and not self._force_resend:
            found: list[str] = []
            for index in range(LOST_LEDGER_SAMPLE):
                try:
                    if isinstance(self._source, AsyncIterator):
                        request = await anext(self._source)
                    else:
                        request = next(self._source)
                except (StopIteration, StopAsyncIteration):
                    break
                self._peeked.append(request)
                reference = getattr(request, "client_reference", None) or campaign_reference(
                    campaign, index
                )
                self.progress.lookups += 1
                if await self._exists(reference):
                    found.append(reference)
            if found:
                # another worker may have started the campaign since we looked
                again = await self._ledger.open(campaign)
                if again.exists:
                    self._state = again
                    self._frontier = again.high_water
                    found = []
            if found:
                raise LedgerLostError(
                    f"the ledger holds nothing for campaign {campaign!r}, but Sinch already "
                    f"has batches with its references ({', '.join(found)}): the ledger was "
                    "lost (Redis restarted without persistence or evicted the keys, the "
                    "SQLite file was deleted or replaced), or the campaign id (or the rows' "
                    "own client references) were used before. Nothing was sent; sending "
                    "anyway would send those rows again "
                    "(force_resend=True / --force-resend does it deliberately)",
                    found,
                )
        elif self._sinch_now is not None and self._sinch_now() is None:
            await self._exists(campaign_reference(campaign, 0))
        if self._state.exists and self._state.started_at is not None:
            return  # started by another worker while this one probed
        started = self._intent_time()
        await self._ledger.start(campaign, started)
        if not self._state.exists:
            self._state = CampaignState(exists=False, started_at=started)

    def _fail_closed(self, exc: BaseException) -> None:
        if self._stop_error is None:
            self._stop_error = exc
        self._close_intake()
        self._wake_window()

    def _count(self, outcome: SendOutcome) -> None:
        if outcome.ok:
            self.progress.succeeded += 1
        elif outcome.pending:
            self.progress.pending += 1
        else:
            self.progress.failed += 1
            if outcome.unknown:
                self.progress.unknown += 1
        if self._on_progress is not None and self._callback_error is None:
            try:
                self._on_progress(self.progress)
            except Exception as exc:  # the caller's callback: stop the run, raise it to them
                log.warning("send_many: on_progress raised %r; stopping the run", exc)
                self._callback_error = exc
                self._close_intake()
                self._wake_window()

    def _start(self) -> None:
        if not self._workers and self._shutdown_task is None:
            self._workers = [
                asyncio.create_task(self._worker(), name=f"sinch-send-many-{i}")
                for i in range(self._concurrency)
            ]

    # --- consumer -------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[SendOutcome]:
        return self._iterate()

    async def _iterate(self) -> AsyncGenerator[SendOutcome, None]:
        # A generator, so that ``break`` out of a plain ``async for`` (no ``async with``)
        # still shuts the run down when Python finalises the iterator.
        try:
            while True:
                try:
                    outcome = await self.__anext__()
                except StopAsyncIteration:
                    return
                yield outcome
        finally:
            await self.aclose()

    async def __anext__(self) -> SendOutcome:
        if self._shutdown_task is not None:
            raise StopAsyncIteration
        if not self._prepared:
            try:
                await self._prepare()
            except BaseException:
                # nothing was sent: shut down (no workers yet) so the run stays stopped
                self._shutdown_task = asyncio.ensure_future(self._shutdown())
                raise
            self._prepared = True
        self._start()
        while True:
            if self._callback_error is not None:
                error, self._callback_error = self._callback_error, None
                self._on_progress = None
                raise error
            if self._stop_error is not None and not self._stop_raised:
                self._stop_raised = True
                raise self._stop_error
            if self._preserve_order and self._next_out in self._pending:
                pending = self._pending.pop(self._next_out)
                self._emit()
                if isinstance(pending, _Skipped):
                    continue
                return pending
            if self._finished_workers == len(self._workers):
                if self._pending:  # pragma: no cover - indices are dense, cannot happen
                    raise SinchError("send_many lost track of an outcome")
                if self._input_error is not None:
                    error, self._input_error = self._input_error, None
                    raise error
                raise StopAsyncIteration
            item = await self._results.get()
            if item is _END:
                self._finished_workers += 1
                continue
            self._buffer.release()
            if not self._preserve_order:
                if isinstance(item, _Skipped):
                    continue
                self._emit()
                outcome: SendOutcome = item
                return outcome
            if isinstance(item, _Skipped):
                # a row taken over may have its outcome here before its skip: keep it
                self._pending.setdefault(item.index, item)
            elif item.index < self._next_out:
                late: SendOutcome = item  # taken over after its skip went by: out of order
                return late
            else:
                self._pending[item.index] = item  # (replaces the skip of a row taken over)

    def _emit(self) -> None:
        if self._window is not None:
            self._window.release()
            self._next_out += 1

    def _wake_window(self) -> None:
        if self._window is not None:
            # wake workers waiting for the order window so they can see we are closing
            for _ in range(self._concurrency):
                self._window.release()

    def stop(self) -> None:
        """Stop soon, from any callback (a signal handler): read no more input and look
        at no more rows held elsewhere (a takeover wait ends at once); the sends in
        flight finish and are yielded, then the iteration ends. Unlike [`aclose`][] it
        does not wait, and nothing in flight is cancelled. Idempotent."""
        self._close_intake()
        self._wake_window()

    async def aclose(self) -> None:
        """Stop reading input; let in-flight sends finish (``grace`` seconds, then they are
        cancelled and reported unknown); collect what nobody read in
        [`unreported_outcomes`][]. Safe to call more than once, and while cancelled."""
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.ensure_future(self._shutdown())
        task = self._shutdown_task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():  # cancelled again while draining: still finish the drain
                await asyncio.wait([task])
            raise

    async def _shutdown(self) -> None:
        self._close_intake()
        self._wake_window()
        # The grace period runs on the client's clock (virtual time with a FakeClock).
        expired = asyncio.Event()
        timer = None
        if self._grace > 0 and self._finished_workers < len(self._workers):
            timer = call_later(self._clock, self._grace, expired.set)
        else:
            expired.set()
        try:
            await self._drain(expired)
        finally:
            if timer is not None:
                timer.cancel()
        while not self._results.empty():  # outcomes recorded by cancelled sends
            item = self._results.get_nowait()
            if item is not _END:
                self._unreported(item)
        for index in sorted(self._pending):
            self._unreported(self._pending[index])
        self._pending.clear()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    async def _next_result(self, expired: asyncio.Event) -> Any:
        """The next finished item, or ``_GRACE_OVER`` once ``expired`` is set first."""
        if expired.is_set():
            return _GRACE_OVER
        get = asyncio.ensure_future(self._results.get())
        over = asyncio.ensure_future(expired.wait())
        try:
            await asyncio.wait((get, over), return_when=asyncio.FIRST_COMPLETED)
        finally:
            over.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        return _GRACE_OVER

    async def _drain(self, expired: asyncio.Event) -> None:
        cancelled = False
        while self._finished_workers < len(self._workers):
            if expired.is_set() and not cancelled:
                running = [t for t in self._workers if not t.done()]
                if running:
                    log.warning(
                        "send_many: %d send(s) still in flight after %.1fs grace; "
                        "reporting them unknown",
                        len(running),
                        self._grace,
                    )
                for task in running:
                    task.cancel()
                cancelled = True
            item = await (self._results.get() if cancelled else self._next_result(expired))
            if item is _GRACE_OVER:
                continue
            if item is _END:
                self._finished_workers += 1
            else:
                self._buffer.release()
                self._unreported(item)

    def _unreported(self, outcome: SendOutcome | _Skipped) -> None:
        if isinstance(outcome, _Skipped):
            return
        self.unreported_outcomes.append(outcome)
        self.progress.unreported += 1

    async def __aenter__(self) -> SendMany:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _takeover_wait(wait: float | None, ledger: Ledger | None) -> float:
    """``send_many(takeover_wait=)``: the seconds given, else the ledger's ``lease`` plus
    `TAKEOVER_MARGIN`, else `DEFAULT_TAKEOVER_WAIT`."""
    if wait is None:
        lease = getattr(ledger, "lease", None)
        if isinstance(lease, int | float) and not isinstance(lease, bool) and lease > 0:
            return float(lease) + TAKEOVER_MARGIN
        return DEFAULT_TAKEOVER_WAIT
    return check_seconds(wait, "takeover_wait", config=True)


def _resumed(
    index: int, request: Any, record: LedgerRecord, *, changed: bool = False
) -> SendOutcome:
    """The outcome an earlier run recorded (``ok`` or ``failed``), not sent again."""
    if record.state == "ok":
        return SendOutcome(
            index=index,
            request=request,
            resumed=True,
            recorded_batch_id=record.batch_id,
            changed=changed,
        )
    error = RecordedSendError(record.error_type or "SinchError", record.error or "")
    return SendOutcome(index=index, request=request, error=error, resumed=True, changed=changed)


def _record(outcome: SendOutcome, claim: Claim, digest: str, started: float) -> LedgerRecord:
    """The ledger record of a fresh outcome (``started``: when a new intent was recorded)."""
    intent_at = claim.record.intent_at if claim.record is not None else started
    error = outcome.error
    return LedgerRecord(
        index=outcome.index,
        reference=outcome.request.client_reference,
        state="ok" if outcome.ok else "unknown" if outcome.unknown else "failed",
        digest=digest,
        intent_at=intent_at,
        batch_id=outcome.batch_id,
        error_type=None if error is None else type(error).__name__,
        error=None if error is None else str(error)[:2000],
        done_at=time.time(),
    )
