"""One home per input rule (issue 16, point 9): the functions of ``_validation.py`` for
ids, page sizes, ``max_items``, prefetch, checkpoints, rates, seconds, counts and
durations, the limits FakeSinch shares with the SDK, and the structure that keeps them in
one place (no digit test on caller input outside ``_validation.py``; modules whose checks
moved raise none of their own)."""

from __future__ import annotations

import ast
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import sinch_async
import sinch_async._constants as C
from sinch_async import (
    BinaryBatchUpdate,
    RetryPolicy,
    SinchClient,
    SinchConfigError,
    SinchValidationError,
    TextBatchRequest,
    TextBatchUpdate,
)
from sinch_async._converter import _structure_int
from sinch_async._limits import SharedGroupSizes
from sinch_async._session import RequestOptions
from sinch_async._validation import (
    MAX_CAMPAIGN,
    check_api_name,
    check_bool,
    check_campaign,
    check_checkpoint,
    check_checkpoint_resource,
    check_choice,
    check_commit_every,
    check_count,
    check_direction,
    check_dry_run_recipients,
    check_expiry,
    check_filter_values,
    check_lag,
    check_list_values,
    check_max_items,
    check_number,
    check_number_pattern,
    check_owner_id,
    check_page_size,
    check_pager,
    check_positive_int,
    check_prefetch,
    check_rate,
    check_report_type,
    check_request_type,
    check_seconds,
    check_sms_link,
    check_timedelta,
    check_update_call,
    check_update_fields,
    check_window,
    is_group_id,
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
)
from sinch_async.models.common import DeliveryReportType
from sinch_async.resources import _common
from sinch_async.resources.batches import _recipient_key
from sinch_async.testing import _groups as fake_groups
from sinch_async.testing import _validation as fake_rules
from sinch_async.testing._util import new_id

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
    check_checkpoint_resource("numbers", "numbers", paging="token", page_token="t")
    with pytest.raises(SinchValidationError, match="resume: a page-number walk has no page"):
        check_checkpoint_resource("batches", "batches", paging="page", page_token="t")


def test_pager_call() -> None:
    assert check_pager("page", 30, 4, None) == C.MAX_PAGE_SIZE
    assert check_pager("token", 1000, 1, 5) == C.MAX_NUMBERS_PAGE_SIZE
    refused: list[tuple[tuple[Any, ...], str]] = [
        (("pages", 30, 1, None), "paging"),
        ((None, 30, 1, None), "paging"),
        (("page", 101, 1, None), "page_size"),
        (("page", 30, 0, None), "prefetch"),
        (("token", 30, 2, None), "prefetch"),  # a token list is walked one page at a time
        (("page", 30, 1, -1), "max_items"),
    ]
    for args, field in refused:
        with pytest.raises(SinchValidationError) as err:
            check_pager(*args)
        assert err.value.field == field


def test_list_values() -> None:
    assert check_list_values(["a", "b"], "status") == ["a", "b"]
    with pytest.raises(SinchValidationError, match="status: list values cannot contain ','"):
        check_list_values(["a,b"], "status")


# --- small rules moved out of the resources ----------------------------------------------


def test_window_has_one_home() -> None:
    assert _common.check_window is check_window
    check_window(NOW, NOW + timedelta(seconds=1))
    with pytest.raises(SinchValidationError, match="after start_date"):
        check_window(NOW, NOW)
    with pytest.raises(SinchValidationError, match="naive"):
        check_window(datetime(2026, 1, 1), None)


def test_choice() -> None:
    assert check_choice("auto", "commit", ("auto", "manual")) == "auto"
    with pytest.raises(SinchValidationError, match=r"^commit: must be 'auto' or 'manual'$"):
        check_choice("AUTO", "commit", ("auto", "manual"))
    with pytest.raises(SinchConfigError, match=r"^synchronous must be 'NORMAL' or 'FULL'$"):
        check_choice(["NORMAL"], "synchronous", ("NORMAL", "FULL"), config=True)
    with pytest.raises(SinchValidationError, match=r"must be 'a', 'b' or 'c'$"):
        check_choice("d", "x", ("a", "b", "c"))


