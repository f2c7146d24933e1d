"""The SDK's one codec: `make_converter` builds a fully configured cattrs converter.

Both APIs decode through converters built here, with one set of scalar rules:

* ``null`` means "not given": a field whose type admits ``None`` decodes it as ``None``;
  a field with another default takes that default (the Numbers API's ``""`` strings);
  a required field (no default) refuses ``null`` and a missing key alike;
* booleans are JSON booleans (``"true"`` is refused);
* integers are JSON integers, integral floats or digit strings; strings are JSON strings
  or numbers (the fixtures send some documented strings as numbers);
* money (``Decimal``) is a JSON string or number, read as ``Decimal(str(v))``;
* datetimes are ISO-8601 strings; no offset means UTC;
* a list is a JSON array (a string is not a list of characters);
* open enums (``SomeStrEnum | str``) keep unknown values as plain strings;
* unknown fields are ignored.

``keys`` picks the API's wire style: ``"snake"`` (xms: ``from_`` <-> ``"from"``, unset
fields omitted) or ``"camel"`` (Numbers: ``phone_number`` <-> ``"phoneNumber"``, fields
left at a ``None`` default omitted). Each call builds a new converter; nothing here is
configured after import. The module-level ``converter`` and entry points use the SMS one.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import SinchDecodeError, UndecodableItem
from ._validation import parse_int
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
    "DecodeFailure",
    "KeyStyle",
    "SinchConverter",
    "camel",
    "converter",
    "decode",
    "decode_items",
    "decode_page",
    "decode_with",
    "dumps",
    "make_converter",
    "register_tagged_union",
    "structure",
    "structure_with",
    "unstructure",
]

T = TypeVar("T")

KeyStyle = Literal["snake", "camel"]

Hook = Callable[[Any, Any], Any]


class DecodeFailure(ValueError):
    """Where a value failed to decode (``path`` of keys and list indexes) and why.

    Raised by `structure` / `structure_with` (from
    `SinchConverter.explain`); `decode` and `decode_page` put its text in
    a [`SinchDecodeError`][]."""

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return f"{where.lstrip('.')}: {self.reason}" if where else self.reason

    def under(self, step: str | int) -> DecodeFailure:
        """The same failure one level further down (``step`` is a key or a list index)."""
        return DecodeFailure((step, *self.path), self.reason)


def camel(name: str) -> str:
    """``phone_number`` -> ``phoneNumber``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _wire_name(name: str, keys: KeyStyle) -> str:
    """The JSON key of an attribute: a trailing ``_`` (``from_``) is dropped."""
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]
    return camel(name) if keys == "camel" else name


# --- scalars: one set of rules for every API -----------------------------------------------


def _got(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    return type(value).__name__


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    # The API documents some values as strings that fixtures send as numbers
    # (for example a group's auto_update.to); accept numbers, refuse everything else.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {_got(value)}")


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):  # ASCII digits only ("٣" is no 3)
        number = parse_int(value)
        if number is not None:
            return number
    raise TypeError(f"expected an integer, got {_got(value)}")


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {_got(value)}")


def _structure_decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            result = Decimal(value if type(value) is str else str(value))
        except InvalidOperation:
            pass
        else:
            if result.is_finite():
                return result
    raise TypeError(f"expected a decimal amount, got {_got(value)}")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if type(value) is str:  # the wire's case first: one check
        return parse_datetime(value)
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {_got(value)}")
    return parse_datetime(value)


def _optional(hook: Hook, exact: type) -> Hook:
    """``T | None`` in one call (skips cattrs' generic optional dispatch on the hot path)."""

    def structure_optional(value: Any, tp: Any) -> Any:
        if value is None or type(value) is exact:
            return value
        return hook(value, tp)

    return structure_optional


