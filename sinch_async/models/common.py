"""Records and open enums shared by every area of the API."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "DeliveryReportType",
    "Encoding",
    "ErrorBody",
    "Page",
    "opt_str_tuple",
    "str_tuple",
]


def str_tuple(value: Any) -> tuple[str, ...]:
    """A caller's iterable of strings as a tuple; a bare string is one item, not characters."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def opt_str_tuple(value: Any) -> tuple[str, ...] | None:
    """[`str_tuple`][], keeping ``None``."""
    return None if value is None else str_tuple(value)


T = TypeVar("T")


class DeliveryReportType(StrEnum):
    """What delivery reporting a batch asks for. Unknown future values arrive as ``str``."""

    NONE = "none"
    SUMMARY = "summary"
    FULL = "full"
    PER_RECIPIENT = "per_recipient"
    PER_RECIPIENT_FINAL = "per_recipient_final"


class Encoding(StrEnum):
    """Encoding reported by a dry run."""

    TEXT = "text"
    UNICODE = "unicode"


@attrs.frozen
class ErrorBody:
    """The xms error body ``{"code": ..., "text": ...}``."""

    code: str
    text: str


@attrs.frozen
class Page(Generic[T]):
    """One page of a list, whatever its cursor (every pager yields these).

    * ``items``: the page's items;
    * ``page``: its zero-based number (a page-number list: the number Sinch answered; a
      token list or the merged message list: the page's place in the walk);
    * ``count``: the total number of items matching the filters as the server reported
      it (SMS ``count``, Numbers ``totalSize``; ``None`` when the server gave none);
    * ``page_size``: the number of items on *this* page as the server reported it (not
      the size requested; the number of ``items`` when the server reports none);
    * ``next_page_token``: a token list's token of the next page (``""`` on the last
      page; ``None`` for the other cursors).

    ``total_size`` is a deprecated alias of ``count``.
    """

    items: Sequence[T]
    page: int = 0
    count: int | None = None
    page_size: int = attrs.field(
        default=attrs.Factory(lambda self: len(self.items), takes_self=True)
    )
    next_page_token: str | None = None

    @property
    def total_size(self) -> int | None:
        """Deprecated alias of [`count`][] (the name of the 0.1 ``TokenPage``)."""
        warnings.warn(
            "Page.total_size is deprecated; use Page.count", DeprecationWarning, stacklevel=2
        )
        return self.count
