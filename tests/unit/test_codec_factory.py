"""``make_converter`` builds independent, fully configured converters (no shared global)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sinch_async import _converter as sms_codec
from sinch_async._converter import SinchConverter, make_converter
from sinch_async.models import MoText, TextBatch, TextBatchRequest
from sinch_async.numbers import ActiveNumber, Money, SmsConfiguration
from sinch_async.numbers import _converter as numbers_codec


def test_every_call_builds_a_new_converter() -> None:
    a, b = make_converter(), make_converter()
    assert a is not b
    assert isinstance(a, SinchConverter) and isinstance(b, SinchConverter)
    assert a is not sms_codec.converter and a is not numbers_codec.converter


def test_configuring_one_converter_leaves_the_others_alone() -> None:
    a, b = make_converter("snake"), make_converter("snake")
    a.register_structure_hook(str, lambda value, _: "changed")
    a.register_unstructure_hook(Decimal, lambda value: "changed")
    assert a.structure("x", str) == "changed"
    for other in (b, sms_codec.converter, numbers_codec.converter):
        assert other.structure("x", str) == "x"
        assert other.unstructure(Decimal("1.50")) == "1.50"
    # and the records built from those hooks
    data = {"type": "mo_text", "id": "01A", "from": "+1", "to": "2"}
    assert b.structure(data, MoText).id == "01A"
    assert sms_codec.structure(data, MoText).id == "01A"


def test_a_fresh_converter_equals_the_module_one() -> None:
    # the module-level converters are the factory's output, not configured further afterwards
    data = {
        "type": "mo_text",
        "id": "01A",
        "from": "+1",
        "to": "2",
        "received_at": "2026-01-02T03:04:05Z",
    }
    assert make_converter("snake").structure(data, MoText) == sms_codec.structure(data, MoText)
    number = {"phoneNumber": "+12025550134", "money": {"currencyCode": "USD", "amount": "2"}}
    assert make_converter("camel").structure(number, ActiveNumber) == numbers_codec.structure(
        number, ActiveNumber
    )
    assert sms_codec.converter.keys == "snake" and numbers_codec.converter.keys == "camel"


def test_key_styles() -> None:
    snake, camel = make_converter("snake"), make_converter("camel")
    request = TextBatchRequest(to=["+15550000001"], body="hi", from_="Sinch")
    assert snake.unstructure(request) == {
        "to": ["+15550000001"],
        "body": "hi",
        "from": "Sinch",
        "type": "mt_text",
    }
    config = SmsConfiguration(service_plan_id="plan", campaign_id="")
    assert camel.unstructure(config) == {"servicePlanId": "plan", "campaignId": ""}
    assert camel.structure({"servicePlanId": "plan"}, SmsConfiguration) == SmsConfiguration("plan")
    # snake omits every field at its default; camel only those at a None default
    assert snake.unstructure(TextBatch(id="01B")) == {"id": "01B", "type": "mt_text"}
    assert camel.unstructure(Money("USD")) == {"currencyCode": "USD"}
    assert camel.unstructure(Money("USD", Decimal("2.00"))) == {
        "currencyCode": "USD",
        "amount": "2.00",
    }


def test_the_same_scalar_hooks_in_both_styles() -> None:
    snake, camel = make_converter("snake"), make_converter("camel")
    for conv in (snake, camel):
        assert conv.structure(2.5, Decimal) == Decimal("2.5")
        assert conv.structure(None, bool | None) is None  # type: ignore[arg-type]
        assert conv.structure("2026-01-02T03:04:05Z", datetime) == datetime(
            2026, 1, 2, 3, 4, 5, tzinfo=UTC
        )
        with pytest.raises(TypeError, match="expected a boolean"):
            conv.structure("true", bool)
        with pytest.raises(TypeError, match="expected a string, got null"):
            conv.structure(None, str)


def test_an_unknown_key_style_is_refused() -> None:
    with pytest.raises(ValueError, match="snake"):
        make_converter("kebab")  # type: ignore[arg-type]


def test_unknown_types_carry_the_fields_every_member_has() -> None:
    """A batch or inbound of a type this SDK does not know keeps ``raw`` whole (what is
    encoded back) and decodes the fields every batch/inbound has (issue 17, section 5)."""
    from sinch_async._converter import SinchDecodeError, decode
    from sinch_async.models import Batch, Inbound, UnknownBatch, UnknownInbound

    raw = {
        "type": "mt_hologram",
        "id": "01X",
        "to": ["+46701234567"],
        "from": "Acme",
        "canceled": False,
        "created_at": "2026-01-02T03:04:05.678Z",
        "client_reference": "ref-1",
        "beam": {"power": 1},
    }
    batch = sms_codec.converter.structure(raw, Batch)
    assert isinstance(batch, UnknownBatch)
    assert (batch.id, batch.to, batch.from_, batch.client_reference) == (
        "01X",
        ("+46701234567",),
        "Acme",
        "ref-1",
    )
    assert batch.created_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert batch.canceled is False and batch.send_at is None
    assert sms_codec.converter.unstructure(batch) == raw  # nothing dropped or added

    inbound = sms_codec.converter.structure(
        {"type": "mo_future", "id": "i1", "from": "+46701234567", "to": "12345", "x": 1},
        Inbound,
    )
    assert isinstance(inbound, UnknownInbound)
    assert (inbound.from_, inbound.to, inbound.received_at) == ("+46701234567", "12345", None)
    # the common fields follow the usual rules: a broken one is a typed decode error
    with pytest.raises(SinchDecodeError):
        decode(b'{"type": "mt_hologram", "id": "01X", "created_at": "yesterday"}', Batch)