def _structure_clearable(value: Any, _: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string or null, got {_got(value)}")


_SCALARS: tuple[tuple[type, Hook], ...] = (
    (str, _structure_str),
    (int, _structure_int),
    (bool, _structure_bool),
    (Decimal, _structure_decimal),
    (datetime, _structure_datetime),
)


def _register_scalars(conv: cattrs.Converter) -> None:
    for tp, hook in _SCALARS:
        conv.register_structure_hook(tp, hook)
        conv.register_structure_hook(tp | None, _optional(hook, tp))
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(Decimal, str)
    # ``CLEAR`` unstructures to an explicit ``null`` (kept, not omitted)
    conv.register_unstructure_hook(Clear, lambda _: None)
    conv.register_structure_hook(str | Clear | None, _structure_clearable)


# --- lists: ``tuple[X, ...]`` from a JSON array only (a string is not a list of chars) ----


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


_REFUSE: Any = object()


def _tuple_hook(conv: cattrs.Converter, tp: Any, on_null: Any = _REFUSE) -> Hook:
    """``tuple[X, ...]``; ``on_null`` (a field's default) stands in for ``null``."""
    item = typing.get_args(tp)[0]
    item_hook = conv.get_structure_hook(item)

    def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
        if type(value) is not list and not isinstance(value, list | tuple):
            if value is None and on_null is not _REFUSE:
                return on_null  # type: ignore[no-any-return]
            raise TypeError(f"expected a list, got {_got(value)}")
        return tuple([item_hook(v, item) for v in value])  # a list: no generator frame

    return structure_tuple


def _tuple_hook_factory(conv: cattrs.Converter) -> Callable[[Any], Hook]:
    def factory(tp: Any) -> Hook:
        return _tuple_hook(conv, tp)

    return factory


# --- open enums: ``SomeStrEnum | str`` keeps unknown values as plain strings -------------


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    return typing.get_args(tp)


def _open_enum(tp: Any) -> tuple[type[enum.Enum], bool] | None:
    """``(E, optional)`` for ``E | str`` and ``E | str | None``; None for anything else."""
    args = _union_args(tp)
    if args is None:
        return None
    rest = [a for a in args if a is not type(None)]
    enums = [a for a in rest if isinstance(a, type) and issubclass(a, enum.Enum)]
    if len(rest) == 2 and len(enums) == 1 and str in rest:
        return enums[0], len(rest) < len(args)
    return None


def _open_enum_hook_factory(tp: Any) -> Hook:
    found = _open_enum(tp)
    assert found is not None
    enum_cls, optional = found
    # Enum's own value -> member table (what ``enum_cls(value)`` looks in first), read
    # directly: a miss still goes through ``enum_cls(value)`` (``_missing_`` included).
    members: Mapping[Any, Any] = getattr(enum_cls, "_value2member_map_", {})

    def structure_open_enum(value: Any, _: Any) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {_got(value)}")
        member = members.get(value)
        if member is not None:
            return member
        try:
            return enum_cls(value)
        except ValueError:
            return value

    return structure_open_enum


def _is_open_enum(tp: Any) -> bool:
    return _open_enum(tp) is not None


# --- attrs records ------------------------------------------------------------------------


def _admits_none(tp: Any) -> bool:
    if tp is Any or tp is None or tp is type(None):
        return True
    args = _union_args(tp)
    return args is not None and type(None) in args


_EXACT = (str, int, bool)


def _null_means(default: Any, hook: Hook, tp: Any) -> Hook:
    """A field with a non-``None`` default: ``null`` is "not given" and takes the default."""
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        make = default.factory

        def structure_or_factory(value: Any, tp: Any) -> Any:
            return make() if value is None else hook(value, tp)

        return structure_or_factory

    if tp in _EXACT:
        exact: type = tp

        def structure_scalar_or_default(value: Any, tp: Any) -> Any:
            if type(value) is exact:
                return value
            return default if value is None else hook(value, tp)

        return structure_scalar_or_default

    def structure_or_default(value: Any, tp: Any) -> Any:
        return default if value is None else hook(value, tp)

    return structure_or_default


@attrs.frozen
class _Field:
    """What `SinchConverter.explain` needs to know of one field of a record."""

    key: str
    type: Any
    required: bool  # no default: a missing key or a ``null`` (unless the type admits it) fails


def _record_structure_factory(conv: SinchConverter, keys: KeyStyle) -> Callable[[Any], Hook]:
    def factory(cls: Any) -> Hook:
        attrs.resolve_types(cls)
        overrides: dict[str, Any] = {}
        plan: list[_Field] = []
        for a in attrs.fields(cls):
            if not a.init:
                continue
            key = _wire_name(a.name, keys)
            options: dict[str, Any] = {}
            if key != a.name:
                options["rename"] = key
            has_default = a.default is not attrs.NOTHING
            takes_self = isinstance(a.default, attrs.Factory) and a.default.takes_self  # type: ignore[arg-type]
            if has_default and not takes_self and not _admits_none(a.type):
                if _is_homogeneous_tuple(a.type) and isinstance(a.default, tuple):
                    options["struct_hook"] = _tuple_hook(conv, a.type, a.default)
                else:
                    base = conv.get_structure_hook(a.type)
                    options["struct_hook"] = _null_means(a.default, base, a.type)
            if options:
                overrides[a.name] = override(**options)
            plan.append(_Field(key, a.type, not has_default))
        conv._plans[cls] = tuple(plan)
        inner: Hook = make_dict_structure_fn(cls, conv, **overrides)
        checked = any(f.required for f in plan)
        conv._records[cls] = (inner, checked)
        if checked:
            # The generated function reads a required key with ``o[key]``: anything but a JSON
            # object already fails there, so the hot path needs no wrapper.
            return inner
        name = cls.__name__

        def structure_record(value: Any, tp: Any) -> Any:
            if not isinstance(value, Mapping):
                raise TypeError(f"{name} needs a JSON object, got {_got(value)}")
            return inner(value, tp)

        return structure_record

    return factory


def _optional_record(tp: Any) -> Any:
    """``R`` for ``R | None`` where ``R`` is an attrs record; None otherwise."""
    args = _union_args(tp)
    if args is None or len(args) != 2 or type(None) not in args:
        return None
    cls = args[0] if args[1] is type(None) else args[1]
    return cls if attrs.has(cls) else None


def _is_optional_record(tp: Any) -> bool:
    return _optional_record(tp) is not None


def _optional_record_factory(conv: SinchConverter) -> Callable[[Any], Hook]:
    """``R | None`` in one call (cattrs' generic optional hook dispatches again per value)."""

    def factory(tp: Any) -> Hook:
        cls = _optional_record(tp)
        conv.get_structure_hook(cls)  # builds the record's function
        inner, checked = conv._records[cls]
        if checked:

            def structure_optional_record(value: Any, _: Any) -> Any:
                return None if value is None else inner(value, cls)

            return structure_optional_record
        name = cls.__name__

        def structure_optional_checked(value: Any, _: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, Mapping):
                raise TypeError(f"{name} needs a JSON object, got {_got(value)}")
            return inner(value, cls)

        return structure_optional_checked

    return factory


def _record_unstructure_factory(
    conv: cattrs.Converter, keys: KeyStyle
) -> Callable[[Any], Callable[[Any], dict[str, Any]]]:
    def factory(cls: Any) -> Callable[[Any], dict[str, Any]]:
        overrides: dict[str, Any] = {}
        for a in attrs.fields(cls):
            options: dict[str, Any] = {}
            key = _wire_name(a.name, keys)
            if key != a.name:
                options["rename"] = key
            # camel (Numbers): only fields left at a ``None`` default are omitted
            if keys == "camel" and a.default is None:
                options["omit_if_default"] = True
            if options:
                overrides[a.name] = override(**options)
        inner: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
            cls,
            conv,
            _cattrs_omit_if_default=keys == "snake",  # snake (xms): unset fields omitted
            **overrides,
        )
        tag = getattr(cls, "type", None)
        if isinstance(tag, str) and "type" not in attrs.fields_dict(cls):

            def tagged(obj: Any) -> dict[str, Any]:
                data = inner(obj)
                data["type"] = tag
                return data

            return tagged
        return inner

    return factory


