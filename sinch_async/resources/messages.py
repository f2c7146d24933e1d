"""``client.messages``: batches you sent and messages you received, as one stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeAlias

import attrs

from .. import _constants as C
from .._checkpoint import MessagesCheckpoint, MessagesSideCheckpoint
from .._errors import SinchValidationError
from .._pagination import OnUndecodable, Pager, PagerItems, Position
from .._validation import (
    check_checkpoint_resource,
    check_direction,
    check_max_items,
    check_on_undecodable,
    check_page_size,
    check_prefetch,
    check_recipients,
    check_senders,
    normalize_number,
)
from .._wire import format_datetime, parse_datetime
from ..models.batches import Batch, UnknownBatch
from ..models.common import Page
from ..models.inbounds import Inbound, UnknownInbound
from ._common import as_list, check_window, encode_filters
from .batches import BatchesResource
from .inbounds import InboundsResource

__all__ = [
    "Direction",
    "Message",
    "MessagePage",
    "MessagePager",
    "MessagesCheckpoint",
    "MessagesResource",
]

#: ``"mt"``: a batch you sent (mobile-terminated); ``"mo"``: an inbound you received.
Direction = Literal["mt", "mo"]

_SIDES: tuple[Direction, Direction] = ("mt", "mo")
#: The arguments of `MessagesResource.list` a checkpoint keeps (as ``filters``).
_FILTER_NAMES = ("direction", "to", "from", "start_date", "end_date", "client_reference")


@attrs.frozen(kw_only=True)
class Message:
    """One item of [`MessagesResource.list`][].

    ``at`` is the batch's ``created_at`` or the inbound's ``received_at`` (``None`` when
    the record has none, e.g. an ``UnknownBatch``); ``record`` is the original
    [`Batch`][] or [`Inbound`][].
    """

    direction: Direction
    at: datetime | None
    id: str
    record: Batch | Inbound

    @property
    def from_(self) -> str | None:
        """The sender: the batch's ``from`` or the inbound's ``from``."""
        value: Any = _field(self.record, "from_", "from")
        return None if value is None else str(value)

    @property
    def to(self) -> tuple[str, ...]:
        """The recipients: a batch's ``to`` list, or the inbound's one ``to`` number."""
        value: Any = _field(self.record, "to", "to")
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)


#: One page of `MessagePager.pages` (0.1's name): up to ``page_size`` merged items.
MessagePage: TypeAlias = Page[Message]


def _field(record: Any, attr: str, wire: str) -> Any:
    """A field of a known record, or of an ``Unknown*`` record's raw JSON."""
    if isinstance(record, UnknownBatch | UnknownInbound):
        return record.raw.get(wire)
    return getattr(record, attr, None)


def _key(value: str) -> str:
    """How numbers compare client-side: normalised, with or without the ``+``; group
    ids as given."""
    number = normalize_number(value)
    return value if number is None else number.lstrip("+")


#: A side's state before it pulled its head: (its pager's position, the cursor's time,
#: the cursor's id list and how many of its ids were taken then).
_Before = tuple[Position, datetime | None, list[str], int]
#: All of a side's state (`_Side.save`), to undo a merged page that failed.
_Saved = tuple[
    Position, int, tuple[datetime | None, Message] | None, _Before | None, _Before, bool, int
]