def test_timedelta_and_lag() -> None:
    assert check_timedelta(timedelta(0), "lag") == timedelta(0)
    assert check_timedelta(timedelta(hours=1), "chunk", positive=True) == timedelta(hours=1)
    for bad, positive in [(timedelta(0), True), (timedelta(seconds=-1), False), (60, False)]:
        with pytest.raises(SinchValidationError, match="must be a") as err:
            check_timedelta(bad, "chunk", positive=positive)
        assert err.value.field == "chunk"
    assert check_lag(timedelta(minutes=5), None) == timedelta(minutes=5)
    assert check_lag(timedelta(0), NOW) == timedelta(0)  # the default, with until
    for bad in (timedelta(seconds=-1), 300, None):
        with pytest.raises(SinchValidationError, match="lag: must be a non-negative timedelta"):
            check_lag(bad, None)
    with pytest.raises(SinchValidationError, match="lag: cannot be given with until"):
        check_lag(timedelta(minutes=5), NOW)


def test_commit_every() -> None:
    assert check_commit_every("page") == "page"
    assert check_commit_every(100) == 100
    for bad in (0, True, 1.5, "pages", None):
        with pytest.raises(SinchValidationError, match="commit_every: must be a positive integer"):
            check_commit_every(bad)


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
    not_a_request: Any = "not a request"
    with pytest.raises(SinchValidationError) as err:
        await offline_client.batches.send(not_a_request)
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
    assert fake_groups.MAX_GROUP_NAME == C.MAX_GROUP_NAME
    assert fake_groups.MAX_GROUP_MEMBERS == C.MAX_GROUP_MEMBERS
    assert fake_groups.MAX_CHILD_GROUPS == C.MAX_CHILD_GROUPS


def test_fake_group_ids_are_ids_the_sdk_sends() -> None:
    rng = random.Random(16)
    for _ in range(2000):
        group_id = new_id(NOW, rng)
        assert fake_rules.is_group_id(group_id) and is_group_id(group_id), group_id


# --- ASCII digits: integers and durations -------------------------------------------------

ARABIC_THREE = "\u0663"  # ARABIC-INDIC DIGIT THREE: "3".isdigit() and int() both accept it
FULL_WIDTH_THREE = "\uff13"


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("30", 30), ("-2", -2), ("007", 7)])
def test_parse_int_accepted(text: str, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize(
    "text",
    [ARABIC_THREE, FULL_WIDTH_THREE, "1" + ARABIC_THREE, " 3", "3 ", "+3", "1_000", "", "-", "3.0",
     "1" * 5000],
)  # fmt: skip
def test_parse_int_refused(text: str) -> None:
    assert parse_int(text) is None


def test_int_alone_reads_unicode_digits() -> None:
    # why FakeSinch and the CLI parse through parse_int/parse_duration
    assert int(ARABIC_THREE) == int(FULL_WIDTH_THREE) == int(" 3") == 3
    assert float(ARABIC_THREE) == 3.0 and math.isinf(float("inf"))  # and why parse_float


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3.0), ("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("-2", -2.0), ("1e3", 1000.0),
     ("2.5E-1", 0.25)],
)  # fmt: skip
def test_parse_float_accepted(text: str, value: float) -> None:
    assert parse_float(text) == value


@pytest.mark.parametrize(
    "text",
    [ARABIC_THREE, FULL_WIDTH_THREE, "1" + ARABIC_THREE, "\u0661.\u0665", " 3", "3 ", "+3",
     "1_0", "inf", "-inf", "nan", "infinity", "1e999", "", ".", "-", "e3", "0x10", "1e"],
)  # fmt: skip
def test_parse_float_refused(text: str) -> None:
    assert parse_float(text) is None


@pytest.mark.parametrize(
    ("text", "delta"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
     ("0d", timedelta(0))],
)  # fmt: skip
def test_parse_duration(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize(
    "text",
    [ARABIC_THREE + "d", FULL_WIDTH_THREE + "h", "1" + ARABIC_THREE + "m", "3", "d", "3w",
     "-3d", "+3d", " 3d", "3d\n", "3D", "2026-01-01"],
)  # fmt: skip
def test_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_duration_too_long() -> None:
    with pytest.raises(SinchValidationError, match="too long"):
        parse_duration("9" * 30 + "d")


# --- counts, seconds, rates -----------------------------------------------------------------


def test_positive_int() -> None:
    assert check_positive_int(1, "n") == 1
    assert check_positive_int(None, "n", optional=True) is None
    for bad in (0, -1, True, 1.0, "1", None):
        with pytest.raises(SinchValidationError) as err:
            check_positive_int(bad, "n")
        assert err.value.field == "n"
    with pytest.raises(SinchConfigError, match=r"^n must be a positive integer, or None, got 0$"):
        check_positive_int(0, "n", optional=True, config=True)


def test_count() -> None:
    assert check_count(0, "max_rewalks") == 0
    assert check_count(3, "max_rewalks") == 3
    for bad in (-1, True, 1.0, "1", None):
        with pytest.raises(SinchValidationError, match="max_rewalks: must be a non-negative"):
            check_count(bad, "max_rewalks")


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, True, "1", None, -0.5])
def test_seconds_refused(bad: Any) -> None:
    with pytest.raises(SinchValidationError) as err:
        check_seconds(bad, "lease")
    assert err.value.field == "lease"
    refused = r"^lease must be a positive number of seconds, got "
    with pytest.raises(SinchConfigError, match=refused):
        check_seconds(bad, "lease", positive=True, config=True)


