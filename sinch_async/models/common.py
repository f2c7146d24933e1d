"""Records and open enums shared by every area of the API."""

from __future__ import annotations

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
    """:func:`str_tuple`, keeping ``None``."""
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
    """One page of a list endpoint.

    ``count`` is the total number of items matching the filters; ``page_size`` is the
    number of items on *this* page as Sinch reports it (not the size requested).
    """

    items: Sequence[T]
    page: int
    count: int
    page_size: int