class _Side:
    """One direction's walk: its pager, the client-side filter, the one item pulled from
    it but not handed out yet (`head`) and the walk's cursor on it.

    The cursor is the time of the last item taken (`last_at`, also the merge time
    of the items that carry none) and the ids taken at that time. The list is newest
    first, so an item newer than the cursor, or at its time and already taken, was
    handed out before: items that arrived during the walk pushed it down a page. It is
    passed (counted in `duplicates`), and each message comes once however many
    arrive; the cursor holds only the ids of one instant."""

    def __init__(
        self,
        direction: Direction,
        pager: Pager[Any],
        time_of: Callable[[Any], datetime | None],
        keep: Callable[[Any], bool],
        *,
        at: datetime | None = None,
        ids: Iterable[str] = (),
    ) -> None:
        self.direction = direction
        self.pager = pager
        self.time_of = time_of
        self.keep = keep
        self.head: tuple[datetime | None, Message] | None = None
        self.last_at: datetime | None = at
        self.ids: list[str] = list(ids)
        self._taken: set[str] = set(self.ids)
        self.before: _Before | None = None  # the state before the head was pulled
        self.done = False
        self.duplicates = 0

    async def pull(self, items: AsyncIterator[Any]) -> None:
        """Fill `head` with the next matching item (or mark the side done)."""
        pager = self.pager
        while True:
            before = (pager._position(), self.last_at, self.ids, len(self.ids))
            try:
                record = await anext(items)
            except StopAsyncIteration:
                self.done = True
                return
            at = self.time_of(record)
            record_id = str(record.id)
            if not self._take(at, record_id):
                self.duplicates += 1
                continue
            if not self.keep(record):
                continue
            message = Message(direction=self.direction, at=at, id=record_id, record=record)
            # An item without a timestamp keeps its place in its own side's (server)
            # order: it merges as if it had the timestamp of the item before it.
            self.head = (self.last_at, message)
            self.before = before
            return

    def _take(self, at: datetime | None, record_id: str) -> bool:
        """Move the cursor onto an item; False when the walk took it already."""
        cursor = self.last_at
        if at is None or at == cursor:  # an item without a time stays at the cursor
            if record_id in self._taken:
                return False
            self.ids.append(record_id)
            self._taken.add(record_id)
            return True
        if cursor is not None and at > cursor:
            return False
        self.last_at = at
        self.ids = [record_id]  # a new list: a state saved before keeps its own
        self._taken = {record_id}
        return True

    def checkpoint(self) -> MessagesSideCheckpoint:
        """The side's position before its head (the head is not handed out yet)."""
        if self.head is not None and self.before is not None:
            position, at, ids, n = self.before
        else:
            position, at, ids, n = self.pager._position(), self.last_at, self.ids, len(self.ids)
        return MessagesSideCheckpoint(
            direction=self.direction,
            pager=self.pager._checkpoint_at(position),
            at=None if at is None else format_datetime(at),
            ids=tuple(ids[:n]),
        )

    def save(self) -> _Saved:
        """Everything `restore` needs to come back to this moment."""
        now: _Before = (self.pager._position(), self.last_at, self.ids, len(self.ids))
        return (
            now[0],
            self.pager.skipped,
            self.head,
            self.before,
            now,
            self.done,
            self.duplicates,
        )

    def restore(self, saved: _Saved) -> None:
        """Come back to a moment `save` kept."""
        position, skipped, self.head, self.before, now, self.done, self.duplicates = saved
        self.pager._restore(position, skipped)
        _, self.last_at, ids, n = now
        self.ids = ids[:n]
        self._taken = set(self.ids)


def _newer(a: datetime | None, b: datetime | None) -> bool:
    """Whether sort key ``a`` is strictly newer than ``b`` (``None``: newest of all)."""
    if b is None:
        return False
    return a is None or a > b


