"""client.numbers against FakeSinch: token paging, checkpoints, config errors, CRUD."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sinch_async import NotFoundError, SinchConfigError
from sinch_async.numbers import ActiveNumber, TokenPagerCheckpoint
from sinch_async.numbers._converter import structure, unstructure
from sinch_async.testing import FakeSinch


async def test_walk_2500_numbers_resumes_from_checkpoint() -> None:
    async with FakeSinch() as fake:
        seeded = fake.numbers.seed_active(2500)
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            pager = client.numbers.list(page_size=100)
            first: list[str] = []
            async for number in pager:
                first.append(number.phone_number)
                if len(first) == 1234:
                    break
            saved = pager.checkpoint.to_dict()
            assert saved["page_token"] is not None and saved["offset"] == 34
            rest = [
                n.phone_number
                async for n in client.numbers.list(resume=TokenPagerCheckpoint.from_dict(saved))
            ]
        assert len(first) + len(rest) == 2500
        assert sorted(first + rest) == sorted(seeded)
        assert len(set(first + rest)) == 2500
        tokens = [r.query_value("pageToken") for r in fake.requests if "activeNumbers" in r.path]
        assert tokens[0] is None


async def test_pages_max_items_and_filters_on_the_wire() -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(30)
        fake.numbers.seed_active(5, start=447700900000, regionCode="GB", type="MOBILE")
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            pager = client.numbers.list(
                region_code="US", number_type="LOCAL", capabilities=["SMS", "VOICE"], page_size=7
            )
            sizes = [len(page.items) async for page in pager.pages()]
            assert sizes == [7, 7, 7, 7, 2]
            assert pager.count == 30 and pager.checkpoint.done
            limited = [n async for n in client.numbers.list(page_size=4, max_items=10)]
            assert len(limited) == 10
            gb = [n async for n in client.numbers.list(region_code="GB")]
            assert {n.region_code for n in gb} == {"GB"} and len(gb) == 5
        listed = [r for r in fake.requests if r.path.endswith("/activeNumbers")]
        assert ("capability", "SMS") in listed[0].query
        assert ("capability", "VOICE") in listed[0].query
        assert listed[0].query_value("pageSize") == "7"


async def test_service_plan_client_fails_on_first_use() -> None:
    async with FakeSinch() as fake:
        async with fake.client() as client:  # construction works
            with pytest.raises(SinchConfigError, match="project_id, key_id and key_secret"):
                client.numbers.list()
            with pytest.raises(SinchConfigError):
                await client.numbers.get("+12025550000")
        assert not [r for r in fake.requests if r.path.startswith("/v1/")]


async def test_get_roundtrip_and_404() -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            got = await client.numbers.get(number)
            assert isinstance(got, ActiveNumber)
            assert got.money is not None and got.money.amount == Decimal("2.00")
            assert got.capability == ("SMS", "VOICE")
            assert got.next_charge_date is not None and got.next_charge_date.microsecond == 123456
            assert structure(unstructure(got), ActiveNumber) == got
            assert unstructure(got)["phoneNumber"] == number
            with pytest.raises(NotFoundError) as info:
                await client.numbers.get("+19999999999")
            assert info.value.code == "NOT_FOUND"


async def test_update_release_search_rent_regions() -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        avail = fake.numbers.seed_available(3)
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            updated = await client.numbers.update(
                number, display_name="Support", sms_service_plan_id="plan-1"
            )
            assert updated.display_name == "Support"
            sms = updated.sms_configuration
            assert sms is not None and sms.scheduled_provisioning is not None
            assert sms.scheduled_provisioning.service_plan_id == "plan-1"
            patch = [r for r in fake.requests if r.method == "PATCH"][-1]
            assert patch.json == {
                "displayName": "Support",
                "smsConfiguration": {"servicePlanId": "plan-1"},
            }
            found = await client.numbers.search(
                region_code="US", number_type="LOCAL", capabilities=["SMS"], size=2
            )
            assert [f.phone_number for f in found] == avail[:2]
            checked = await client.numbers.check_availability(avail[0])
            assert checked.monthly_price is not None
            rented = await client.numbers.rent(avail[0], callback_url="https://example.com/cb")
            assert rented.callback_url == "https://example.com/cb"
            with pytest.raises(NotFoundError):
                await client.numbers.rent(avail[0])
            any_number = await client.numbers.rent_any(region_code="US", number_type="LOCAL")
            assert any_number.phone_number == avail[1]
            regions = await client.numbers.regions()
            assert [r.region_code for r in regions] == ["US"]
            released = await client.numbers.release(number)
            assert released.phone_number == number
            with pytest.raises(NotFoundError):
                await client.numbers.get(number)
        release = next(r for r in fake.requests if r.method == "POST" and "release" in r.path)
        assert release.raw_path.endswith(f"/activeNumbers/{number}:release")


async def test_repeated_token_stops_the_walk() -> None:
    from sinch_async import SinchPagingError
    from sinch_async.numbers import TokenPage, TokenPager

    async def fetch(query: list[tuple[str, str]]) -> TokenPage[int]:
        return TokenPage([1], "same", None)

    pager = TokenPager(fetch, resource="x", filters=(), page_size=1)
    with pytest.raises(SinchPagingError):
        [item async for item in pager]
