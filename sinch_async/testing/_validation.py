"""Validation of batch request bodies (send, replace, update) against the xms rules (§4.1).

Validators return the value as the fake stores it (timestamps normalised to
``YYYY-MM-DDThh:mm:ss.SSSZ``). Unknown fields are dropped, ``null`` means "not given".

Where the SDK and the fake must agree, the fake uses the SDK's one home for the rule
(`sinch_async._validation` for number syntax, `sinch_async._constants` for the
documented limits): a number the SDK sends is never one the fake refuses for its digits,
and a limit never differs by one between the two. What the server does with input (its
error codes, its leniency about numbers) stays the fake's own.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

from .. import _constants as C
from .._validation import ascii_digits, is_e164
from ..models.common import DeliveryReportType
from ._util import (
    JSONObject,
    constraint_violation,
    format_timestamp,
    invalid_format,
    parse_timestamp,
)

__all__ = [
    "BATCH_TYPES",
    "DELIVERY_REPORTS",
    "MAX_RECIPIENTS",
    "MAX_UPDATE_RECIPIENTS",
    "check_phone_number",
    "check_recipient",
    "is_e164",
    "is_group_id",
    "is_msisdn",
    "require_object",
    "validate_batch",
    "validate_update",
]

BATCH_TYPES = ("mt_text", "mt_binary", "mt_media")
#: The kinds the SDK spells canonically (`sinch_async.DeliveryReportType`).
DELIVERY_REPORTS = tuple(kind.value for kind in DeliveryReportType)
MAX_RECIPIENTS = C.MAX_BATCH_RECIPIENTS
MAX_UPDATE_RECIPIENTS = C.MAX_UPDATE_RECIPIENTS
MAX_TEXT_BODY = C.MAX_TEXT_BODY
MAX_BINARY_BYTES = C.MAX_BINARY_BYTES
MAX_URL = C.MAX_CALLBACK_URL
MAX_CLIENT_REFERENCE = C.MAX_CLIENT_REFERENCE

_GROUP_ID = re.compile(r"[0-9A-Za-z]{26}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")

Validator = Callable[[str, Any], Any]


def require_object(value: Any, what: str = "request body") -> JSONObject:
    """The value must be a JSON object."""
    if not isinstance(value, dict):
        raise constraint_violation(f"{what} must be a JSON object")
    return value


def is_group_id(value: str) -> bool:
    """Group ids are 26-char ULID-like strings (the ids the fake makes).

    The server's own syntax, deliberately not the SDK's wider rule
    (`sinch_async._validation.is_group_id`, any safe ASCII id with a letter). Where
    the two must agree they do: an id the fake makes is one the SDK sends (it has a letter
    unless all 16 random characters came out digits, about 1 in 10^8).
    """
    return _GROUP_ID.fullmatch(value) is not None


def is_msisdn(value: str) -> bool:
    """A number as the xms server takes it: an optional ``+`` then 1..15 ASCII digits
    (short codes included; the server is more lenient than the SDK's checks, which
    never send less than `sinch_async._validation.normalize_number` accepts).
    Digits are ASCII digits, as in the SDK (`sinch_async._validation.ascii_digits`)."""
    return ascii_digits(value.removeprefix("+"), 1, C.E164_MAX_DIGITS)


def check_phone_number(value: str) -> str:
    """A number the fake holds for the Numbers API (seeded, rented): strict E.164, the
    rule the SDK applies before it puts a number in a path (`is_e164`). A seed the
    SDK could never address is a bug in the test: `ValueError`."""
    if not is_e164(value):
        raise ValueError(f"{value!r} is not an E.164 number ('+' and 7..15 ASCII digits)")
    return value


def check_recipient(field: str, value: Any) -> str:
    """A recipient: a number as `is_msisdn` reads it, or a group id."""
    if not isinstance(value, str):
        raise constraint_violation(f"'{field}' entries must be strings")
    if not is_msisdn(value) and not is_group_id(value):
        raise invalid_format(f"'{field}' contains an invalid recipient: {value!r}")
    return value


def _recipients(lo: int, hi: int) -> Validator:
    def check(field: str, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise constraint_violation(f"'{field}' must be an array")
        if not lo <= len(value) <= hi:
            raise constraint_violation(f"'{field}' must have {lo}..{hi} elements")
        return [check_recipient(field, item) for item in value]

    return check


def _string(max_len: int | None = None, *, non_empty: bool = False) -> Validator:
    def check(field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise constraint_violation(f"'{field}' must be a string")
        if max_len is not None and len(value) > max_len:
            raise constraint_violation(f"'{field}' must be at most {max_len} characters")
        if non_empty and not value:
            raise constraint_violation(f"'{field}' must not be empty")
        return value

    return check


def _boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise constraint_violation(f"'{field}' must be a boolean")
    return value


def _integer(lo: int, hi: int | None = None) -> Validator:
    def check(field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise constraint_violation(f"'{field}' must be an integer")
        if value < lo or (hi is not None and value > hi):
            bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise constraint_violation(f"'{field}' must be {bounds}")
        return value

    return check


def _timestamp(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise constraint_violation(f"'{field}' must be an ISO-8601 string")
    try:
        return format_timestamp(parse_timestamp(value))
    except ValueError:
        raise invalid_format(f"'{field}' is not an ISO-8601 date-time: {value!r}") from None


def _delivery_report(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise constraint_violation(f"'{field}' must be a string")
    if value not in DELIVERY_REPORTS:
        raise constraint_violation(f"'{field}' must be one of {', '.join(DELIVERY_REPORTS)}")
    return value


def _parameters(field: str, value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise constraint_violation(f"'{field}' must be an object")
    for key, per_recipient in value.items():
        if not key:
            raise constraint_violation(f"'{field}' keys must not be empty")
        if not isinstance(per_recipient, dict) or not all(
            isinstance(v, str) for v in per_recipient.values()
        ):
            raise constraint_violation(f"'{field}.{key}' must map recipients to strings")
    return value


def _base64(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise constraint_violation(f"'{field}' must be a base64 string")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_format(f"'{field}' is not valid base64") from None
    return value


def _hex(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise constraint_violation(f"'{field}' must be a hex string")
    if _HEX.fullmatch(value) is None:
        raise invalid_format(f"'{field}' is not valid hex")
    return value


def _media_body(field: str, value: Any) -> JSONObject:
    body = require_object(value, f"'{field}'")
    url = body.get("url")
    if url is None:
        raise constraint_violation(f"'{field}.url' is required for mt_media")
    _string(MAX_URL, non_empty=True)(f"{field}.url", url)
    out: JSONObject = {"url": url}
    for key in ("message", "subject"):
        if body.get(key) is not None:
            out[key] = _string()(f"{field}.{key}", body[key])
    return out


_COMMON: dict[str, Validator] = {
    "to": _recipients(1, MAX_RECIPIENTS),
    "from": _string(),
    "delivery_report": _delivery_report,
    "send_at": _timestamp,
    "expire_at": _timestamp,
    "callback_url": _string(MAX_URL),
    "client_reference": _string(MAX_CLIENT_REFERENCE),
    "feedback_enabled": _boolean,
    "from_ton": _integer(0, 6),
    "from_npi": _integer(0, 18),
}
_SMS_OPTIONS: dict[str, Validator] = {
    "flash_message": _boolean,
    "truncate_concat": _boolean,
    "max_number_of_message_parts": _integer(1),
}
FIELDS: Mapping[str, Mapping[str, Validator]] = {
    "mt_text": {
        **_COMMON,
        "body": _string(MAX_TEXT_BODY),
        "parameters": _parameters,
        **_SMS_OPTIONS,
    },
    "mt_binary": {**_COMMON, "body": _base64, "udh": _hex, **_SMS_OPTIONS},
    "mt_media": {
        **_COMMON,
        "body": _media_body,
        "parameters": _parameters,
        "strict_validation": _boolean,
    },
}
_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "mt_text": ("to", "body"),
    "mt_binary": ("to", "body", "udh"),
    "mt_media": ("to", "body"),
}


def _batch_type(body: JSONObject, default: str | None) -> str:
    kind = body.get("type")
    if kind is None:
        if default is None:
            raise constraint_violation("'type' is required")
        return default
    if not isinstance(kind, str) or kind not in BATCH_TYPES:
        raise constraint_violation(f"'type' must be one of {', '.join(BATCH_TYPES)}")
    return kind


def _check_cross_fields(kind: str, fields: JSONObject) -> None:
    if kind == "mt_binary":
        size = len(base64.b64decode(fields["body"])) + len(fields["udh"]) // 2
        if size > MAX_BINARY_BYTES:
            raise constraint_violation(
                f"binary body + udh must be at most {MAX_BINARY_BYTES} bytes, got {size}"
            )
    if "send_at" in fields and "expire_at" in fields:
        send_at = parse_timestamp(fields["send_at"])
        if parse_timestamp(fields["expire_at"]) <= send_at:
            raise constraint_violation("'expire_at' must be after 'send_at'")


def validate_batch(value: Any) -> JSONObject:
    """Validate a send/replace/dry-run body; returns the known fields, ``type`` included."""
    body = require_object(value)
    kind = _batch_type(body, "mt_text")
    validators = FIELDS[kind]
    for name in _REQUIRED[kind]:
        if body.get(name) is None:
            raise constraint_violation(f"'{name}' is required for {kind}")
    fields: JSONObject = {"type": kind}
    for name, check in validators.items():
        if body.get(name) is not None:
            fields[name] = check(name, body[name])
    _check_cross_fields(kind, fields)
    return fields


def validate_update(value: Any, stored: JSONObject, *, expire_defaulted: bool) -> JSONObject:
    """Apply an update body to a copy of ``stored`` and return the new batch.

    ``to_add`` is applied before ``to_remove``; the result must still have 1..1000
    recipients. With ``expire_defaulted`` (the stored ``expire_at`` was the default) and
    no new ``expire_at``, the result has no ``expire_at``: the caller recomputes it.
    """
    body = require_object(value)
    kind = stored["type"]
    if body.get("type") is not None and _batch_type(body, None) != kind:
        raise constraint_violation(f"'type' must match the batch type ({kind})")
    validators = {name: check for name, check in FIELDS[kind].items() if name != "to"}
    add_remove = _recipients(1, MAX_UPDATE_RECIPIENTS)
    to_add = add_remove("to_add", body["to_add"]) if body.get("to_add") is not None else []
    to_remove = (
        add_remove("to_remove", body["to_remove"]) if body.get("to_remove") is not None else []
    )
    updated = dict(stored)
    if expire_defaulted:
        updated.pop("expire_at", None)
    for name, check in validators.items():
        if body.get(name) is not None:
            updated[name] = check(name, body[name])
    recipients = list(stored["to"])
    recipients.extend(r for r in dict.fromkeys(to_add) if r not in recipients)
    removed = set(to_remove)
    recipients = [r for r in recipients if r not in removed]
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise constraint_violation(
            f"the update would leave {len(recipients)} recipients (allowed 1..{MAX_RECIPIENTS})"
        )
    updated["to"] = recipients
    _check_cross_fields(kind, updated)
    return updated
