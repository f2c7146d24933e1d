"""One home per input rule (issue 16, point 9): the functions of ``_validation.py`` for
ids, page sizes, ``max_items``, prefetch and checkpoints, and the limits FakeSinch shares
with the SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import sinch_async._constants as C
from sinch_async import SinchClient, SinchValidationError, TextBatchRequest
from sinch_async._validation import (
    check_checkpoint,
    check_checkpoint_resource,
    check_direction,
    check_dry_run_recipients,
    check_max_items,
    check_page_size,
    check_prefetch,
    check_report_type,
    check_window,
)
from sinch_async.models.common import DeliveryReportType
from sinch_async.resources import _common
from sinch_async.testing import _validation as fake_rules

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# --- page sizes, max_items, prefetch ----------------------------------------------------


@pytest.mark.parametrize("size", [1, 30, C.MAX_PAGE_SIZE])
def test_page_size_accepted(size: int) -> None:
    assert check_page_size(size) == size


@pytest.mark.parametrize("size", [0, -1, C.MAX_PAGE_SIZE + 1, True, 1.0, "10", None])
def test_page_size_refused(size: Any) -> None:
    with pytest.raises(SinchValidationError) as err:
        check_page_size(size)
    assert err.value.field == "page_size"


def test_numbers_page_size_is_the_same_rule_with_its_own_maximum() -> None:
    assert check_page_size(C.MAX_NUMBERS_PAGE_SIZE, C.MAX_NUMBERS_PAGE_SIZE) == 1000
    with pytest.raises(SinchValidationError, match=f"1..{C.MAX_NUMBERS_PAGE_SIZE}"):
        check_page_size(C.MAX_NUMBERS_PAGE_SIZE + 1, C.MAX_NUMBERS_PAGE_SIZE)


@pytest.mark.parametrize("value", [None, 0, 1, 10**9])
def test_max_items_accepted(value: int | None) -> None:
    assert check_max_items(value) == value


@pytest.mark.parametrize("value", [-1, True, 1.5, "3"])
def test_max_items_refused(value: Any) -> None:
    with pytest.raises(SinchValidationError) as err:
        check_max_items(value)
    assert err.value.field == "max_items"


def test_prefetch() -> None:
    assert check_prefetch(1) == 1
    assert check_prefetch(C.MAX_PREFETCH) == C.MAX_PREFETCH
    for bad in (0, C.MAX_PREFETCH + 1, True, 2.0):
        with pytest.raises(SinchValidationError) as err:
            check_prefetch(bad)
        assert err.value.field == "prefetch"


# --- checkpoints ------------------------------------------------------------------------


def _checkpoint(**kw: Any) -> None:
    fields: dict[str, Any] = {
        "resource": "batches",
        "filters": [("client_reference", "r-1")],
        "page_size": 30,
        "positions": (0, 0, 0, 0),
        "filter_names": ("client_reference",),
    }
    check_checkpoint(**{**fields, **kw})


def test_checkpoint_accepted() -> None:
    _checkpoint()
    _checkpoint(token="tok-1", page_size=1000, max_page_size=C.MAX_NUMBERS_PAGE_SIZE)
    _checkpoint(filter_names=None, filters=[("anything", "x")])


@pytest.mark.parametrize(
    "change",
    [
        {"positions": (0, -1, 0, 0)},
        {"positions": (0, True, 0, 0)},
        {"positions": (0, "1", 0, 0)},
        {"page_size": 0},
        {"page_size": 101},
        {"filters": [("status", "x")]},  # not a filter of the resource
        {"filters": [("client_reference", "a\nb")]},
        {"token": "tok\r\n"},
    ],
)
def test_checkpoint_refused(change: dict[str, Any]) -> None:
    with pytest.raises(SinchValidationError) as err:
        _checkpoint(**change)
    assert err.value.field in ("resume", "page_size")


def test_checkpoint_resource() -> None:
    check_checkpoint_resource("batches", "batches")
    with pytest.raises(SinchValidationError, match="'inbounds', not 'batches'"):
        check_checkpoint_resource("inbounds", "batches")


# --- small rules moved out of the resources ----------------------------------------------


def test_window_has_one_home() -> None:
    assert _common.check_window is check_window
    check_window(NOW, NOW + timedelta(seconds=1))
    with pytest.raises(SinchValidationError, match="after start_date"):
        check_window(NOW, NOW)
    with pytest.raises(SinchValidationError, match="naive"):
        check_window(datetime(2026, 1, 1), None)


def test_report_type_direction_dry_run() -> None:
    assert check_report_type("full") == "full"
    with pytest.raises(SinchValidationError):
        check_report_type("FULL")
    assert check_direction(None) is None
    assert check_direction("mo") == "mo"
    with pytest.raises(SinchValidationError):
        check_direction("in")
    assert check_dry_run_recipients(None) is None
    assert check_dry_run_recipients(C.MAX_DRY_RUN_RECIPIENTS) == C.MAX_DRY_RUN_RECIPIENTS
    for bad in (-1, C.MAX_DRY_RUN_RECIPIENTS + 1, True):
        with pytest.raises(SinchValidationError):
            check_dry_run_recipients(bad)


async def test_resources_use_them(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError) as err:
        await offline_client.delivery_reports.get(
            "01FC66621XXXXX119Z8PMV1QPQ",
            type="partial",  # type: ignore[arg-type]
        )
    assert err.value.field == "type"
    request = TextBatchRequest(to=("+46701234567",), body="x")
    with pytest.raises(SinchValidationError) as err:
        await offline_client.batches.dry_run(request, number_of_recipients=1001)
    assert err.value.field == "number_of_recipients"
    with pytest.raises(SinchValidationError) as err:
        await offline_client.batches.send("not a request")  # type: ignore[arg-type]
    assert err.value.field == "request"
    assert "TextBatchRequest, BinaryBatchRequest or MediaBatchRequest" in str(err.value)


# --- FakeSinch agrees with the SDK on the documented limits -------------------------------


def test_fake_limits_are_the_sdk_limits() -> None:
    assert fake_rules.MAX_RECIPIENTS == C.MAX_BATCH_RECIPIENTS
    assert fake_rules.MAX_UPDATE_RECIPIENTS == C.MAX_UPDATE_RECIPIENTS
    assert fake_rules.MAX_TEXT_BODY == C.MAX_TEXT_BODY
    assert fake_rules.MAX_BINARY_BYTES == C.MAX_BINARY_BYTES
    assert fake_rules.MAX_URL == C.MAX_CALLBACK_URL
    assert fake_rules.MAX_CLIENT_REFERENCE == C.MAX_CLIENT_REFERENCE
    assert set(fake_rules.DELIVERY_REPORTS) == {kind.value for kind in DeliveryReportType}
