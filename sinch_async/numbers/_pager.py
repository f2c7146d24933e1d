"""Token paging (``pageSize`` + ``pageToken`` → ``nextPageToken``) with resumable
checkpoints, offering the same interface as :class:`sinch_async.AsyncPager`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import aclosing
from typing import Any, Generic, TypeVar

import attrs

from .._errors import SinchPagingError, SinchValidationError

__all__ = ["MAX_PAGE_SIZE", "TokenPage", "TokenPager", "TokenPagerCheckpoint"]

T = TypeVar("T")

#: Numbers documents no maximum; 1000 keeps requests sane.
MAX_PAGE_SIZE = 1000


def check_token_page_size(page_size: object) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise SinchValidationError("page_size", "must be an integer")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise SinchValidationError("page_size", f"must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    return page_size


@attrs.frozen
class TokenPage(Generic[T]):
    """One page: its items, the token of the next page (``""`` on the last) and the
    server's ``totalSize`` (informational)."""

    items: list[T]
    next_page_token: str = ""
    total_size: int | None = None


@attrs.frozen(kw_only=True)
class TokenPagerCheckpoint:
    """Where a token walk stands: the filters, the token of the page in progress
    (``None``: the first page), how many of its items were used, and the totals.

    Store it with :meth:`to_dict` (JSON-safe) and resume with ``list(resume=...)``.
    """

    resource: str
    filters: tuple[tuple[str, str], ...]
    page_size: int
    page_token: str | None = None
    offset: int = 0
    yielded: int = 0
    max_items: int | None = None
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        data = attrs.asdict(self)
        data["filters"] = [list(pair) for pair in self.filters]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenPagerCheckpoint:
        """Rebuild a checkpoint saved with :meth:`to_dict`."""
        try:
            token = data.get("page_token")
            cp = cls(
                resource=str(data["resource"]),
                filters=tuple((str(k), str(v)) for k, v in data["filters"]),
                page_size=int(data["page_size"]),
                page_token=None if token is None else str(token),
                offset=int(data["offset"]),
                yielded=int(data["yielded"]),
                max_items=None if data.get("max_items") is None else int(data["max_items"]),
                done=bool(data.get("done", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SinchValidationError("resume", f"not a token pager checkpoint: {exc!r}") from exc
        cp.check()
        return cp

    def check(self, filter_names: Collection[str] | None = None) -> None:
        """Refuse a checkpoint that would put nonsense on the wire."""
        numbers = (self.offset, self.yielded, self.max_items or 0)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
            raise SinchValidationError("resume", "positions in a checkpoint must be >= 0")
        check_token_page_size(self.page_size)
        texts = [self.page_token or ""]
        for key, value in self.filters:
            if filter_names is not None and key not in filter_names:
                raise SinchValidationError(
                    "resume", f"checkpoint filter {key!r} is not a filter of {self.resource}"
                )
            texts += [key, value]
        if any(ord(ch) < 32 for text in texts for ch in text):
            raise SinchValidationError("resume", "checkpoint holds control characters")


#: Fetch one page: the query pairs (filters + pageSize [+ pageToken]).
TokenPageFetcher = Callable[[list[tuple[str, str]]], Awaitable[TokenPage[T]]]


class TokenPager(Generic[T]):
    """Walks a token-paged list endpoint.

    ``async for item in pager`` yields items; ``async for page in pager.pages()`` yields
    :class:`TokenPage` objects. Both continue from the current position, which
    :attr:`checkpoint` reports. The walk stops when ``nextPageToken`` is empty or at
    ``max_items``; a token the walk has already followed raises
    :class:`SinchPagingError` instead of looping.
    """

    def __init__(
        self,
        fetch: TokenPageFetcher[T],
        *,
        resource: str,
        filters: Collection[tuple[str, str]],
        page_size: int,
        max_items: int | None = None,
        resume: TokenPagerCheckpoint | Mapping[str, Any] | None = None,
        filter_names: Collection[str] | None = None,
    ) -> None:
        check_token_page_size(page_size)
        if max_items is not None and (
            isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0
        ):
            raise SinchValidationError("max_items", "must be a non-negative integer or None")
        self._fetch = fetch
        if resume is not None:
            cp = (
                resume
                if isinstance(resume, TokenPagerCheckpoint)
                else TokenPagerCheckpoint.from_dict(resume)
            )
            if cp.resource != resource:
                raise SinchValidationError(
                    "resume", f"checkpoint is for {cp.resource!r}, not {resource!r}"
                )
            cp.check(filter_names)
        else:
            cp = TokenPagerCheckpoint(
                resource=resource,
                filters=tuple(filters),
                page_size=page_size,
                max_items=max_items,
            )
        self._resource = cp.resource
        self._filters = cp.filters
        self._page_size = cp.page_size
        self._max_items = cp.max_items
        self._token = cp.page_token
        self._offset = cp.offset
        self._yielded = cp.yielded
        self._done = cp.done
        self._count: int | None = None

    @property
    def checkpoint(self) -> TokenPagerCheckpoint:
        """The position after everything handed out so far."""
        return TokenPagerCheckpoint(
            resource=self._resource,
            filters=self._filters,
            page_size=self._page_size,
            page_token=self._token,
            offset=self._offset,
            yielded=self._yielded,
            max_items=self._max_items,
            done=self._done,
        )

    @property
    def count(self) -> int | None:
        """``totalSize`` as the server last reported it (None before the first page)."""
        return self._count

    def _remaining(self) -> int | None:
        return None if self._max_items is None else self._max_items - self._yielded

    def _query(self) -> list[tuple[str, str]]:
        query = [*self._filters, ("pageSize", str(self._page_size))]
        if self._token is not None:
            query.append(("pageToken", self._token))
        return query

    def _move_to(self, next_token: str) -> None:
        self._offset = 0
        if next_token:
            self._token = next_token
        else:
            self._done = True

    async def _pages_trimmed(self) -> AsyncGenerator[tuple[TokenPage[T], int, str], None]:
        """(page trimmed to what may be handed out, items on the raw page, next token)."""
        seen: set[str] = set()
        while True:
            remaining = self._remaining()
            if self._done or (remaining is not None and remaining <= 0):
                return
            if self._token is not None:
                if self._token in seen:
                    raise SinchPagingError(
                        f"{self._resource}: the server handed out page token "
                        f"{self._token!r} twice; stopping instead of looping",
                        status=200,
                        body=b"",
                    )
                seen.add(self._token)
            raw = await self._fetch(self._query())
            if raw.total_size is not None:
                self._count = raw.total_size
            total = len(raw.items)
            if self._offset >= total:  # empty page, or a page that shrank since the checkpoint
                self._move_to(raw.next_page_token)
                continue
            items = list(raw.items)[self._offset :]
            if remaining is not None:
                items = items[:remaining]
            page = TokenPage(items, raw.next_page_token, raw.total_size)
            yield page, total, raw.next_page_token

    def _advance(self, n: int, page_total: int, next_token: str) -> None:
        self._yielded += n
        self._offset += n
        if self._offset >= page_total:
            self._move_to(next_token)

    async def pages(self) -> AsyncIterator[TokenPage[T]]:
        """Yield pages (trimmed to ``max_items`` and to a resumed offset)."""
        async with aclosing(self._pages_trimmed()) as stream:
            async for page, total, next_token in stream:
                self._advance(len(page.items), total, next_token)
                yield page

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async with aclosing(self._pages_trimmed()) as stream:
            async for page, total, next_token in stream:
                for item in page.items:
                    self._advance(1, total, next_token)
                    yield item
