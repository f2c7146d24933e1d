"""Every check on caller input, run before any request is sent (the one home for them).

Checks refuse only what Sinch would refuse or what is unsafe; they also *normalise* what
Sinch accepts in several spellings (phone numbers with separators or a ``00`` prefix, known
enum values in any case), so the wire carries one canonical form. Limits live in
`_constants`.

Each rule is written once here: the strict E.164 core (`is_e164`, for numbers in
URL paths), SMS recipients built on it (`normalize_number`), ids (groups,
campaigns), page sizes, ``max_items``, prefetch, pager calls and checkpoints, sync
options (``chunk``, ``lag``, ``commit_every``), the Numbers API's call shapes, rates and
bursts, counts, seconds (leases, timeouts, TTLs), timedeltas, fixed choices and durations.
Digits are ASCII digits everywhere (``str.isdigit``, ``str.isidentifier``, ``int()`` and
``float()`` alone would let Arabic-Indic or full-width digits through: `parse_int`,
`parse_float`). A rule checked on a client's
or store's construction raises [`SinchConfigError`][] (``config=True``), one checked on
a call [`SinchValidationError`][]: the same rule, the caller's usual error. FakeSinch
(`sinch_async.testing._validation`) uses the same number syntax and limits where the
SDK and the fake must agree; its server behaviour (error codes, the xms leniency about
numbers) stays its own.

This module imports only `_constants`, `_errors` and the models, so that any
module may import it without an import cycle (``tests/unit/test_import_cycles.py``).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn, TypeGuard, TypeVar, overload
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
    "MAX_CAMPAIGN",
    "NUMBERS_AUTH",
    "NUMBERS_ORDER_BY",
    "NUMBER_CAPABILITIES",
    "NUMBER_TYPES",
    "PAUSE_SCOPES",
    "VOICE_TYPES",
    "PauseScope",
    "ascii_digits",
    "canonical_delivery_report",
    "check_absent",
    "check_api_name",
    "check_aware",
    "check_batch_request",
    "check_batch_update",
    "check_bool",
    "check_campaign",
    "check_capabilities",
    "check_checkpoint",
    "check_checkpoint_resource",
    "check_choice",
    "check_commit_every",
    "check_count",
    "check_delivery_codes",
    "check_delivery_statuses",
    "check_direction",
    "check_dry_run_recipients",
    "check_e164",
    "check_expiry",
    "check_filter_values",
    "check_group_id",
    "check_group_request",
    "check_group_update",
    "check_hmac_secret",
    "check_lag",
    "check_list_values",
    "check_max_items",
    "check_number",
    "check_number_pattern",
    "check_number_type",
    "check_number_types",
    "check_numbers_auth",
    "check_on_undecodable",
    "check_order_by",
    "check_owner_id",
    "check_page_size",
    "check_pager",
    "check_path_id",
    "check_pause_scope",
    "check_plain_id",
    "check_positive_int",
    "check_prefetch",
    "check_rate",
    "check_recipients",
    "check_redis_key",
    "check_region_code",
    "check_region_codes",
    "check_report_type",
    "check_request_type",
    "check_seconds",
    "check_sender",
    "check_senders",
    "check_sms_link",
    "check_some_update",
    "check_text",
    "check_timedelta",
    "check_update_call",
    "check_update_fields",
    "check_voice_configuration",
    "check_window",
    "is_e164",
    "is_group_id",
    "normalize_number",
    "parse_bool",
    "parse_duration",
    "parse_float",
    "parse_int",
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
# ``[0-9]`` and ``[A-Za-z]`` are ASCII ranges (``\d`` and ``\w`` would match any script).
_ASCII_INT = re.compile(r"-?[0-9]+")
_ASCII_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_API_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"([0-9]+)([mhd])")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_FLAGS = dict.fromkeys(("1", "true", "yes", "on"), True)
_FLAGS |= dict.fromkeys(("0", "false", "no", "off"), False)
_BATCH_REQUESTS = (TextBatchRequest, BinaryBatchRequest, MediaBatchRequest)
_BATCH_REQUEST_NAMES = "TextBatchRequest, BinaryBatchRequest or MediaBatchRequest"
_MAX_INDEX_SUFFIX = 21  # ":" and the digits of a 64-bit index
#: The longest campaign id: ``f"{campaign}:{index}"`` must fit Sinch's client_reference.
MAX_CAMPAIGN = C.MAX_CLIENT_REFERENCE - _MAX_INDEX_SUFFIX
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
    else (see `_constants.E164_MIN_DIGITS` for the source of the rule)."""
    return isinstance(value, str) and value[:1] == "+" and _e164_digits(value[1:])


