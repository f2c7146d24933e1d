"""Pure, I/O-free helpers for the wire format: dates, query strings, paths, error bodies."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from ._errors import RateLimitError, SinchAPIError, api_error_for_status
from ._validation import check_aware, check_list_values, check_path_id

__all__ = [
    "QueryValue",
    "api_error",
    "build_query",
    "format_datetime",
    "parse_datetime",
    "parse_error",
    "parse_error_body",
    "parse_retry_after",
    "quote_path_segment",
]

QueryValue = str | int | bool | datetime | Sequence[str | int] | None


def format_datetime(value: datetime, field: str = "datetime") -> str:
    """ISO-8601 in UTC with a ``Z`` suffix; milliseconds only when present.

    Naive datetimes are refused: the API would read them as UTC, which is rarely
    what a caller holding a local time meant.
    """
    check_aware(value, field)
    value = value.astimezone(UTC)
    if value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value.microsecond % 1000 == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_datetime(value: str) -> datetime:
    """Parse an ISO-8601 timestamp from Sinch; no offset means UTC (as the API states)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _query_text(name: str, value: str | int | bool | datetime) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value, name)
    return str(value)


def build_query(params: Mapping[str, QueryValue]) -> str:
    """Encode query parameters the way xms reads them.

    ``None`` values are left out; sequences become one comma-separated value (never a
    repeated parameter); everything is percent-encoded so ``+`` in E.164 numbers
    survives (``%2B``) instead of turning into a space.
    """
    parts: list[str] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, str | int | bool | datetime):
            text = _query_text(name, value)
        else:
            items = [_query_text(name, v) for v in value]
            if not items:
                continue
            text = ",".join(check_list_values(items, name))
        parts.append(f"{quote(name, safe='')}={quote(text, safe=',:')}")
    return "&".join(parts)


def quote_path_segment(value: str, field: str = "id") -> str:
    """Percent-encode one path segment; an empty id (which would hit a list URL), ``.``,
    ``..`` and control characters are refused."""
    return quote(check_path_id(value, field), safe="+")


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """Extract Sinch's ``(code, text)`` from any of the error shapes the API is known to send.

    Handles xms ``{code, text}``, Google-style ``{error: {code, message, status}}``,
    Spring-style ``{status, error, message}`` and the registry's ``{type, title, detail}``.
    Bodies that are empty or not JSON give ``(None, text-or-None)``.
    """
    code, text, _ = parse_error(body)
    return code, text


def parse_error(body: bytes) -> tuple[str | None, str | None, tuple[dict[str, Any], ...]]:
    """`parse_error_body` plus the error's ``details`` (the Google-style
    ``{error: {details: [...]}}`` of the Numbers API): its dict entries, as sent; empty
    when there are none."""
    if not body:
        return None, None, ()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        snippet = body[:200].decode("utf-8", "replace").strip()
        return None, snippet or None, ()
    if not isinstance(data, dict):
        return None, None, ()
    err = data.get("error")
    details: tuple[dict[str, Any], ...] = ()
    raw = err.get("details") if isinstance(err, dict) else data.get("details")
    if isinstance(raw, list):
        details = tuple(d for d in raw if isinstance(d, dict))
    code, text = _code_and_text(data, err)
    return code, text, details


def _code_and_text(data: dict[str, Any], err: object) -> tuple[str | None, str | None]:
    if "code" in data or "text" in data:
        return _opt_str(data.get("code")), _opt_str(data.get("text"))
    if isinstance(err, dict):
        return _opt_str(err.get("status") or err.get("code")), _opt_str(err.get("message"))
    if "title" in data or "type" in data:
        slug = _opt_str(data.get("type"))
        if slug and "/" in slug:
            slug = slug.rstrip("/").rsplit("/", 1)[-1]
        return slug, _opt_str(data.get("detail") or data.get("title"))
    if isinstance(err, str):
        return _opt_str(err), _opt_str(data.get("message") or err)
    return None, None


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def api_error(
    status: int, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> SinchAPIError:
    """The typed error for an HTTP error (or 3xx) response, with Sinch's code and text."""
    code, text, details = parse_error(body)
    cls = api_error_for_status(status)
    if cls is RateLimitError:
        error = RateLimitError(
            status,
            code,
            text,
            method=method,
            url=url,
            headers=headers,
            body=body,
            details=details,
        )
        # read from the error's case-insensitive copy, whoever built ``headers``
        error.retry_after = parse_retry_after(error.headers.get("Retry-After"))
        return error
    return cls(
        status, code, text, method=method, url=url, headers=headers, body=body, details=details
    )
