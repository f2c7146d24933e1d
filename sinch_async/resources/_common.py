"""Small helpers every resource module uses."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from .._errors import SinchValidationError
from .._sync import CheckpointStore, JsonFileCheckpoint
from .._validation import check_window  # the rule lives there; re-exported for resources
from .._wire import QueryValue, build_query

__all__ = [
    "as_list",
    "as_store",
    "build_record",
    "check_window",
    "encode_filters",
]


def build_record(cls: Any, **fields: Any) -> Any:
    """Construct a record from keyword arguments, turning type mistakes into our error."""
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise SinchValidationError(cls.__name__, str(exc)) from exc


def encode_filters(filters: Mapping[str, QueryValue]) -> dict[str, str]:
    """Filters as the exact strings that go on the wire (so a checkpoint can store them)."""
    out: dict[str, str] = {}
    for name, value in filters.items():
        if value is None:
            continue
        encoded = build_query({name: value})
        if encoded:
            out[name] = unquote(encoded.split("=", 1)[1])
    return out


def as_list(values: Iterable[Any] | None) -> list[Any] | None:
    """A caller's iterable (or a single string) as a list, or None."""
    if values is None:
        return None
    if isinstance(values, str | int):
        return [values]
    return list(values)


def as_store(checkpoint: CheckpointStore | str | os.PathLike[str] | None) -> CheckpointStore | None:
    """A path becomes a JSON-file checkpoint; a store is used as it is."""
    if checkpoint is None or isinstance(checkpoint, str | os.PathLike):
        return None if checkpoint is None else JsonFileCheckpoint(checkpoint)
    return checkpoint
