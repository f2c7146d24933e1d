"""The Numbers API's own cattrs converter: camelCase keys, ``Decimal`` money, nulls as
``""`` for plain strings, unknown fields ignored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._errors import SinchDecodeError
from .._wire import format_datetime, parse_datetime

__all__ = ["camel", "converter", "decode", "structure", "unstructure"]

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=False)


def camel(name: str) -> str:
    """``phone_number`` → ``phoneNumber``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _structure_str(value: Any, _: type) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"expected a decimal string, got {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise TypeError(f"expected a decimal string, got {value!r}") from None


def _structure_datetime(value: Any, _: type) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an RFC 3339 string, got {value!r}")
    return parse_datetime(value)


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {value!r}")


def _structure_str_tuple(value: Any, _: type) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # a single value where a list was documented
        return (value,)
    if not isinstance(value, list):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(_structure_str(item, str) for item in value)


converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(Decimal, _structure_decimal)
converter.register_structure_hook(datetime, _structure_datetime)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook_func(lambda tp: tp == tuple[str, ...], _structure_str_tuple)
converter.register_unstructure_hook(Decimal, str)
converter.register_unstructure_hook(datetime, format_datetime)
converter.register_unstructure_hook_func(lambda tp: tp == tuple[str, ...], list)


def _structure_factory(cls: type) -> Callable[[Any, Any], Any]:
    renames = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
    return make_dict_structure_fn(cls, converter, **renames)  # type: ignore[arg-type]


def _unstructure_factory(cls: type) -> Callable[[Any], dict[str, Any]]:
    renames = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
    inner: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, converter, **renames)  # type: ignore[arg-type]

    def unstructure_omitting_none(obj: Any) -> dict[str, Any]:
        return {k: v for k, v in inner(obj).items() if v is not None}

    return unstructure_omitting_none


converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


def structure(data: Any, cls: type[T]) -> T:
    """A camelCase JSON value as the record ``cls``."""
    return converter.structure(data, cls)


def unstructure(obj: Any) -> Any:
    """A record as camelCase JSON-safe data (``None`` fields left out)."""
    return converter.unstructure(obj)


def decode(body: bytes, cls: type[T], *, status: int = 200) -> T:
    """Parse ``body`` and structure it as ``cls``; a typed error if either fails."""
    try:
        data = orjson.loads(body)
        return structure(data, cls)
    except Exception as exc:
        raise SinchDecodeError(
            f"cannot decode a {cls.__name__} from the response: {exc}", status=status, body=body
        ) from exc
