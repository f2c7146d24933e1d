"""Every check on caller input, run before any request is sent (the one home for them).

Checks refuse only what Sinch would refuse or what is unsafe; they also *normalise* what
Sinch accepts in several spellings (phone numbers with separators or a ``00`` prefix, known
enum values in any case), so the wire carries one canonical form. Limits live in
:mod:`_constants`.

Each rule is written once here: the strict E.164 core (:func:`is_e164`, for numbers in
URL paths), SMS recipients built on it (:func:`normalize_number`), ids, page sizes,
``max_items``, prefetch and pager checkpoints. Digits are ASCII digits everywhere
(``str.isdigit`` alone would let Arabic-Indic or full-width digits through). FakeSinch
(:mod:`sinch_async.testing._validation`) uses the same number syntax and limits where the
SDK and the fake must agree; its server behaviour (error codes, the xms leniency about
numbers) stays its own.

This module imports only :mod:`_constants`, :mod:`_errors` and the models, so that any
module may import it without an import cycle (``tests/unit/test_import_cycles.py``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Iterable, Mapping
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
    "ascii_digits",
    "canonical_delivery_report",
    "check_aware",
    "check_batch_request",
    "check_batch_update",
    "check_checkpoint",
    "check_checkpoint_resource",
    "check_delivery_codes",
    "check_delivery_statuses",
    "check_direction",
    "check_dry_run_recipients",
    "check_e164",
    "check_group_id",
    "check_group_request",
    "check_group_update",
    "check_max_items",
    "check_page_size",
    "check_path_id",
    "check_plain_id",
    "check_prefetch",
    "check_recipients",
    "check_report_type",
    "check_window",
    "is_e164",
    "normalize_number",
]

R = TypeVar("R")
G = TypeVar("G", CreateGroupRequest, ReplaceGroupRequest)

# Separators the API guide says are ignored in numbers: spaces, dashes, dots, brackets.
_SEPARATORS = re.compile(r"[\s\-.()/]")
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


def ascii_digits(text: str, minimum: int = 1, maximum: int = C.E164_MAX_DIGITS) -> bool:
    """Whether ``text`` is ``minimum``..``maximum`` ASCII digits ``0``-``9`` (and nothing
    else: no sign, no Unicode digits such as ``"٤٦"``)."""
    return minimum <= len(text) <= maximum and text.isascii() and text.isdigit()


def _e164_digits(digits: str) -> bool:
    return ascii_digits(digits, C.E164_MIN_DIGITS, C.E164_MAX_DIGITS) and digits[0] != "0"


def is_e164(value: object) -> bool:
    """The strict E.164 core: ``+``, a first digit 1-9, 7..15 ASCII digits in all, nothing
    else (see :data:`_constants.E164_MIN_DIGITS` for the source of the rule)."""
    return isinstance(value, str) and value[:1] == "+" and _e164_digits(value[1:])


def check_e164(value: object, field: str = "phone_number") -> str:
    """A phone number for a URL path (the Numbers API): whitespace dropped, then
    :func:`is_e164` or :class:`SinchValidationError`. No other normalisation: a path
    cannot be rescued by the server the way the SMS API normalises recipients."""
    if not isinstance(value, str):
        raise SinchValidationError(field, "must be a string")
    number = "".join(value.split())
    if not is_e164(number):
        raise SinchValidationError(
            field,
            f"must be E.164 with a leading '+' ({C.E164_MIN_DIGITS}..{C.E164_MAX_DIGITS} "
            f"ASCII digits, the first not 0), got {value!r}",
        )
    return number


def normalize_number(value: str) -> str | None:
    """``value`` as Sinch reads it (separators dropped, ``00`` as ``+``), or None when it is
    not a phone number or short code.

    Built on :func:`is_e164`: a number with ``+`` must pass it; the same digits without
    the ``+`` pass as they are (the SMS API accepts both); short codes are
    3..8 ASCII digits."""
    if is_e164(value):  # the common case, already canonical: no regex needed
        return value
    text = value.strip()
    if _SEPARATORS.search(text):
        text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if text[:1] == "+":
        return text if is_e164(text) else None
    if _e164_digits(text) or ascii_digits(text, C.SHORT_CODE_MIN_DIGITS, C.SHORT_CODE_MAX_DIGITS):
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


def check_window(start_date: datetime | None, end_date: datetime | None) -> None:
    """List windows: aware datetimes, end after start."""
    check_aware(start_date, "start_date")
    check_aware(end_date, "end_date")
    if start_date and end_date and end_date <= start_date:
        raise SinchValidationError("end_date", "must be after start_date")


# --- paging -----------------------------------------------------------------------------


def check_page_size(page_size: object, maximum: int = C.MAX_PAGE_SIZE) -> int:
    """Page sizes are 1..100 (SMS) or 1..:data:`~_constants.MAX_NUMBERS_PAGE_SIZE`
    (Numbers: pass ``maximum``); returns the page size."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise SinchValidationError("page_size", "must be an integer")
    if not 1 <= page_size <= maximum:
        raise SinchValidationError("page_size", f"must be 1..{maximum}, got {page_size}")
    return page_size


