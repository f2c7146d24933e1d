"""``client.batches``: send, dry-run, get, list, replace, update, cancel, delivery feedback."""

from __future__ import annotations

import copy
import logging
import math
from collections import OrderedDict
from collections.abc import AsyncIterable, Callable, Container, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Required, TypedDict, Unpack, overload

import attrs
import orjson

from .. import _constants as C
from .._api import Cast
from .._checkpoint import PagerCheckpoint
from .._converter import decode, dumps
from .._errors import (
    LimiterUnavailableError,
    SendOutcomeUnknown,
    ServerError,
    SinchDecodeError,
    SinchError,
    SinchTransportError,
    UndecodableSendResponse,
)
from .._fanout import DEFAULT_GRACE, FanoutProgress, SendMany, new_client_reference
from .._ledger import Ledger
from .._limits import SharedGroupSizes
from .._pagination import AsyncPager, OnUndecodable
from .._session import Attempts, BeforeWrite, Response, Session, current_operation
from .._telemetry import reference_fields
from .._validation import (
    check_batch_request,
    check_batch_update,
    check_dry_run_recipients,
    check_recipients,
    check_senders,
    check_update_call,
    check_update_fields,
    normalize_number,
)
from .._wire import QueryValue, quote_path_segment
from ..models.batches import (
    Batch,
    BatchRequest,
    BatchUpdate,
    BinaryBatch,
    BinaryBatchRequest,
    BinaryBatchUpdate,
    DeliveryFeedback,
    DeliveryReport,
    DryRunResult,
    MediaBatch,
    MediaBatchRequest,
    MediaBatchUpdate,
    MediaBody,
    Parameters,
    TextBatch,
    TextBatchRequest,
    TextBatchUpdate,
    UnknownBatch,
)
from ..models.common import Page
from ._common import as_list, build_record, check_window, encode_filters

__all__ = [
    "RECONCILE_CLOCK_SKEW",
    "BatchesResource",
    "BinaryFields",
    "MediaFields",
    "TextFields",
    "new_client_reference",
]

log = logging.getLogger("sinch_async")

#: Look-back before the first attempt for the reconciliation lookup's ``start_date``.
_RECONCILE_LOOKBACK = timedelta(minutes=5)
#: How far Sinch's clock may be behind ours when it is unknown (no response carried a
#: ``Date`` header yet): a matching batch created up to this long before the first attempt
#: (on this host's clock) is ambiguous (maybe an earlier send with the same reference).
#: Once a ``Date`` was seen, reconciliation compares on Sinch's clock instead.
RECONCILE_CLOCK_SKEW = timedelta(seconds=2)
_RECONCILE_MAX = 500
_REMEMBER_MAX = 4096


def _at_millis(ts: float) -> datetime:
    """POSIX seconds as an aware datetime truncated to milliseconds (Sinch's resolution)."""
    return datetime.fromtimestamp(math.floor(ts * 1000) / 1000, UTC)


def _recipient_key(recipient: str) -> str:
    """A recipient as Sinch may echo it: a number (the SDK's one rule, ASCII digits) as its
    digits, ``00``/``+`` and separators dropped; anything else (group ids) upper-cased."""
    text = str(recipient).strip()
    number = normalize_number(text)
    return text.upper() if number is None else number.removeprefix("+")


def _same_send(batch: Batch, request: BatchRequest) -> bool:
    """Whether ``batch`` carries what ``request`` asked for (reference, type, recipients as
    normalised sets, body)."""
    if isinstance(batch, UnknownBatch) or batch.type != request.type:
        return False
    if batch.client_reference != request.client_reference:
        return False
    if {_recipient_key(r) for r in batch.to} != {_recipient_key(r) for r in request.to}:
        return False
    return batch.body == request.body


_RESULT_TYPE: dict[type, Any] = {
    TextBatchRequest: TextBatch,
    BinaryBatchRequest: BinaryBatch,
    MediaBatchRequest: MediaBatch,
    TextBatchUpdate: TextBatch,
    BinaryBatchUpdate: BinaryBatch,
    MediaBatchUpdate: MediaBatch,
}


def _expect(resp: Response, expected: Any) -> Any:
    """The response's batch, which must be of the type the request asked for."""
    result = decode(resp.body, Batch, status=resp.status)
    if not isinstance(result, expected):
        raise SinchDecodeError(
            f"expected a {expected.type} batch, got {result.type!r}",
            status=resp.status,
            body=resp.body,
        )
    return result


def _batch_id_of(body: bytes) -> str | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else None


BatchType = Literal["mt_text", "mt_binary", "mt_media"]
_ANY_BATCH: Cast[Batch] = Cast(Batch)


