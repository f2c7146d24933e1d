"""SMS recipients are built on the strict E.164 core, ASCII digits only, and FakeSinch
never refuses a number the SDK sends (issue 16, points 9 and 11)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_async import SinchClient, SinchValidationError
from sinch_async._validation import (
    ascii_digits,
    check_e164,
    check_recipients,
    is_e164,
    normalize_number,
)
from sinch_async.testing._validation import is_msisdn

BATCH = "01FC66621XXXXX119Z8PMV1QPQ"
GROUP = "01W4FFL35P4NC4K35SMSGROUP1"

ARABIC = 0x0660  # ARABIC-INDIC DIGIT ZERO
FULL_WIDTH = 0xFF10  # FULLWIDTH DIGIT ZERO


def shifted(text: str, zero: int) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return text.translate({ord("0") + i: zero + i for i in range(10)})


ARABIC_INDIC = shifted("+46701234567", ARABIC)  # "+٤٦٧٠١٢٣٤٥٦٧"
UNICODE_NUMBERS = [
    ARABIC_INDIC,
    ARABIC_INDIC[1:],  # without the '+'
    "00" + shifted("46701234567", ARABIC),  # the 00 prefix, then Unicode digits
    shifted("+46 70 123 45 67", ARABIC),  # with separators
    shifted("+46701234567", FULL_WIDTH),
    shifted("12345", ARABIC),  # a "short code"
    "+4670123456" + shifted("7", ARABIC),  # one digit only
    "+1\u00b234567890",  # a superscript two: str.isdigit() says True
]

Op = Callable[[SinchClient, str], Awaitable[Any]]
RECIPIENT_CALLS: list[tuple[str, Op, str]] = [
    ("send_text", lambda c, n: c.batches.send_text(to=[n], body="x"), "to"),
    ("update-to_add", lambda c, n: c.batches.update(BATCH, to_add=[n]), "to_add"),
    (
        "delivery_feedback",
        lambda c, n: c.batches.send_delivery_feedback(BATCH, [n]),
        "recipients",
    ),
    (
        "recipient_report",
        lambda c, n: c.delivery_reports.get_for_recipient(BATCH, n),
        "recipient",
    ),
    ("group-members", lambda c, n: c.groups.create(members=[n]), "members"),
    ("group-add", lambda c, n: c.groups.update(GROUP, add=[n]), "add"),
]


@pytest.mark.parametrize("number", UNICODE_NUMBERS)
def test_unicode_digits_are_not_numbers(number: str) -> None:
    assert normalize_number(number) is None
    with pytest.raises(SinchValidationError):
        check_recipients([number])


@pytest.mark.parametrize("number", UNICODE_NUMBERS)
@pytest.mark.parametrize(
    ("name", "op", "field"), RECIPIENT_CALLS, ids=[name for name, _, _ in RECIPIENT_CALLS]
)
async def test_unicode_digits_are_refused_before_sending(
    offline_client: SinchClient, name: str, op: Op, field: str, number: str
) -> None:
    with pytest.raises(SinchValidationError) as err:
        await op(offline_client, number)
    assert err.value.field == field, name


@pytest.mark.parametrize("number", UNICODE_NUMBERS)
def test_unicode_digits_in_list_filters(offline_client: SinchClient, number: str) -> None:
    with pytest.raises(SinchValidationError):
        offline_client.inbounds.list(to=[number])
    with pytest.raises(SinchValidationError):
        offline_client.batches.list(from_=[number])


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("+46701234567", "+46701234567"),
        ("0046701234567", "+46701234567"),
        ("+46 (70) 123-45.67", "+46701234567"),
        ("46701234567", "46701234567"),  # the SMS API takes the digits without '+'
        ("+1234567", "+1234567"),
        ("+123456789012345", "+123456789012345"),
        ("911", "911"),  # short codes: 3..8 digits, no '+'
        ("12345678", "12345678"),
    ],
)
def test_sms_numbers_accepted(given: str, sent: str) -> None:
    assert normalize_number(given) == sent


@pytest.mark.parametrize(
    "given",
    ["+123456", "+1234567890123456", "+0701234567", "0012", "12", "+911", "00+46701234567"],
)
def test_sms_numbers_refused(given: str) -> None:
    assert normalize_number(given) is None


def test_sms_and_numbers_share_the_core() -> None:
    # The same 7..15-digit rule, whichever API: the bounds are the same on both sides.
    for digits in ("1" * 6, "1" * 7, "1" * 15, "1" * 16):
        assert (normalize_number("+" + digits) is not None) == is_e164("+" + digits)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=24))
def test_normalised_numbers_are_ascii_and_e164(text: str) -> None:
    number = normalize_number(text)
    if number is None:
        return
    assert number.isascii()
    if number.startswith("+"):
        assert is_e164(number)
    else:
        assert ascii_digits(number, 3, 15)
    # What the SDK sends, FakeSinch accepts: the fake never refuses a number's digits.
    assert is_msisdn(number)
    assert normalize_number(number) == number  # canonical: normalising again changes nothing


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_every_e164_number_passes_both_apis(number: str) -> None:
    assert check_e164(number) == number
    assert normalize_number(number) == number
    assert is_msisdn(number)


@given(
    st.text(
        alphabet="0123456789+" + shifted("0123456789", ARABIC) + shifted("0123", FULL_WIDTH),
        min_size=1,
        max_size=17,
    )
)
def test_numbers_with_a_non_ascii_digit_never_pass(text: str) -> None:
    if text.isascii():
        return
    assert not is_e164(text)
    assert normalize_number(text) is None
    assert not is_msisdn(text)
