"""Pure wire-format helpers: no server needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from sinch_async import SinchValidationError
from sinch_async._wire import (
    build_query,
    format_datetime,
    parse_datetime,
    parse_error,
    parse_error_body,
    parse_retry_after,
    quote_path_segment,
)


def test_datetimes_are_utc_with_z() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_datetime(datetime(2026, 1, 2, 13, 4, 5, tzinfo=cet)) == "2026-01-02T12:04:05Z"
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.123Z"
    )
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)).endswith(".123456Z")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(SinchValidationError, match="naive"):
        format_datetime(datetime(2026, 1, 2), "send_at")


def test_parse_datetime_assumes_utc_without_offset() -> None:
    assert parse_datetime("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_datetime("2026-01-02T03:04:05.5+02:00") == datetime(
        2026, 1, 2, 1, 4, 5, 500000, tzinfo=UTC
    )


def test_lists_are_one_comma_separated_parameter_and_plus_survives() -> None:
    qs = build_query({"from": ["+46701234567", "+12025550134"], "page": 0, "x": None})
    assert qs.count("from=") == 1
    assert "%2B46701234567,%2B12025550134" in qs
    assert "x=" not in qs
    assert parse_qs(qs) == {"from": ["+46701234567,+12025550134"], "page": ["0"]}


def test_query_encodes_datetimes_and_bools() -> None:
    qs = build_query(
        {"start_date": datetime(2026, 1, 2, tzinfo=UTC), "per_recipient": True, "empty": []}
    )
    assert parse_qs(qs) == {"start_date": ["2026-01-02T00:00:00Z"], "per_recipient": ["true"]}


def test_query_refuses_naive_datetime_and_commas_in_list_items() -> None:
    with pytest.raises(SinchValidationError):
        build_query({"end_date": datetime(2026, 1, 2)})
    with pytest.raises(SinchValidationError):
        build_query({"status": ["a,b"]})


def test_path_segment_quoting() -> None:
    assert quote_path_segment("01FC66621XXXXX119Z8PMV1QPQ") == "01FC66621XXXXX119Z8PMV1QPQ"
    assert quote_path_segment("a/b?c") == "a%2Fb%3Fc"
    assert quote_path_segment("+4670") == "+4670"
    with pytest.raises(SinchValidationError):
        quote_path_segment("  ")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"code": "syntax_invalid_json", "text": "bad"}', ("syntax_invalid_json", "bad")),
        (
            b'{"error": {"code": 400, "message": "m", "status": "INVALID_ARGUMENT"}}',
            ("INVALID_ARGUMENT", "m"),
        ),
        (
            b'{"type": "https://developers.sinch.com/docs/errors/registry/not-found", '
            b'"title": "Not found", "detail": "no such batch"}',
            ("not-found", "no such batch"),
        ),
        (
            b'{"timestamp": "2024-01-01", "status": 400, "error": "Bad Request", "path": "/x"}',
            ("Bad Request", "Bad Request"),
        ),
        (b"<html>gateway</html>", (None, "<html>gateway</html>")),
        (b"", (None, None)),
        (b"[1, 2]", (None, None)),
    ],
)
def test_error_body_shapes(body: bytes, expected: tuple[str | None, str | None]) -> None:
    assert parse_error_body(body) == expected
    assert parse_error(body)[:2] == expected and parse_error(body)[2] == ()


def test_error_details_are_the_dict_entries_of_error_details() -> None:
    info = {"type": "ResourceInfo", "resourceName": "+12025550199"}
    body = b'{"error": {"code": 404, "message": "m", "status": "NOT_FOUND", "details": '
    assert parse_error(body + b'[{"type": "ResourceInfo", "resourceName": "+12025550199"}]}}') == (
        "NOT_FOUND",
        "m",
        (info,),
    )
    assert parse_error(body + b'[1, "x", {"type": "Help"}]}}')[2] == ({"type": "Help"},)
    assert parse_error(body + b'"not a list"}}')[2] == ()


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-1") is None
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now=now) == pytest.approx(5.0)
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now=now) == 0.0


def test_api_error_headers_are_case_insensitive() -> None:
    from sinch_async._wire import api_error

    err = api_error(429, "GET", "u", {"retry-after": "3", "www-authenticate": "x"}, b"")
    assert err.retry_after == 3.0  # type: ignore[attr-defined]
    assert err.headers["Retry-After"] == "3"  # type: ignore[attr-defined]
