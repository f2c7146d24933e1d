"""One pager for every list: a page-number cursor (SMS) or a token cursor (Numbers).

[`Pager`][] owns the walk's position (the page in progress, how much of it was handed
out, ``max_items``) and hands out items or pages from it; a *walk* (one per ``async for``)
fetches the raw page at that position:

* ``paging="page"`` (xms): ``page`` + ``page_size`` on the wire, zero-based pages, ``count``
  in every response. The walk stops on an empty page or on the last page by ``count``,
  checks that each response is the page it asked for, never asks for more than
  ``ceil(count / page_size) + 1`` pages, and may fetch ``prefetch`` pages ahead;
* ``paging="token"`` (Numbers): ``pageSize`` [+ ``pageToken``] on the wire,
  ``nextPageToken`` and ``totalSize`` in every response. The walk stops on an empty
  ``nextPageToken``; a token it already followed, more than ``ceil(totalSize /
  page_size) + 1`` pages, or `MAX_EMPTY_PAGES` empty pages in a row are a
  [`SinchPagingError`][].

An item the SDK cannot decode arrives as an [`UndecodableItem`][] in its
place on the page (the rest of the page decoded); ``on_undecodable`` says what the walk does
when it reaches one: ``"raise"`` it (the default; ``err.checkpoint`` is *at* the item) or
``"skip"`` it (logged at WARNING, counted in [`Pager.skipped`][]).

Iteration objects are plain classes, not async generators: nothing of a pager is left for
the event loop to finalise at shutdown, so a pager still referenced when its loop stops
cannot log ``aclose(): asynchronous generator is already running``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any, Generic, Literal, Protocol, TypeVar

from ._checkpoint import PagerCheckpoint
from ._errors import SinchError, SinchPagingError, UndecodableItem
from ._validation import check_checkpoint_resource, check_on_undecodable, check_pager
from ._wire import QueryValue
from .models.common import Page

__all__ = [
    "MAX_EMPTY_PAGES",
    "AsyncPager",
    "OnUndecodable",
    "PageFetcher",
    "PageSource",
    "Pager",
    "PagerCheckpoint",
    "PagerItems",
    "PagerPages",
    "Paging",
    "Position",
    "TokenPageFetcher",
]

T = TypeVar("T")

log = logging.getLogger("sinch_async")

#: How a list is paged: by page number (SMS) or by page token (Numbers).
Paging = Literal["page", "token"]
#: What a walk does with an item the SDK cannot decode: raise it (the default) or skip it.
OnUndecodable = Literal["raise", "skip"]
#: A walk's position as plain values: (page, page_token, offset, yielded, done).
Position = tuple[int, str | None, int, int, bool]
#: Fetch one page of a page-number list given the full query (filters + page + page_size).
PageFetcher = Callable[[Mapping[str, QueryValue]], Awaitable[Page[T]]]
#: Fetch one page of a token list given the query pairs (filters + pageSize [+ pageToken]).
TokenPageFetcher = Callable[[list[tuple[str, str]]], Awaitable[Page[T]]]
#: Empty pages in a row that still name a next page, after which a token walk gives up.
MAX_EMPTY_PAGES = 10


class PageSource(Protocol[T]):
    """A page source of its own (the merged message list): one per walk. ``fetch``
    returns the page numbered ``page`` with at most ``want`` items, an empty page at the
    end; asked again for the same number, it returns the same page."""

    async def fetch(self, page: int, want: int) -> Page[T]: ...

    async def aclose(self) -> None: ...


def _paging_error(message: str) -> SinchPagingError:
    return SinchPagingError(message, status=200, body=b"")


async def _no_fetch(query: Any) -> Page[Any]:
    raise AssertionError("a pager over a page source fetches through the source")


def _undecodable(items: Sequence[Any]) -> tuple[int, ...]:
    """The places of the items of a raw page that could not be decoded (usually none)."""
    return tuple(i for i, item in enumerate(items) if isinstance(item, UndecodableItem))


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a fetch-ahead task's exception retrieved: a walk that stopped early never
    awaits it, and the loop must not log it as lost."""
    if not task.cancelled():
        task.exception()


