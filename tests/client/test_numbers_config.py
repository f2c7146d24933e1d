"""client.numbers against FakeSinch (issue 18): voice configuration, the callback
configuration, HTTP Basic, waiting for provisioning (virtual time), listing every type,
``orderBy`` and input normalisation. Reference: ../shared/docs/sinch-numbers-api.md."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sinch_async import AuthenticationError, SinchClient, SinchValidationError
from sinch_async.numbers import (
    ActiveNumber,
    CallbackConfiguration,
    EstVoiceConfiguration,
    FaxVoiceConfiguration,
    ProvisioningFailedError,
    ProvisioningState,
    ProvisioningTimeoutError,
    RtcVoiceConfiguration,
    ScheduledVoiceProvisioning,
    UnknownVoiceConfiguration,
    VoiceConfiguration,
)
from sinch_async.numbers._converter import structure
from sinch_async.testing import FakeClock, FakeSinch

SECRET = "a1b2c3d4-e5f6-a7b8-c9d0-e1f2a3b4c5d6"  # 36 characters, the PY SDK's alphabet


def numbers_requests(fake: FakeSinch) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith("/v1/")]


# --- voice configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "wire"),
    [
        (RtcVoiceConfiguration("app-1"), {"type": "RTC", "appId": "app-1"}),
        (EstVoiceConfiguration("trunk-1"), {"type": "EST", "trunkId": "trunk-1"}),
        (FaxVoiceConfiguration("fax-1"), {"type": "FAX", "serviceId": "fax-1"}),
    ],
)
async def test_voice_configuration_on_update_rent_and_rent_any(
    target: Any, wire: dict[str, str]
) -> None:
    async with FakeSinch() as fake:
        (active,) = fake.numbers.seed_active(1)
        available = fake.numbers.seed_available(2)
        async with fake.project_client() as client:
            updated = await client.numbers.update(active, voice_configuration=target)
            voice = updated.voice_configuration
            assert voice is not None and voice.scheduled_voice_provisioning is not None
            assert voice.scheduled_voice_provisioning.target == target
            assert voice.scheduled_voice_provisioning.status == "WAITING"
            rented = await client.numbers.rent(available[0], voice_configuration=target)
            assert rented.voice_configuration is not None
            any_number = await client.numbers.rent_any(
                region_code="US", number_type="LOCAL", voice_configuration=target
            )
            done = await client.numbers.get(active)  # provisioning_delay 0: done by now
            assert done.voice_configuration is not None
            assert done.voice_configuration.target == target
            assert done.voice_configuration.scheduled_voice_provisioning is None
            assert any_number.phone_number == available[1]
        patch, rent, rent_any = [r for r in numbers_requests(fake) if r.method != "GET"]
        assert patch.json == {"voiceConfiguration": wire}
        assert rent.json == {"voiceConfiguration": wire}
        assert rent_any.json == {"regionCode": "US", "type": "LOCAL", "voiceConfiguration": wire}


async def test_only_the_configuration_given_is_sent() -> None:
    # the reference: an SMS-only request that also carries voiceConfiguration fails
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        (other,) = fake.numbers.seed_available(1)
        async with fake.project_client() as client:
            await client.numbers.update(number, sms_service_plan_id="plan-1")
            await client.numbers.rent(
                other, sms_service_plan_id="plan-1", callback_url="https://x.test"
            )
        patch, rent = [r for r in numbers_requests(fake) if r.method != "GET"]
        assert patch.json == {"smsConfiguration": {"servicePlanId": "plan-1"}}
        assert rent.json == {
            "smsConfiguration": {"servicePlanId": "plan-1"},
            "callbackUrl": "https://x.test",
        }


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (RtcVoiceConfiguration(""), "voice_configuration.app_id"),
        (EstVoiceConfiguration("  "), "voice_configuration.trunk_id"),
        (FaxVoiceConfiguration(None), "voice_configuration.service_id"),  # type: ignore[arg-type]
        (UnknownVoiceConfiguration("SIP"), "voice_configuration.fields"),
        (UnknownVoiceConfiguration("SIP", {"type": "x"}), "voice_configuration.fields"),
        (UnknownVoiceConfiguration("SIP", {"sipId": ""}), "voice_configuration.fields"),
        ({"type": "RTC", "appId": "a"}, "voice_configuration"),
        ("RTC", "voice_configuration"),
    ],
)
async def test_an_empty_or_untyped_voice_configuration_is_never_sent(
    value: Any, field: str
) -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client() as client:
            calls: list[Callable[[], Awaitable[Any]]] = [
                lambda: client.numbers.update(number, voice_configuration=value),
                lambda: client.numbers.rent(number, voice_configuration=value),
                lambda: client.numbers.rent_any(
                    region_code="US", number_type="LOCAL", voice_configuration=value
                ),
            ]
            for call in calls:
                with pytest.raises(SinchValidationError) as err:
                    await call()
                assert err.value.field == field
        assert not numbers_requests(fake)


async def test_an_unknown_voice_type_goes_out_as_given_and_the_fake_refuses_it() -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client() as client:
            from sinch_async import BadRequestError

            with pytest.raises(BadRequestError, match=r"voiceConfiguration\.type"):
                await client.numbers.update(
                    number, voice_configuration=UnknownVoiceConfiguration("SIP", {"sipId": "s"})
                )
        (patch,) = numbers_requests(fake)
        assert patch.json == {"voiceConfiguration": {"type": "SIP", "sipId": "s"}}


def test_voice_configuration_decodes_typed() -> None:
    # §7.5: type RTC/EST/FAX with its id; older responses omit type (RTC)
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"type": "RTC", "appId": "a"}, RtcVoiceConfiguration("a")),
        ({"appId": "a"}, RtcVoiceConfiguration("a")),
        ({"type": "EST", "trunkId": "t"}, EstVoiceConfiguration("t")),
        ({"type": "FAX", "serviceId": "f"}, FaxVoiceConfiguration("f")),
        ({"type": "RTC", "appId": ""}, None),  # nothing linked
        ({"type": "SIP", "appId": "x"}, UnknownVoiceConfiguration("SIP", {"appId": "x"})),
        ({}, None),
    ]
    for data, target in cases:
        assert structure(data, VoiceConfiguration).target == target, data
    scheduled = structure(
        {
            "type": "EST",
            "trunkId": "t",
            "status": "IN_PROGRESS",
            "lastUpdatedTime": "2023-09-22T15:49:58.813424Z",
        },
        ScheduledVoiceProvisioning,
    )
    assert scheduled.target == EstVoiceConfiguration("t") and scheduled.pending
    number = structure(
        {
            "phoneNumber": "+12025550134",
            "voiceConfiguration": {
                "type": "RTC",
                "appId": "old",
                "lastUpdatedTime": None,
                "scheduledVoiceProvisioning": {
                    "type": "FAX",
                    "serviceId": "new",
                    "status": "WAITING",
                    "lastUpdatedTime": "2023-09-25T12:08:02.115Z",
                },
            },
        },
        ActiveNumber,
    )
    voice = number.voice_configuration
    assert voice is not None and voice.target == RtcVoiceConfiguration("old")
    assert voice.scheduled_voice_provisioning is not None
    assert voice.scheduled_voice_provisioning.target == FaxVoiceConfiguration("new")
    match voice.target:  # the records pattern-match on their id
        case RtcVoiceConfiguration(app_id=app):
            assert app == "old"
        case _:
            pytest.fail("not matched")


# --- callback configuration ---------------------------------------------------------------


async def test_callback_configuration_get_and_update(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sinch_async")
    async with FakeSinch() as fake:
        async with fake.project_client() as client:
            before = await client.numbers.callback_configuration()
            assert before == CallbackConfiguration(fake.project_id, "")
            after = await client.numbers.update_callback_configuration(hmac_secret=SECRET)
            assert after.hmac_secret == SECRET and after.project_id == fake.project_id
            assert SECRET not in repr(after)
            assert (await client.numbers.callback_configuration()).hmac_secret == SECRET
        assert fake.numbers.hmac_secret == SECRET
        get, patch, _ = numbers_requests(fake)
        assert get.path.endswith("/callbackConfiguration") and get.method == "GET"
        assert patch.method == "PATCH" and patch.json == {"hmacSecret": SECRET}
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "secret",
    ["short", "x" * 31, "y" * 65, "has space" + "z" * 30, "ünïcode" + "a" * 30, None, 42],
)
async def test_a_bad_hmac_secret_is_refused_without_showing_it(secret: Any) -> None:
    async with FakeSinch() as fake:
        async with fake.project_client() as client:
            with pytest.raises(SinchValidationError) as err:
                await client.numbers.update_callback_configuration(hmac_secret=secret)
        assert err.value.field == "hmac_secret"
        assert not isinstance(secret, str) or secret not in str(err.value)
        assert not numbers_requests(fake)


# --- HTTP Basic ---------------------------------------------------------------------------


async def test_basic_authentication_through_the_one_engine() -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(2)
        async with fake.project_client(numbers_auth="BASIC") as client:
            assert len([n async for n in client.numbers.list()]) == 2
            await client.numbers.regions()
            assert "test-key-secret" not in repr(client._numbers)
        expected = "Basic " + base64.b64encode(b"test-key-id:test-key-secret").decode()
        assert {r.headers["Authorization"] for r in numbers_requests(fake)} == {expected}
        assert fake.token_requests == 0  # no OAuth2 token was fetched
        async with fake.project_client(numbers_auth="basic", key_secret="wrong") as client:
            with pytest.raises(AuthenticationError):
                await client.numbers.regions()


async def test_oauth_stays_the_default_and_sms_keeps_its_tokens() -> None:
    async with FakeSinch() as fake:
        async with fake.project_client() as client:
            await client.numbers.regions()
        assert numbers_requests(fake)[-1].headers["Authorization"].startswith("Bearer ")
        assert fake.token_requests == 1
        async with fake.project_client(numbers_auth="basic") as client:
            await client.batches.send_text(to=["+46701234567"], body="x")  # SMS: OAuth2
        assert fake.token_requests == 2


def test_numbers_auth_values() -> None:
    keys: dict[str, Any] = {"project_id": "p", "key_id": "k", "key_secret": "s"}
    assert SinchClient(**keys, numbers_auth=" Basic ")._numbers.auth.static is not None
    assert SinchClient(**keys, numbers_auth="oauth")._numbers.auth.static is None
    with pytest.raises(Exception, match="numbers_auth must be 'oauth' or 'basic'"):
        SinchClient(**keys, numbers_auth="token")
    from_env = SinchClient.from_env(
        {
            "SINCH_PROJECT_ID": "p",
            "SINCH_KEY_ID": "k",
            "SINCH_KEY_SECRET": "s",
            "SINCH_NUMBERS_AUTH": "basic",
        }
    )
    assert from_env._numbers.auth.static is not None
    from sinch_async._settings import SinchSettingError, env_options

    with pytest.raises(SinchSettingError, match=r"numbers_auth \(\$SINCH_NUMBERS_AUTH\)"):
        env_options({**{f"SINCH_{k.upper()}": v for k, v in keys.items()},
                     "SINCH_NUMBERS_AUTH": "jwt"})  # fmt: skip
    named = env_options(
        {"SINCH_PROJECT_ID": "p", "SINCH_KEY_ID": "k", "SINCH_KEY_SECRET": "s"},
        {"numbers_auth": "basic"},
    )
    assert named["numbers_auth"] == "basic"


# --- provisioning -------------------------------------------------------------------------


async def test_wait_provisioned_polls_with_backoff_on_the_clients_clock() -> None:
    clock = FakeClock()
    async with FakeSinch(clock=clock) as fake:
        fake.numbers.provisioning_delay = 40
        (number,) = fake.numbers.seed_available(1)
        async with fake.project_client(clock=clock) as client:
            rented = await client.numbers.rent(
                number,
                sms_service_plan_id="plan-1",
                voice_configuration=RtcVoiceConfiguration("app-1"),
            )
            assert ProvisioningState.of(rented).pending == ("sms", "voice")
            ready = await client.numbers.wait_provisioned(number, timeout=120)
        assert ProvisioningState.of(ready).done
        assert ready.sms_configuration is not None
        assert ready.sms_configuration.service_plan_id == "plan-1"
        assert ready.sms_configuration.scheduled_provisioning is None
        assert ready.voice_configuration is not None
        assert ready.voice_configuration.target == RtcVoiceConfiguration("app-1")
        assert clock.sleeps == [2, 4, 8, 16, 30]  # doubling up to max_poll_interval
        assert clock.elapsed == pytest.approx(60)
        statuses = [r for r in numbers_requests(fake) if r.method == "GET"]
        assert len(statuses) == 6


async def test_provisioning_shows_in_progress_halfway() -> None:
    clock = FakeClock()
    async with FakeSinch(clock=clock) as fake:
        fake.numbers.provisioning_delay = 10
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(clock=clock) as client:
            await client.numbers.update(number, sms_service_plan_id="p")
            clock.advance(6)
            got = await client.numbers.get(number)
            assert got.sms_configuration is not None
            scheduled = got.sms_configuration.scheduled_provisioning
            assert scheduled is not None and scheduled.status == "IN_PROGRESS"
            assert got.sms_configuration.service_plan_id == ""  # the old plan still


async def test_wait_provisioned_raises_the_failure_with_its_error_codes() -> None:
    clock = FakeClock()
    async with FakeSinch(clock=clock) as fake:
        fake.numbers.provisioning_delay = 5
        fake.numbers.provisioning_failures["bad-campaign"] = ["CAMPAIGN_NOT_AVAILABLE"]
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(clock=clock) as client:
            await client.numbers.update(
                number, sms_service_plan_id="plan", sms_campaign_id="bad-campaign"
            )
            with pytest.raises(ProvisioningFailedError) as err:
                await client.numbers.wait_provisioned(number)
        assert err.value.phone_number == number and err.value.failed == ("sms",)
        assert err.value.error_codes == ("CAMPAIGN_NOT_AVAILABLE",)
        assert "CAMPAIGN_NOT_AVAILABLE" in str(err.value)
        assert isinstance(err.value.number, ActiveNumber)


async def test_a_failed_voice_provisioning_is_a_failure_too() -> None:
    clock = FakeClock()
    async with FakeSinch(clock=clock) as fake:
        fake.numbers.provisioning_failures["trunk-x"] = []
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(clock=clock) as client:
            await client.numbers.update(
                number, voice_configuration=EstVoiceConfiguration("trunk-x")
            )
            with pytest.raises(ProvisioningFailedError) as err:
                await client.numbers.wait_provisioned(number)
        assert err.value.failed == ("voice",) and err.value.error_codes == ()


async def test_wait_provisioned_times_out_on_the_clock() -> None:
    clock = FakeClock()
    async with FakeSinch(clock=clock) as fake:
        fake.numbers.provisioning_delay = 3600
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(clock=clock) as client:
            await client.numbers.update(number, sms_service_plan_id="p")
            with pytest.raises(ProvisioningTimeoutError) as err:
                await client.numbers.wait_provisioned(
                    number, timeout=25, poll_interval=5, max_poll_interval=10
                )
        assert isinstance(err.value, TimeoutError)
        assert err.value.pending == ("sms",) and err.value.timeout == 25
        assert clock.sleeps == [5, 10, 10] and clock.elapsed == pytest.approx(25)


async def test_a_number_without_scheduled_provisioning_is_ready_at_once() -> None:
    clock = FakeClock()
    async with FakeSinch(clock=clock) as fake:
        (number,) = fake.numbers.seed_active(1)
        async with fake.project_client(clock=clock) as client:
            got = await client.numbers.wait_provisioned(number)
        assert got.phone_number == number and not clock.sleeps


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": -1}, "timeout"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": 10, "max_poll_interval": 5}, "max_poll_interval"),
        ({"timeout": float("inf")}, "timeout"),
    ],
)
async def test_wait_provisioned_arguments(options: dict[str, Any], field: str) -> None:
    async with FakeSinch() as fake:
        async with fake.project_client() as client:
            with pytest.raises(SinchValidationError) as err:
                await client.numbers.wait_provisioned("+12025550000", **options)
        assert err.value.field == field and not numbers_requests(fake)


# --- listing: every type, orderBy, normalised input --------------------------------------


async def test_list_all_types_walks_each_type_when_untyped_lists_are_mobile_only() -> None:
    async with FakeSinch() as fake:
        fake.numbers.untyped_list_type = "MOBILE"  # what Sinch's guide says happens
        local = fake.numbers.seed_active(3)
        mobile = fake.numbers.seed_active(2, start=447700900000, type="MOBILE")
        toll_free = fake.numbers.seed_active(1, start=18005550100, type="TOLL_FREE")
        async with fake.project_client() as client:
            untyped = [n.phone_number async for n in client.numbers.list()]
            assert untyped == mobile
            every = [n.phone_number async for n in client.numbers.list_all_types(page_size=2)]
            assert every == mobile + local + toll_free
            first = [n async for n in client.numbers.list_all_types(max_items=4)]
            assert len(first) == 4
            assert [n async for n in client.numbers.list_all_types(max_items=0)] == []
        types = [r.query_value("type") for r in numbers_requests(fake)]
        assert types[:1] == [None] and set(types[1:]) == {"MOBILE", "LOCAL", "TOLL_FREE"}


async def test_list_all_types_checks_its_arguments_before_any_request() -> None:
    async with FakeSinch() as fake:
        async with fake.project_client() as client:
            with pytest.raises(SinchValidationError) as err:
                client.numbers.list_all_types(max_items=-1)
            assert err.value.field == "max_items"
            with pytest.raises(SinchValidationError) as err:
                client.numbers.list_all_types(page_size=0)
            assert err.value.field == "page_size"
        assert not numbers_requests(fake)


async def test_order_by_display_name() -> None:
    async with FakeSinch() as fake:
        numbers = fake.numbers.seed_active(3)
        for number, name in zip(numbers, ["c", "a", "b"], strict=True):
            fake.numbers.active[number]["displayName"] = name
        async with fake.project_client() as client:
            by_name = [n.display_name async for n in client.numbers.list(order_by="display_name")]
            assert by_name == ["a", "b", "c"]
            by_number = [n.phone_number async for n in client.numbers.list(order_by="PHONE_NUMBER")]
            assert by_number == numbers
        orders = [r.query_value("orderBy") for r in numbers_requests(fake)]
        assert orders == ["displayName", "phoneNumber"]


async def test_enum_inputs_in_any_case_go_out_canonical() -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(1)
        fake.numbers.seed_available(2)
        fake.numbers.seed_available(1, start=18005550200, type="TOLL_FREE")
        async with fake.project_client() as client:
            listed = client.numbers.list(region_code="us", number_type="local", capabilities="sms")
            assert len([n async for n in listed]) == 1
            found = await client.numbers.search(
                region_code="us", number_type="Local", capabilities=["sms", "Voice"]
            )
            assert len(found) == 2
            regions = await client.numbers.regions(types=["toll-free"])
            assert [(r.region_code, r.region_name, r.types) for r in regions] == [
                ("US", "United States", ("LOCAL", "TOLL_FREE"))
            ]
            await client.numbers.rent_any(
                region_code="us",
                number_type="local",
                capabilities=["sms"],
                number_pattern="1206",
                search_pattern="contains",
            )
        listed_req, search, regions_req, rent_any = numbers_requests(fake)
        assert ("regionCode", "US") in listed_req.query and ("type", "LOCAL") in listed_req.query
        assert ("capability", "SMS") in listed_req.query
        assert ("capabilities", "VOICE") in search.query and ("type", "LOCAL") in search.query
        assert regions_req.query == [("types", "TOLL_FREE")]
        assert rent_any.json == {
            "regionCode": "US",
            "type": "LOCAL",
            "capabilities": ["SMS"],
            "numberPattern": {"pattern": "1206", "searchPattern": "CONTAINS"},
        }


async def test_the_fake_refuses_values_outside_the_enums() -> None:
    from sinch_async import BadRequestError

    async with FakeSinch() as fake, fake.project_client() as client:
        with pytest.raises(BadRequestError, match="type"):
            await client.numbers.search(region_code="US", number_type="GEOGRAPHIC")
        with pytest.raises(BadRequestError, match="orderBy"):
            [n async for n in client.numbers.list(order_by="regionCode")]


def test_what_counts_as_pending() -> None:
    def sms(**fields: Any) -> ProvisioningState:
        data = {
            "phoneNumber": "+12025550134",
            "smsConfiguration": {"scheduledProvisioning": fields},
        }
        return ProvisioningState.of(structure(data, ActiveNumber))

    def voice(**fields: Any) -> ProvisioningState:
        data = {
            "phoneNumber": "+12025550134",
            "voiceConfiguration": {"scheduledVoiceProvisioning": fields},
        }
        return ProvisioningState.of(structure(data, ActiveNumber))

    for status in ("WAITING", "IN_PROGRESS", "PROVISIONING_STATUS_UNSPECIFIED", "NEW_ONE"):
        assert sms(status=status).pending == ("sms",)
        assert voice(status=status, type="RTC", appId="a").pending == ("voice",)
    assert sms(servicePlanId="p").pending == ("sms",)  # no status: unspecified, still running
    assert sms(servicePlanId="", campaignId="", status="").done  # an empty object: nothing
    assert voice(type="RTC", appId="").done
    failed = sms(status="FAILED", errorCodes=["INSUFFICIENT_BALANCE"])
    assert failed.failed == ("sms",) and failed.error_codes == ("INSUFFICIENT_BALANCE",)
    assert ProvisioningState.of(ActiveNumber("+12025550134")).done
