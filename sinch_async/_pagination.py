"""Async pagers over xms page-number list endpoints, with checkpoints to resume a walk."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Mapping,
)
from contextlib import aclosing
from typing import Any, Generic, TypeVar

from ._checkpoint import PagerCheckpoint
from ._errors import SinchError, SinchPagingError, SinchValidationError
from ._validation import check_page_size
from ._wire import QueryValue
from .models.common import Page

__all__ = ["AsyncPager", "PageFetcher", "PagerCheckpoint"]

T = TypeVar("T")

#: Fetch one page given the full query (filters + page + page_size).
PageFetcher = Callable[[Mapping[str, QueryValue]], Awaitable[Page[T]]]


class AsyncPager(Generic[T]):
    """Walks a list endpoint page by page.

    ``async for item in pager`` yields items; ``async for page in pager.pages()`` yields
    :class:`Page` objects. Both continue from the pager's current position, which
    :attr:`checkpoint` reports. Paging arithmetic uses the *requested* page size and
    ``count``; the walk stops on an empty page, at ``count``, or at ``max_items``.

    ``prefetch=N`` fetches up to N pages concurrently once ``count`` is known, still
    yielding strictly in page order, and cancels outstanding fetches when the walk stops
    early (``break``, ``max_items``, an error).
    """

    def __init__(
        self,
        fetch: PageFetcher[T],
        *,
        resource: str,
        filters: Mapping[str, str],
        page_size: int,
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        prefetch: int = 1,
        filter_names: Collection[str] | None = None,
    ) -> None:
        check_page_size(page_size)
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or not 1 <= prefetch <= 32:
            raise SinchValidationError("prefetch", "must be an integer 1..32")
        self._prefetch = prefetch
        if max_items is not None and (
            isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0
        ):
            raise SinchValidationError("max_items", "must be a non-negative integer or None")
        self._fetch = fetch
        if resume is not None:
            cp = (
                resume if isinstance(resume, PagerCheckpoint) else PagerCheckpoint.from_dict(resume)
            )
            if cp.resource != resource:
                raise SinchValidationError(
                    "resume", f"checkpoint is for {cp.resource!r}, not {resource!r}"
                )
            cp.check(filter_names)
        else:
            cp = PagerCheckpoint(
                resource=resource,
                filters=tuple(sorted(filters.items())),
                page_size=page_size,
                max_items=max_items,
            )
        self._resource = cp.resource
        self._filters = cp.filters
        self._page_size = cp.page_size
        self._max_items = cp.max_items
        # The walk's position, kept as plain ints (updated per item on the hot path).
        self._page = cp.page
        self._offset = cp.offset
        self._yielded = cp.yielded
        self._done = cp.done
        self._count: int | None = None

    @property
    def checkpoint(self) -> PagerCheckpoint:
        """The position after everything handed out so far."""
        return PagerCheckpoint(
            resource=self._resource,
            filters=self._filters,
            page_size=self._page_size,
            page=self._page,
            offset=self._offset,
            yielded=self._yielded,
            max_items=self._max_items,
            done=self._done,
        )

    @property
    def count(self) -> int | None:
        """Total matching items as Sinch last reported it (None before the first page)."""
        return self._count

    def _remaining(self) -> int | None:
        return None if self._max_items is None else self._max_items - self._yielded

    def _query(self, page: int) -> dict[str, QueryValue]:
        query: dict[str, QueryValue] = dict(self._filters)
        query["page"] = page
        query["page_size"] = self._page_size
        return query

    def _last_needed_page(self, count: int) -> int:
        """The last page worth fetching, from ``count`` and ``max_items``."""
        last = max(0, -(-count // self._page_size) - 1)
        remaining = self._remaining()
        if remaining is not None:
            end = self._page * self._page_size + self._offset + remaining - 1
            last = min(last, end // self._page_size)
        return last

    async def _fetch_page(self, page_no: int) -> Page[T]:
        """Fetch ``page_no`` and check that the server answered with that page."""
        page = await self._fetch(self._query(page_no))
        if page.page != page_no:
            raise SinchPagingError(
                f"{self._resource}: asked for page {page_no}, got page {page.page}",
                status=200,
                body=b"",
            )
        return page

    def _check_bound(self, page_no: int, count: int) -> None:
        """Never ask past ``ceil(count / page_size)``: one page beyond the last one
        ``count`` allows confirms the end; a server that keeps serving items is lying."""
        if page_no > -(-count // self._page_size):
            raise SinchPagingError(
                f"{self._resource}: page {page_no} is past the {count} items the server "
                f"reported (page_size {self._page_size}); stopping instead of walking on",
                status=200,
                body=b"",
            )

    async def _raw_pages(self) -> AsyncGenerator[Page[T], None]:
        """Raw pages from the current position on, in page order.

        With ``prefetch`` > 1, once ``count`` is known up to ``prefetch`` pages are fetched
        concurrently; outstanding fetches are cancelled when the walk stops early. At most
        ``ceil(count / page_size) + 1`` pages are requested (``count`` as last reported).
        """
        page_no = self._page
        first = await self._fetch_page(page_no)
        count = first.count
        yield first
        if self._prefetch <= 1:
            while True:
                page_no += 1
                self._check_bound(page_no, count)
                page = await self._fetch_page(page_no)
                count = page.count
                yield page
        last = self._last_needed_page(first.count)
        pending: deque[asyncio.Task[Page[T]]] = deque()
        scheduled = page_no + 1
        try:
            while True:
                while len(pending) < self._prefetch and scheduled <= last:
                    pending.append(asyncio.ensure_future(self._fetch_page(scheduled)))
                    scheduled += 1
                if not pending:
                    # count said we are done; one more page confirms it (or continues if
                    # items arrived meanwhile, as far as the count allows)
                    self._check_bound(scheduled, count)
                    page = await self._fetch_page(scheduled)
                    count = page.count
                    yield page
                    scheduled += 1
                    continue
                page = await pending.popleft()
                count = page.count
                yield page
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _pages_trimmed(self) -> AsyncGenerator[tuple[Page[T], int, bool], None]:
        """(page trimmed to what may be handed out, items on the raw page, is-last-page)."""
        stream = self._raw_pages()
        try:
            while True:
                remaining = self._remaining()
                if self._done or (remaining is not None and remaining <= 0):
                    return
                try:
                    raw = await anext(stream)
                except SinchError as exc:
                    exc.checkpoint = self.checkpoint
                    raise
                self._count = raw.count
                total = len(raw.items)
                if total == 0 or self._offset >= total:
                    self._done = True
                    return
                items = list(raw.items)[self._offset :]
                if remaining is not None:
                    items = items[:remaining]
                # The last page by count: exactly the count reached, or a short page at or
                # past it. A full page past the count means the count is off: ask on
                # (within the request bound) instead of trusting it.
                reached = self._page * self._page_size + total
                last = reached == raw.count or (reached > raw.count and total < self._page_size)
                page = Page(items=items, page=raw.page, count=raw.count, page_size=raw.page_size)
                yield page, total, last
        finally:
            await stream.aclose()

    def _advance(self, n: int, page_total: int, last: bool) -> None:
        self._yielded += n
        self._offset += n
        if self._offset >= page_total:
            self._page += 1
            self._offset = 0
            self._done = last

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield pages (trimmed to ``max_items`` and to a resumed offset)."""
        async with aclosing(self._pages_trimmed()) as stream:
            async for page, total, last in stream:
                self._advance(len(page.items), total, last)
                yield page

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async with aclosing(self._pages_trimmed()) as stream:
            async for page, total, last in stream:
                for item in page.items:
                    self._advance(1, total, last)
                    yield item