class Pager(Generic[T]):
    """Walks a list page by page.

    ``async for item in pager`` yields items; ``async for page in pager.pages()`` yields
    [`Page`][] objects. Both continue from the pager's current position, which
    [`checkpoint`][] reports; an error raised mid-walk carries the same checkpoint as
    ``err.checkpoint``. ``max_items`` bounds the walk exactly.

    ``paging="page"`` walks a page-number list (``page``, ``page_size``, ``count``) and may
    fetch ``prefetch`` pages concurrently once ``count`` is known, still yielding strictly
    in page order and cancelling outstanding fetches when the walk stops early (``break``,
    ``max_items``, an error). ``paging="token"`` walks a token list (``pageSize``,
    ``pageToken`` -> ``nextPageToken``, ``totalSize``), one page at a time. The module
    docstring lists the bounds that stop a misbehaving server.

    An item the SDK cannot decode never makes the rest of the walk unreadable:
    ``on_undecodable="raise"`` (the default) raises it as an
    [`UndecodableItem`][] when the walk reaches it, every item before it
    handed out and ``err.checkpoint`` *at* it (resuming raises again; resuming with
    ``"skip"`` passes it); ``on_undecodable="skip"`` logs it at WARNING, counts it in
    [`skipped`][] and goes on.
    """

    def __init__(
        self,
        fetch: PageFetcher[T] | TokenPageFetcher[T],
        *,
        resource: str,
        filters: Mapping[str, str] | Iterable[tuple[str, str]],
        page_size: int,
        paging: Paging = "page",
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        prefetch: int = 1,
        filter_names: Collection[str] | None = None,
        on_undecodable: OnUndecodable = "raise",
    ) -> None:
        maximum = check_pager(paging, page_size, prefetch, max_items)
        check_on_undecodable(on_undecodable)
        if resume is not None:
            cp = (
                resume if isinstance(resume, PagerCheckpoint) else PagerCheckpoint.from_dict(resume)
            )
            check_checkpoint_resource(
                cp.resource, resource, paging=paging, page_token=cp.page_token
            )
            cp.check(filter_names, max_page_size=maximum)
        else:
            if isinstance(filters, Mapping):
                pairs = sorted(filters.items()) if paging == "page" else list(filters.items())
            else:
                pairs = list(filters)
            cp = PagerCheckpoint(
                resource=resource,
                filters=tuple(pairs),
                page_size=page_size,
                max_items=max_items,
            )
        self._setup(
            cp,
            fetch,
            None,
            token_paging=paging == "token",
            prefetch=prefetch,
            on_undecodable=on_undecodable,
        )

    def _setup(
        self,
        cp: PagerCheckpoint,
        fetch: PageFetcher[T] | TokenPageFetcher[T] | None,
        source: Callable[[], PageSource[T]] | None,
        *,
        token_paging: bool = False,
        prefetch: int = 1,
        on_undecodable: OnUndecodable = "raise",
    ) -> None:
        """Set the pager up at ``cp``: over ``fetch`` (resumable: the checkpoint names the
        resource), or over a page ``source`` of its own (no checkpoint)."""
        self._on_undecodable = on_undecodable
        self._skipped = 0
        self._fetch: Callable[[Any], Awaitable[Page[T]]] = fetch or _no_fetch
        self._source = source
        self._token_paging = token_paging
        self._prefetch = prefetch
        self._resource: str | None = cp.resource if source is None else None
        self._filters = cp.filters
        self._page_size = cp.page_size
        self._max_items = cp.max_items
        # The walk's position, kept as plain values (updated per item on the hot path).
        self._page = cp.page
        self._token = cp.page_token
        self._offset = cp.offset
        self._yielded = cp.yielded
        self._done = cp.done
        self._count: int | None = None

    @property
    def checkpoint(self) -> PagerCheckpoint:
        """The position after everything handed out so far."""
        if self._resource is None:
            raise AttributeError("this pager has no checkpoint: it is not resumable")
        return self._checkpoint_at(self._position())

    def _position(self) -> Position:
        """The position as plain values (cheap: taken per item by the merged list)."""
        return (self._page, self._token, self._offset, self._yielded, self._done)

    def _checkpoint_at(self, position: Position) -> PagerCheckpoint:
        """The checkpoint of this walk at ``position`` (one `_position` returned)."""
        page, token, offset, yielded, done = position
        return PagerCheckpoint(
            resource=self._resource or "",
            filters=self._filters,
            page_size=self._page_size,
            page=page,
            page_token=token,
            offset=offset,
            yielded=yielded,
            max_items=self._max_items,
            done=done,
        )

    def _restore(self, position: Position, skipped: int) -> None:
        """Go back to ``position`` (and the skip count then): the merged list undoing a
        page it could not finish."""
        self._page, self._token, self._offset, self._yielded, self._done = position
        self._skipped = skipped

    def _error_checkpoint(self) -> Any:
        """What an error raised mid-walk carries as ``err.checkpoint`` (None: nothing,
        this pager is not resumable)."""
        return None if self._resource is None else self.checkpoint

    def _skip(self, item: UndecodableItem, page: int) -> None:
        """``on_undecodable="skip"``: count and log the item the walk passes."""
        self._skipped += 1
        log.warning(
            "%s: skipped an item the SDK cannot decode (page %d, item %d): %s",
            self._resource or "list",
            page,
            item.index,
            item,
            extra={
                "sinch_event": "undecodable_skipped",
                "sinch_resource": self._resource,
                "sinch_page": page,
                "sinch_index": item.index,
            },
        )

    @property
    def skipped(self) -> int:
        """Items this pager passed because the SDK cannot decode them
        (``on_undecodable="skip"``; each logged at WARNING)."""
        return self._skipped

    @property
    def on_undecodable(self) -> OnUndecodable:
        """What the walk does with an item the SDK cannot decode: ``"raise"`` or ``"skip"``."""
        return self._on_undecodable

    @property
    def count(self) -> int | None:
        """Total matching items as the server last reported it (SMS ``count``, Numbers
        ``totalSize``; None before the first page or when the server gives none)."""
        return self._count

    @property
    def page_size(self) -> int:
        """The page size the walk asks for."""
        return self._page_size

    @property
    def yielded(self) -> int:
        """Items handed out so far (across resumes)."""
        return self._yielded

    def __aiter__(self) -> PagerItems[T]:
        return PagerItems(self)

    def pages(self) -> PagerPages[T]:
        """Yield pages (trimmed to ``max_items`` and to a resumed offset)."""
        return PagerPages(self)

    # --- position -------------------------------------------------------------------------

    def _remaining(self) -> int | None:
        return None if self._max_items is None else self._max_items - self._yielded

    def _next_page(self, last: bool, token: str | None) -> None:
        """The page in progress is used up: move to the next one."""
        self._offset = 0
        self._page += 1
        self._done = last
        if token:
            self._token = token

    def _advance(self, n: int, used: int, page_total: int, last: bool, token: str | None) -> None:
        """``n`` items handed out, spanning ``used`` places of the page (the items passed
        with them included)."""
        self._yielded += n
        self._offset += used
        if self._offset >= page_total:
            self._next_page(last, token)

    # --- requests -------------------------------------------------------------------------

    def _numbered_query(self, page: int) -> dict[str, QueryValue]:
        query: dict[str, QueryValue] = dict(self._filters)
        query["page"] = page
        query["page_size"] = self._page_size
        return query

    def _token_query(self) -> list[tuple[str, str]]:
        query = [*self._filters, ("pageSize", str(self._page_size))]
        if self._token is not None:
            query.append(("pageToken", self._token))
        return query

    async def _fetch_numbered(self, page_no: int) -> Page[T]:
        """Fetch ``page_no`` and check that the server answered with that page."""
        page = await self._fetch(self._numbered_query(page_no))
        if page.page != page_no:
            raise _paging_error(f"{self._resource}: asked for page {page_no}, got page {page.page}")
        return page

    def _last_needed_page(self, count: int) -> int:
        """The last page worth fetching, from ``count`` and ``max_items``."""
        last = max(0, -(-count // self._page_size) - 1)
        remaining = self._remaining()
        if remaining is not None:
            end = self._page * self._page_size + self._offset + remaining - 1
            last = min(last, end // self._page_size)
        return last

    def _check_bound(self, page_no: int, count: int | None) -> None:
        """Never ask past ``ceil(count / page_size)``: one page beyond the last one
        ``count`` allows confirms the end; a server that keeps serving pages is lying."""
        if count is not None and page_no > -(-count // self._page_size):
            raise _paging_error(
                f"{self._resource}: page {page_no} is past the {count} items the server "
                f"reported (page_size {self._page_size}); stopping instead of walking on"
            )


class _Walk(Generic[T]):
    """One pass over a pager: fetches the raw page at the pager's position (and, walking
    by page number, the pages fetched ahead), trims it to what may be handed out."""

    def __init__(self, pager: Pager[T], *, want: int | None) -> None:
        self._pager = pager
        self._want = want  # items per page asked of a page source (None: page_size)
        self._count: int | None = None  # the count last reported in this walk
        self._next = -1  # page-number walk: the next page number to return
        self._last: int | None = None  # the last page worth fetching ahead
        self._scheduled = 0  # the next page number to fetch ahead
        self._pending: deque[asyncio.Task[Page[T]]] = deque()
        self._seen: set[str] = set()  # tokens followed
        self._empty = 0  # empty pages in a row
        self._items = 0  # token walk: items received
        self._source = None if pager._source is None else pager._source()
        self._closed = False
        #: a raw page with undecodable items, kept while the walk is on it: (page number
        #: of the pager, the page, the places of those items)
        self._held: tuple[int, Page[T], tuple[int, ...]] | None = None

    async def next_page(self) -> tuple[Page[T], int, bool, str | None, int] | None:
        """(the page trimmed to what may be handed out, the items on the raw page, whether
        it is the last page, the next page's token, the places of the raw page the handed
        out items span), or None when the walk is over.

        A raw page with undecodable items is handed out in parts, each ending before such
        an item; reaching one raises it (``on_undecodable="raise"``, the pager's position
        at it) or passes it (``"skip"``). Walking by pages with ``"skip"``, the items
        around it come as one page."""
        p = self._pager
        while True:
            remaining = p._remaining()
            if p._done or (remaining is not None and remaining <= 0):
                return None
            held = self._held
            if held is not None and held[0] == p._page:
                raw, bad = held[1], held[2]
            else:
                self._held = None
                try:
                    raw = await self._raw_page(remaining)
                except SinchError as exc:
                    cp = p._error_checkpoint()
                    if cp is not None:
                        exc.checkpoint = cp
                    raise
                if raw.count is not None:
                    p._count = raw.count
                bad = () if self._source is not None else _undecodable(raw.items)
                if bad:
                    self._held = (p._page, raw, bad)
            total = len(raw.items)
            token = raw.next_page_token if p._token_paging else None
            if p._offset >= total:
                if not p._token_paging:
                    p._done = True
                    return None
                # an empty page, or a page that shrank since the checkpoint: on to the next
                p._next_page(not token, token)
                continue
            if p._token_paging:
                last, number = not token, p._page
            elif raw.count is None:
                last, number = False, raw.page
            else:
                # The last page by count: exactly the count reached, or a short page at or
                # past it. A full page past the count means the count is off: ask on
                # (within the request bound) instead of trusting it.
                reached = p._page * p._page_size + total
                last = reached == raw.count or (reached > raw.count and total < p._page_size)
                number = raw.page
            start = p._offset
            if bad:
                got = self._around(raw.items, bad, start, remaining, number)
                if got is None:  # the walk passed an undecodable item: go on from there
                    if p._offset >= total:
                        p._next_page(last, token)
                    continue
                items, used = got
            else:
                items = list(raw.items)[start:]
                if remaining is not None:
                    items = items[:remaining]
                used = len(items)
            page = Page(
                items=items,
                page=number,
                count=raw.count,
                page_size=raw.page_size,
                next_page_token=raw.next_page_token,
            )
            return page, total, last, token, used

    def _around(
        self,
        raw: Sequence[T],
        bad: tuple[int, ...],
        start: int,
        remaining: int | None,
        number: int,
    ) -> tuple[list[T], int] | None:
        """What may be handed out from place ``start`` of a raw page with undecodable
        items (at places ``bad``): the items and the places they span; or None when the
        item at ``start`` is undecodable and was skipped (the position moved past it).
        With ``on_undecodable="raise"`` an undecodable item at ``start`` is raised."""
        p = self._pager
        if start in bad:
            item = raw[start]
            assert isinstance(item, UndecodableItem)
            if p._on_undecodable == "raise":
                cp = p._error_checkpoint()
                if cp is not None:
                    item.checkpoint = cp
                raise item
            p._skip(item, number)
            p._offset += 1
            return None
        limit = len(raw) if remaining is None else remaining
        if p._on_undecodable == "raise" or self._want is not None:
            # up to the next undecodable item (walking by items, each one is reached
            # with the position exactly at it)
            end = next((i for i in bad if i > start), len(raw))
            items = list(raw[start:end])[:limit]
            return items, len(items)
        # walking by pages, skipping: the page without its undecodable items
        items = []
        place = start
        while place < len(raw) and len(items) < limit:
            item = raw[place]
            if place in bad:
                assert isinstance(item, UndecodableItem)
                p._skip(item, number)
            else:
                items.append(item)
            place += 1
        if not items:  # nothing but undecodable items left: the page is used up
            p._offset = place
            return None
        return items, place - start

    async def _raw_page(self, remaining: int | None) -> Page[T]:
        p = self._pager
        if self._source is not None:
            want = self._want or p._page_size
            return await self._source.fetch(
                p._page, want if remaining is None else min(want, remaining)
            )
        if p._token_paging:
            return await self._token_page()
        return await self._numbered_page()

    async def _token_page(self) -> Page[T]:
        p = self._pager
        token = p._token
        if token is not None:
            if token in self._seen:
                raise _paging_error(
                    f"{p._resource}: the server handed out page token {token!r} twice; "
                    "stopping instead of looping"
                )
            self._seen.add(token)
        raw = await p._fetch(p._token_query())
        if raw.count is not None:
            self._count = raw.count
        # A token server may hand out fewer items per page than asked (AIP-158), so the
        # page count bounds nothing here: more items than the reported total (and a page of
        # slack for items added during the walk) is a server that is not ending.
        self._items += len(raw.items)
        if self._count is not None and self._items > self._count + p._page_size:
            raise _paging_error(
                f"{p._resource}: {self._items} items so far, more than the {self._count} "
                "the server reported; stopping instead of walking on"
            )
        if raw.items or not raw.next_page_token:
            self._empty = 0
        else:
            self._empty += 1
            if self._empty >= MAX_EMPTY_PAGES:
                raise _paging_error(
                    f"{p._resource}: {self._empty} empty pages in a row, each naming a "
                    "next page; stopping instead of walking on"
                )
        return raw

    async def _numbered_page(self) -> Page[T]:
        """The raw pages from the position on, in page order: with ``prefetch`` > 1, once
        ``count`` is known up to ``prefetch`` pages are fetched concurrently. At most
        ``ceil(count / page_size) + 1`` pages are requested (``count`` as last
        reported)."""
        p = self._pager
        if self._next < 0:  # the first page of the walk
            page_no = p._page
            page = await p._fetch_numbered(page_no)
            self._next = self._scheduled = page_no + 1
        elif p._prefetch <= 1:
            page_no = self._next
            self._next += 1
            p._check_bound(page_no, self._count)
            page = await p._fetch_numbered(page_no)
        else:
            if self._last is None:
                assert self._count is not None
                self._last = p._last_needed_page(self._count)
            while len(self._pending) < p._prefetch and self._scheduled <= self._last:
                task = asyncio.ensure_future(p._fetch_numbered(self._scheduled))
                task.add_done_callback(_retrieve)
                self._pending.append(task)
                self._scheduled += 1
            if self._pending:
                page = await self._pending.popleft()
            else:
                # count said we are done; one more page confirms it (or continues if
                # items arrived meanwhile, as far as the count allows)
                p._check_bound(self._scheduled, self._count)
                page = await p._fetch_numbered(self._scheduled)
                self._scheduled += 1
        self._count = page.count
        return page

    def cancel(self) -> None:
        """Cancel the fetches ahead without waiting (the iterator was dropped)."""
        self._closed = True
        for task in self._pending:
            if not task.done():
                with suppress(RuntimeError):  # its loop is closed: nothing runs it any more
                    task.cancel()
        self._pending.clear()

    async def aclose(self) -> None:
        """Cancel and await the fetches ahead; close the page source."""
        if self._closed:
            return
        self._closed = True
        pending = list(self._pending)
        self._pending.clear()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._source is not None:
            await self._source.aclose()


class _Iteration(Generic[T]):
    """What the item and page iterators share: the walk, closed at the end, on an error
    and by `aclose`; cancelled without waiting when the iterator is dropped."""

    def __init__(self, pager: Pager[T], *, want: int | None) -> None:
        self._pager = pager
        self._walk: _Walk[T] | None = _Walk(pager, want=want)

    async def _next(self) -> tuple[Page[T], int, bool, str | None, int]:
        walk = self._walk
        if walk is None:
            raise StopAsyncIteration
        try:
            got = await walk.next_page()
        except BaseException:
            await self.aclose()
            raise
        if got is None:
            await self.aclose()
            raise StopAsyncIteration
        return got

    async def aclose(self) -> None:
        """Stop the walk: outstanding fetches are cancelled (the position stays)."""
        walk, self._walk = self._walk, None
        if walk is not None:
            await walk.aclose()

    def __del__(self) -> None:
        walk = getattr(self, "_walk", None)
        if walk is not None:
            walk.cancel()


class PagerItems(_Iteration[T]):
    """``async for item in pager``: the items from the pager's position on."""

    def __init__(self, pager: Pager[T]) -> None:
        super().__init__(pager, want=1)
        self._items: list[T] = []
        self._i = 0
        self._total = 0
        self._last = False
        self._token: str | None = None

    def __aiter__(self) -> PagerItems[T]:
        return self

    async def __anext__(self) -> T:
        i = self._i
        items = self._items
        if i >= len(items):
            page, self._total, self._last, self._token, _ = await self._next()
            items = self._items = list(page.items)
            i = 0
        self._i = i + 1
        p = self._pager
        p._yielded += 1
        p._offset += 1
        if p._offset >= self._total:
            p._next_page(self._last, self._token)
        return items[i]


class PagerPages(_Iteration[T]):
    """``async for page in pager.pages()``: the pages from the pager's position on."""

    def __init__(self, pager: Pager[T]) -> None:
        super().__init__(pager, want=None)

    def __aiter__(self) -> PagerPages[T]:
        return self

    async def __anext__(self) -> Page[T]:
        page, total, last, token, used = await self._next()
        self._pager._advance(len(page.items), used, total, last, token)
        return page


#: The page-number pager of the SMS lists (0.1's name; ``Pager`` walks both cursors).
AsyncPager = Pager