# --- the converter: cattrs' own, plus what it takes to say where a decode failed -----------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"required field {exc.args[0]!r} is missing" if exc.args else "missing field"
    text = str(exc)
    return text if text else type(exc).__name__


class SinchConverter(cattrs.Converter):
    """A cattrs converter built by `make_converter`.

    The hooks stay lean (no per-field bookkeeping on the hot path); when structuring fails,
    `explain` walks the value again to name the field that failed."""

    __slots__ = ("_plans", "_records", "_unions", "keys")

    def __init__(self, keys: KeyStyle) -> None:
        super().__init__(detailed_validation=False)
        self.keys: KeyStyle = keys
        self._plans: dict[Any, tuple[_Field, ...]] = {}
        self._records: dict[Any, tuple[Hook, bool]] = {}
        self._unions: dict[Any, Mapping[str, type]] = {}

    def explain(self, value: Any, tp: Any, exc: BaseException) -> DecodeFailure:
        """Why ``value`` does not structure as ``tp``: the path of the first failing field."""
        return self._find(value, tp) or DecodeFailure((), _reason(exc))

    def _find(self, value: Any, tp: Any) -> DecodeFailure | None:
        try:
            self.structure(value, tp)
        except Exception as exc:  # any failure is the one to explain
            error: BaseException = exc
        else:
            return None
        args = _union_args(tp)
        if args is not None and value is not None:
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                return self._find(value, rest[0])
        members = self._unions.get(tp)
        if members is not None and isinstance(value, Mapping):
            tag = value.get("type")
            member = members.get(tag) if isinstance(tag, str) else None
            if member is not None:
                return self._find(value, member)
        if _is_homogeneous_tuple(tp) and isinstance(value, list | tuple):
            item = typing.get_args(tp)[0]
            for index, entry in enumerate(value):
                found = self._find(entry, item)
                if found is not None:
                    return found.under(index)
        plan = self._plans.get(tp)
        if plan is not None:
            if not isinstance(value, Mapping):
                return DecodeFailure((), f"{_type_name(tp)} needs a JSON object, got {_got(value)}")
            for f in plan:
                if f.key not in value:
                    if f.required:
                        return DecodeFailure((f.key,), "required field is missing")
                    continue
                raw = value[f.key]
                if raw is None:
                    if f.required and not _admits_none(f.type):
                        return DecodeFailure((f.key,), "required field is null")
                    continue
                found = self._find(raw, f.type)
                if found is not None:
                    return found.under(f.key)
        return DecodeFailure((), _reason(error))


