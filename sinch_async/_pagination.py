"""One pager for every list: a page-number cursor (SMS) or a token cursor (Numbers).

:class:`Pager` owns the walk's position (the page in progress, how much of it was handed
out, ``max_items``) and hands out items or pages from it; a *walk* (one per ``async for``)
fetches the raw page at that position:

* ``paging="page"`` (xms): ``page`` + ``page_size`` on the wire, zero-based pages, ``count``
  in every response. The walk stops on an empty page or on the last page by ``count``,
  checks that each response is the page it asked for, never asks for more than
  ``ceil(count / page_size) + 1`` pages, and may fetch ``prefetch`` pages ahead;
* ``paging="token"`` (Numbers): ``pageSize`` [+ ``pageToken``] on the wire,
  ``nextPageToken`` and ``totalSize`` in every response. The walk stops on an empty
  ``nextPageToken``; a token it already followed, more than ``ceil(totalSize /
  page_size) + 1`` pages, or :data:`MAX_EMPTY_PAGES` empty pages in a row are a
  :class:`SinchPagingError`.

Iteration objects are plain classes, not async generators: nothing of a pager is left for
the event loop to finalise at shutdown, so a pager still referenced when its loop stops
cannot log ``aclose(): asynchronous generator is already running``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from contextlib import suppress
from typing import Any, Generic, Literal, Protocol, TypeVar

from . import _constants as C
from ._checkpoint import PagerCheckpoint
from ._errors import SinchError, SinchPagingError, SinchValidationError
from ._validation import (
    check_checkpoint_resource,
    check_max_items,
    check_page_size,
    check_prefetch,
)
from ._wire import QueryValue
from .models.common import Page

__all__ = [
    "MAX_EMPTY_PAGES",
    "AsyncPager",
    "PageFetcher",
    "PageSource",
    "Pager",
    "PagerCheckpoint",
    "PagerItems",
    "PagerPages",
    "Paging",
    "TokenPageFetcher",
]

T = TypeVar("T")

#: How a list is paged: by page number (SMS) or by page token (Numbers).
Paging = Literal["page", "token"]
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


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a fetch-ahead task's exception retrieved: a walk that stopped early never
    awaits it, and the loop must not log it as lost."""
    if not task.cancelled():
        task.exception()


class Pager(Generic[T]):
    """Walks a list page by page.

    ``async for item in pager`` yields items; ``async for page in pager.pages()`` yields
    :class:`Page` objects. Both continue from the pager's current position, which
    :attr:`checkpoint` reports; an error raised mid-walk carries the same checkpoint as
    ``err.checkpoint``. ``max_items`` bounds the walk exactly.

    ``paging="page"`` walks a page-number list (``page``, ``page_size``, ``count``) and may
    fetch ``prefetch`` pages concurrently once ``count`` is known, still yielding strictly
    in page order and cancelling outstanding fetches when the walk stops early (``break``,
    ``max_items``, an error). ``paging="token"`` walks a token list (``pageSize``,
    ``pageToken`` -> ``nextPageToken``, ``totalSize``), one page at a time. The module
    docstring lists the bounds that stop a misbehaving server.
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
    ) -> None:
        if paging not in ("page", "token"):
            raise SinchValidationError("paging", "must be 'page' or 'token'")
        maximum = C.MAX_PAGE_SIZE if paging == "page" else C.MAX_NUMBERS_PAGE_SIZE
        check_page_size(page_size, maximum)
        check_prefetch(prefetch)
        if paging == "token" and prefetch != 1:
            raise SinchValidationError("prefetch", "a token list is walked one page at a time")
        check_max_items(max_items)
        if resume is not None:
            cp = (
                resume if isinstance(resume, PagerCheckpoint) else PagerCheckpoint.from_dict(resume)
            )
            check_checkpoint_resource(cp.resource, resource)
            if paging == "page" and cp.page_token is not None:
                raise SinchValidationError("resume", "a page-number walk has no page token")
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
        self._setup(cp, fetch, None, token_paging=paging == "token", prefetch=prefetch)

    def _setup(
        self,
        cp: PagerCheckpoint,
        fetch: PageFetcher[T] | TokenPageFetcher[T] | None,
        source: Callable[[], PageSource[T]] | None,
        *,
        token_paging: bool = False,
        prefetch: int = 1,
    ) -> None:
        """Set the pager up at ``cp``: over ``fetch`` (resumable: the checkpoint names the
        resource), or over a page ``source`` of its own (no checkpoint)."""
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
        return PagerCheckpoint(
            resource=self._resource,
            filters=self._filters,
            page_size=self._page_size,
            page=self._page,
            page_token=self._token,
            offset=self._offset,
            yielded=self._yielded,
            max_items=self._max_items,
            done=self._done,
        )

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

    def _advance(self, n: int, page_total: int, last: bool, token: str | None) -> None:
        self._yielded += n
        self._offset += n
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
        self._source = None if pager._source is None else pager._source()
        self._closed = False

    async def next_page(self) -> tuple[Page[T], int, bool, str | None] | None:
        """(the page trimmed to what may be handed out, the items on the raw page, whether
        it is the last page, the next page's token), or None when the walk is over."""
        p = self._pager
        while True:
            remaining = p._remaining()
            if p._done or (remaining is not None and remaining <= 0):
                return None
            try:
                raw = await self._raw_page(remaining)
            except SinchError as exc:
                if p._resource is not None:
                    exc.checkpoint = p.checkpoint
                raise
            if raw.count is not None:
                p._count = raw.count
            total = len(raw.items)
            token = raw.next_page_token if p._token_paging else None
            if p._offset >= total:
                if not p._token_paging:
                    p._done = True
                    return None
                # an empty page, or a page that shrank since the checkpoint: on to the next
                p._next_page(not token, token)
                continue
            items = list(raw.items)[p._offset :]
            if remaining is not None:
                items = items[:remaining]
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
            page = Page(
                items=items,
                page=number,
                count=raw.count,
                page_size=raw.page_size,
                next_page_token=raw.next_page_token,
            )
            return page, total, last, token

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
        p._check_bound(p._page, self._count)
        raw = await p._fetch(p._token_query())
        if raw.count is not None:
            self._count = raw.count
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
    and by :meth:`aclose`; cancelled without waiting when the iterator is dropped."""

    def __init__(self, pager: Pager[T], *, want: int | None) -> None:
        self._pager = pager
        self._walk: _Walk[T] | None = _Walk(pager, want=want)

    async def _next(self) -> tuple[Page[T], int, bool, str | None]:
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
            page, self._total, self._last, self._token = await self._next()
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
        page, total, last, token = await self._next()
        self._pager._advance(len(page.items), total, last, token)
        return page


#: The page-number pager of the SMS lists (0.1's name; ``Pager`` walks both cursors).
AsyncPager = Pager
