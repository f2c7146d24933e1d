"""One set of scalar rules for both APIs: the same table through the SMS and the Numbers decode.

The probe records use one-word field names, so the same JSON is valid in the SMS (snake_case)
and the Numbers (camelCase) key style, and the table runs unchanged through
``sinch_async._converter.decode`` and ``sinch_async.numbers._converter.decode``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from sinch_async import SinchDecodeError, UndecodableItem
from sinch_async import _converter as sms_codec
from sinch_async.models import Batch, DeliveryStatus, MoText, TextBatch
from sinch_async.numbers import ActiveNumber, AvailableNumber, Money
from sinch_async.numbers import _converter as numbers_codec


@attrs.frozen
class Probe:
    name: str  # required
    note: str | None = None
    flag: bool | None = None
    count: int | None = None
    when: datetime | None = None
    amount: Decimal | None = None
    label: str = ""  # optional, with a default that is not None
    tags: tuple[str, ...] = ()
    ready: bool = False


@attrs.frozen
class EnumProbe:
    """Open enums apart, so a converter without them cannot spoil the other rows."""

    name: str
    status: DeliveryStatus | str | None = None


Decode = Callable[[bytes, Any], Any]
DECODERS: dict[str, Decode] = {
    "sms": lambda body, cls: sms_codec.decode(body, cls),
    "numbers": lambda body, cls: numbers_codec.decode(body, cls),
}


class Refused:
    """The row must fail with a SinchDecodeError whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Refused({self.text!r})"