# --- tagged unions keyed on ``type`` with a generic fallback -------------------------------


def register_tagged_union(
    conv: SinchConverter,
    union: Any,
    members: Mapping[str, type],
    unknown: Callable[[Mapping[str, Any]], Any],
) -> None:
    """Structure ``union`` by its JSON ``type``; an unknown type goes to ``unknown(raw)``.

    Called while `make_converter` builds ``conv``."""

    hooks: dict[str, Hook] = {}

    def structure_union(value: Any, _: Any) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object, got {_got(value)}")
        tag = value.get("type", "")
        member = members.get(tag) if isinstance(tag, str) else None
        if member is None:
            return unknown(value)
        hook = hooks.get(tag)
        if hook is None:  # looked up once per member, not per item
            hook = hooks[tag] = conv.get_structure_hook(member)
        return hook(value, member)

    conv.register_structure_hook(union, structure_union)
    conv.register_unstructure_hook(union, lambda obj: conv.unstructure(obj, type(obj)))
    conv._unions[union] = members


def _unknown(conv: SinchConverter, cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    """The builder of ``cls`` (``UnknownBatch``, ``UnknownInbound``): the fields every
    member of the union has, decoded by the usual rules, and ``raw``, the whole object."""
    common = [
        _wire_name(f.name, "snake")
        for f in attrs.fields(cls)  # type: ignore[arg-type]
        if f.name not in ("type", "id", "raw")
    ]
    hook: Hook | None = None

    def build(raw: Mapping[str, Any]) -> T:
        nonlocal hook
        item_id, tag = raw.get("id"), raw.get("type")
        if not isinstance(item_id, str) or not isinstance(tag, str):
            # Without a string id and type this is not a record of some newer kind: it is broken.
            raise TypeError(f"expected string 'id' and 'type', got keys {sorted(raw)}")
        if hook is None:
            hook = conv.get_structure_hook(cls)
        value = {key: raw[key] for key in common if key in raw}
        value.update(type=tag, id=item_id, raw=dict(raw))
        result: T = hook(value, cls)
        return result

    return build


def _register_unions(conv: SinchConverter) -> None:
    register_tagged_union(
        conv,
        Batch,
        {"mt_text": TextBatch, "mt_binary": BinaryBatch, "mt_media": MediaBatch},
        _unknown(conv, UnknownBatch),
    )
    register_tagged_union(
        conv,
        Inbound,
        {"mo_text": MoText, "mo_binary": MoBinary, "mo_media": MoMedia},
        _unknown(conv, UnknownInbound),
    )
    conv.register_unstructure_hook(UnknownBatch, lambda obj: dict(obj.raw))
    conv.register_unstructure_hook(UnknownInbound, lambda obj: dict(obj.raw))


# --- the factory --------------------------------------------------------------------------


def make_converter(keys: KeyStyle = "snake") -> SinchConverter:
    """A new, fully configured converter for one API's wire style (see the module doc).

    Every call returns an independent converter: registering a hook on one never changes
    another (nor the module-level ``converter``)."""
    if keys not in ("snake", "camel"):
        raise ValueError(f"keys must be 'snake' or 'camel', not {keys!r}")
    conv = SinchConverter(keys)
    _register_scalars(conv)
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook_factory(conv))
    conv.register_structure_hook_factory(_is_open_enum, _open_enum_hook_factory)
    conv.register_structure_hook_factory(attrs.has, _record_structure_factory(conv, keys))
    conv.register_structure_hook_factory(_is_optional_record, _optional_record_factory(conv))
    conv.register_unstructure_hook_factory(attrs.has, _record_unstructure_factory(conv, keys))
    _register_unions(conv)
    return conv


