"""Numbers API errors and billable calls: ``err.details`` (reference §8.1) on a 404 and a
400; rent / rent any / release are retried only when Sinch certainly did not process them
(a 429), never after a 5xx or a timeout."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from sinch_async import (
    BadRequestError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SinchTimeoutError,
    Timeouts,
)
from sinch_async.numbers import NumbersResource
from sinch_async.testing import FakeSinch, Fault
from tests.support.virtual_time import VirtualTime

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


def numbers_path(fake: FakeSinch, tail: str) -> str:
    return f"/v1/projects/{fake.project_id}{tail}"


def posts(fake: FakeSinch, suffix: str) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith(suffix))


# --- err.details ------------------------------------------------------------------------------


async def test_a_numbers_404_exposes_its_resource_info_details(fake: FakeSinch) -> None:
    async with fake.project_client(retry=FAST) as client:
        with pytest.raises(NotFoundError) as raised:
            await client.numbers.get("+12025550199")
    (info,) = raised.value.details
    assert info["type"] == "ResourceInfo" and info["resourceName"] == "+12025550199"
    assert isinstance(raised.value.details, tuple)


async def test_a_numbers_400_exposes_its_field_violations(fake: FakeSinch) -> None:
    violation = {"field": "regionCode", "description": "unknown region"}
    body = {
        "error": {
            "code": 400,
            "message": "invalid argument",
            "status": "INVALID_ARGUMENT",
            "details": [{"type": "BadRequest", "fieldViolations": [violation]}],
        }
    }
    fake.add_fault(
        Fault(method="GET", path=numbers_path(fake, "/availableRegions"), status=400, body=body)
    )
    async with fake.project_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as raised:
            await client.numbers.regions()
    (bad,) = raised.value.details
    assert bad["type"] == "BadRequest" and bad["fieldViolations"] == [violation]
    assert raised.value.code == "INVALID_ARGUMENT" and raised.value.text == "invalid argument"


async def test_an_sms_error_has_no_details(fake: FakeSinch) -> None:
    async with fake.client(retry=FAST) as client:
        with pytest.raises(NotFoundError) as raised:
            await client.batches.get("01ABSENT")
    assert raised.value.details == ()


# --- billable calls: what is retried ------------------------------------------------------


@pytest.mark.parametrize("retry_after", [None, "0"])
async def test_a_429_on_rent_is_retried_and_rents_once(
    fake: FakeSinch, retry_after: str | None
) -> None:
    """A 429 means Sinch did not process the rent: retried, one number rented."""
    (number,) = fake.numbers.seed_available(1)
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    fake.add_fault(
        Fault(
            method="POST",
            path=numbers_path(fake, "/availableNumbers/*"),
            status=429,
            headers=headers,
            times=1,
        )
    )
    async with fake.project_client(retry=FAST) as client:
        rented = await client.numbers.rent(number)
    assert rented.phone_number == number
    assert posts(fake, ":rent") == 2
    assert list(fake.numbers.active) == [number] and fake.numbers.available == {}


async def test_a_429_on_release_and_rent_any_is_retried(fake: FakeSinch) -> None:
    fake.numbers.seed_available(1)
    for tail in ("/availableNumbers:rentAny", "/activeNumbers/*"):
        fake.add_fault(Fault(method="POST", path=numbers_path(fake, tail), status=429, times=1))
    async with fake.project_client(retry=FAST) as client:
        rented = await client.numbers.rent_any(region_code="US", number_type="LOCAL")
        await client.numbers.release(rented.phone_number)
    assert posts(fake, ":rentAny") == 2 and posts(fake, ":release") == 2
    assert fake.numbers.active == {}


async def test_a_500_on_rent_is_not_retried(fake: FakeSinch) -> None:
    (number,) = fake.numbers.seed_available(1)
    fake.add_fault(
        Fault(method="POST", path=numbers_path(fake, "/availableNumbers/*"), status=500, times=1)
    )
    async with fake.project_client(retry=FAST) as client:
        with pytest.raises(ServerError):
            await client.numbers.rent(number)
    assert posts(fake, ":rent") == 1


async def test_a_too_long_retry_after_on_rent_fails_without_a_retry(fake: FakeSinch) -> None:
    (number,) = fake.numbers.seed_available(1)
    fake.add_fault(
        Fault(
            method="POST",
            path=numbers_path(fake, "/availableNumbers/*"),
            status=429,
            headers={"Retry-After": "600"},
            times=1,
        )
    )
    async with fake.project_client(retry=FAST) as client:
        with pytest.raises(RateLimitError):
            await client.numbers.rent(number)
    assert posts(fake, ":rent") == 1 and fake.numbers.active == {}


@pytest.mark.fake_sinch(auto_advance=False)
async def test_a_read_timeout_on_rent_is_not_retried(
    virtual_time: VirtualTime, fake_on_clock: FakeSinch
) -> None:
    """The rent's answer never comes (parked on the fake's stopped clock): the 0.2 s
    timeout fires on the loop's virtual clock; Sinch may have rented it, so no retry."""
    fake = fake_on_clock
    (number,) = fake.numbers.seed_available(1)
    fake.add_fault(
        Fault(method="POST", path=numbers_path(fake, "/availableNumbers/*"), delay=1.0, times=1)
    )
    async with fake.project_client(retry=FAST, timeouts=Timeouts(total=0.2)) as client:
        with pytest.raises(SinchTimeoutError) as raised:
            await client.numbers.rent(number)
    assert raised.value.may_have_reached_sinch is True
    assert posts(fake, ":rent") == 1


def test_the_billable_calls_say_which_failures_are_retried() -> None:
    """Not "never retried automatically": a 429 and a connection never made are."""
    docs = [inspect.getdoc(m) or "" for m in (NumbersResource.rent, NumbersResource.rent_any)]
    docs.append(inspect.getdoc(NumbersResource.release) or "")
    guide = Path(__file__).parents[2] / "docs" / "numbers.md"
    docs.append(" ".join(guide.read_text().split()))
    for text in docs:
        text = " ".join(text.split())
        assert "never retried automatically" not in text
        assert "(a 429, a connection never made), never after a 5xx or a timeout" in text
