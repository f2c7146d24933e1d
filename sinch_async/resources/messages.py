"""``client.messages``: batches you sent and messages you received, as one stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeAlias

import attrs

from .. import _constants as C
from .._checkpoint import PagerCheckpoint
from .._pagination import Pager, PagerItems
from .._validation import (
    check_direction,
    check_max_items,
    check_page_size,
    check_prefetch,
    check_recipients,
    normalize_number,
)
from ..models.batches import Batch, UnknownBatch
from ..models.common import Page
from ..models.inbounds import Inbound, UnknownInbound
from ._common import as_list, check_window
from .batches import BatchesResource
from .inbounds import InboundsResource

__all__ = ["Direction", "Message", "MessagePage", "MessagePager", "MessagesResource"]

#: ``"mt"``: a batch you sent (mobile-terminated); ``"mo"``: an inbound you received.
Direction = Literal["mt", "mo"]

_SIDES: tuple[Direction, Direction] = ("mt", "mo")


@attrs.frozen(kw_only=True)
class Message:
    """One item of :meth:`MessagesResource.list`.

    ``at`` is the batch's ``created_at`` or the inbound's ``received_at`` (``None`` when
    the record has none, e.g. an ``UnknownBatch``); ``record`` is the original
    :data:`Batch` or :data:`Inbound`.
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


#: One page of :meth:`MessagePager.pages` (0.1's name): up to ``page_size`` merged items.
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


class _Side:
    """One direction's walk: its pager, the client-side filter, and the one item
    pulled from it but not handed out yet (plus the last timestamp seen, for items that
    carry none)."""

    def __init__(
        self,
        direction: Direction,
        pager: Pager[Any],
        time_of: Callable[[Any], datetime | None],
        keep: Callable[[Any], bool],
    ) -> None:
        self.direction = direction
        self.pager = pager
        self.time_of = time_of
        self.keep = keep
        self.head: tuple[datetime | None, Message] | None = None
        self.last_at: datetime | None = None
        self.done = False

    async def pull(self, items: AsyncIterator[Any]) -> None:
        """Fill :attr:`head` with the next matching item (or mark the side done)."""
        while True:
            try:
                record = await anext(items)
            except StopAsyncIteration:
                self.done = True
                return
            at = self.time_of(record)
            if at is not None:
                self.last_at = at
            if not self.keep(record):
                continue
            message = Message(direction=self.direction, at=at, id=str(record.id), record=record)
            # An item without a timestamp keeps its place in its own side's (server)
            # order: it merges as if it had the timestamp of the item before it.
            self.head = (self.last_at, message)
            return


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
        items: list[Message] = []
        while len(items) < want:
            message = await self._next()
            if message is None:
                break
            items.append(message)
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
    :meth:`MessagesResource.list`): a :class:`Pager` over a merging page source.

    ``async for message in pager`` yields :class:`Message` items; ``pager.pages()``
    yields :class:`Page` objects of ``page_size`` merged items. Both continue from the
    pager's current position. The merge holds at most one undelivered item per
    direction; each side's pager holds its current page plus up to ``prefetch`` pages
    fetched ahead, so memory does not grow with the number of items walked. Not
    resumable from a checkpoint (yet): :attr:`checkpoint` raises ``AttributeError``.
    """

    def __init__(self, sides: Sequence[_Side], *, page_size: int, max_items: int | None) -> None:
        check_page_size(page_size)
        check_max_items(max_items)
        self._sides = list(sides)
        start = PagerCheckpoint(
            resource="messages", filters=(), page_size=page_size, max_items=max_items
        )
        self._setup(start, None, lambda: _Merge(self._sides))

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

        Numbers compare normalised, with or without the ``+``. A client-side filter
        still fetches the items it drops. ``at`` is a batch's ``created_at`` or an
        inbound's ``received_at``; items from the same instant come ``mt`` first.
        An item without a timestamp (an ``UnknownBatch`` or ``UnknownInbound``) is not
        dropped: it keeps its place in its own direction's server order (merged as if
        it had the timestamp of the item before it, or first if none) and has ``at``
        ``None``. ``max_items`` bounds the merged stream exactly. Not resumable from a
        checkpoint (use ``batches.sync`` / ``inbounds.sync`` for that).
        """
        check_direction(direction)
        check_page_size(page_size)
        check_max_items(max_items)
        check_prefetch(prefetch)
        check_window(start_date, end_date)
        recipients = as_list(to)
        if recipients is not None:
            recipients = list(check_recipients(recipients, "to", maximum=None))
        senders = as_list(from_)
        if senders is not None:
            senders = list(check_recipients(senders, "from_", maximum=None, allow_groups=False))
        window: dict[str, Any] = {
            "start_date": start_date,
            "end_date": end_date,
            "client_reference": client_reference,
            "page_size": page_size,
            "prefetch": prefetch,
        }
        sides: list[_Side] = []
        if direction in (None, "mt"):
            wanted_to = None if recipients is None else {_key(r) for r in recipients}

            def keep_batch(batch: Any) -> bool:
                if wanted_to is None:
                    return True
                values = _field(batch, "to", "to") or ()
                values = [values] if isinstance(values, str) else values
                return any(_key(str(v)) in wanted_to for v in values)

            sides.append(
                _Side(
                    "mt",
                    self._batches.list(from_=senders, **window),
                    lambda b: getattr(b, "created_at", None),
                    keep_batch,
                )
            )
        numbers = None if recipients is None else [r for r in recipients if normalize_number(r)]
        if direction in (None, "mo") and numbers != []:
            wanted_from = None if senders is None else {_key(s) for s in senders}

            def keep_inbound(inbound: Any) -> bool:
                if wanted_from is None:
                    return True
                sender = _field(inbound, "from_", "from")
                return sender is not None and _key(str(sender)) in wanted_from

            sides.append(
                _Side(
                    "mo",
                    self._inbounds.list(to=numbers, **window),
                    lambda m: getattr(m, "received_at", None),
                    keep_inbound,
                )
            )
        return MessagePager(sides, page_size=page_size, max_items=max_items)
