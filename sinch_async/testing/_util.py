"""Small helpers shared by the fake server: API errors, timestamps, ids."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ApiError",
    "JSONObject",
    "aware_utc",
    "bare_number",
    "constraint_violation",
    "format_timestamp",
    "invalid_format",
    "new_id",
    "not_found",
    "page_body",
    "parse_timestamp",
    "truncate_to_millis",
]

JSONObject = dict[str, Any]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class ApiError(Exception):
    """An xms error reply: HTTP status plus the ``{"code", "text"}`` body."""

    def __init__(
        self, status: int, code: str, text: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {text}")
        self.status = status
        self.code = code
        self.text = text
        self.headers: dict[str, str] = dict(headers or {})


def constraint_violation(text: str) -> ApiError:
    """400 ``syntax_constraint_violation`` (missing field, wrong shape, out of range...)."""
    return ApiError(400, "syntax_constraint_violation", text)


def invalid_format(text: str) -> ApiError:
    """400 ``syntax_invalid_parameter_format`` (malformed MSISDN, datetime, base64...)."""
    return ApiError(400, "syntax_invalid_parameter_format", text)


def not_found(text: str) -> ApiError:
    """404 ``not_found``."""
    return ApiError(404, "not_found", text)


def bare_number(value: str) -> str:
    """A phone number without its leading ``+`` (how the fake compares numbers)."""
    return value.removeprefix("+")


def page_body(key: str, items: list[JSONObject], page: int, page_size: int) -> JSONObject:
    """``{count, page, page_size, <key>}`` for one page of ``items`` (all matches, in order).

    ``page_size`` in the answer is the number of items on the page, as xms reports it.
    """
    chunk = [dict(item) for item in items[page * page_size : (page + 1) * page_size]]
    return {"count": len(items), "page": page, "page_size": len(chunk), key: chunk}


def aware_utc(value: datetime, what: str = "datetime") -> datetime:
    """``value`` in UTC, millisecond precision; ``ValueError`` if it is naive."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what} must be an aware datetime")
    return truncate_to_millis(value.astimezone(UTC))


def truncate_to_millis(value: datetime) -> datetime:
    """Drop sub-millisecond precision (the API reports milliseconds)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss.SSSZ`` in UTC, the way xms writes timestamps."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse ISO-8601 (``Z`` or offset; no offset means UTC) to an aware UTC datetime.

    Raises ``ValueError`` when the text is not a timestamp.
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.tzinfo.utcoffset(parsed) is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def new_id(now: datetime, rng: random.Random) -> str:
    """A ULID-like id: 26 Crockford base32 chars (48-bit ms timestamp + 80 random bits)."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | rng.getrandbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))