# (field, JSON value or MISSING, expected attribute value or Refused)
MISSING = object()
TABLE: list[tuple[str, Any, Any]] = [
    # null: an optional field takes None (or its default); a required one is refused
    ("note", None, None),
    ("flag", None, None),
    ("count", None, None),
    ("when", None, None),
    ("amount", None, None),
    ("status", None, None),
    ("label", None, ""),
    ("tags", None, ()),
    ("ready", None, False),
    ("name", None, Refused("name: required field is null")),
    ("name", MISSING, Refused("name: required field is missing")),
    # booleans are JSON booleans only
    ("flag", True, True),
    ("flag", False, False),
    ("flag", "true", Refused("flag: expected a boolean")),
    ("flag", "false", Refused("flag: expected a boolean")),
    ("flag", 1, Refused("flag: expected a boolean")),
    ("ready", "true", Refused("ready: expected a boolean")),
    # money: a string or a number, read as Decimal(str(v)); never a float's binary value
    ("amount", "2.00", Decimal("2.00")),
    ("amount", 2.5, Decimal("2.5")),
    ("amount", 0.1, Decimal("0.1")),
    ("amount", 2, Decimal("2")),
    ("amount", "abc", Refused("amount: expected a decimal amount")),
    ("amount", "NaN", Refused("amount: expected a decimal amount")),
    ("amount", True, Refused("amount: expected a decimal amount")),
    ("amount", {"value": 1}, Refused("amount: expected a decimal amount")),
    # open enums: known values become members, unknown ones stay plain strings
    ("status", "Delivered", DeliveryStatus.DELIVERED),
    ("status", "Teleported", "Teleported"),
    ("status", 3, Refused("status: expected a string")),
    # integers, strings, datetimes, lists
    ("count", 12, 12),
    ("count", "12", 12),
    ("count", 3.0, 3),
    ("count", True, Refused("count: expected an integer")),
    ("count", 1.5, Refused("count: expected an integer")),
    ("name", 15551231234, "15551231234"),
    ("name", True, Refused("name: expected a string")),
    ("name", ["a"], Refused("name: expected a string")),
    ("when", "2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("when", "2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("when", "2023-09-22T15:49:58.813424Z", datetime(2023, 9, 22, 15, 49, 58, 813424, UTC)),
    ("when", 1700000000, Refused("when: expected an ISO-8601 string")),
    ("tags", ["SMS", "VOICE"], ("SMS", "VOICE")),
    ("tags", "SMS", Refused("tags: expected a list")),
    ("tags", ["SMS", None], Refused("tags[1]: expected a string, got null")),
]


def _row_id(row: tuple[str, Any, Any]) -> str:
    field, value, _ = row
    return f"{field}={'<missing>' if value is MISSING else repr(value)}"


def _body(field: str, value: Any) -> bytes:
    data: dict[str, Any] = {"name": "probe"}
    if value is MISSING:
        del data[field]
    else:
        data[field] = value
    return orjson.dumps(data)


def _record(field: str) -> type:
    return EnumProbe if field == "status" else Probe


@pytest.mark.parametrize("api", sorted(DECODERS))
@pytest.mark.parametrize("row", TABLE, ids=[_row_id(r) for r in TABLE])
def test_scalar_table(api: str, row: tuple[str, Any, Any]) -> None:
    field, value, expected = row
    body = _body(field, value)
    if isinstance(expected, Refused):
        with pytest.raises(SinchDecodeError) as err:
            DECODERS[api](body, _record(field))
        assert err.value.body == body and err.value.status == 200
        return
    got = getattr(DECODERS[api](body, _record(field)), field)
    assert got == expected
    assert type(got) is type(expected)


REFUSED = [r for r in TABLE if isinstance(r[2], Refused)]


@pytest.mark.parametrize("api", sorted(DECODERS))
@pytest.mark.parametrize("row", REFUSED, ids=[_row_id(r) for r in REFUSED])
def test_a_refusal_names_the_field_and_the_reason(api: str, row: tuple[str, Any, Any]) -> None:
    field, value, expected = row
    with pytest.raises(SinchDecodeError) as err:
        DECODERS[api](_body(field, value), _record(field))
    assert expected.text in str(err.value)


@pytest.mark.parametrize("api", sorted(DECODERS))
def test_unknown_fields_are_ignored(api: str) -> None:
    body = orjson.dumps({"name": "probe", "extra": {"nested": [1, 2]}, "newField": None})
    assert DECODERS[api](body, Probe) == Probe(name="probe")


# --- the same rules on the SDK's own records ------------------------------------------------


def test_numbers_required_string_null_is_refused_not_empty() -> None:
    with pytest.raises(SinchDecodeError, match="phoneNumber: required field is null"):
        numbers_codec.decode(b'{"phoneNumber": null, "regionCode": "US"}', ActiveNumber)


def test_numbers_list_item_null_is_refused_not_empty() -> None:
    body = b'{"phoneNumber": "+12025550134", "capability": ["SMS", null]}'
    with pytest.raises(SinchDecodeError, match=r"capability\[1\]"):
        numbers_codec.decode(body, ActiveNumber)


def test_numbers_null_boolean_and_null_strings_take_their_defaults() -> None:
    body = orjson.dumps(
        {"phoneNumber": "+12065550100", "supportingDocumentationRequired": None, "type": None}
    )
    number = numbers_codec.decode(body, AvailableNumber)
    assert number.supporting_documentation_required is False
    assert number.type == ""


def test_numbers_boolean_string_is_refused() -> None:
    body = b'{"phoneNumber": "+12065550100", "supportingDocumentationRequired": "true"}'
    with pytest.raises(SinchDecodeError):
        numbers_codec.decode(body, AvailableNumber)


def test_sms_boolean_string_is_refused() -> None:
    with pytest.raises(SinchDecodeError, match="canceled: expected a boolean"):
        sms_codec.decode(b'{"type": "mt_text", "id": "01B", "canceled": "true"}', Batch)


def test_sms_null_list_with_a_default_takes_the_default() -> None:
    batch = sms_codec.decode(b'{"type": "mt_text", "id": "01B", "to": null}', Batch)
    assert isinstance(batch, TextBatch) and batch.to == ()


def test_sms_required_string_null_is_a_decode_error() -> None:
    with pytest.raises(SinchDecodeError):
        sms_codec.decode(b'{"type": "mo_text", "id": null, "from": "+1", "to": "2"}', MoText)


@pytest.mark.parametrize(
    ("money", "amount"),
    [
        ({"currencyCode": "USD", "amount": "2.00"}, Decimal("2.00")),
        ({"currencyCode": "USD", "amount": 2.5}, Decimal("2.5")),
        ({"currencyCode": "USD", "amount": 3}, Decimal("3")),
        ({"currencyCode": "USD"}, None),
        ({"currencyCode": "USD", "amount": None}, None),
    ],
)
def test_numbers_money_amount(money: dict[str, Any], amount: Decimal | None) -> None:
    body = orjson.dumps({"phoneNumber": "+12025550134", "money": money})
    number = numbers_codec.decode(body, ActiveNumber)
    assert number.money == Money(currency_code="USD", amount=amount)


def test_sms_converter_reads_money_by_the_same_rules() -> None:
    # the SMS converter knows Decimal too: one set of scalar hooks
    body = b'{"currency_code": "EUR", "amount": 1.25}'
    assert sms_codec.decode(body, Money) == Money(currency_code="EUR", amount=Decimal("1.25"))
    assert sms_codec.decode(b'{"currency_code": "EUR"}', Money).amount is None


def test_nested_failure_names_its_path() -> None:
    body = orjson.dumps(
        {
            "phoneNumber": "+12025550134",
            "smsConfiguration": {"scheduledProvisioning": {"errorCodes": ["X", True]}},
        }
    )
    with pytest.raises(SinchDecodeError) as err:
        numbers_codec.decode(body, ActiveNumber)
    assert "smsConfiguration.scheduledProvisioning.errorCodes[1]: expected a string" in str(
        err.value
    )


def test_a_record_that_is_not_an_object_is_refused() -> None:
    # a record whose fields all have defaults must still refuse a string or a list (a plain
    # ``key in value`` test would read "abc" as an object without any of its keys)
    errors = []
    for value in ("abc", "servicePlanId", ["servicePlanId"], 7):
        body = orjson.dumps({"phoneNumber": "+12025550134", "smsConfiguration": value})
        with pytest.raises(SinchDecodeError) as err:
            numbers_codec.decode(body, ActiveNumber)
        errors.append(str(err.value))
    assert all("smsConfiguration: SmsConfiguration needs a JSON object" in e for e in errors)


def test_page_item_failure_names_the_item() -> None:
    body = (
        b'{"count": 2, "page": 0, "inbounds": [{"type": "mo_text", "id": "a", "from": "1",'
        b' "to": "2"}, {"type": "mo_text", "id": "b", "from": null, "to": "2"}]}'
    )
    # the item does not fail the page: it is in its place, for the pager to raise or skip
    page = sms_codec.decode_page(body, "inbounds", MoText)
    good, bad = page.items
    assert isinstance(good, MoText) and good.id == "a"
    assert isinstance(bad, UndecodableItem) and isinstance(bad, SinchDecodeError)
    assert re.search(r"inbounds\[1\]\.from: required field is null", str(bad))
    assert (bad.index, bad.raw["id"], bad.body) == (1, "b", body)


def test_structure_raises_a_value_error_not_a_bare_key_error() -> None:
    for structure, data in (
        (numbers_codec.structure, {"regionCode": "US"}),
        (sms_codec.structure, {"type": "mo_text", "from": "1", "to": "2"}),
    ):
        with pytest.raises(ValueError, match="required field is missing") as err:
            structure(data, ActiveNumber if structure is numbers_codec.structure else MoText)
        assert not isinstance(err.value, KeyError | TypeError)
