"""The Numbers API's phone-number check: the strict E.164 core of ``_validation.py``.

Issue 16 (point 11): the check used ``str.isdigit``, so Unicode digits (Arabic-Indic,
full-width, ...) went out raw in the URL path; it also took 1..15 digits and a leading 0,
while the SMS checks took 7..15. Now both use :func:`sinch_async._validation.is_e164`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sinch_async import SinchClient, SinchConfigError, SinchValidationError
from sinch_async._validation import (
    check_capabilities,
    check_e164,
    check_hmac_secret,
    check_number_type,
    check_number_types,
    check_numbers_auth,
    check_order_by,
    check_region_code,
    check_voice_configuration,
    is_e164,
)
from sinch_async.numbers import (
    EstVoiceConfiguration,
    FaxVoiceConfiguration,
    RtcVoiceConfiguration,
    UnknownVoiceConfiguration,
)
from sinch_async.testing import FakeSinch
from sinch_async.testing._validation import check_phone_number

Op = Callable[[SinchClient, str], Awaitable[Any]]

#: Every Numbers call that puts a phone number in its path.
PATH_CALLS: list[tuple[str, Op]] = [
    ("get", lambda c, n: c.numbers.get(n)),
    ("update", lambda c, n: c.numbers.update(n, display_name="x")),
    ("release", lambda c, n: c.numbers.release(n)),
    ("check_availability", lambda c, n: c.numbers.check_availability(n)),
    ("rent", lambda c, n: c.numbers.rent(n)),
    ("wait_provisioned", lambda c, n: c.numbers.wait_provisioned(n)),
    (
        "update-voice",
        lambda c, n: c.numbers.update(n, voice_configuration=RtcVoiceConfiguration("a")),
    ),
]


def shifted(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return text.translate({ord("0") + i: zero + i for i in range(10)})


ARABIC_INDIC = shifted("+46701234567", 0x0660)  # "+٤٦٧٠١٢٣٤٥٦٧"
EXTENDED_ARABIC = shifted("+46701234567", 0x06F0)  # Persian digits
FULL_WIDTH = shifted("+46701234567", 0xFF10)
DEVANAGARI = shifted("+46701234567", 0x0966)

UNICODE_DIGITS = [ARABIC_INDIC, EXTENDED_ARABIC, FULL_WIDTH, DEVANAGARI]
NOT_E164 = [
    "46701234567",  # no '+'
    "+0701234567",  # no country code starts with 0
    "+123456",  # 6 digits: shorter than any number in service
    "+1234567890123456",  # 16 digits: E.164 allows 15
    "+",
    "",
    "+4670-123",  # the Numbers check normalises whitespace only
    "++46701234567",
    "+46701234567\x00",
    "+1\u00b234567890",  # a superscript two: str.isdigit() says True
]


@pytest.mark.parametrize("number", UNICODE_DIGITS)
def test_unicode_digits_are_not_e164(number: str) -> None:
    assert number[1:].isdigit()  # what the old check relied on
    assert not is_e164(number)
    with pytest.raises(SinchValidationError) as err:
        check_e164(number)
    assert err.value.field == "phone_number"


@pytest.mark.parametrize("number", NOT_E164)
def test_not_e164(number: str) -> None:
    assert not is_e164(number)
    with pytest.raises(SinchValidationError):
        check_e164(number)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("+46701234567", "+46701234567"),
        ("+1234567", "+1234567"),  # 7 digits (e.g. Niue: +683 and 4 digits)
        ("+123456789012345", "+123456789012345"),  # 15 digits
        (" +46 70 123 45 67\n", "+46701234567"),  # whitespace is dropped
    ],
)
def test_e164_accepted(given: str, sent: str) -> None:
    assert check_e164(given) == sent


def test_not_a_string() -> None:
    with pytest.raises(SinchValidationError, match="must be a string"):
        check_e164(46701234567)


@pytest.mark.parametrize("number", [*UNICODE_DIGITS, "+123456", "+0701234567"])
@pytest.mark.parametrize(("name", "op"), PATH_CALLS, ids=[name for name, _ in PATH_CALLS])
async def test_numbers_calls_refuse_before_sending(name: str, op: Op, number: str) -> None:
    async with FakeSinch() as fake:
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            with pytest.raises(SinchValidationError) as err:
                await op(client, number)
            assert err.value.field == "phone_number"
        assert not [r for r in fake.requests if r.path.startswith("/v1/")], name


async def test_numbers_path_carries_the_ascii_number() -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            spaced = f"{number[:2]} {number[2:5]} {number[5:]}"
            got = await client.numbers.get(spaced)
            assert got.phone_number == number
        (request,) = [r for r in fake.requests if r.path.startswith("/v1/")]
        assert request.path.endswith(f"/activeNumbers/{number}")


def test_fake_holds_only_numbers_the_sdk_can_address() -> None:
    # FakeSinch's own check for Numbers API numbers is the SDK's strict core.
    assert check_phone_number("+12025550134") == "+12025550134"
    for number in [*UNICODE_DIGITS, "+123456", "+0701234567", "12025550134"]:
        with pytest.raises(ValueError):
            check_phone_number(number)


# --- enum inputs, region codes, voice configuration, secrets (issue 18, point 5) -------------


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("local", "LOCAL"),
        ("Mobile", "MOBILE"),
        ("toll_free", "TOLL_FREE"),
        ("toll-free", "TOLL_FREE"),
        ("TollFree", "TOLL_FREE"),
        (" LOCAL ", "LOCAL"),
        ("GEOGRAPHIC", "GEOGRAPHIC"),  # open enum: an unknown value goes out as given
    ],
)
def test_number_type_in_any_case(given: str, sent: str) -> None:
    assert check_number_type(given) == sent
    assert check_number_types([given, "mobile"]) == [sent, "MOBILE"]


def test_capabilities_order_by_and_region_codes() -> None:
    assert check_capabilities("sms") == ["SMS"]
    assert check_capabilities(["Voice", "sms", "MMS"]) == ["VOICE", "SMS", "MMS"]
    assert check_capabilities(None) == []
    for given in ("phoneNumber", "phone_number", "PHONE_NUMBER", "phonenumber"):
        assert check_order_by(given) == "phoneNumber"
    assert check_order_by("display_name") == "displayName"
    assert check_order_by(None) is None
    assert check_region_code("us") == "US" and check_region_code("Gb") == "GB"
    assert check_region_code("usa") == "usa"  # not two letters: as given (Sinch decides)
    for bad in ("", None, 3):
        with pytest.raises(SinchValidationError):
            check_number_type(bad)
        with pytest.raises(SinchValidationError):
            check_region_code(bad)
    with pytest.raises(SinchValidationError) as err:
        check_order_by("")
    assert err.value.field == "order_by"


def test_voice_configuration_wire_objects() -> None:
    assert check_voice_configuration(None) is None
    assert check_voice_configuration(RtcVoiceConfiguration("a")) == {"type": "RTC", "appId": "a"}
    assert check_voice_configuration(EstVoiceConfiguration("t")) == {"type": "EST", "trunkId": "t"}
    assert check_voice_configuration(FaxVoiceConfiguration("f")) == {
        "type": "FAX",
        "serviceId": "f",
    }
    unknown = UnknownVoiceConfiguration("SIP", {"sipUri": "sip:x@y"})
    assert check_voice_configuration(unknown) == {"type": "SIP", "sipUri": "sip:x@y"}
    for bad in (RtcVoiceConfiguration(""), UnknownVoiceConfiguration("SIP"), object(), {}):
        with pytest.raises(SinchValidationError):
            check_voice_configuration(bad)


@pytest.mark.parametrize(
    "raw",
    [
        {"appId": "a1"},  # an older response: no type (RTC)
        {"appId": "a1", "scheduledVoiceProvisioning": {"appId": "a2", "status": "WAITING"}},
        {"type": "EST", "trunkId": "t1"},
        {"type": "FAX", "serviceId": "f1", "scheduledVoiceProvisioning": {"status": "FAILED"}},
    ],
)
def test_voice_configuration_round_trips_without_adding_a_type(raw: dict[str, Any]) -> None:
    from sinch_async.numbers._converter import structure, unstructure
    from sinch_async.numbers._models import VoiceConfiguration

    decoded = structure(raw, VoiceConfiguration)
    assert unstructure(decoded) == raw
    if "type" not in raw:
        assert decoded.type is None and decoded.target == RtcVoiceConfiguration("a1")
        scheduled = decoded.scheduled_voice_provisioning
        assert scheduled is None or (
            scheduled.type is None and scheduled.target == RtcVoiceConfiguration("a2")
        )


def test_hmac_secret_and_numbers_auth() -> None:
    assert check_hmac_secret("a" * 32) == "a" * 32
    assert check_hmac_secret("A-9" * 21 + "x") == "A-9" * 21 + "x"  # 64
    for bad in ("a" * 31, "a" * 65, "a" * 31 + "_", "a" * 31 + "\u0663"):
        with pytest.raises(SinchValidationError) as err:
            check_hmac_secret(bad)
        assert bad not in str(err.value)
    assert check_numbers_auth("OAuth") == "oauth" and check_numbers_auth(" basic") == "basic"
    with pytest.raises(SinchConfigError, match="numbers_auth"):
        check_numbers_auth("bearer")
    with pytest.raises(SinchValidationError):
        check_numbers_auth(None, config=False)