def test_seconds_accepted() -> None:
    assert check_seconds(0, "wait") == 0.0
    assert check_seconds(None, "wait", optional=True) is None
    assert check_seconds(0.1, "lease", minimum=0.1) == 0.1
    with pytest.raises(SinchValidationError, match=r"lease: must be a number of seconds >= 0\.1"):
        check_seconds(0.09, "lease", minimum=0.1)
    with pytest.raises(SinchConfigError):
        check_seconds(0, "ttl", positive=True, config=True)


def test_expiry_is_finite() -> None:
    assert check_expiry(1.5) == 1.5
    for bad in (math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match="expires_at"):  # a SinchValidationError
            check_expiry(bad)


def test_rate() -> None:
    assert check_rate(10) == (10.0, 5.0)
    assert check_rate(10, 3) == (10.0, 3.0)
    for bad in (0, -1, math.inf, math.nan, True, "5", None):
        with pytest.raises(SinchConfigError, match="messages_per_second"):
            check_rate(bad)
    for bad in (0, math.inf, True, "5"):
        with pytest.raises(SinchConfigError, match="burst"):
            check_rate(10, bad)


def test_limiter_key_parts_are_ascii_and_plain() -> None:
    assert check_owner_id("plan-1") == "plan-1"
    assert check_api_name("numbers") == "numbers"
    for owner in ("", "plan 1", "plan\t1", "plan\x7f", "plan\u00a01", "plan\u200b1", None):
        with pytest.raises(SinchConfigError, match="owner_id"):
            check_owner_id(owner)
    for api in ("\u77ed\u4fe1", "sms" + ARABIC_THREE, "1sms", "", "sms-2", None):
        with pytest.raises(SinchConfigError, match="api must be a name"):
            check_api_name(api)


def test_number_and_flags() -> None:
    assert check_number(0, "factor") == 0.0
    assert check_number(2, "factor", minimum=1) == 2.0
    for bad in (-1, math.inf, math.nan, True, "2", None):
        with pytest.raises(SinchConfigError, match=r"^RetryPolicy\.factor must be a number >= 0"):
            check_number(bad, "RetryPolicy.factor", config=True)
    assert check_bool(True, "flag") is True
    for bad in ("false", 0, None):
        with pytest.raises(SinchValidationError, match="flag: must be True or False"):
            check_bool(bad, "flag")
    for text in ("1", "true", "TRUE", "Yes", "on"):
        assert parse_bool(text) is True
    for text in ("0", "false", "False", "no", "OFF"):
        assert parse_bool(text) is False
    for text in ("", "2", "y", " true", "\uff54rue", ARABIC_THREE):
        assert parse_bool(text) is None


def test_retry_policy_and_deadline_use_the_home() -> None:
    """Issue 16 leftovers: the engine's deadline and RetryPolicy are checked by
    ``check_seconds``/``check_number``/``check_positive_int`` (same errors, same wording)."""
    for bad in (0, -1, math.inf, math.nan, True, "5"):
        with pytest.raises(SinchConfigError, match=r"^deadline must be a positive number of s"):
            RequestOptions(deadline=bad)
    assert RequestOptions(deadline=0.5).deadline == 0.5
    for field in ("base_delay", "max_delay", "max_retry_after"):
        for bad in (-1, math.inf, math.nan, True):
            with pytest.raises(SinchConfigError, match=rf"^RetryPolicy\.{field} must be a"):
                RetryPolicy(**{field: bad})
    for field in ("max_attempts", "max_send_posts"):
        for bad in (0, True, 1.5):
            with pytest.raises(SinchConfigError, match=rf"^RetryPolicy\.{field} must be a posi"):
                RetryPolicy(**{field: bad})
    with pytest.raises(SinchConfigError, match=r"^RetryPolicy\.factor must be a number >= 0"):
        RetryPolicy(factor=-0.5)
    assert RetryPolicy(base_delay=0, factor=0, max_send_posts=1).max_send_posts == 1