#: The SMS (xms, snake_case) converter; the Numbers one is ``sinch_async.numbers._converter``.
converter = make_converter("snake")


# --- entry points -------------------------------------------------------------------------


def unstructure(obj: Any) -> Any:
    """A record as JSON-ready data (unset fields omitted)."""
    return converter.unstructure(obj)


def structure_with(conv: SinchConverter, data: Any, cls: Any) -> Any:
    """JSON-ready data as a record of ``cls``; a `DecodeFailure` naming the field
    that failed."""
    try:
        return conv.structure(data, cls)
    except Exception as exc:
        raise conv.explain(data, cls, exc) from exc


def structure(data: Any, cls: Any) -> Any:
    """JSON-ready data as an SMS record of ``cls``; a `DecodeFailure` naming the field
    that failed (a ``ValueError``)."""
    return structure_with(converter, data, cls)


def dumps(obj: Any) -> bytes:
    """A record (or plain data) as JSON bytes."""
    return orjson.dumps(converter.unstructure(obj))


def _loads(body: bytes, status: int) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SinchDecodeError(f"response is not JSON: {exc}", status=status, body=body) from exc


def _type_name(cls: Any) -> str:
    args = _union_args(cls)
    if args is not None:
        return " | ".join(_type_name(a) for a in args)
    name = getattr(cls, "__name__", None)
    return name if isinstance(name, str) else str(cls)


