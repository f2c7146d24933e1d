"""Every check on caller input, run before any request is sent (the one home for them).

Checks refuse only what Sinch would refuse or what is unsafe; they also *normalise* what
Sinch accepts in several spellings (phone numbers with separators or a ``00`` prefix, known
enum values in any case), so the wire carries one canonical form. Limits live in
:mod:`_constants`. FakeSinch keeps its own, independent rules.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from . import _constants as C
from ._errors import SinchConfigError, SinchValidationError
from .models.batches import (
    BatchRequest,
    BatchUpdate,
    BinaryBatchRequest,
    BinaryBatchUpdate,
    MediaBatchRequest,
    MediaBatchUpdate,
    MediaBody,
    TextBatchRequest,
    TextBatchUpdate,
)
from .models.common import DeliveryReportType
from .models.delivery_reports import DeliveryStatus
from .models.groups import (
    AutoUpdate,
    Clear,
    CreateGroupRequest,
    GroupKeyword,
    ReplaceGroupRequest,
    UpdateGroupRequest,
)

__all__ = [
    "canonical_delivery_report",
    "check_aware",
    "check_batch_request",
    "check_batch_update",
    "check_delivery_codes",
    "check_delivery_statuses",
    "check_group_id",
    "check_group_request",
    "check_group_update",
    "check_page_size",
    "check_path_id",
    "check_plain_id",
    "check_recipients",
    "normalize_number",
]

R = TypeVar("R")
G = TypeVar("G", CreateGroupRequest, ReplaceGroupRequest)

# Separators the API guide says are ignored in numbers: spaces, dashes, dots, brackets.
_SEPARATORS = re.compile(r"[\s\-.()/]")
# E.164 with '+', or the same digits without it (the API is lenient about the '+').
_MSISDN = re.compile(r"\+?[1-9][0-9]{6,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
# No source gives a group id format (Sinch's own mocks use ids like
# 01W4FFL35P4NC4K35SMSGROUP1): any id with a letter, in a safe charset and length.
_GROUP_ID = re.compile(r"(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{1,64}")
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_PARAM_KEY = re.compile(r"[A-Za-z0-9._-]+")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_WORD = re.compile(r"\w+")
_DELIVERY_REPORTS = {v.value.lower(): v for v in DeliveryReportType}
_STATUSES = {s.value.lower(): s for s in DeliveryStatus}


# --- numbers and recipients -------------------------------------------------------------


def normalize_number(value: str) -> str | None:
    """``value`` as Sinch reads it (separators dropped, ``00`` as ``+``), or None when it is
    not a phone number or short code."""
    digits = value[1:]
    if (  # the common case, already canonical E.164: no regex needed
        value[:1] == "+"
        and 7 <= len(digits) <= 15
        and digits.isascii()
        and digits.isdigit()
        and digits[0] != "0"
    ):
        return value
    text = value.strip()
    if _SEPARATORS.search(text):
        text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if _MSISDN.fullmatch(text) or _SHORT_CODE.fullmatch(text):
        return text
    return None


def check_recipients(
    values: Iterable[str],
    field: str = "to",
    *,
    minimum: int = 1,
    maximum: int | None = C.MAX_BATCH_RECIPIENTS,
    allow_groups: bool = True,
) -> tuple[str, ...]:
    """Recipients as sent: numbers normalised to E.164 (or short codes), group ids (where
    allowed) as given; anything else is refused."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise SinchValidationError(field, "must be a list of recipients, not a single value")
    items = list(values)
    if len(items) < minimum or (maximum is not None and len(items) > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f"at least {minimum}"
        raise SinchValidationError(field, f"must hold {bound} recipients, got {len(items)}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise SinchValidationError(field, f"recipient {item!r} is not a string")
        number = normalize_number(item)
        if number is not None:
            out.append(number)
        elif allow_groups and _GROUP_ID.fullmatch(item):
            out.append(item)
        else:
            what = "number (like +46701234567), short code or group id"
            raise SinchValidationError(
                field, f"{item!r} is not an E.164 {what if allow_groups else 'number or code'}"
            )
    return tuple(out)


def check_group_id(value: object, field: str = "group_id") -> str:
    """A group id: letters/digits/``_``/``-`` with at least one letter, up to 64."""
    if not isinstance(value, str) or not _GROUP_ID.fullmatch(value):
        raise SinchValidationError(field, f"{value!r} is not a group id")
    return value


def check_plain_id(value: object, field: str) -> str:
    """An id that becomes a path segment of every request (service plan, project):
    :class:`SinchConfigError` unless it is a plain id."""
    if not isinstance(value, str) or not _PLAIN_ID.fullmatch(value):
        raise SinchConfigError(
            f"{field} must be a plain id (letters, digits, '-' and '_', at most 128 "
            f"characters), got {value!r}"
        )
    return value


def check_path_id(value: object, field: str = "id") -> str:
    """An id placed in a URL path: a non-empty string, never ``.``/``..`` or a control
    character (it is percent-encoded on the wire)."""
    if not isinstance(value, str) or not value.strip():
        raise SinchValidationError(field, "must be a non-empty string")
    if value in (".", "..") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise SinchValidationError(field, f"{value!r} is not a valid id")
    return value


# --- simple values ----------------------------------------------------------------------


def check_aware(value: datetime | None, field: str) -> None:
    """Naive datetimes are refused: say which zone you mean."""
    if value is None:
        return
    if not isinstance(value, datetime):
        raise SinchValidationError(field, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise SinchValidationError(field, "naive datetime; pass a timezone-aware datetime")


def check_page_size(page_size: int) -> None:
    """Page sizes are 1..100."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise SinchValidationError("page_size", "must be an integer")
    if not 1 <= page_size <= C.MAX_PAGE_SIZE:
        raise SinchValidationError("page_size", f"must be 1..{C.MAX_PAGE_SIZE}, got {page_size}")


def _check_url(value: str | None, field: str, max_length: int | None = None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise SinchValidationError(field, "must be a string URL")
    if max_length is not None and len(value) > max_length:
        raise SinchValidationError(field, f"longer than {max_length} characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise SinchValidationError(field, f"{value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or value != value.strip():
        raise SinchValidationError(field, f"{value!r} is not an http(s) URL")


def _check_range(value: int | None, field: str, low: int, high: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise SinchValidationError(field, "must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise SinchValidationError(field, f"must be {bound}, got {value}")


def canonical_delivery_report(value: object, field: str = "delivery_report") -> object:
    """A known delivery-report kind in its canonical spelling (any case accepted); an
    unknown one passes through as given (Sinch may know it)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SinchValidationError(field, "must be a non-empty string")
    return _DELIVERY_REPORTS.get(value.lower(), value)


def check_delivery_statuses(values: Iterable[object] | None) -> list[str] | None:
    """Delivery-status filter: known statuses canonical (``DELIVERED`` -> ``Delivered``),
    unknown ones as given."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise SinchValidationError("status", f"statuses are non-empty strings, got {value!r}")
        known = _STATUSES.get(value.lower())
        out.append(known.value if known is not None else value)
    return out


def check_delivery_codes(values: Iterable[object] | None) -> list[int] | None:
    """Delivery-code filter: non-negative integers."""
    if values is None:
        return None
    items = [values] if isinstance(values, int) else list(values)
    for value in items:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SinchValidationError(
                "code", f"delivery codes are non-negative ints, got {value!r}"
            )
    return [int(v) for v in items]  # type: ignore[call-overload]


# --- batches ----------------------------------------------------------------------------


def _check_parameters(parameters: object) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, Mapping):
        raise SinchValidationError("parameters", "must map keys to {recipient: value} maps")
    for key, values in parameters.items():
        if not isinstance(key, str) or not _PARAM_KEY.fullmatch(key):
            raise SinchValidationError(
                "parameters", f"key {key!r} may only hold letters, digits, '.', '-' and '_'"
            )
        if not isinstance(values, Mapping) or not values:
            raise SinchValidationError(
                "parameters", f"{key!r} must map recipients (or 'default') to values"
            )
        for recipient, value in values.items():
            if not isinstance(recipient, str) or not isinstance(value, str):
                raise SinchValidationError(
                    "parameters", f"{key!r}: recipients and values must be strings"
                )


def _check_common(req: Any) -> dict[str, Any]:
    """Checks shared by requests and updates; returns the normalised fields."""
    changes: dict[str, Any] = {}
    for name in ("send_at", "expire_at"):
        check_aware(getattr(req, name), name)
    send_at, expire_at = req.send_at, req.expire_at
    if send_at is not None and expire_at is not None:
        if expire_at <= send_at:
            raise SinchValidationError("expire_at", "must be after send_at")
        if expire_at - send_at > timedelta(days=C.MAX_EXPIRY_DAYS):
            raise SinchValidationError(
                "expire_at", f"must be at most {C.MAX_EXPIRY_DAYS} days after send_at"
            )
    report = canonical_delivery_report(req.delivery_report)
    if report is not req.delivery_report:
        changes["delivery_report"] = report
    _check_url(req.callback_url, "callback_url", C.MAX_CALLBACK_URL)
    ref = req.client_reference
    if ref is not None and (not isinstance(ref, str) or len(ref) > C.MAX_CLIENT_REFERENCE):
        raise SinchValidationError(
            "client_reference", f"must be a string of at most {C.MAX_CLIENT_REFERENCE} characters"
        )
    from_ = req.from_
    if from_ is not None and (not isinstance(from_, str) or not from_.strip()):
        raise SinchValidationError("from_", "must be a non-empty string")
    _check_range(getattr(req, "from_ton", None), "from_ton", 0, 6)
    _check_range(getattr(req, "from_npi", None), "from_npi", 0, 18)
    _check_range(
        getattr(req, "max_number_of_message_parts", None), "max_number_of_message_parts", 1, None
    )
    _check_parameters(getattr(req, "parameters", None))
    return changes


def _check_text_body(body: object) -> None:
    if body is None:
        return
    if not isinstance(body, str):
        raise SinchValidationError("body", "must be a string")
    if len(body) > C.MAX_TEXT_BODY:
        raise SinchValidationError(
            "body", f"text is {len(body)} characters; the API allows {C.MAX_TEXT_BODY}"
        )


def _check_binary(body: object, udh: object) -> None:
    raw = b""
    if body is not None:
        if not isinstance(body, str):
            raise SinchValidationError("body", "must be a Base64 string")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SinchValidationError("body", "must be Base64 for a binary message") from exc
    header = b""
    if udh is not None:
        if not isinstance(udh, str) or not _HEX.fullmatch(udh):
            raise SinchValidationError("udh", "must be hex-encoded (an even number of hex digits)")
        header = bytes.fromhex(udh)
    if len(raw) + len(header) > C.MAX_BINARY_BYTES:
        raise SinchValidationError(
            "body", f"body + udh are {len(raw) + len(header)} bytes; at most {C.MAX_BINARY_BYTES}"
        )


def _check_media(body: object, *, required: bool) -> None:
    if body is None:
        if required:
            raise SinchValidationError("media_body", "is required")
        return
    if not isinstance(body, MediaBody):
        raise SinchValidationError("media_body", "must be a MediaBody")
    _check_url(body.url, "media_body.url")


def _evolve(record: R, changes: dict[str, Any]) -> R:
    return attrs.evolve(record, **changes) if changes else record  # type: ignore[misc]


def check_batch_request(req: BatchRequest) -> BatchRequest:
    """Everything the API would reject in a send/replace/dry-run body, caught locally;
    returns the request as it goes on the wire (recipients and enums normalised)."""
    if not isinstance(req, TextBatchRequest | BinaryBatchRequest | MediaBatchRequest):
        raise SinchValidationError(
            "request", f"expected a batch request record, got {type(req).__name__}"
        )
    changes = _check_common(req)
    to = check_recipients(req.to)
    if to != req.to:
        changes["to"] = to
    if isinstance(req, TextBatchRequest):
        if req.body is None:
            raise SinchValidationError("body", "is required")
        _check_text_body(req.body)
    elif isinstance(req, BinaryBatchRequest):
        if req.body is None or req.udh is None:
            raise SinchValidationError("body", "binary messages need both body and udh")
        _check_binary(req.body, req.udh)
    else:
        _check_media(req.body, required=True)
    return _evolve(req, changes)


def check_batch_update(upd: BatchUpdate) -> BatchUpdate:
    """Checks for a partial update (``to_add``/``to_remove`` hold 1..100 entries each);
    returns it normalised."""
    if not isinstance(upd, TextBatchUpdate | BinaryBatchUpdate | MediaBatchUpdate):
        raise SinchValidationError(
            "update", f"expected a batch update record, got {type(upd).__name__}"
        )
    changes = _check_common(upd)
    for name in ("to_add", "to_remove"):
        values = getattr(upd, name)
        if values is not None:
            normal = check_recipients(values, name, maximum=C.MAX_UPDATE_RECIPIENTS)
            if normal != values:
                changes[name] = normal
    if isinstance(upd, TextBatchUpdate):
        _check_text_body(upd.body)
    elif isinstance(upd, BinaryBatchUpdate):
        if upd.udh is None:  # the official model requires it on every binary update
            raise SinchValidationError("udh", "is required on a binary batch update")
        _check_binary(upd.body, upd.udh)
    else:
        _check_media(upd.body, required=False)
    return _evolve(upd, changes)


# --- groups -----------------------------------------------------------------------------


def _check_name(name: object) -> None:
    if name is None or isinstance(name, Clear):
        return
    if not isinstance(name, str) or not name.strip() or len(name) > C.MAX_GROUP_NAME:
        raise SinchValidationError("name", f"must be 1..{C.MAX_GROUP_NAME} characters")


def _members(values: tuple[str, ...] | None, field: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    return check_recipients(
        values, field, minimum=0, maximum=C.MAX_GROUP_MEMBERS, allow_groups=False
    )


def _check_keyword(keyword: object, field: str) -> None:
    if keyword is None:
        return
    if not isinstance(keyword, GroupKeyword):
        raise SinchValidationError(field, "must be a GroupKeyword")
    for name in ("first_word", "second_word"):
        word = getattr(keyword, name)
        if word is None and name == "second_word":
            continue
        if not isinstance(word, str) or not _WORD.fullmatch(word) or len(word) > C.MAX_KEYWORD:
            raise SinchValidationError(
                f"{field}.{name}", f"must be one word of at most {C.MAX_KEYWORD} characters"
            )


def _auto_update(auto: object) -> AutoUpdate | None:
    if auto is None:
        return None
    if not isinstance(auto, AutoUpdate):
        raise SinchValidationError("auto_update", "must be an AutoUpdate")
    (to,) = check_recipients([auto.to], "auto_update.to", allow_groups=False)
    _check_keyword(auto.add, "auto_update.add")
    _check_keyword(auto.remove, "auto_update.remove")
    return auto if to == auto.to else attrs.evolve(auto, to=to)


def _group_ids(values: tuple[str, ...] | None, field: str, maximum: int) -> None:
    if values is None:
        return
    if len(values) > maximum:
        raise SinchValidationError(field, f"at most {maximum} group ids")
    for value in values:
        check_group_id(value, field)


def check_group_request(request: G) -> G:
    """A create/replace body, normalised."""
    _check_name(request.name)
    _group_ids(request.child_groups, "child_groups", C.MAX_CHILD_GROUPS)
    changes: dict[str, Any] = {}
    members = _members(request.members, "members")
    if members != request.members:
        changes["members"] = members
    auto = _auto_update(request.auto_update)
    if auto is not request.auto_update:
        changes["auto_update"] = auto
    return _evolve(request, changes)


def check_group_update(request: UpdateGroupRequest) -> UpdateGroupRequest:
    """An update body, normalised; an empty update is refused."""
    if request == UpdateGroupRequest():
        raise SinchValidationError("update", "nothing to update")
    _check_name(request.name)
    for field in ("add_from_group", "remove_from_group"):
        value = getattr(request, field)
        if value is not None:
            check_group_id(value, field)
    changes: dict[str, Any] = {}
    for field in ("add", "remove"):
        values = getattr(request, field)
        normal = _members(values, field)
        if normal != values:
            changes[field] = normal
    auto = _auto_update(request.auto_update)
    if auto is not request.auto_update:
        changes["auto_update"] = auto
    return _evolve(request, changes)
