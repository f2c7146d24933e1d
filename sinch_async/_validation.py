"""Checks on caller input, run before any request is sent."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from . import _constants as C
from ._errors import SinchValidationError
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

__all__ = [
    "check_aware",
    "check_batch_request",
    "check_batch_update",
    "check_page_size",
    "check_recipients",
]

# E.164 with '+', or the same digits without it / with a leading 00 (the API is lenient).
_MSISDN = re.compile(r"^(\+|00)?[1-9]\d{6,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
# Group ids (and other xms ids) are ULID-like: 26 Crockford base32 characters.
_GROUP_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$", re.IGNORECASE)
_PARAM_KEY = re.compile(r"^[A-Za-z0-9._-]+$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")
_DELIVERY_REPORTS = frozenset(v.value for v in DeliveryReportType)


def check_recipients(
    values: Iterable[str],
    field: str = "to",
    *,
    minimum: int = 1,
    maximum: int = C.MAX_BATCH_RECIPIENTS,
    allow_groups: bool = True,
) -> None:
    """Recipients must be MSISDNs (E.164), short codes or (where allowed) group ids."""
    if isinstance(values, str):
        raise SinchValidationError(field, "must be a list of recipients, not a single string")
    items = list(values)
    if not minimum <= len(items) <= maximum:
        raise SinchValidationError(
            field, f"must hold {minimum}..{maximum} recipients, got {len(items)}"
        )
    for item in items:
        if not isinstance(item, str):
            raise SinchValidationError(field, f"recipient {item!r} is not a string")
        if _MSISDN.match(item) or _SHORT_CODE.match(item):
            continue
        if allow_groups and _GROUP_ID.match(item):
            continue
        raise SinchValidationError(
            field, f"{item!r} is not an E.164 number (like +46701234567), short code or group id"
        )


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


def _check_url(value: str | None, field: str) -> None:
    if value is None:
        return
    if len(value) > C.MAX_CALLBACK_URL:
        raise SinchValidationError(field, f"longer than {C.MAX_CALLBACK_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SinchValidationError(field, f"{value!r} is not an http(s) URL")


def _check_range(value: int | None, field: str, low: int, high: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise SinchValidationError(field, "must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise SinchValidationError(field, f"must be {bound}, got {value}")


def _check_parameters(parameters: Mapping[str, Mapping[str, str]] | None) -> None:
    if parameters is None:
        return
    for key, values in parameters.items():
        if not isinstance(key, str) or not _PARAM_KEY.match(key):
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


def _check_common(req: Any) -> None:
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
    dr = req.delivery_report
    if dr is not None and str(dr) not in _DELIVERY_REPORTS:
        raise SinchValidationError(
            "delivery_report", f"{dr!r} is not one of {sorted(_DELIVERY_REPORTS)}"
        )
    _check_url(req.callback_url, "callback_url")
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


def _check_text_body(body: str | None) -> None:
    if body is None:
        return
    if not isinstance(body, str):
        raise SinchValidationError("body", "must be a string")
    if len(body) > C.MAX_TEXT_BODY:
        raise SinchValidationError(
            "body", f"text is {len(body)} characters; the API allows {C.MAX_TEXT_BODY}"
        )


def _check_binary(body: str | None, udh: str | None) -> None:
    raw = b""
    if body is not None:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SinchValidationError("body", "must be Base64 for a binary message") from exc
    header = b""
    if udh is not None:
        if not _HEX.match(udh):
            raise SinchValidationError("udh", "must be hex-encoded (an even number of hex digits)")
        header = bytes.fromhex(udh)
    if len(raw) + len(header) > C.MAX_BINARY_BYTES:
        raise SinchValidationError(
            "body", f"body + udh are {len(raw) + len(header)} bytes; at most {C.MAX_BINARY_BYTES}"
        )


def _check_media(body: MediaBody | None, *, required: bool) -> None:
    if body is None:
        if required:
            raise SinchValidationError("media_body", "is required")
        return
    if not isinstance(body, MediaBody):
        raise SinchValidationError("media_body", "must be a MediaBody")
    _check_url(body.url, "media_body.url")


def check_batch_request(req: BatchRequest) -> None:
    """Everything the API would reject in a send/replace/dry-run body, caught locally."""
    if not isinstance(req, TextBatchRequest | BinaryBatchRequest | MediaBatchRequest):
        raise SinchValidationError(
            "request", f"expected a batch request record, got {type(req).__name__}"
        )
    check_recipients(req.to)
    _check_common(req)
    if isinstance(req, TextBatchRequest):
        if req.body is None:
            raise SinchValidationError("body", "is required")
        _check_text_body(req.body)
    elif isinstance(req, BinaryBatchRequest):
        if not req.body or req.udh is None:
            raise SinchValidationError("body", "binary messages need both body and udh")
        _check_binary(req.body, req.udh)
    else:
        _check_media(req.body, required=True)


def check_batch_update(upd: BatchUpdate) -> None:
    """Checks for a partial update; ``to_add``/``to_remove`` hold 1..100 entries each."""
    if not isinstance(upd, TextBatchUpdate | BinaryBatchUpdate | MediaBatchUpdate):
        raise SinchValidationError(
            "update", f"expected a batch update record, got {type(upd).__name__}"
        )
    for name in ("to_add", "to_remove"):
        values = getattr(upd, name)
        if values is not None:
            check_recipients(values, name, maximum=C.MAX_UPDATE_RECIPIENTS)
    _check_common(upd)
    if isinstance(upd, TextBatchUpdate):
        _check_text_body(upd.body)
    elif isinstance(upd, BinaryBatchUpdate):
        _check_binary(upd.body, upd.udh)
    else:
        _check_media(upd.body, required=False)