#: Route templates (hooks, spans: never an id in a name).
_ONE = "/batches/{batch_id}"
_FEEDBACK = "/batches/{batch_id}/delivery_feedback"


def _path(batch_id: str) -> str:
    return f"/batches/{quote_path_segment(batch_id, 'batch_id')}"


class _CommonFields(TypedDict, total=False):
    to: Required[Iterable[str]]
    from_: str | None
    delivery_report: DeliveryReport | None
    send_at: datetime | None
    expire_at: datetime | None
    callback_url: str | None
    client_reference: str | None
    feedback_enabled: bool | None


class TextFields(_CommonFields, total=False):
    """Keyword arguments of ``send_text`` / ``dry_run_text`` / ``replace_text``."""

    body: Required[str]
    parameters: Parameters | None
    flash_message: bool | None
    truncate_concat: bool | None
    max_number_of_message_parts: int | None
    from_ton: int | None
    from_npi: int | None


class BinaryFields(_CommonFields, total=False):
    """Keyword arguments of ``send_binary`` / ``dry_run_binary`` / ``replace_binary``."""

    body: Required[str]
    udh: Required[str]
    from_ton: int | None
    from_npi: int | None


class MediaFields(_CommonFields, total=False):
    """Keyword arguments of ``send_media`` / ``dry_run_media`` / ``replace_media``."""

    media_body: Required[MediaBody]
    parameters: Parameters | None
    strict_validation: bool | None


def _text(fields: TextFields) -> TextBatchRequest:
    record: TextBatchRequest = build_record(TextBatchRequest, **fields)
    return record


def _binary(fields: BinaryFields) -> BinaryBatchRequest:
    record: BinaryBatchRequest = build_record(BinaryBatchRequest, **fields)
    return record


def _media(fields: MediaFields) -> MediaBatchRequest:
    data: dict[str, Any] = dict(fields)
    if "media_body" in data:
        data["body"] = data.pop("media_body")
    record: MediaBatchRequest = build_record(MediaBatchRequest, **data)
    return record


