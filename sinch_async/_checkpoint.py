"""The pager checkpoint record, one for every pager (page-number and token walks), and the
merged message list's, which holds one per direction.

A leaf below the pagers: it imports only `_constants`, `_errors` and
`_validation` (and `_errors` imports nothing from the SDK).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from . import _constants as C
from ._errors import SinchValidationError
from ._validation import check_checkpoint, parse_int

__all__ = ["MessagesCheckpoint", "MessagesSideCheckpoint", "PagerCheckpoint"]


@attrs.frozen(kw_only=True)
class PagerCheckpoint:
    """Where a walk stands: the filters, the page in progress and how much of it was used.

    * ``page``: the zero-based number of the page in progress (a page-number walk asks
      for it; a token walk counts its pages with it, to bound the walk);
    * ``page_token``: a token walk's token of the page in progress (``None``: the first
      page, and always for a page-number walk);
    * ``offset``: items of that page already handed out; ``yielded``: items handed out
      by the whole walk; ``max_items``: the walk's bound; ``done``: the walk is over.

    Store it with [`to_dict`][] (JSON-safe) and resume with ``list(resume=...)``.
    [`from_dict`][] also reads what earlier releases wrote: the ``PagerCheckpoint``
    dicts of the SMS pagers and the ``TokenPagerCheckpoint`` dicts of ``numbers.list``.
    """

    resource: str
    filters: tuple[tuple[str, str], ...]
    page_size: int
    page: int = 0
    page_token: str | None = None
    offset: int = 0
    yielded: int = 0
    max_items: int | None = None
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (every field; earlier releases read it too)."""
        data = attrs.asdict(self)
        data["filters"] = [list(pair) for pair in self.filters]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PagerCheckpoint:
        """Rebuild a checkpoint saved with [`to_dict`][] ([`SinchValidationError`][]
        for anything else)."""
        try:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            token = data.get("page_token")
            max_items = data.get("max_items")
            cp = cls(
                resource=_text(data["resource"]),
                filters=tuple(_pair(item) for item in _list(data["filters"])),
                page_size=_int(data["page_size"]),
                page=_int(data.get("page", 0)),  # absent from token checkpoints of 0.1
                page_token=None if token is None else _text(token),
                offset=_int(data["offset"]),
                yielded=_int(data["yielded"]),
                max_items=None if max_items is None else _int(max_items),
                done=_flag(data.get("done", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SinchValidationError("resume", f"not a pager checkpoint: {exc!r}") from exc
        cp.check(max_page_size=C.MAX_NUMBERS_PAGE_SIZE)
        return cp

    def check(
        self,
        filter_names: Collection[str] | None = None,
        *,
        max_page_size: int = C.MAX_PAGE_SIZE,
    ) -> None:
        """Refuse a checkpoint that would put nonsense on the wire (negative positions,
        filters the resource does not have, control characters, a bad page size)."""
        check_checkpoint(
            resource=self.resource,
            filters=self.filters,
            page_size=self.page_size,
            positions=(self.page, self.offset, self.yielded, self.max_items or 0),
            token=self.page_token,
            filter_names=filter_names,
            max_page_size=max_page_size,
        )


@attrs.frozen(kw_only=True)
class MessagesSideCheckpoint:
    """One direction of a ``messages.list`` walk: the position of its own list
    (``pager``: ``batches`` for ``mt``, ``inbounds`` for ``mo``) before the first item of
    that direction not handed out yet, and the walk's cursor on it: ``at``, the time of
    the last item taken (ISO-8601, ``None`` before the first), and ``ids``, the items
    taken at that time (an item at or after the cursor that comes again, because items
    that arrived meanwhile moved it down a page, is passed)."""

    direction: str
    pager: PagerCheckpoint
    at: str | None = None
    ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "direction": self.direction,
            "pager": self.pager.to_dict(),
            "at": self.at,
            "ids": list(self.ids),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessagesSideCheckpoint:
        """Rebuild one side saved with [`to_dict`][] ([`SinchValidationError`][]
        for anything else)."""
        try:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            direction = _text(data["direction"])
            if direction not in ("mt", "mo"):
                raise ValueError(f"direction {direction!r} is not 'mt' or 'mo'")
            at = data.get("at")
            side = cls(
                direction=direction,
                pager=PagerCheckpoint.from_dict(data["pager"]),
                at=None if at is None else _text(at),
                ids=tuple(_text(i) for i in _list(data.get("ids", []))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SinchValidationError):
                raise
            raise SinchValidationError("resume", f"not a messages checkpoint: {exc!r}") from exc
        return side


@attrs.frozen(kw_only=True)
class MessagesCheckpoint(PagerCheckpoint):
    """Where a ``messages.list`` walk stands: a [`PagerCheckpoint`][] of the merged
    list (``resource="messages"``, ``filters``: the list's arguments, ``yielded``,
    ``max_items``, ``done``) plus one [`MessagesSideCheckpoint`][] per direction it
    walks. Store it with [`to_dict`][] and resume with ``messages.list(resume=...)``:
    each message comes once, the merge picking up where it stopped."""

    sides: tuple[MessagesSideCheckpoint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        data = super().to_dict()
        data["sides"] = [side.to_dict() for side in self.sides]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessagesCheckpoint:
        """Rebuild a checkpoint saved with [`to_dict`][] ([`SinchValidationError`][]
        for anything else)."""
        base = PagerCheckpoint.from_dict(data)
        try:
            sides = tuple(MessagesSideCheckpoint.from_dict(s) for s in _list(data["sides"]))
        except (KeyError, TypeError) as exc:
            raise SinchValidationError("resume", f"not a messages checkpoint: {exc!r}") from exc
        fields = {f.name: getattr(base, f.name) for f in attrs.fields(PagerCheckpoint)}
        return cls(**fields, sides=sides)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: object) -> int:
    """A JSON integer (or its decimal string in ASCII digits, as some stores return
    numbers; ``int()`` alone would read ``"٣"`` as 3)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    number = parse_int(value) if isinstance(value, str) else value
    if number is None:
        raise ValueError(f"expected an integer, got {value!r}")
    return number


def _flag(value: object) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise TypeError(f"expected a boolean, got {value!r}")


def _list(value: object) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _pair(value: object) -> tuple[str, str]:
    pair = _list(value)
    if len(pair) != 2:
        raise ValueError(f"a filter is a [name, value] pair, got {value!r}")
    return _text(pair[0]), _text(pair[1])