def decode_with(conv: SinchConverter, body: bytes, cls: Any, *, status: int = 200) -> Any:
    """Decode a response body straight from bytes into ``cls`` with ``conv``; any failure
    is a [`SinchDecodeError`][] naming the field."""
    data = _loads(body, status)
    try:
        return conv.structure(data, cls)
    except Exception as exc:
        why = conv.explain(data, cls, exc)
        raise SinchDecodeError(
            f"unexpected response for {_type_name(cls)}: {why}", status=status, body=body
        ) from exc


def decode(body: bytes, cls: Any, *, status: int = 200) -> Any:
    """Decode an SMS response body straight from bytes into ``cls``; typed error on bad data."""
    return decode_with(converter, body, cls, status=status)


def _page_int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if type(value) is int:
        return value
    try:
        return _structure_int(value, int)
    except TypeError as exc:
        raise DecodeFailure((key,), str(exc)) from None


def decode_items(
    conv: SinchConverter,
    raw_items: list[Any],
    item_type: Any,
    *,
    key: str,
    status: int,
    body: bytes,
) -> list[Any]:
    """The items of a list page decoded with ``conv``: all at once (the fast path); when
    that fails, one by one, each item that cannot be decoded an
    [`UndecodableItem`][] in its place (its message names the item and the
    field, e.g. ``inbounds[1].from: required field is null``). The pagers decide what
    such an item does to a walk (``on_undecodable``)."""
    hook = conv.get_structure_hook(item_type)  # looked up once per page
    try:
        return [hook(item, item_type) for item in raw_items]
    except Exception:
        return _decode_each(conv, hook, raw_items, item_type, key=key, status=status, body=body)


def _decode_each(
    conv: SinchConverter,
    hook: Hook,
    raw_items: list[Any],
    item_type: Any,
    *,
    key: str,
    status: int,
    body: bytes,
) -> list[Any]:
    """`decode_items` item by item (a page that failed as a whole)."""
    items: list[Any] = []
    for index, item in enumerate(raw_items):
        try:
            items.append(hook(item, item_type))
        except Exception as exc:
            why = conv.explain(item, item_type, exc).under(index).under(key)
            bad = UndecodableItem(
                f"unexpected list response ({key}): {why}",
                status=status,
                body=body,
                index=index,
                raw=item,
            )
            bad.__cause__ = exc
            items.append(bad)
    return items


def decode_page(
    body: bytes, key: str, item_type: Any, *, status: int = 200, default_page: int = 0
) -> Page[Any]:
    """Decode a list response ``{count, page, page_size, <key>: [...]}`` into a [`Page`][].

    ``default_page`` stands in for a missing ``page`` (pass the page that was asked for).
    An item that cannot be decoded does not fail the page: it is an
    [`UndecodableItem`][] in its place (see `decode_items`); a page
    whose frame cannot be read (not JSON, ``count`` not a number, no list) raises
    [`SinchDecodeError`][].
    """
    data = _loads(body, status)
    try:
        if not isinstance(data, Mapping):
            raise TypeError(f"a page must be a JSON object, got {_got(data)}")
        raw_items = data.get(key) or []
        if not isinstance(raw_items, list):
            raise DecodeFailure((key,), f"expected a list, got {_got(raw_items)}")
        items = decode_items(converter, raw_items, item_type, key=key, status=status, body=body)
        count = _page_int(data, "count", 0)
        page = _page_int(data, "page", default_page)
        page_size = _page_int(data, "page_size", len(items))
    except Exception as exc:
        raise SinchDecodeError(
            f"unexpected list response ({key}): {_reason(exc)}", status=status, body=body
        ) from exc
    return Page(items=items, page=page, count=count, page_size=page_size)
