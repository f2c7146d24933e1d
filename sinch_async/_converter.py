"""The one cattrs converter mapping JSON to the SDK's attrs records and back."""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import SinchDecodeError
from ._wire import format_datetime, parse_datetime
from .models.batches import (
    Batch,
    BinaryBatch,
    MediaBatch,
    TextBatch,
    UnknownBatch,
)
from .models.common import Page
from .models.groups import Clear
from .models.inbounds import Inbound, MoBinary, MoMedia, MoText, UnknownInbound

__all__ = [
    "converter",
    "decode",
    "decode_page",
    "dumps",
    "register_tagged_union",
    "structure",
    "unstructure",
]

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=False)


# --- scalars ------------------------------------------------------------------------------


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    return parse_datetime(value)


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise TypeError(f"expected a boolean, got {value!r}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    # The API documents some values as strings that fixtures send as numbers
    # (for example a group's auto_update.to); accept numbers, refuse everything else.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _optional(hook: Callable[[Any, Any], Any], exact: type) -> Callable[[Any, Any], Any]:
    """``T | None`` in one call (skips cattrs' generic optional dispatch on the hot path)."""

    def structure_optional(value: Any, tp: Any) -> Any:
        if value is None or type(value) is exact:
            return value
        return hook(value, tp)

    return structure_optional


converter.register_structure_hook(datetime, _structure_datetime)
converter.register_unstructure_hook(datetime, format_datetime)
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(str | None, _optional(_structure_str, str))
converter.register_structure_hook(int | None, _optional(_structure_int, int))
converter.register_structure_hook(bool | None, _optional(_structure_bool, bool))
converter.register_structure_hook(
    datetime | None, lambda v, t: None if v is None else _structure_datetime(v, t)
)


# --- lists: ``tuple[X, ...]`` from a JSON array only (a string is not a list of chars) ----


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_hook_factory(tp: Any) -> Callable[[Any, Any], Any]:
    item = typing.get_args(tp)[0]
    item_hook = converter.get_structure_hook(item)

    def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(item_hook(v, item) for v in value)

    return structure_tuple


converter.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook_factory)


# --- open enums: ``SomeStrEnum | str`` keeps unknown values as plain strings -------------


def _open_enum(tp: Any) -> type[enum.Enum] | None:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
    if len(enums) == 1 and str in args and len(args) == 2:
        return enums[0]
    return None


def _open_enum_hook_factory(tp: Any) -> Callable[[Any, Any], Any]:
    enum_cls = _open_enum(tp)
    assert enum_cls is not None
    optional = type(None) in typing.get_args(tp)

    def hook(value: Any, _: Any) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        try:
            return enum_cls(value)
        except ValueError:
            return value

    return hook


def _is_open_enum(tp: Any) -> bool:
    if _open_enum(tp) is not None:
        return True
    # ``E | str | None``
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = tuple(a for a in typing.get_args(tp) if a is not type(None))
        if len(args) == 2 and type(None) in typing.get_args(tp):
            return _open_enum(typing.Union[args]) is not None  # noqa: UP007
    return False


converter.register_structure_hook_factory(_is_open_enum, _open_enum_hook_factory)


# --- attrs records: ``from_`` <-> ``"from"``, unset fields omitted, ``type`` tag emitted ----


def _renames(cls: type) -> dict[str, Any]:
    return {
        a.name: override(rename=a.name[:-1])
        for a in attrs.fields(cls)
        if a.name.endswith("_") and not a.name.startswith("_")
    }


def _structure_factory(cls: type) -> Callable[[Any, Any], Any]:
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, converter, **_renames(cls))

    def hook(value: Any, tp: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"{cls.__name__} needs a JSON object, not {type(value).__name__}")
        return inner(value, tp)

    return hook


def _unstructure_factory(cls: type) -> Callable[[Any], dict[str, Any]]:
    inner: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
        cls, converter, _cattrs_omit_if_default=True, **_renames(cls)
    )
    tag = getattr(cls, "type", None)
    if isinstance(tag, str) and "type" not in attrs.fields_dict(cls):

        def tagged(obj: Any) -> dict[str, Any]:
            data = inner(obj)
            data["type"] = tag
            return data

        return tagged
    return inner


converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


# --- tagged unions keyed on ``type`` with a generic fallback -------------------------------


