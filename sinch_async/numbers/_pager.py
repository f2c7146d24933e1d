"""Token paging of the Numbers API: 0.1's names for [`sinch_async.Pager`][] with
``paging="token"`` (kept so that code written for 0.1 keeps working)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

from .. import _constants as C
from .._checkpoint import PagerCheckpoint
from .._pagination import OnUndecodable, Pager, TokenPageFetcher
from ..models.common import Page

__all__ = ["MAX_PAGE_SIZE", "TokenPage", "TokenPager", "TokenPagerCheckpoint"]

T = TypeVar("T")

#: Numbers documents no maximum ``pageSize``; 1000 keeps requests sane.
MAX_PAGE_SIZE = C.MAX_NUMBERS_PAGE_SIZE

#: 0.1's name of the checkpoint of a token walk: one `PagerCheckpoint` now.
TokenPagerCheckpoint = PagerCheckpoint


class TokenPage(Page[T]):
    """0.1's page of a token list: a [`Page`][] built as ``TokenPage(items,
    next_page_token, total_size)`` (``total_size`` is [`Page.count`][])."""

    items: list[T]  # a list, as in 0.1

    def __init__(
        self,
        items: Iterable[T],
        next_page_token: str = "",
        total_size: int | None = None,
        *,
        page: int = 0,
    ) -> None:
        items = list(items)
        super().__init__(
            items=items,
            page=page,
            count=total_size,
            page_size=len(items),
            next_page_token=next_page_token,
        )


class TokenPager(Pager[T]):
    """0.1's token pager: ``Pager(fetch, paging="token", ...)``."""

    def __init__(
        self,
        fetch: TokenPageFetcher[T],
        *,
        resource: str,
        filters: Collection[tuple[str, str]],
        page_size: int,
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        filter_names: Collection[str] | None = None,
        on_undecodable: OnUndecodable = "raise",
    ) -> None:
        super().__init__(
            fetch,
            resource=resource,
            filters=filters,
            page_size=page_size,
            paging="token",
            max_items=max_items,
            resume=resume,
            filter_names=filter_names,
            on_undecodable=on_undecodable,
        )