def test_update_call_shape() -> None:
    check_update_call(None, None, {"body": "x"})
    check_update_call(object(), None, {})
    with pytest.raises(SinchValidationError, match=r"^update: nothing to update$"):
        check_update_call(None, None, {})
    with pytest.raises(SinchValidationError, match="update record or keyword arguments, not"):
        check_update_call(object(), "mt_text", {})
    assert check_update_fields(None, ["body"]) is TextBatchUpdate
    assert check_update_fields("mt_binary", ["udh", "body"]) is BinaryBatchUpdate
    with pytest.raises(SinchValidationError, match=r"^type: unknown batch type 'mt_fax'$"):
        check_update_fields("mt_fax", [])
    with pytest.raises(SinchValidationError, match=r"^type: unknown batch type \['mt_text'\]$"):
        check_update_fields(["mt_text"], [])
    with pytest.raises(SinchValidationError, match="udh cannot be updated on a mt_text batch"):
        check_update_fields("mt_text", ["udh", "body"])


def test_int_from_the_server_is_ascii() -> None:
    assert _structure_int("12", int) == 12 and _structure_int("-3", int) == -3
    for text in (ARABIC_THREE, FULL_WIDTH_THREE, "--3", " 3", "1" * 5000):
        with pytest.raises(TypeError, match="expected an integer"):
            _structure_int(text, int)


def test_recipient_key_is_ascii_strict() -> None:
    """Reconciliation compares the numbers Sinch echoes by the SDK's one number rule: a
    Unicode digit is no digit (it used to be kept, and letters dropped only when
    ``isalpha``), so "+4670٣" never equals "+4670"."""
    assert _recipient_key("+46701234567") == _recipient_key("46701234567") == "46701234567"
    assert _recipient_key("0046 70-123 45 67") == "46701234567"
    assert _recipient_key("12345") == "12345"
    assert _recipient_key("01W4ffl35p4nc4k35smsgroup1") == "01W4FFL35P4NC4K35SMSGROUP1"
    odd = "+4670123456" + ARABIC_THREE
    assert _recipient_key(odd) == odd.upper() != _recipient_key("+4670123456")


# --- group ids and the message cost ---------------------------------------------------------