def check_max_items(max_items: object) -> int | None:
    """``max_items`` of a walk: a non-negative integer, or None for no bound."""
    if max_items is not None and (
        isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0
    ):
        raise SinchValidationError("max_items", "must be a non-negative integer or None")
    return max_items


def check_prefetch(prefetch: object) -> int:
    """Pages fetched ahead by a page-number pager: 1..:data:`~_constants.MAX_PREFETCH`."""
    if (
        isinstance(prefetch, bool)
        or not isinstance(prefetch, int)
        or not 1 <= prefetch <= C.MAX_PREFETCH
    ):
        raise SinchValidationError("prefetch", f"must be an integer 1..{C.MAX_PREFETCH}")
    return prefetch


def check_checkpoint_resource(found: str, expected: str) -> None:
    """A checkpoint resumes only the walk it was taken from."""
    if found != expected:
        raise SinchValidationError("resume", f"checkpoint is for {found!r}, not {expected!r}")


def check_checkpoint(
    *,
    resource: str,
    filters: Iterable[tuple[str, str]],
    page_size: object,
    positions: Iterable[object],
    token: str | None = None,
    filter_names: Collection[str] | None = None,
    max_page_size: int = C.MAX_PAGE_SIZE,
) -> None:
    """Refuse a pager checkpoint that would put nonsense on the wire: a negative or
    non-integer position (page, offset, yielded, max_items), a bad page size, a filter the
    resource does not have (when ``filter_names`` is given), control characters in the
    filters or the page token. Plain values, so that this module never imports the
    checkpoint type (which imports this module)."""
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in positions):
        raise SinchValidationError("resume", "positions in a checkpoint must be >= 0")
    check_page_size(page_size, max_page_size)
    texts = [token or ""]
    for key, value in filters:
        if filter_names is not None and key not in filter_names:
            raise SinchValidationError(
                "resume", f"checkpoint filter {key!r} is not a filter of {resource}"
            )
        texts += [key, value]
    if any(ord(ch) < 32 for text in texts for ch in text):
        raise SinchValidationError("resume", "checkpoint holds control characters")


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


def check_report_type(value: object) -> str:
    """The ``type`` of a batch's delivery report: ``summary`` or ``full``."""
    if value not in ("summary", "full"):
        raise SinchValidationError("type", "must be 'summary' or 'full'")
    return str(value)


def check_direction(value: object) -> str | None:
    """A message-list direction: None (both), ``mt`` or ``mo``."""
    if value not in (None, "mt", "mo"):
        raise SinchValidationError("direction", "must be None, 'mt' or 'mo'")
    return None if value is None else str(value)


def check_dry_run_recipients(value: object) -> int | None:
    """``number_of_recipients`` of a dry run: 0..1000, or None for Sinch's default."""
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= C.MAX_DRY_RUN_RECIPIENTS
    ):
        raise SinchValidationError("number_of_recipients", f"must be 0..{C.MAX_DRY_RUN_RECIPIENTS}")
    return value


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
            "request",
            "expected a TextBatchRequest, BinaryBatchRequest or MediaBatchRequest, "
            f"got {type(req).__name__}",
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