def register_tagged_union(
    union: Any, members: Mapping[str, type], unknown: Callable[[Mapping[str, Any]], Any]
) -> None:
    """Structure ``union`` by its JSON ``type``; an unknown type goes to ``unknown(raw)``."""

    hooks: dict[str, Callable[[Any, Any], Any]] = {}

    def structure_union(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object, got {type(value).__name__}")
        tag = value.get("type", "")
        member = members.get(tag) if isinstance(tag, str) else None
        if member is None:
            return unknown(value)
        hook = hooks.get(tag)
        if hook is None:  # looked up once per member, not per item
            hook = hooks[tag] = converter.get_structure_hook(member)
        return hook(value, member)

    converter.register_structure_hook(union, structure_union)
    converter.register_unstructure_hook(union, lambda obj: converter.unstructure(obj, type(obj)))


def _unknown(cls: Callable[..., T]) -> Callable[[Mapping[str, Any]], T]:
    def build(raw: Mapping[str, Any]) -> T:
        item_id, tag = raw.get("id"), raw.get("type")
        if not isinstance(item_id, str) or not isinstance(tag, str):
            # Without a string id and type this is not a record of some newer kind: it is broken.
            raise TypeError(f"expected string 'id' and 'type', got keys {sorted(raw)}")
        return cls(type=tag, id=item_id, raw=dict(raw))

    return build


register_tagged_union(
    Batch,
    {"mt_text": TextBatch, "mt_binary": BinaryBatch, "mt_media": MediaBatch},
    _unknown(UnknownBatch),
)
register_tagged_union(
    Inbound,
    {"mo_text": MoText, "mo_binary": MoBinary, "mo_media": MoMedia},
    _unknown(UnknownInbound),
)
converter.register_unstructure_hook(UnknownBatch, lambda obj: dict(obj.raw))
converter.register_unstructure_hook(UnknownInbound, lambda obj: dict(obj.raw))


# --- explicit null: ``CLEAR`` unstructures to ``None`` (kept, not omitted) ------------------


def _structure_clearable(value: Any, _: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string or null, got {type(value).__name__}")


converter.register_unstructure_hook(Clear, lambda _: None)
converter.register_structure_hook(str | Clear | None, _structure_clearable)


# --- entry points -------------------------------------------------------------------------


def unstructure(obj: Any) -> Any:
    """A record as JSON-ready data (unset fields omitted)."""
    return converter.unstructure(obj)


def structure(data: Any, cls: Any) -> Any:
    """JSON-ready data as a record of ``cls``; raises the converter's own errors."""
    return converter.structure(data, cls)


def dumps(obj: Any) -> bytes:
    """A record (or plain data) as JSON bytes."""
    return orjson.dumps(converter.unstructure(obj))


_DECODE_ERRORS = (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError)


def _loads(body: bytes, status: int) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SinchDecodeError(f"response is not JSON: {exc}", status=status, body=body) from exc


def decode(body: bytes, cls: Any, *, status: int = 200) -> Any:
    """Decode a response body straight from bytes into ``cls``; typed error on bad data."""
    data = _loads(body, status)
    try:
        return converter.structure(data, cls)
    except _DECODE_ERRORS as exc:
        name = getattr(cls, "__name__", str(cls))
        raise SinchDecodeError(
            f"unexpected response for {name}: {exc!r}", status=status, body=body
        ) from exc


def decode_page(
    body: bytes, key: str, item_type: Any, *, status: int = 200, default_page: int = 0
) -> Page[Any]:
    """Decode a list response ``{count, page, page_size, <key>: [...]}`` into a :class:`Page`.

    ``default_page`` stands in for a missing ``page`` (pass the page that was asked for).
    """
    data = _loads(body, status)
    try:
        if not isinstance(data, Mapping):
            raise TypeError("a page must be a JSON object")
        raw_items = data.get(key) or []
        if not isinstance(raw_items, list):
            raise TypeError(f"{key!r} must be a list")
        items = [converter.structure(item, item_type) for item in raw_items]
        count = _structure_int(data.get("count", 0), int)
        page = _structure_int(data.get("page", default_page), int)
        page_size = _structure_int(data.get("page_size", len(items)), int)
    except _DECODE_ERRORS as exc:
        raise SinchDecodeError(
            f"unexpected list response ({key}): {exc!r}", status=status, body=body
        ) from exc
    return Page(items=items, page=page, count=count, page_size=page_size)