def check_e164(value: object, field: str = "phone_number") -> str:
    """A phone number for a URL path (the Numbers API): whitespace dropped, then
    `is_e164` or [`SinchValidationError`][]. No other normalisation: a path
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

    Built on `is_e164`: a number with ``+`` must pass it; the same digits without
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
    if type(values) is tuple:  # a record's field: no ABC check, no copy
        items: Collection[Any] = values
    elif isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise SinchValidationError(field, "must be a list of recipients, not a single value")
    else:
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
        elif allow_groups and is_group_id(item):
            out.append(item)
        else:
            what = "number (like +46701234567), short code or group id"
            raise SinchValidationError(
                field, f"{item!r} is not an E.164 {what if allow_groups else 'number or code'}"
            )
    return tuple(out)


def check_sender(value: object, field: str = "from_") -> str:
    """A sender (``from``), the one rule of a send and of the lists' sender filters: a
    phone number or short code (returned normalised, as `normalize_number` reads
    it), or an alphanumeric sender id (returned as given): a non-blank string with at
    least one letter, no control character and no comma (the lists join senders with
    commas). A string without a letter that is no number (``"+1"``, digits of another
    script) is refused: it is a mistyped number, not a sender id."""
    if not isinstance(value, str) or not value.strip():
        raise SinchValidationError(field, "must be a non-empty string")
    number = normalize_number(value)
    if number is not None:
        return number
    if (
        "," in value
        or not any(ch.isalpha() for ch in value)
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        raise SinchValidationError(
            field,
            f"{value!r} is not an E.164 number, short code or alphanumeric sender id",
        )
    return value


def check_senders(values: Iterable[str], field: str = "from_") -> tuple[str, ...]:
    """At least one sender (`check_sender` each, numbers normalised): a list's
    ``from_`` filter, which takes every sender a send takes."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise SinchValidationError(field, "must be a list of senders, not a single value")
    items = list(values)
    if not items:
        raise SinchValidationError(field, "must hold at least 1 sender")
    return tuple(check_sender(item, field) for item in items)