class _Merge:
    """The merged list's page source (one per walk): a two-way merge on the time of the
    two sides' pagers, pulling one item at a time from each (at most one undelivered item
    per side, kept on the side between walks)."""

    def __init__(self, sides: Sequence[_Side]) -> None:
        self._sides = sides
        self._streams: dict[Direction, PagerItems[Any]] = {}
        self._page: Page[Message] | None = None

    async def fetch(self, page: int, want: int) -> Page[Message]:
        """Merged page ``page``: up to ``want`` items (empty at the end)."""
        if self._page is not None and self._page.page == page:
            return self._page  # asked again: the same page
        # A page of several items that fails half-way is undone: its items were never
        # handed out, and the checkpoint (an error's too) must not pass them.
        saved = [side.save() for side in self._sides] if want > 1 else None
        items: list[Message] = []
        try:
            while len(items) < want:
                message = await self._next()
                if message is None:
                    break
                items.append(message)
        except BaseException:
            if saved is not None and items:
                for side, state in zip(self._sides, saved, strict=True):
                    side.restore(state)
            raise
        self._page = Page(items=items, page=page)
        return self._page

    def _stream(self, side: _Side) -> PagerItems[Any]:
        stream = self._streams.get(side.direction)
        if stream is None:
            stream = self._streams[side.direction] = aiter(side.pager)
        return stream

    async def _next(self) -> Message | None:
        empty = [s for s in self._sides if s.head is None and not s.done]
        if len(empty) == 1:
            await empty[0].pull(self._stream(empty[0]))
        elif empty:
            # both sides' first pages at once; wait for both before closing either
            results = await asyncio.gather(
                *(s.pull(self._stream(s)) for s in empty), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        best: _Side | None = None
        for side in self._sides:  # mt before mo on equal timestamps
            if side.head is not None and (
                best is None or best.head is None or _newer(side.head[0], best.head[0])
            ):
                best = side
        if best is None or best.head is None:
            return None
        message = best.head[1]
        best.head = None
        return message

    async def aclose(self) -> None:
        streams = list(self._streams.values())
        self._streams.clear()
        for stream in streams:
            await stream.aclose()


class MessagePager(Pager[Message]):
    """Newest-first merge of the batches and inbounds pagers (see
    [`MessagesResource.list`][]): a [`Pager`][] over a merging page source.

    ``async for message in pager`` yields [`Message`][] items; ``pager.pages()``
    yields [`Page`][] objects of ``page_size`` merged items. Both continue from the
    pager's current position. The merge holds at most one undelivered item per
    direction; each side's pager holds its current page plus up to ``prefetch`` pages
    fetched ahead, so memory does not grow with the number of items walked.

    [`checkpoint`][] is a [`MessagesCheckpoint`][] (both directions' positions);
    an error raised mid-walk carries it as ``err.checkpoint``; ``messages.list(resume=
    ...)`` continues from it, each message once.
    """

    def __init__(
        self,
        sides: Sequence[_Side],
        *,
        page_size: int,
        max_items: int | None,
        filters: Iterable[tuple[str, str]] = (),
        yielded: int = 0,
        done: bool = False,
    ) -> None:
        check_page_size(page_size)
        check_max_items(max_items)
        self._sides = list(sides)
        start = MessagesCheckpoint(
            resource="messages",
            filters=tuple(filters),
            page_size=page_size,
            max_items=max_items,
            yielded=yielded,
            done=done,
        )
        self._setup(start, None, lambda: _Merge(self._sides))

    @property
    def checkpoint(self) -> MessagesCheckpoint:
        """The position after everything handed out so far: the merged walk's (``yielded``,
        ``done``) and each direction's, before the item it holds back ([`held`][])."""
        return MessagesCheckpoint(
            resource="messages",
            filters=self._filters,
            page_size=self._page_size,
            yielded=self._yielded,
            max_items=self._max_items,
            done=self._done,
            sides=tuple(side.checkpoint() for side in self._sides),
        )

    def _error_checkpoint(self) -> MessagesCheckpoint:
        return self.checkpoint

    @property
    def skipped(self) -> int:
        """Items the two directions passed because the SDK cannot decode them
        (``on_undecodable="skip"``)."""
        return sum(side.pager.skipped for side in self._sides)

    @property
    def duplicates(self) -> int:
        """Items passed because this walk already handed them out (items that arrived
        during the walk pushed them down a page)."""
        return sum(side.duplicates for side in self._sides)

    @property
    def held(self) -> int:
        """Items pulled from the two pagers but not handed out yet (at most 2)."""
        return sum(side.head is not None for side in self._sides)


class MessagesResource:
    """Both directions at once: batches you sent (``mt``) and inbounds you received
    (``mo``), merged newest first."""

    def __init__(self, batches: BatchesResource, inbounds: InboundsResource) -> None:
        self._batches = batches
        self._inbounds = inbounds

    def list(
        self,
        *,
        direction: Direction | None = None,
        to: Iterable[str] | None = None,
        from_: Iterable[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        client_reference: str | None = None,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        prefetch: int = 1,
        resume: MessagesCheckpoint | Mapping[str, Any] | None = None,
        on_undecodable: OnUndecodable = "raise",
    ) -> MessagePager:
        """Walk sent batches and received inbounds as one stream, newest first.

        ``direction="mt"`` walks only batches, ``"mo"`` only inbounds, ``None`` both:
        the two pagers are merged as their pages arrive (a two-way merge on the time,
        holding at most one undelivered item per side; each side fetches ``page_size``
        items per request and up to ``prefetch`` pages ahead).

        Filters, and where they apply:

        * ``start_date`` / ``end_date`` / ``client_reference``: server-side on both.
        * ``from_`` (senders): batches' ``from`` filter (server-side); inbounds are
          filtered client-side on their ``from``.
        * ``to`` (recipients): inbounds' ``to`` filter (server-side; group ids are
          left out, no inbound is sent to a group, and a ``to`` of only group ids skips
          the inbounds); batches are filtered client-side: a batch matches when one of
          ``to`` is among its recipients (a group id matches batches sent to that
          group, not batches sent to its members).

        Numbers compare normalised, with or without the ``+``; a sender is anything a
        send takes as ``from_`` (numbers, short codes, alphanumeric sender ids). A
        client-side filter still fetches the items it drops. ``at`` is a batch's
        ``created_at`` or an inbound's ``received_at``; items from the same instant come
        ``mt`` first. An item without a timestamp (an ``UnknownBatch`` or
        ``UnknownInbound``) is not dropped: it keeps its place in its own direction's
        server order (merged as if it had the timestamp of the item before it, or first
        if none) and has ``at`` ``None``. ``max_items`` bounds the merged stream exactly.

        Each message comes once, also when messages arrive during the walk (they push
        the items already handed out down a page: each direction keeps a cursor, the
        time and ids of the last items it took, and passes those; see
        [`MessagePager.duplicates`][]). ``pager.checkpoint`` (and an error's
        ``.checkpoint``) is a [`MessagesCheckpoint`][]: ``resume=`` continues from
        it, every argument but ``prefetch`` and ``on_undecodable`` then coming from the
        checkpoint. ``on_undecodable="skip"`` passes items the SDK cannot decode
        (logged, counted in ``pager.skipped``) instead of raising at them.
        """
        check_prefetch(prefetch)
        check_on_undecodable(on_undecodable)
        resumed: dict[str, MessagesSideCheckpoint] = {}
        yielded, done = 0, False
        if resume is not None:
            cp = _messages_checkpoint(resume)
            args = _arguments(cp)
            direction, to, from_ = args["direction"], args["to"], args["from"]
            start_date, end_date = args["start_date"], args["end_date"]
            client_reference = args["client_reference"]
            page_size, max_items, yielded, done = cp.page_size, cp.max_items, cp.yielded, cp.done
            resumed = {side.direction: side for side in cp.sides}
        check_direction(direction)
        check_page_size(page_size)
        check_max_items(max_items)
        check_window(start_date, end_date)
        recipients = as_list(to)
        if recipients is not None:
            recipients = list(check_recipients(recipients, "to", maximum=None))
        senders = as_list(from_)
        if senders is not None:
            senders = list(check_senders(senders, "from_"))
        filters = encode_filters(
            {
                "direction": direction,
                "to": recipients,
                "from": senders,
                "start_date": start_date,
                "end_date": end_date,
                "client_reference": client_reference,
            }
        )
        window: dict[str, Any] = {
            "start_date": start_date,
            "end_date": end_date,
            "client_reference": client_reference,
            "page_size": page_size,
            "prefetch": prefetch,
            "on_undecodable": on_undecodable,
        }

        def make_side(
            direction: Direction,
            walk: Callable[..., Pager[Any]],
            time_of: Callable[[Any], datetime | None],
            keep: Callable[[Any], bool],
        ) -> _Side:
            if resume is None:
                return _Side(direction, walk(**window), time_of, keep)
            saved = resumed.get(direction)
            if saved is None:
                raise SinchValidationError("resume", f"checkpoint has no {direction!r} position")
            return _Side(
                direction,
                walk(**window, resume=saved.pager),
                time_of,
                keep,
                at=None if saved.at is None else parse_datetime(saved.at),
                ids=saved.ids,
            )

        sides: list[_Side] = []
        if direction in (None, "mt"):
            wanted_to = None if recipients is None else {_key(r) for r in recipients}

            def keep_batch(batch: Any) -> bool:
                if wanted_to is None:
                    return True
                values = _field(batch, "to", "to") or ()
                values = [values] if isinstance(values, str) else values
                return any(_key(str(v)) in wanted_to for v in values)

            def batches(**kwargs: Any) -> Pager[Any]:
                return self._batches.list(from_=senders, **kwargs)

            sides.append(
                make_side("mt", batches, lambda b: getattr(b, "created_at", None), keep_batch)
            )
        numbers = None if recipients is None else [r for r in recipients if normalize_number(r)]
        if direction in (None, "mo") and numbers != []:
            wanted_from = None if senders is None else {_key(s) for s in senders}

            def keep_inbound(inbound: Any) -> bool:
                if wanted_from is None:
                    return True
                sender = _field(inbound, "from_", "from")
                return sender is not None and _key(str(sender)) in wanted_from

            def inbounds(**kwargs: Any) -> Pager[Any]:
                return self._inbounds.list(to=numbers, **kwargs)

            sides.append(
                make_side("mo", inbounds, lambda m: getattr(m, "received_at", None), keep_inbound)
            )
        return MessagePager(
            sides,
            page_size=page_size,
            max_items=max_items,
            filters=sorted(filters.items()),
            yielded=yielded,
            done=done,
        )


def _messages_checkpoint(resume: MessagesCheckpoint | Mapping[str, Any]) -> MessagesCheckpoint:
    """``resume=`` of [`MessagesResource.list`][]: a checkpoint of that list (or its
    dict), checked ([`SinchValidationError`][] otherwise)."""
    if isinstance(resume, MessagesCheckpoint):
        cp = resume
    elif isinstance(resume, Mapping):
        cp = MessagesCheckpoint.from_dict(resume)
    else:
        raise SinchValidationError("resume", "not a messages.list checkpoint")
    check_checkpoint_resource(cp.resource, "messages", paging="page", page_token=cp.page_token)
    cp.check(_FILTER_NAMES)
    return cp


def _arguments(cp: MessagesCheckpoint) -> dict[str, Any]:
    """The arguments of [`MessagesResource.list`][] a checkpoint keeps (as it sent its
    filters: lists joined with commas, times in ISO-8601)."""
    values = dict(cp.filters)
    try:
        return {
            "direction": values.get("direction"),
            "to": values["to"].split(",") if "to" in values else None,
            "from": values["from"].split(",") if "from" in values else None,
            "start_date": _when(values.get("start_date")),
            "end_date": _when(values.get("end_date")),
            "client_reference": values.get("client_reference"),
        }
    except ValueError as exc:
        raise SinchValidationError("resume", f"not a messages checkpoint: {exc}") from exc


def _when(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)
