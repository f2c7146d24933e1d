"""The pager checkpoint record: a leaf module (errors carry it; pagers produce it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from ._errors import SinchValidationError
from ._validation import check_page_size

__all__ = ["PagerCheckpoint"]


@attrs.frozen(kw_only=True)
class PagerCheckpoint:
    """Where a walk stands: the filters, the next page to fetch and how much of it was used.

    Store it with :meth:`to_dict` (JSON-safe) and resume with ``list(resume=...)``.
    """

    resource: str
    filters: tuple[tuple[str, str], ...]
    page_size: int
    page: int = 0
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
    def from_dict(cls, data: Mapping[str, Any]) -> PagerCheckpoint:
        """Rebuild a checkpoint saved with :meth:`to_dict`."""
        try:
            cp = cls(
                resource=str(data["resource"]),
                filters=tuple((str(k), str(v)) for k, v in data["filters"]),
                page_size=int(data["page_size"]),
                page=int(data["page"]),
                offset=int(data["offset"]),
                yielded=int(data["yielded"]),
                max_items=None if data.get("max_items") is None else int(data["max_items"]),
                done=bool(data.get("done", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SinchValidationError("resume", f"not a pager checkpoint: {exc!r}") from exc
        cp.check()
        return cp

    def check(self, filter_names: Collection[str] | None = None) -> None:
        """Refuse a checkpoint that would put nonsense on the wire (negative positions,
        filters the resource does not have, control characters)."""
        numbers = (self.page, self.offset, self.yielded, self.max_items or 0)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
            raise SinchValidationError("resume", "positions in a checkpoint must be >= 0")
        check_page_size(self.page_size)
        for key, value in self.filters:
            if filter_names is not None and key not in filter_names:
                raise SinchValidationError(
                    "resume", f"checkpoint filter {key!r} is not a filter of {self.resource}"
                )
            if any(ord(ch) < 32 for ch in key + value):
                raise SinchValidationError("resume", "checkpoint filters hold control characters")
