"""The Numbers API's converter: the SDK's one codec (`make_converter`)
in its camelCase style. Scalar rules are the SMS ones: ``null`` means "not given" (``None``
for optional fields, the field's default otherwise, an error for required fields), booleans
are JSON booleans, money is a ``Decimal`` from a string or a number, unknown fields are
ignored."""

from __future__ import annotations

from typing import Any, TypeVar

from .._converter import camel, decode_with, make_converter, structure_with

__all__ = ["camel", "converter", "decode", "structure", "unstructure"]

T = TypeVar("T")

#: Built once by the shared factory; never configured afterwards.
converter = make_converter("camel")


def structure(data: Any, cls: type[T]) -> T:
    """A camelCase JSON value as the record ``cls``; a ``DecodeFailure`` (a ``ValueError``)
    naming the field that failed."""
    result: T = structure_with(converter, data, cls)
    return result


def unstructure(obj: Any) -> Any:
    """A record as camelCase JSON-safe data (fields left at a ``None`` default omitted)."""
    return converter.unstructure(obj)


def decode(body: bytes, cls: type[T], *, status: int = 200) -> T:
    """Parse ``body`` and structure it as ``cls``; a typed error if either fails."""
    result: T = decode_with(converter, body, cls, status=status)
    return result
