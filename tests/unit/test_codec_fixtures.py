"""Every official fixture round-trips through converters fresh from ``make_converter``.

``tests/unit/test_fixtures.py`` checks the module-level SMS entry points; this checks that a
converter built by the factory (the same one for every API) decodes each fixture to the very
same record and writes back the same JSON. Numbers has no vendored fixtures: the reference's
own examples (``../shared/docs/sinch-numbers-api.md`` section 7) and FakeSinch's records stand
in for them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson

from sinch_async import SinchDecodeError, models
from sinch_async import _converter as sms_codec
from sinch_async._converter import decode_with, make_converter
from sinch_async.numbers import ActiveNumber, AvailableNumber, AvailableRegion
from sinch_async.numbers import _converter as numbers_codec
from sinch_async.testing._numbers import NumbersStore
from tests.support.paths import anchors_dir

SNAKE = make_converter("snake")
CAMEL = make_converter("camel")

# every record type a fixture can be (a fixture names its kind, the test does not classify it)
RECORD_TYPES: list[Any] = [
    getattr(models, name)
    for name in models.__all__
    if name not in ("CLEAR", "Clear", "Page")
    and (attrs.has(getattr(models, name)) or name in ("Batch", "Inbound"))
]
ITEMS = {
    "batches": models.Batch,
    "delivery_reports": models.RecipientDeliveryReport,
    "groups": models.Group,
    "inbounds": models.Inbound,
}


def _expected(data: Any) -> Any:
    """The JSON a record writes back: ``auto_update.to`` sent as a number comes back a string
    (the quirk test_fixtures.py names)."""
    if isinstance(data, dict):
        out = {k: _expected(v) for k, v in data.items()}
        auto = out.get("auto_update")
        if isinstance(auto, dict) and isinstance(auto.get("to"), int):
            out["auto_update"] = {**auto, "to": str(auto["to"])}
        return out
    if isinstance(data, list):
        return [_expected(v) for v in data]
    return data


def _outcome(conv: Any, raw: bytes, cls: Any) -> Any:
    try:
        return decode_with(conv, raw, cls)
    except SinchDecodeError:
        return SinchDecodeError


def _fixture_files() -> list[str]:
    root = anchors_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))


def test_every_sms_fixture_decodes_the_same_through_a_fresh_converter() -> None:
    root = anchors_dir()
    files = _fixture_files()
    assert len(files) >= 50
    for rel in files:
        raw = (root / rel).read_bytes()
        data = orjson.loads(raw)
        key = next((k for k in ITEMS if isinstance(data.get(k), list)), None)
        if key is not None:  # a list page: item by item
            page = sms_codec.decode_page(raw, key, ITEMS[key])
            fresh = [decode_with(SNAKE, orjson.dumps(item), ITEMS[key]) for item in data[key]]
            assert fresh == list(page.items), rel
            assert [orjson.loads(orjson.dumps(SNAKE.unstructure(r))) for r in fresh] == _expected(
                data[key]
            ), rel
            continue
        round_trips = []
        for cls in RECORD_TYPES:
            fresh = _outcome(SNAKE, raw, cls)
            assert fresh == _outcome(sms_codec.converter, raw, cls), (rel, cls)
            if fresh is not SinchDecodeError and (
                orjson.loads(orjson.dumps(SNAKE.unstructure(fresh))) == _expected(data)
            ):
                round_trips.append(cls)
        assert round_trips, f"{rel} round-trips as no record type"


REFERENCE_ACTIVE = {
    "phoneNumber": "+12025550134",
    "projectId": "51bc3f40-f266-4ca8-8938-a1ed0ff32b9a",
    "displayName": "string",
    "regionCode": "US",
    "type": "MOBILE",
    "capability": ["SMS"],
    "money": {"currencyCode": "USD", "amount": "2.00"},
    "paymentIntervalMonths": 0,
    "nextChargeDate": "2019-08-24T14:15:22Z",
    "expireAt": "2019-08-24T14:15:22Z",
    "smsConfiguration": {
        "servicePlanId": "plan",
        "scheduledProvisioning": {
            "servicePlanId": "plan",
            "campaignId": "",
            "status": "WAITING",
            "lastUpdatedTime": "2023-09-22T15:49:58.813424Z",
            "errorCodes": ["ERROR_CODE_UNSPECIFIED"],
        },
        "campaignId": "",
    },
    "voiceConfiguration": {
        "appId": "app",
        "scheduledVoiceProvisioning": {
            "type": "RTC",
            "appId": "app",
            "status": "IN_PROGRESS",
            "lastUpdatedTime": "2023-09-25T12:08:02.115Z",
        },
        "lastUpdatedTime": "2023-09-25T12:08:02.115Z",
        "type": "RTC",
    },
    "callbackUrl": "https://www.your-callback-server.com/callback",
}


def _same_json(a: Any, b: Any) -> bool:
    """Equal JSON, timestamps compared as instants (the SDK writes ``...Z`` its own way)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str) and a[:2] in ("19", "20") and "T" in a:
        from sinch_async._wire import parse_datetime

        return parse_datetime(a) == parse_datetime(b)
    return bool(a == b)


def test_numbers_reference_example_round_trips() -> None:
    number = decode_with(CAMEL, orjson.dumps(REFERENCE_ACTIVE), ActiveNumber)
    assert number == numbers_codec.structure(REFERENCE_ACTIVE, ActiveNumber)
    assert number.money is not None and number.money.amount == Decimal("2.00")
    assert _same_json(CAMEL.unstructure(number), REFERENCE_ACTIVE)


def test_numbers_fake_records_round_trip() -> None:
    store = NumbersStore("project", lambda token: None)
    (active,) = store.seed_active(1)
    (available,) = store.seed_available(1)
    for record, cls in (
        (store.active[active], ActiveNumber),
        (store.available[available], AvailableNumber),
        ({"regionCode": "AU", "regionName": "Australia", "types": ["MOBILE"]}, AvailableRegion),
    ):
        decoded = CAMEL.structure(record, cls)
        expected = {k: v for k, v in record.items() if v is not None}
        assert _same_json(CAMEL.unstructure(decoded), expected)
        assert CAMEL.structure(CAMEL.unstructure(decoded), cls) == decoded


def test_numbers_scheduled_provisioning_without_a_status_round_trips() -> None:
    """A scheduled provisioning (SMS or voice) that Sinch sent without ``status`` or
    ``type`` encodes back without them (they decoded to ``""`` and came back as keys)."""
    from sinch_async.numbers import ScheduledSmsProvisioning, ScheduledVoiceProvisioning

    sms = {"servicePlanId": "plan-1", "campaignId": "c-1"}
    voice = {"appId": "app-1"}
    decoded_sms = numbers_codec.structure(sms, ScheduledSmsProvisioning)
    decoded_voice = numbers_codec.structure(voice, ScheduledVoiceProvisioning)
    assert decoded_sms.status is None and decoded_sms.pending and not decoded_sms.failed
    assert decoded_voice.status is None and decoded_voice.pending
    encoded_sms = CAMEL.unstructure(decoded_sms)
    assert "status" not in encoded_sms and encoded_sms["servicePlanId"] == "plan-1"
    assert CAMEL.unstructure(decoded_voice) == voice
