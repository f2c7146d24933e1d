"""The Numbers API's phone-number check: the strict E.164 core of ``_validation.py``.

Issue 16 (point 11): the check used ``str.isdigit``, so Unicode digits (Arabic-Indic,
full-width, ...) went out raw in the URL path; it also took 1..15 digits and a leading 0,
while the SMS checks took 7..15. Now both use :func:`sinch_async._validation.is_e164`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sinch_async import SinchClient, SinchValidationError
from sinch_async._validation import check_e164, is_e164
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