class _Sizes(SharedGroupSizes):
    """Group sizes whose shared store is a dict; records what it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, ...]] = []

    async def _fetch(self, group_ids: tuple[str, ...]) -> dict[str, int]:
        self.asked.append(group_ids)
        return {}

    async def _store(self, group_id: str, size: int | None) -> None:
        return None


def test_cost_asks_the_store_only_about_group_ids() -> None:
    """A recipient is a group id by the SDK's one rule (ASCII): the old test, "not
    ``lstrip('+').isdigit()``", took full-width letters and Unicode digits mixed with
    letters for group ids and asked the shared store about them."""
    group = "01W4FFL35P4NC4K35SMSGROUP1"
    recipients = [
        "+46701234567",
        "46701234567",
        "12345",
        group,
        "\uff56\uff49\uff50",  # full-width "vip"
        "vip" + ARABIC_THREE,
        ARABIC_THREE * 8,
    ]
    cost = _Sizes().cost(recipients)
    assert int(cost) == len(recipients)
    assert getattr(cost, "unknown", None) == (group,)


# --- the Numbers API's call shapes, campaign ids, request types ----------------------------


def test_filter_values() -> None:
    assert check_filter_values(None, "types") == []
    assert check_filter_values("SMS", "capabilities") == ["SMS"]
    assert check_filter_values(("SMS", "VOICE"), "capabilities") == ["SMS", "VOICE"]
    for bad in ("", [""], [None], 5, b"SMS"):
        with pytest.raises(SinchValidationError) as err:
            check_filter_values(bad, "capabilities")
        assert err.value.field == "capabilities"


def test_number_pattern_and_sms_link() -> None:
    assert check_number_pattern(None, None) is None
    assert check_number_pattern("1206", None) == ("1206", None)
    assert check_number_pattern("1206", "start") == ("1206", "START")
    for pattern, search, field in [
        (None, "START", "search_pattern"),
        ("", None, "number_pattern"),
        ("1206", "", "search_pattern"),
        ("1206", 3, "search_pattern"),
    ]:
        with pytest.raises(SinchValidationError) as err:
            check_number_pattern(pattern, search)
        assert err.value.field == field
    assert check_sms_link(None, None) is None
    assert check_sms_link("", None) == {"servicePlanId": ""}
    assert check_sms_link("p", "c") == {"servicePlanId": "p", "campaignId": "c"}
    with pytest.raises(SinchValidationError, match="sms_campaign_id: needs sms_service_plan_id"):
        check_sms_link(None, "c")


def test_campaign_and_request_type() -> None:
    assert check_campaign("c" * MAX_CAMPAIGN) == "c" * MAX_CAMPAIGN
    assert len(f"{'c' * MAX_CAMPAIGN}:{2**64}") <= C.MAX_CLIENT_REFERENCE
    for bad in ("", "c" * (MAX_CAMPAIGN + 1), None, 7):
        with pytest.raises(SinchConfigError, match="campaign must be"):
            check_campaign(bad)
    request = TextBatchRequest(to=("+46701234567",), body="x")
    assert check_request_type(request) is request
    with pytest.raises(SinchValidationError, match="request: expected a TextBatchRequest"):
        check_request_type({"to": []})
    with pytest.raises(SinchValidationError, match="requests: item 4 is a dict, not a Text"):
        check_request_type({}, "requests", index=4)


# --- structure: one home ------------------------------------------------------------------

PACKAGE = Path(sinch_async.__file__).resolve().parent
HOME = PACKAGE / "_validation.py"

#: ``str`` methods that accept digits and letters of every script.
UNICODE_TESTS = frozenset({"isdigit", "isdecimal", "isnumeric", "isidentifier", "isalnum"})

#: Digit tests that are not on caller input (file, function): each with its reason.
DIGIT_TESTS_ALLOWED = {
    # the signature timestamp header, as bytes: bytes.isdigit() is ASCII-only
    ("_callbacks.py", "_check"),
    # an incoming callback's Content-Length, only to refuse a body early (the body is
    # still counted as it is read)
    ("_asgi.py", "_http"),
    # HOST:PID in a ledger's lock file, written by the SDK itself
    ("_ledger.py", "_lock_holder"),
    # WORKER:N claim tokens the SDK wrote to Redis
    ("redis/_ledger.py", "_holder"),
    # send-bulk template placeholders name CSV columns, which may be in any script
    ("cli/_commands_bulk.py", "template_fields"),
}

#: Modules whose input checks all moved to ``_validation.py``: they raise none of their
#: own (file -> functions that may still raise, on stored or server data).
CHECKS_MOVED = {
    "numbers/_resource.py": {"_decode_page"},
    "_limits.py": set(),
    "redis/_limiter.py": set(),
    "redis/_ledger.py": set(),
    "redis/_nonces.py": set(),
    "redis/_checkpoint.py": {"load"},  # a key that holds no checkpoint: stored data
    "cli/_commands_sync.py": set(),
    "_wire.py": set(),
    "_pagination.py": set(),
    "resources/inbounds.py": set(),
    "resources/delivery_reports.py": set(),
    "resources/batches.py": set(),
    "_retry.py": set(),
    # sign_callback turns the verifier's unknown-algorithm error into a config error (the
    # rule is the verifier's); parse_callback's TypeError is for a keyword it no longer takes
    "_callbacks.py": {"sign_callback", "parse_callback"},
    # a checkpoint file or state that is not one a sync wrote (stored data), and
    # ``position`` asked for before any item (the sync's state, not an argument)
    "_sync.py": {
        "_open_nofollow",
        "_read",
        "load",
        "_check_state",
        "when",
        "_initial_state",
        "position",
    },
}
INPUT_ERRORS = frozenset({"SinchValidationError", "SinchConfigError", "ValueError", "TypeError"})


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Every node of ``tree`` -> the name of the innermost function holding it."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = (
                child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else name
            )
            owner[child] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return owner


def _sources() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != HOME
    ]


def test_no_unicode_digit_test_outside_the_home() -> None:
    """``str.isdigit()`` and friends take "٣" for a digit: a rule on caller input uses
    :func:`~sinch_async._validation.ascii_digits`, :func:`parse_int` or
    :func:`parse_duration` instead, in ``_validation.py``."""
    found = set()
    for name, tree in _sources():
        owner = _functions(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in UNICODE_TESTS
            ):
                found.add((name, owner[node], node.lineno))
    unexpected = sorted(f for f in found if f[:2] not in DIGIT_TESTS_ALLOWED)
    assert not unexpected, f"digit tests outside _validation.py: {unexpected}"


def test_moved_checks_raise_nothing_of_their_own() -> None:
    sources = dict(_sources())
    found = []
    for name, allowed in CHECKS_MOVED.items():
        tree = sources[name]
        owner = _functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            func = node.exc.func
            error = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if error in INPUT_ERRORS and owner[node] not in allowed:
                found.append((name, owner[node], node.lineno, error))
    assert not found, f"input checks outside _validation.py: {found}"