def is_group_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a group id as the SDK sends one: 1..64 ASCII letters, digits,
    ``_`` and ``-``, at least one a letter (so never a phone number or short code)."""
    return isinstance(value, str) and _GROUP_ID.fullmatch(value) is not None


def check_group_id(value: object, field: str = "group_id") -> str:
    """A group id (`is_group_id`), or [`SinchValidationError`][]."""
    if not is_group_id(value):
        raise SinchValidationError(field, f"{value!r} is not a group id")
    return value


def check_plain_id(value: object, field: str) -> str:
    """An id that becomes a path segment of every request (service plan, project):
    [`SinchConfigError`][] unless it is a plain id."""
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


def check_campaign(campaign: object) -> str:
    """A ``send_many`` campaign id: a non-empty string of at most `MAX_CAMPAIGN`
    characters (``CAMPAIGN:INDEX`` is every row's default client_reference), or
    [`SinchConfigError`][]."""
    if not isinstance(campaign, str) or not campaign or len(campaign) > MAX_CAMPAIGN:
        raise SinchConfigError(
            f"campaign must be a non-empty string of at most {MAX_CAMPAIGN} characters"
        )
    return campaign


# --- simple values ----------------------------------------------------------------------


def _refuse(field: str, message: str, config: bool) -> NoReturn:
    """The caller's usual error: a construction argument is a [`SinchConfigError`][]
    (``"field message"``), a call argument a [`SinchValidationError`][]."""
    if config:
        raise SinchConfigError(f"{field} {message}")
    raise SinchValidationError(field, message)


def _number(value: object) -> TypeGuard[int | float]:
    """A real number (``bool`` is not one here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_int(text: str) -> int | None:
    """``text`` as an integer when it is ASCII digits after an optional ``-``, else None
    (``int()`` alone also reads ``"٣"``, ``" 3"``, ``"+3"`` and ``"1_000"``)."""
    if not _ASCII_INT.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits)
        return None


def parse_bool(text: str) -> bool | None:
    """``text`` as a flag: ``1``, ``true``, ``yes``, ``on`` or ``0``, ``false``, ``no``,
    ``off`` (ASCII, any case), else None."""
    return _FLAGS.get(text.lower()) if text.isascii() else None


def check_bool(value: object, field: str, *, config: bool = False) -> bool:
    """``True`` or ``False`` (a truthy string such as ``"false"`` is refused)."""
    if not isinstance(value, bool):
        _refuse(field, f"must be True or False, got {value!r}", config)
    return value


def parse_float(text: str) -> float | None:
    """``text`` as a finite number when it is written in ASCII (``-``, digits, an optional
    ``.`` fraction and ``e`` exponent: ``2``, ``0.5``, ``1e3``), else None (``float()``
    alone also reads ``"٣"``, ``" 3"``, ``"1_0"``, ``"inf"`` and ``"nan"``)."""
    if not _ASCII_FLOAT.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None  # "1e999" is inf


def parse_duration(text: str, field: str = "since") -> timedelta | None:
    """``30m``, ``12h`` or ``7d`` (ASCII digits and a unit) as a `timedelta`; None
    when ``text`` is not written that way; [`SinchValidationError`][] when it is too
    long to be a duration."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    amount, unit = match.groups()
    try:
        return timedelta(**{_DURATION_UNITS[unit]: int(amount)})
    except (OverflowError, ValueError):
        raise SinchValidationError(field, f"{text!r} is too long a duration") from None


@overload
def check_positive_int(
    value: object, field: str, *, optional: Literal[False] = ..., config: bool = ...
) -> int: ...
@overload
def check_positive_int(
    value: object, field: str, *, optional: Literal[True], config: bool = ...
) -> int | None: ...
def check_positive_int(
    value: object, field: str, *, optional: bool = False, config: bool = False
) -> int | None:
    """An integer >= 1 (a count: connections, concurrency, a search size); None passes
    when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _refuse(
            field,
            "must be a positive integer" + (", or None" if optional else "") + f", got {value!r}",
            config,
        )
    return value


def check_count(value: object, field: str, *, config: bool = False) -> int:
    """An integer >= 0 (a number of retries, re-walks or rows; 0 means none)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _refuse(field, f"must be a non-negative integer, got {value!r}", config)
    return value


def check_number(value: object, field: str, *, minimum: float = 0.0, config: bool = False) -> float:
    """A finite real number ``>= minimum`` (a factor, not a duration: see
    `check_seconds`), returned as a float."""
    if not _number(value) or not math.isfinite(value) or value < minimum:
        _refuse(field, f"must be a number >= {minimum:g}, got {value!r}", config)
    return float(value)


@overload
def check_seconds(
    value: object,
    field: str,
    *,
    minimum: float = ...,
    positive: bool = ...,
    optional: Literal[False] = ...,
    config: bool = ...,
) -> float: ...
@overload
def check_seconds(
    value: object,
    field: str,
    *,
    minimum: float = ...,
    positive: bool = ...,
    optional: Literal[True],
    config: bool = ...,
) -> float | None: ...
def check_seconds(
    value: object,
    field: str,
    *,
    minimum: float = 0.0,
    positive: bool = False,
    optional: bool = False,
    config: bool = False,
) -> float | None:
    """A duration in seconds (a lease, a timeout, a TTL, a wait): a finite number
    ``>= minimum`` (``> 0`` with ``positive``), returned as a float; None passes when
    ``optional``. ``inf`` and ``nan`` are refused: a lease or a timeout that never ends is
    a hang, not a setting."""
    if value is None and optional:
        return None
    if (
        not _number(value)
        or not math.isfinite(value)
        or (value <= 0 if positive else value < minimum)
    ):
        bound = (
            "a positive number of seconds" if positive else f"a number of seconds >= {minimum:g}"
        )
        _refuse(
            field,
            f"must be {bound}" + (", or None" if optional else "") + f", got {value!r}",
            config,
        )
    return float(value)


def check_expiry(expires_at: object, field: str = "expires_at") -> float:
    """A point in time (POSIX seconds) a nonce store keeps a nonce until: finite."""
    if not _number(expires_at) or not math.isfinite(expires_at):
        raise SinchValidationError(field, f"must be finite, got {expires_at!r}")
    return float(expires_at)


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


def check_timedelta(value: object, field: str, *, positive: bool = False) -> timedelta:
    """A span of time: a `timedelta` ``>= 0`` (``> 0`` with ``positive``)."""
    if not isinstance(value, timedelta) or (
        value <= timedelta(0) if positive else value < timedelta(0)
    ):
        sign = "positive" if positive else "non-negative"
        raise SinchValidationError(field, f"must be a {sign} timedelta, got {value!r}")
    return value


def check_choice(value: object, field: str, choices: Sequence[str], *, config: bool = False) -> str:
    """One of a few fixed words, spelt exactly (``commit="auto"``, ``paging="page"``)."""
    if not isinstance(value, str) or value not in choices:
        words = [repr(c) for c in choices]
        either = " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
        _refuse(field, f"must be {either}", config)
    return value


def check_absent(value: object, field: str, why: str, *, config: bool = False) -> None:
    """A keyword this call shape does not take (``why`` says what to do instead): only
    None passes."""
    if value is not None:
        _refuse(field, why, config)


# --- syncs ------------------------------------------------------------------------------


#: How far a 429 pauses (``SinchClient(pause_scope=...)``; see ``sinch_async.PauseScope``).
PauseScope = Literal["shared", "local", "off"]
PAUSE_SCOPES: tuple[PauseScope, ...] = ("shared", "local", "off")


def check_pause_scope(value: object) -> PauseScope:
    """``pause_scope``: ``"shared"``, ``"local"`` or ``"off"`` (a construction argument)."""
    check_choice(value, "pause_scope", PAUSE_SCOPES, config=True)
    return PAUSE_SCOPES[PAUSE_SCOPES.index(value)]


def check_lag(lag: object, until: datetime | None) -> timedelta:
    """A sync's ``lag`` (its window ends that long before now): a non-negative
    `timedelta`, and none with ``until`` (which already says where the window
    ends: the two would contradict)."""
    span = check_timedelta(lag, "lag")
    if span and until is not None:
        raise SinchValidationError("lag", "cannot be given with until (until ends the window)")
    return span


def check_commit_every(value: object) -> int | Literal["page"]:
    """How often an ``auto`` sync commits: every N items (N >= 1) or every ``"page"``."""
    if value == "page":
        return "page"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SinchValidationError(
            "commit_every", f"must be a positive integer or 'page', got {value!r}"
        )
    return value


# --- paging -----------------------------------------------------------------------------


def check_page_size(page_size: object, maximum: int = C.MAX_PAGE_SIZE) -> int:
    """Page sizes are 1..100 (SMS) or 1..`MAX_NUMBERS_PAGE_SIZE`
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
    """Pages fetched ahead by a page-number pager: 1..`MAX_PREFETCH`."""
    if (
        isinstance(prefetch, bool)
        or not isinstance(prefetch, int)
        or not 1 <= prefetch <= C.MAX_PREFETCH
    ):
        raise SinchValidationError("prefetch", f"must be an integer 1..{C.MAX_PREFETCH}")
    return prefetch


def check_pager(paging: object, page_size: object, prefetch: object, max_items: object) -> int:
    """A pager's call: ``paging`` is ``page`` (a page-number list) or ``token`` (a token
    list, walked one page at a time), with that kind's page size, ``prefetch`` and
    ``max_items``. Returns the largest page size of that kind of list."""
    check_choice(paging, "paging", ("page", "token"))
    maximum = C.MAX_PAGE_SIZE if paging == "page" else C.MAX_NUMBERS_PAGE_SIZE
    check_page_size(page_size, maximum)
    check_prefetch(prefetch)
    if paging == "token" and prefetch != 1:
        raise SinchValidationError("prefetch", "a token list is walked one page at a time")
    check_max_items(max_items)
    return maximum


def check_on_undecodable(value: object) -> Literal["raise", "skip"]:
    """A walk's ``on_undecodable``: ``"raise"`` (the default) or ``"skip"``."""
    return "skip" if check_choice(value, "on_undecodable", ("raise", "skip")) == "skip" else "raise"


def check_checkpoint_resource(
    found: str, expected: str, *, paging: str = "token", page_token: str | None = None
) -> None:
    """A checkpoint resumes only the walk it was taken from: the same resource, and no
    page token for a page-number walk (``paging="page"``)."""
    if found != expected:
        raise SinchValidationError("resume", f"checkpoint is for {found!r}, not {expected!r}")
    if paging == "page" and page_token is not None:
        raise SinchValidationError("resume", "a page-number walk has no page token")


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


# --- rates and shared stores -----------------------------------------------------------


def check_rate(messages_per_second: object, burst: object = None) -> tuple[float, float]:
    """A messages-per-second budget, in-process or shared (Redis): a finite rate > 0 and a
    finite burst > 0 (default half a second of budget); returns ``(rate, burst)``.
    [`SinchConfigError`][] otherwise (``None``, not ``inf``, means no limit)."""
    if not _number(messages_per_second) or not 0 < messages_per_second < math.inf:
        raise SinchConfigError(
            "messages_per_second must be a finite number > 0 (None for no limit), "
            f"got {messages_per_second!r}"
        )
    rate = float(messages_per_second)
    if burst is None:
        return rate, rate / 2
    if not _number(burst) or not 0 < burst < math.inf:
        raise SinchConfigError(f"burst must be a finite number > 0, got {burst!r}")
    return rate, float(burst)


def check_redis_key(value: object, field: str = "key", *, config: bool = True) -> str:
    """A Redis key (or key prefix) a store is built on: a non-empty string."""
    if not isinstance(value, str) or not value:
        _refuse(field, "must be a non-empty string", config)
    return value


def check_owner_id(value: object, field: str = "owner_id") -> str:
    """An id that names a shared budget (a service plan or project id): non-empty, no
    whitespace (ASCII or not) and no control or format characters."""
    if (
        not isinstance(value, str)
        or not value
        or not all(ch.isprintable() and not ch.isspace() for ch in value)
    ):
        raise SinchConfigError(f"{field} must be a non-empty id without spaces or controls")
    return value


def check_api_name(value: object) -> str:
    """The name of an API in a limiter key: an ASCII identifier (``sms``, ``numbers``)."""
    if not isinstance(value, str) or not _API_NAME.fullmatch(value):
        raise SinchConfigError(f"api must be a name such as 'sms' or 'numbers', got {value!r}")
    return value


# --- Numbers API call shapes ------------------------------------------------------------


def check_text(value: object, field: str, *, config: bool = False) -> str:
    """A required text argument (a region code, a number type, a pattern, a secret): a
    non-empty string."""
    if not isinstance(value, str) or not value:
        _refuse(field, "must be a non-empty string", config)
    return value


def check_filter_values(value: object, field: str) -> list[str]:
    """A list filter: one string or several, each non-empty; None is no filter."""
    if value is None:
        return []
    if isinstance(value, bytes) or not isinstance(value, str | Iterable):
        raise SinchValidationError(field, f"must be a string or strings, got {value!r}")
    items: list[str] = []
    for item in [value] if isinstance(value, str) else value:
        if not isinstance(item, str) or not item:
            raise SinchValidationError(field, f"values must be non-empty strings, got {item!r}")
        items.append(item)
    return items


def check_number_pattern(pattern: object, search_pattern: object) -> tuple[str, str | None] | None:
    """``number_pattern`` (digits to look for) and ``search_pattern`` (where: ``START``,
    ``CONTAINS`` or ``END``, any case; sent in upper case); ``search_pattern`` needs
    ``number_pattern``. None when neither is given."""
    if pattern is None:
        if search_pattern is not None:
            raise SinchValidationError("search_pattern", "needs number_pattern")
        return None
    digits = check_text(pattern, "number_pattern")
    if search_pattern is None:
        return digits, None
    return digits, check_text(search_pattern, "search_pattern").upper()


def check_sms_link(service_plan_id: object, campaign_id: object) -> dict[str, str] | None:
    """A number's SMS configuration: a service plan (``""`` unlinks one) and optionally a
    campaign, which needs the plan. Returns the wire object (None when no plan given)."""
    if service_plan_id is None:
        if campaign_id is not None:
            raise SinchValidationError("sms_campaign_id", "needs sms_service_plan_id")
        return None
    if not isinstance(service_plan_id, str):
        raise SinchValidationError("sms_service_plan_id", "must be a string")
    config = {"servicePlanId": service_plan_id}
    if campaign_id is not None:
        if not isinstance(campaign_id, str):
            raise SinchValidationError("sms_campaign_id", "must be a string")
        config["campaignId"] = campaign_id
    return config


def check_some_update(changes: Mapping[str, object]) -> None:
    """An update must change something."""
    if not changes:
        raise SinchValidationError("update", "nothing to update")


def check_update_call(update: object, batch_type: object, given: Mapping[str, object]) -> None:
    """``batches.update``'s call shape: an update record, or keyword arguments (``given``,
    those not None, and ``type``) that change something; not both."""
    if update is None:
        check_some_update(given)
    elif given or batch_type is not None:
        raise SinchValidationError(
            "update", "pass either an update record or keyword arguments, not both"
        )


_UPDATE_RECORDS: Mapping[str, type[BatchUpdate]] = {
    "mt_text": TextBatchUpdate,
    "mt_binary": BinaryBatchUpdate,
    "mt_media": MediaBatchUpdate,
}


def check_update_fields(batch_type: object, fields: Iterable[str]) -> type[BatchUpdate]:
    """The update record of ``batch_type`` (``mt_text``, ``mt_binary``, ``mt_media``;
    None: ``mt_text``), which must have every field named in ``fields``."""
    record = (
        _UPDATE_RECORDS.get(batch_type or "mt_text") if isinstance(batch_type, str | None) else None
    )
    if record is None:
        raise SinchValidationError("type", f"unknown batch type {batch_type!r}")
    wrong = sorted(set(fields) - {a.name for a in attrs.fields(record)})
    if wrong:
        raise SinchValidationError(
            "update", f"{', '.join(wrong)} cannot be updated on a {record.type} batch"
        )
    return record


#: The Numbers API's enums as the reference lists them (§7.7). They are open: a value not
#: listed goes out as given (Sinch may know it), a listed one in the API's spelling.
NUMBER_TYPES = ("MOBILE", "LOCAL", "TOLL_FREE")
NUMBER_CAPABILITIES = ("SMS", "VOICE")
NUMBERS_ORDER_BY = ("phoneNumber", "displayName")
#: Voice configuration ``type`` -> (the record's id attribute, its wire name) (§4.4).
VOICE_TYPES: Mapping[str, tuple[str, str]] = {
    "RTC": ("app_id", "appId"),
    "EST": ("trunk_id", "trunkId"),
    "FAX": ("service_id", "serviceId"),
}
#: How Numbers may authenticate with project keys: OAuth2 tokens (the default) or HTTP
#: Basic with the key id and secret (§1).
NUMBERS_AUTH = ("oauth", "basic")
# the hmacSecret rule of Sinch's Python SDK (the reference has no other, §10)
_HMAC_SECRET = re.compile(r"[A-Za-z0-9-]{32,64}")
_REGION_CODE = re.compile(r"[A-Za-z]{2}")


def _enum_key(text: str) -> str:
    return text.strip().replace("_", "").replace("-", "").lower()


def _enum_table(values: Iterable[str]) -> dict[str, str]:
    return {_enum_key(v): v for v in values}


_NUMBER_TYPES = _enum_table(NUMBER_TYPES)
_CAPABILITIES = _enum_table(NUMBER_CAPABILITIES)
_ORDER_BY = _enum_table(NUMBERS_ORDER_BY)


def _canonical(value: object, field: str, table: Mapping[str, str]) -> str:
    """A Numbers enum input: a listed value in any case, with or without ``_``/``-``
    (``local``, ``toll-free``, ``PHONE_NUMBER``), in the API's spelling; any other
    non-empty string as given."""
    text = check_text(value, field)
    return table.get(_enum_key(text), text)


def check_number_type(value: object, field: str = "number_type") -> str:
    """A number type (``MOBILE``, ``LOCAL``, ``TOLL_FREE`` in any case, or another)."""
    return _canonical(value, field, _NUMBER_TYPES)


def check_number_types(value: object, field: str = "types") -> list[str]:
    """Number types as a list filter (`check_filter_values`), each canonical."""
    return [_canonical(v, field, _NUMBER_TYPES) for v in check_filter_values(value, field)]


def check_capabilities(value: object, field: str = "capabilities") -> list[str]:
    """Capabilities as a list filter (``SMS``, ``VOICE`` in any case, or others)."""
    return [_canonical(v, field, _CAPABILITIES) for v in check_filter_values(value, field)]


def check_order_by(value: object) -> str | None:
    """The order of an active-number list: ``phoneNumber`` or ``displayName`` (any case,
    snake_case too: ``phone_number``, ``PHONE_NUMBER``); None for Sinch's default."""
    return None if value is None else _canonical(value, "order_by", _ORDER_BY)


def check_region_code(value: object, field: str = "region_code") -> str:
    """An ISO 3166-1 alpha-2 region code: two letters go out upper-case (``us`` -> ``US``),
    anything else non-empty as given."""
    text = check_text(value, field)
    return text.upper() if _REGION_CODE.fullmatch(text) else text


def check_region_codes(value: object, field: str = "region_code") -> list[str]:
    """Region codes as a list filter, each as `check_region_code` has it."""
    return [check_region_code(v, field) for v in check_filter_values(value, field)]


def check_voice_configuration(
    value: object, field: str = "voice_configuration"
) -> dict[str, str] | None:
    """A number's voice configuration as its wire object, or None when not given.

    ``value`` is one of the voice records of [`sinch_async.numbers`][] (read by their
    attributes: ``type`` and the id that type needs, ``RTC`` -> ``app_id``, ``EST`` ->
    ``trunk_id``, ``FAX`` -> ``service_id``; another type carries its wire fields in
    ``fields``). The id must be a non-empty string: the reference says an empty voice
    configuration is an error, so none is ever sent."""
    if value is None:
        return None
    kind = getattr(value, "type", None)
    if not isinstance(kind, str) or not kind.strip():
        raise SinchValidationError(
            field,
            "must be an RtcVoiceConfiguration, EstVoiceConfiguration, FaxVoiceConfiguration "
            f"or UnknownVoiceConfiguration, got {type(value).__name__}",
        )
    known = VOICE_TYPES.get(kind)
    if known is not None:
        attribute, wire = known
        ident = getattr(value, attribute, None)
        if not isinstance(ident, str) or not ident.strip():
            raise SinchValidationError(
                f"{field}.{attribute}",
                "must be a non-empty string (Sinch refuses an empty voice configuration)",
            )
        return {"type": kind, wire: ident}
    fields = getattr(value, "fields", None)
    if (
        not isinstance(fields, Mapping)
        or not fields
        or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in fields.items())
        or "type" in fields
    ):
        raise SinchValidationError(
            f"{field}.fields",
            "must map wire names to non-empty strings (not 'type'), at least one",
        )
    return {"type": kind, **fields}