class BatchesResource:
    """Batches: every send of one message to up to 1000 recipients."""

    def __init__(
        self,
        session: Session,
        group_sizes: dict[str, int] | None = None,
        *,
        reconcile_sends: bool = True,
        returned: OrderedDict[str, None] | None = None,
        auto_client_reference: bool = False,
    ) -> None:
        self._session = session
        self._group_sizes = {} if group_sizes is None else group_sizes
        self._reconcile = reconcile_sends
        self._auto_reference = auto_client_reference
        # Ids of batches this client's sends already returned (bounded; shared with the
        # client's with_options views): reconciliation never hands one of them to another
        # send that reused the reference.
        self._returned: OrderedDict[str, None] = OrderedDict() if returned is None else returned

    def _remember(self, batch: Batch) -> Batch:
        batch_id = getattr(batch, "id", None)
        if isinstance(batch_id, str):
            self._returned[batch_id] = None
            if len(self._returned) > _REMEMBER_MAX:
                self._returned.popitem(last=False)
            op = current_operation()
            if op is not None:  # the send's batch, for hooks (spans) at operation_end
                op.batch_id = batch_id
        return batch

    def message_cost(self, request: BatchRequest) -> int:
        """Messages a send counts against ``messages_per_second``: one per recipient, a
        group by its size when a response has told us (else 1). With shared group sizes
        (``SinchClient(group_sizes=...)``) a group this process has not seen gives a
        `PendingCost`, looked up in the shared store before the budget is taken."""
        sizes = self._group_sizes
        if type(sizes) is not dict and isinstance(sizes, SharedGroupSizes):
            return sizes.cost(request.to)
        return sum(sizes.get(r, 1) for r in request.to) if sizes else len(request.to)

    # --- send ---------------------------------------------------------------------------

    @overload
    async def send(
        self,
        request: TextBatchRequest,
        *,
        reconcile: bool | None = None,
        before_write: BeforeWrite | None = None,
    ) -> TextBatch: ...
    @overload
    async def send(
        self,
        request: BinaryBatchRequest,
        *,
        reconcile: bool | None = None,
        before_write: BeforeWrite | None = None,
    ) -> BinaryBatch: ...
    @overload
    async def send(
        self,
        request: MediaBatchRequest,
        *,
        reconcile: bool | None = None,
        before_write: BeforeWrite | None = None,
    ) -> MediaBatch: ...
    async def send(
        self,
        request: BatchRequest,
        *,
        reconcile: bool | None = None,
        before_write: BeforeWrite | None = None,
    ) -> Batch:
        """Send a prepared text, binary or media request. Validated before it leaves.

        A send is never repeated blindly. When its outcome is unknown (a 5xx, a read
        timeout, a connection reset after the request was written) and the request has a
        ``client_reference``, the SDK *reconciles*: it lists batches with that reference
        and returns the one this send created (same type, body and recipients compared as
        normalised sets, created after the first attempt began), or sends again when there
        is none. An ambiguous match (an older batch with the same reference and content
        that could be this send's, or several) raises [`SendOutcomeUnknown`][], as does
        a send without a reference or with ``reconcile=False`` (default: the client's
        ``reconcile_sends``). With ``SinchClient(auto_client_reference=True)`` a request
        without a reference is sent with a generated one ([`new_client_reference`][];
        the batch, and a [`SendOutcomeUnknown`][]'s ``request``, carry it).

        ``created_at`` is Sinch's time, so "created after the first attempt began" needs
        Sinch's time at that moment. The client learns the offset between this host's
        clock and Sinch's (``Session.sinch_clock``) from the ``Date`` header of every
        response (to the second) and from the ``created_at`` of the batches its sends
        create (to the millisecond), giving an interval ``[low, high]`` of Sinch times
        for the first attempt's start:

        * when this host's clock lies within it (the clocks agree as far as can be told),
          this host's millisecond clock is used: created at or after the start is this
          send's, up to ``RECONCILE_CLOCK_SKEW`` before it is ambiguous;
        * when it does not (this host's clock is off), a batch created before ``low`` is
          an earlier send that reused the reference (ignored) and one created at or after
          ``low`` is this send's: its own batch is made just after the start, inside the
          interval, so only an earlier send with the same reference and content made less
          than the interval's width before it (a second at most, about a round trip once
          a send succeeded) could be mistaken for it;
        * until a response carried a ``Date``, this host's clock is used as in the first
          case.

        ``before_write`` is awaited right before each attempt is written (retries and
        resends after a lookup included), after the concurrency slot and the message
        budget were taken: whatever it raises propagates unchanged (the request was not
        written; never retried, never [`SendOutcomeUnknown`][]).

        A 2xx whose body cannot be decoded raises [`UndecodableSendResponse`][]: the
        batch exists, do not resend. A 3xx raises [`RedirectError`][] (not sent).
        [`LimiterUnavailableError`][] (a shared rate limiter) propagates as it is, from
        a lookup too.
        """
        request = check_batch_request(request)  # the record's type included
        if request.client_reference is None and self._auto_reference:
            request = attrs.evolve(request, client_reference=new_client_reference())
        body = dumps(request)
        cost = self.message_cost(request)
        do_reconcile = self._reconcile if reconcile is None else reconcile
        expected = _RESULT_TYPE[type(request)]
        wall = self._session.clock.time  # the clock Sinch's is learnt against
        sent_at = wall()  # mapped to Sinch's clock only if reconciliation needs it
        guard: BeforeWrite | None = None
        refused: list[BaseException] = []
        if before_write is not None:
            hook = before_write

            async def guarded() -> None:  # tells its own exceptions from the request's
                try:
                    await hook()
                except BaseException as exc:
                    refused.append(exc)
                    raise

            guard = guarded

        # The resend loop: resubmitted (after a lookup found nothing) at most as often as
        # the retry policy allows attempts, and every POST of the send (the engine's
        # retries of each round included) drawn from one budget of max_send_posts.
        policy = self._session.retry_policy
        max_sends = policy.max_attempts
        posts = Attempts(policy.max_send_posts)
        with self._session.operation("batches.send", client_reference=request.client_reference):
            for attempt in range(1, max_sends + 1):
                try:
                    resp = await self._session.request(
                        "POST",
                        "/batches",
                        body=body,
                        cost=cost,
                        idempotent=False,
                        before_write=guard,
                        attempts=posts,
                    )
                except (ServerError, SinchTransportError) as exc:
                    if refused and exc is refused[-1]:
                        raise  # before_write's own: not written
                    if isinstance(exc, SinchTransportError) and not exc.may_have_reached_sinch:
                        raise  # certainly not processed (and already retried by the policy)
                    if not (do_reconcile and request.client_reference):
                        raise SendOutcomeUnknown(request, exc) from exc
                    found = await self._reconcile_lookup(request, sent_at, exc)
                    if found is not None:
                        return self._remember(found)
                    if attempt == max_sends or posts.left <= 0:
                        made = policy.max_send_posts - posts.left
                        raise SendOutcomeUnknown(
                            request, exc, f"no batch after {attempt} sends ({made} POSTs)"
                        ) from exc
                    shown, fields = reference_fields(request.client_reference)
                    log.info(
                        "send with %s not found after %s: sending again",
                        shown,
                        type(exc).__name__,
                        extra={
                            "sinch_event": "resend",
                            "sinch_method": "POST",
                            "sinch_attempt": attempt,
                            **fields,
                        },
                    )
                    continue
                try:
                    result = decode(resp.body, Batch, status=resp.status)
                    if not isinstance(result, expected):
                        raise SinchDecodeError(
                            f"expected a {expected.type} batch, got {result.type!r}",
                            status=resp.status,
                            body=resp.body,
                        )
                except SinchDecodeError as exc:
                    raise UndecodableSendResponse(
                        f"Sinch created the batch (HTTP {resp.status}) but its response could "
                        f"not be decoded: {exc}",
                        status=resp.status,
                        body=resp.body,
                        request=request,
                        batch_id=_batch_id_of(resp.body),
                    ) from exc
                created = result.created_at
                clock = self._session.sinch_clock
                if created is not None and clock.loose:  # made during this call: Sinch's
                    clock.observe_timestamp(created.timestamp(), sent_at, wall())  # ms
                return self._remember(result)
        raise AssertionError("unreachable")  # pragma: no cover

    def send_many(
        self,
        requests: Iterable[BatchRequest] | AsyncIterable[BatchRequest],
        *,
        concurrency: int = 32,
        preserve_order: bool = False,
        auto_client_reference: bool | None = None,
        on_progress: Callable[[FanoutProgress], None] | None = None,
        grace: float = DEFAULT_GRACE,
        ledger: Ledger | None = None,
        campaign: str | None = None,
        retry_failed: bool = False,
        force_resend: bool = False,
        takeover_wait: float | None = None,
        total: int | None = None,
    ) -> SendMany:
        """Send many requests under the client's limits; yield one [`SendOutcome`][] each.

        ``requests`` may be any (async) iterable and is read lazily. ``concurrency`` bounds
        the sends in flight (the client's ``max_concurrency`` and ``messages_per_second``
        still apply). ``preserve_order`` yields outcomes in input order (with a bounded
        reorder window). ``auto_client_reference`` gives each request without one a unique
        reference, so an ambiguous failure can be reconciled instead of reported unknown
        (default: the client's ``auto_client_reference``; a campaign's ``CAMPAIGN:INDEX``
        references come first).

        Every request read from the input gets exactly one [`SendOutcome`][]: yielded,
        or, if you stop early (``break``, an exception, cancellation, Ctrl-C, a raising
        ``on_progress``), in ``unreported_outcomes`` once the run has shut down. Sends in
        flight then have ``grace`` seconds (on the client's clock) to finish before
        they are cancelled and reported unknown. An ``on_progress`` that raises stops
        the run and its exception is raised to the consumer. An unavailable shared rate limiter
        ([`LimiterUnavailableError`][]) stops the run too: it is raised to the
        consumer and the requests it kept from being sent are ``pending``, not failed.

        **Campaigns** (crash-safe, resumable): with a ``ledger`` ([`SqliteLedger`][],
        ``RedisLedger``) and a ``campaign`` id, each request without a reference gets
        ``f"{campaign}:{index}"``, its intent is recorded before it is sent and its outcome
        after. Running the same campaign again (same input, same order) yields the recorded
        ``ok``/``failed`` outcomes with ``resumed=True`` without sending them (failed ones
        are sent again with ``retry_failed=True``; a row whose input changed after it was
        sent is ``changed`` and not sent again); a request with an intent but no outcome
        (or an ``unknown`` one) is looked up by reference among batches Sinch created
        since its intent (on Sinch's clock), never taking a batch the ledger recorded for
        another row: found, it is ``ok`` with ``reconciled=True``; not found, it is sent;
        several candidates (or other rows in doubt with the same reference and content)
        make it ``unknown``. With a shared ledger a request another live worker holds is
        not yielded here (counted in ``progress.claimed_elsewhere``), and a worker proves
        it still holds its claim right before each POST. A ledger that fails raises
        [`LedgerError`][] and stops the run; nothing is sent without its intent
        recorded. Before anything is sent, a ledger that knows nothing of the campaign
        while Sinch already has batches with its first references raises
        `LedgerLostError` (``force_resend=True`` sends anyway); a resumed
        campaign looks up rows past its last record before sending them, in case their
        records were lost.

        **Many workers** (a shared ledger such as ``RedisLedger``): rows another worker
        held when this run reached them are looked at again once the input is exhausted,
        for up to ``takeover_wait`` seconds (default: the ledger's ``lease`` plus 2 s;
        0: one look, no waiting): rows that worker finished count as
        ``progress.finished_elsewhere``; rows whose claim expired (a killed or stalled
        worker) are taken over here (looked up by reference, sent only if not found) and
        yielded last, with ``taken_over=True``. ``total`` (default: ``len(requests)``
        when it has one) is the campaign's row count, recorded in the ledger so that
        ``await sm.status()`` (after the run) can say whether *every* row of the
        campaign, whichever worker had it, has a final outcome.
        """
        find = exists = None
        if ledger is not None:

            async def find(
                request: BatchRequest, since: float | None, exclude: frozenset[str]
            ) -> list[Batch]:
                start = self._oldest_listed()
                if since is not None:
                    start = max(start, datetime.fromtimestamp(since, UTC) - _RECONCILE_LOOKBACK)
                try:
                    # (not this client's memory of returned batches: a batch a run got
                    # but could not record is exactly the one to find)
                    found = await self._same_sends(request, start, exclude)
                except LimiterUnavailableError:
                    raise
                except SinchError as exc:
                    raise SendOutcomeUnknown(
                        request, exc, "in doubt after an earlier run; lookup failed"
                    ) from exc
                if since is None:
                    return found
                # made before this row's intent (on Sinch's clock): not this row's
                return [
                    b
                    for b in found
                    if (created := getattr(b, "created_at", None)) is not None
                    and created.timestamp() >= since - 0.001
                ]

            async def exists(reference: str) -> bool:
                pager = self.list(
                    client_reference=reference,
                    start_date=self._oldest_listed(),
                    page_size=1,
                    max_items=1,
                )
                async for _ in pager:
                    return True
                return False

        auto = self._auto_reference if auto_client_reference is None else auto_client_reference
        sender = self
        if self._auto_reference and not auto:  # False here wins over the client's True
            sender = copy.copy(self)
            sender._auto_reference = False
        return SendMany(
            sender.send,
            requests,
            concurrency=concurrency,
            preserve_order=preserve_order,
            auto_client_reference=auto,
            on_progress=on_progress,
            grace=grace,
            clock=self._session.clock,
            ledger=ledger,
            campaign=campaign,
            find=find,
            exists=exists,
            sinch_now=self._sinch_now,
            retry_failed=retry_failed,
            force_resend=force_resend,
            takeover_wait=takeover_wait,
            total=total,
        )

    def _sinch_now(self) -> float | None:
        """Now on Sinch's clock (a lower bound), from its Date headers; None if unknown."""
        clock = getattr(self._session, "sinch_clock", None)
        bounds = clock.to_sinch(self._session.clock.time()) if clock is not None else None
        return None if bounds is None else float(bounds[0])

    def _oldest_listed(self) -> datetime:
        """The oldest time Sinch still lists batches from (its retention), on the
        client's clock."""
        return datetime.fromtimestamp(self._session.clock.time(), UTC) - C.BATCH_RETENTION

    async def _same_sends(
        self, request: BatchRequest, start: datetime, skip: Container[str]
    ) -> list[Batch]:
        """Batches created since ``start`` with the request's reference and content
        (`_same_send`) whose ids are not in ``skip``; API errors propagate."""
        pager = self.list(
            client_reference=request.client_reference,
            start_date=start,
            page_size=C.MAX_PAGE_SIZE,
            max_items=_RECONCILE_MAX,
        )
        return [b async for b in pager if _same_send(b, request) and b.id not in skip]

    async def _reconcile_lookup(
        self, request: BatchRequest, sent_at: float, cause: BaseException
    ) -> Batch | None:
        """The batch this request created (its first attempt began at host time
        ``sent_at``), None when there is none, or [`SendOutcomeUnknown`][] when the
        lookup cannot tell (see [`send`][] for the rule)."""
        clock = self._session.sinch_clock
        # Before the lookup (a window in the past is all the listing needs): at worst the
        # host's own time, the lookback absorbing any skew under five minutes.
        bounds = clock.to_sinch(sent_at)
        since = sent_at if bounds is None else bounds[0]
        try:
            # not this content, or already another send's result: skipped
            candidates = await self._same_sends(
                request, _at_millis(since) - _RECONCILE_LOOKBACK, self._returned
            )
        except LimiterUnavailableError:
            raise  # nothing was sent for the lookup: the limiter's own error, as it is
        except SinchError as exc:
            raise SendOutcomeUnknown(request, cause, f"lookup failed: {exc}") from exc
        mine: list[Batch] = []
        earlier: list[Batch] = []
        # The lookup's own response was observed: the clock is at its best now.
        bounds = clock.to_sinch(sent_at)
        if bounds is None or bounds[0] <= sent_at <= bounds[1]:
            # No Date seen yet, or Sinch's agrees with this host's clock (to within what
            # the Dates can tell): this host's millisecond clock, with a margin before it.
            started = _at_millis(sent_at)
            low, ambiguous_from = started, started - RECONCILE_CLOCK_SKEW
        else:
            # This host's clock is off: the earliest Sinch time the attempt can have begun
            # at (Sinch's timestamps have milliseconds: compare at that).
            low = ambiguous_from = _at_millis(bounds[0])
        for batch in candidates:
            created = getattr(batch, "created_at", None)
            if created is None:
                earlier.append(batch)  # cannot tell when it was made
            elif created >= low:
                mine.append(batch)
            elif created >= ambiguous_from:
                earlier.append(batch)  # within clock skew: could be either
            # else: an earlier send that reused the reference
        shown, fields = reference_fields(request.client_reference)
        if len(mine) == 1 and not earlier:
            log.info(
                "send reconciled: batch %s found by %s after %s",
                mine[0].id,
                shown,
                type(cause).__name__,
                extra={
                    "sinch_event": "reconciled",
                    "sinch_method": "POST",
                    "sinch_batch_id": mine[0].id,
                    "sinch_status": getattr(cause, "status", None),
                    **fields,
                },
            )
            return mine[0]
        if mine or earlier:
            log.warning(
                "send outcome unknown: %d batches could be this send's (%s)",
                len(mine) + len(earlier),
                shown,
                extra={"sinch_event": "reconcile_ambiguous", "sinch_method": "POST", **fields},
            )
            raise SendOutcomeUnknown(
                request,
                cause,
                f"{len(mine) + len(earlier)} batches with this client_reference and content "
                "could be this send's; not resending",
            )
        return None

    async def send_text(self, **fields: Unpack[TextFields]) -> TextBatch:
        """Send an SMS to 1..1000 recipients; ``${key}`` placeholders come from ``parameters``.

        Keyword arguments are the fields of [`TextBatchRequest`][] (``to`` and ``body``
        required)."""
        request = _text(fields)
        with self._session.operation("batches.send_text"):
            return await self.send(request)

    async def send_binary(self, **fields: Unpack[BinaryFields]) -> BinaryBatch:
        """Send a binary SMS: Base64 ``body`` plus hex ``udh``, at most 140 bytes together
        (the fields of [`BinaryBatchRequest`][])."""
        request = _binary(fields)
        with self._session.operation("batches.send_binary"):
            return await self.send(request)

    async def send_media(self, **fields: Unpack[MediaFields]) -> MediaBatch:
        """Send an MMS (US only, enabled per account): ``media_body`` plus the fields of
        [`MediaBatchRequest`][]."""
        request = _media(fields)
        with self._session.operation("batches.send_media"):
            return await self.send(request)

    async def dry_run_text(
        self,
        *,
        per_recipient: bool = False,
        number_of_recipients: int | None = None,
        **fields: Unpack[TextFields],
    ) -> DryRunResult:
        """[`dry_run`][] of the text request these keyword arguments describe."""
        request = _text(fields)
        with self._session.operation(
            "batches.dry_run_text", client_reference=request.client_reference
        ):
            return await self.dry_run(
                request, per_recipient=per_recipient, number_of_recipients=number_of_recipients
            )

    async def dry_run_binary(
        self,
        *,
        per_recipient: bool = False,
        number_of_recipients: int | None = None,
        **fields: Unpack[BinaryFields],
    ) -> DryRunResult:
        """[`dry_run`][] of the binary request these keyword arguments describe."""
        request = _binary(fields)
        with self._session.operation(
            "batches.dry_run_binary", client_reference=request.client_reference
        ):
            return await self.dry_run(
                request, per_recipient=per_recipient, number_of_recipients=number_of_recipients
            )

    async def dry_run_media(
        self,
        *,
        per_recipient: bool = False,
        number_of_recipients: int | None = None,
        **fields: Unpack[MediaFields],
    ) -> DryRunResult:
        """[`dry_run`][] of the media request these keyword arguments describe."""
        request = _media(fields)
        with self._session.operation(
            "batches.dry_run_media", client_reference=request.client_reference
        ):
            return await self.dry_run(
                request, per_recipient=per_recipient, number_of_recipients=number_of_recipients
            )

    async def replace_text(self, batch_id: str, **fields: Unpack[TextFields]) -> TextBatch:
        """[`replace`][] a batch with the text request these keyword arguments describe."""
        request = _text(fields)
        with self._session.operation("batches.replace_text", batch_id=batch_id):
            return await self.replace(batch_id, request)

    async def replace_binary(self, batch_id: str, **fields: Unpack[BinaryFields]) -> BinaryBatch:
        """[`replace`][] a batch with the binary request these keyword arguments describe."""
        request = _binary(fields)
        with self._session.operation("batches.replace_binary", batch_id=batch_id):
            return await self.replace(batch_id, request)

    async def replace_media(self, batch_id: str, **fields: Unpack[MediaFields]) -> MediaBatch:
        """[`replace`][] a batch with the media request these keyword arguments describe."""
        request = _media(fields)
        with self._session.operation("batches.replace_media", batch_id=batch_id):
            return await self.replace(batch_id, request)

    async def dry_run(
        self,
        request: BatchRequest,
        *,
        per_recipient: bool = False,
        number_of_recipients: int | None = None,
    ) -> DryRunResult:
        """Ask Sinch how a request would be split into messages, without sending it."""
        request = check_batch_request(request)
        check_dry_run_recipients(number_of_recipients)
        query: dict[str, QueryValue] = {
            "per_recipient": per_recipient,
            "number_of_recipients": number_of_recipients,
        }
        return await self._session.call(
            "POST",
            "/batches/dry_run",
            DryRunResult,
            query=query,
            body=dumps(request),
            name="batches.dry_run",
            client_reference=request.client_reference,
        )

    # --- one batch ----------------------------------------------------------------------

    async def get(self, batch_id: str) -> Batch:
        """Fetch one batch by id."""
        return await self._session.call(
            "GET", _path(batch_id), _ANY_BATCH, name="batches.get", route=_ONE, batch_id=batch_id
        )

    @overload
    async def replace(self, batch_id: str, request: TextBatchRequest) -> TextBatch: ...
    @overload
    async def replace(self, batch_id: str, request: BinaryBatchRequest) -> BinaryBatch: ...
    @overload
    async def replace(self, batch_id: str, request: MediaBatchRequest) -> MediaBatch: ...
    async def replace(self, batch_id: str, request: BatchRequest) -> Batch:
        """Replace a (scheduled) batch with a new request: cancel and send anew."""
        request = check_batch_request(request)
        resp = await self._session.request(
            "PUT",
            _path(batch_id),
            body=dumps(request),
            cost=self.message_cost(request),
            name="batches.replace",
            route=_ONE,
            batch_id=batch_id,
            client_reference=request.client_reference,
        )
        result: Batch = _expect(resp, _RESULT_TYPE[request.__class__])
        return result

    @overload
    async def update(self, batch_id: str, update: TextBatchUpdate) -> TextBatch: ...
    @overload
    async def update(self, batch_id: str, update: BinaryBatchUpdate) -> BinaryBatch: ...
    @overload
    async def update(self, batch_id: str, update: MediaBatchUpdate) -> MediaBatch: ...
    @overload
    async def update(
        self,
        batch_id: str,
        update: None = None,
        *,
        type: BatchType | None = None,
        to_add: Iterable[str] | None = None,
        to_remove: Iterable[str] | None = None,
        from_: str | None = None,
        body: str | MediaBody | None = None,
        udh: str | None = None,
        parameters: Parameters | None = None,
        delivery_report: DeliveryReport | None = None,
        send_at: datetime | None = None,
        expire_at: datetime | None = None,
        callback_url: str | None = None,
        client_reference: str | None = None,
        feedback_enabled: bool | None = None,
        flash_message: bool | None = None,
        truncate_concat: bool | None = None,
        max_number_of_message_parts: int | None = None,
        from_ton: int | None = None,
        from_npi: int | None = None,
        strict_validation: bool | None = None,
    ) -> Batch: ...
    async def update(
        self,
        batch_id: str,
        update: BatchUpdate | None = None,
        *,
        type: BatchType | None = None,
        to_add: Iterable[str] | None = None,
        to_remove: Iterable[str] | None = None,
        from_: str | None = None,
        body: str | MediaBody | None = None,
        udh: str | None = None,
        parameters: Parameters | None = None,
        delivery_report: DeliveryReport | None = None,
        send_at: datetime | None = None,
        expire_at: datetime | None = None,
        callback_url: str | None = None,
        client_reference: str | None = None,
        feedback_enabled: bool | None = None,
        flash_message: bool | None = None,
        truncate_concat: bool | None = None,
        max_number_of_message_parts: int | None = None,
        from_ton: int | None = None,
        from_npi: int | None = None,
        strict_validation: bool | None = None,
    ) -> Batch:
        """Change some fields of a batch (only the ones given).

        Pass a prepared ``update`` record, or keyword arguments. The batch type is taken
        from ``type`` or inferred from the fields (``udh`` → binary, a ``MediaBody`` →
        media), else ``mt_text``; it is always sent, as the official SDKs do. A binary
        update needs ``udh``.
        """
        fields: dict[str, Any] = {
            "to_add": to_add,
            "to_remove": to_remove,
            "from_": from_,
            "body": body,
            "udh": udh,
            "parameters": parameters,
            "delivery_report": delivery_report,
            "send_at": send_at,
            "expire_at": expire_at,
            "callback_url": callback_url,
            "client_reference": client_reference,
            "feedback_enabled": feedback_enabled,
            "flash_message": flash_message,
            "truncate_concat": truncate_concat,
            "max_number_of_message_parts": max_number_of_message_parts,
            "from_ton": from_ton,
            "from_npi": from_npi,
            "strict_validation": strict_validation,
        }
        given = {k: v for k, v in fields.items() if v is not None}
        check_update_call(update, type, given)
        payload = check_batch_update(
            update if update is not None else _update_from_fields(type, given)
        )
        resp = await self._session.request(
            "POST",
            _path(batch_id),
            body=dumps(payload),
            name="batches.update",
            route=_ONE,
            batch_id=batch_id,
        )
        result: Batch = _expect(resp, _RESULT_TYPE[payload.__class__])
        return result

    async def cancel(self, batch_id: str) -> Batch:
        """Cancel a batch; messages already handed to operators may still be delivered."""
        return await self._session.call(
            "DELETE",
            _path(batch_id),
            _ANY_BATCH,
            name="batches.cancel",
            route=_ONE,
            batch_id=batch_id,
        )

    async def send_delivery_feedback(self, batch_id: str, recipients: Iterable[str]) -> None:
        """Tell Sinch which recipients got the message (batch must have feedback_enabled).

        An empty list means every recipient of a batch sent to numbers was reached.
        """
        feedback = build_record(DeliveryFeedback, recipients=recipients)
        # no documented maximum (a group may have 10,000 members)
        checked = check_recipients(
            feedback.recipients, "recipients", minimum=0, maximum=None, allow_groups=False
        )
        if checked != feedback.recipients:
            feedback = DeliveryFeedback(recipients=checked)
        await self._session.request(
            "POST",
            f"{_path(batch_id)}/delivery_feedback",
            body=dumps(feedback),
            name="batches.send_delivery_feedback",
            route=_FEEDBACK,
            batch_id=batch_id,
        )

    # --- list ---------------------------------------------------------------------------

    def list(
        self,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        from_: Iterable[str] | None = None,
        client_reference: str | None = None,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        prefetch: int = 1,
        on_undecodable: OnUndecodable = "raise",
    ) -> AsyncPager[Batch]:
        """Walk batches newest first (Sinch keeps about 14 days; without ``start_date``
        Sinch starts 24 h back). ``from_`` filters on one or more senders: anything a
        send takes as ``from_`` (numbers, short codes, alphanumeric sender ids).

        ``resume`` continues from a checkpoint (``pager.checkpoint`` or an error's
        ``.checkpoint``); the filters then come from the checkpoint.
        ``on_undecodable="skip"`` passes a batch the SDK cannot decode (see
        [`Pager`][]).
        """
        check_window(start_date, end_date)
        senders = as_list(from_)
        if senders is not None:
            senders = list(check_senders(senders, "from_"))
        filters = encode_filters(
            {
                "start_date": start_date,
                "end_date": end_date,
                "from": senders,
                "client_reference": client_reference,
            }
        )
        return AsyncPager(
            self._fetch_page,
            resource="batches",
            filters=filters,
            page_size=page_size,
            max_items=max_items,
            resume=resume,
            prefetch=prefetch,
            filter_names=("start_date", "end_date", "from", "client_reference"),
            on_undecodable=on_undecodable,
        )

    async def _fetch_page(self, query: Mapping[str, QueryValue]) -> Page[Batch]:
        page: Page[Batch] = await self._session.page("/batches", "batches", Batch, query)
        return page


def _update_from_fields(type: BatchType | None, given: dict[str, Any]) -> BatchUpdate:
    """Pick the update record for keyword arguments (``mt_text`` when nothing says otherwise,
    as the official SDKs do: the ``type`` always goes on the wire)."""
    media_like = isinstance(given.get("body"), MediaBody) or "strict_validation" in given
    binary_like = "udh" in given
    text_like = any(
        k in given for k in ("flash_message", "truncate_concat", "max_number_of_message_parts")
    ) or isinstance(given.get("body"), str)
    inferred: BatchType | None = type
    if inferred is None:
        if media_like:
            inferred = "mt_media"
        elif binary_like:
            inferred = "mt_binary"
        elif text_like or "parameters" in given:
            inferred = "mt_text"
    cls = check_update_fields(inferred, given)
    record: BatchUpdate = build_record(cls, **given)
    return record