def check_hmac_secret(value: object, field: str = "hmac_secret") -> str:
    """The project's Numbers callback secret: 32..64 ASCII letters, digits and ``-`` (the
    rule of Sinch's Python SDK). The error never shows the value."""
    if not isinstance(value, str) or not _HMAC_SECRET.fullmatch(value):
        raise SinchValidationError(
            field, "must be 32..64 characters, each an ASCII letter, digit or '-'"
        )
    return value


def check_numbers_auth(value: object, *, config: bool = True) -> str:
    """How Numbers authenticates: ``"oauth"`` (the default) or ``"basic"``, any case."""
    text = value.strip().lower() if isinstance(value, str) else value
    return check_choice(text, "numbers_auth", NUMBERS_AUTH, config=config)


# --- URLs, ranges, enums ----------------------------------------------------------------


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


def check_list_values(items: list[str], field: str) -> list[str]:
    """The values of a list query parameter, sent comma-separated: none may hold a ``,``
    (it would split into two values on the server)."""
    for item in items:
        if "," in item:
            raise SinchValidationError(field, f"list values cannot contain ',': {item!r}")
    return items


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
    if req.from_ is not None:
        check_sender(req.from_)  # sent as given: the rule only refuses
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


def check_request_type(
    request: object, field: str = "request", *, index: int | None = None
) -> BatchRequest:
    """A send's request is a [`TextBatchRequest`][], [`BinaryBatchRequest`][] or
    [`MediaBatchRequest`][] (``index``: its place in a ``send_many`` input)."""
    if not isinstance(request, _BATCH_REQUESTS):
        got = type(request).__name__
        raise SinchValidationError(
            field,
            f"expected a {_BATCH_REQUEST_NAMES}, got {got}"
            if index is None
            else f"item {index} is a {got}, not a {_BATCH_REQUEST_NAMES}",
        )
    return request


def check_batch_request(req: BatchRequest) -> BatchRequest:
    """Everything the API would reject in a send/replace/dry-run body, caught locally;
    returns the request as it goes on the wire (recipients and enums normalised)."""
    req = check_request_type(req)
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
