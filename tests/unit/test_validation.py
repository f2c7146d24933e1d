"""Bad input raises a typed error before anything is sent (the client here has no server)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from sinch_async import (
    MediaBody,
    SinchClient,
    SinchConfigError,
    SinchValidationError,
    TextBatchRequest,
    Timeouts,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "to",
    [
        [],
        ["+4670 12ab567"],
        ["hello world"],
        ["+0123"],
        [f"+4670{i:07d}" for i in range(1001)],
        [7],
    ],
)
async def test_bad_recipients(offline_client: SinchClient, to: list[str]) -> None:
    with pytest.raises(SinchValidationError) as err:
        await offline_client.batches.send_text(to=to, body="x")
    assert err.value.field == "to"
    assert isinstance(err.value, ValueError)


async def test_recipient_forms_accepted_locally() -> None:
    from sinch_async._validation import check_recipients

    ok = ["+46701234567", "46701234567", "0046701234567", "12345", "01FC66621XXXXX119Z8PMV1QPQ"]
    check_recipients(ok)  # raises on failure


async def test_text_body_limit(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError, match="2000"):
        await offline_client.batches.send_text(to=["+46701234567"], body="x" * 2001)


async def test_naive_datetimes_refused(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError, match="naive") as err:
        await offline_client.batches.send_text(
            to=["+46701234567"], body="x", send_at=datetime(2026, 1, 1)
        )
    assert err.value.field == "send_at"
    with pytest.raises(SinchValidationError, match="naive"):
        offline_client.batches.list(start_date=datetime(2026, 1, 1))


async def test_expiry_window(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError, match="after send_at"):
        await offline_client.batches.send_text(
            to=["+46701234567"], body="x", send_at=NOW, expire_at=NOW - timedelta(minutes=1)
        )
    with pytest.raises(SinchValidationError, match="3 days"):
        await offline_client.batches.send_text(
            to=["+46701234567"], body="x", send_at=NOW, expire_at=NOW + timedelta(days=4)
        )


async def test_binary_limits(offline_client: SinchClient) -> None:
    body = base64.b64encode(b"x" * 130).decode()
    with pytest.raises(SinchValidationError, match="140"):
        await offline_client.batches.send_binary(to=["+46701234567"], body=body, udh="00" * 11)
    with pytest.raises(SinchValidationError, match="hex"):
        await offline_client.batches.send_binary(to=["+46701234567"], body="aGk=", udh="zz")
    with pytest.raises(SinchValidationError, match="Base64"):
        await offline_client.batches.send_binary(to=["+46701234567"], body="not base64!", udh="00")


async def test_media_needs_an_http_url(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError, match="http"):
        await offline_client.batches.send_media(
            to=["+12025550134"], media_body=MediaBody(url="ftp://x")
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"delivery_report": ""}, "delivery_report"),
        ({"callback_url": "not a url"}, "callback_url"),
        ({"client_reference": "r" * 2049}, "client_reference"),
        ({"from_ton": 7}, "from_ton"),
        ({"from_npi": 19}, "from_npi"),
        ({"max_number_of_message_parts": 0}, "max_number_of_message_parts"),
        ({"parameters": {"bad key!": {"default": "x"}}}, "parameters"),
        ({"parameters": {"name": {}}}, "parameters"),
    ],
)
async def test_field_checks(
    offline_client: SinchClient, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(SinchValidationError) as err:
        await offline_client.batches.send_text(to=["+46701234567"], body="x", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


async def test_wrong_argument_types_are_our_error(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError):
        await offline_client.batches.send_text(to=None, body="x")  # type: ignore[arg-type]
    with pytest.raises(SinchValidationError):
        await offline_client.batches.send("not a request")  # type: ignore[arg-type]


async def test_update_checks(offline_client: SinchClient) -> None:
    with pytest.raises(SinchValidationError, match="nothing to update"):
        await offline_client.batches.update("01FC66621XXXXX119Z8PMV1QPQ")
    with pytest.raises(SinchValidationError) as err:
        too_many = [f"+4670{i:07d}" for i in range(101)]
        await offline_client.batches.update("01FC66621XXXXX119Z8PMV1QPQ", to_add=too_many)
    assert err.value.field == "to_add"
    with pytest.raises(SinchValidationError, match="cannot be updated"):
        await offline_client.batches.update(
            "01FC66621XXXXX119Z8PMV1QPQ", udh="00", flash_message=True
        )
    with pytest.raises(SinchValidationError, match="batch_id"):
        await offline_client.batches.get("")


async def test_list_checks(offline_client: SinchClient) -> None:
    for size in (0, 101, True):
        with pytest.raises(SinchValidationError, match="page_size"):
            offline_client.batches.list(page_size=size)  # type: ignore[arg-type]
    with pytest.raises(SinchValidationError, match="max_items"):
        offline_client.batches.list(max_items=-1)
    with pytest.raises(SinchValidationError, match="end_date"):
        offline_client.batches.list(start_date=NOW, end_date=NOW)
    for sender in ("+1", " ", "12", "Acme,Inc"):  # no number, no sender id
        with pytest.raises(SinchValidationError, match="from_"):
            offline_client.batches.list(from_=[sender])
    offline_client.batches.list(from_=["nope"])  # an alphanumeric sender id, as a send takes


async def test_dry_run_recipient_count(offline_client: SinchClient) -> None:
    req = TextBatchRequest(to=["+46701234567"], body="x")
    with pytest.raises(SinchValidationError, match="number_of_recipients"):
        await offline_client.batches.dry_run(req, number_of_recipients=1001)


def test_config_checks() -> None:
    with pytest.raises(SinchConfigError, match="region"):
        SinchClient("plan", "token")
    with pytest.raises(SinchConfigError, match="unknown region"):
        SinchClient("plan", "token", region="xx")
    with pytest.raises(SinchConfigError, match="http"):
        SinchClient("plan", "token", base_url="http://sms.example.com")
    with pytest.raises(SinchConfigError, match="service_plan_id"):
        SinchClient("", "token", region="eu")
    with pytest.raises(SinchConfigError, match="credential"):
        SinchClient("plan", "", region="eu")
    with pytest.raises(SinchConfigError):
        Timeouts(total=0)
    with pytest.raises(SinchConfigError):
        SinchClient("plan", "token", region="eu", max_connections=0)
    ok = SinchClient("plan", "token", base_url="http://sms.example.com", allow_insecure_http=True)
    assert ok.base_url == "http://sms.example.com"
    assert SinchClient("p", "t", region="EU").base_url == "https://eu.sms.api.sinch.com"
    assert SinchClient("p", "t", base_url="http://localhost:8/xms/v1/").base_url == (
        "http://localhost:8"
    )


def test_from_env() -> None:
    env = {"SINCH_SERVICE_PLAN_ID": "plan", "SINCH_API_TOKEN": "tok", "SINCH_REGION": "au"}
    offline_client = SinchClient.from_env(env)
    assert offline_client.base_url == "https://au.sms.api.sinch.com"
    assert SinchClient.from_env(env, region="ca").base_url == "https://ca.sms.api.sinch.com"
    with pytest.raises(SinchConfigError, match="SINCH_API_TOKEN"):
        SinchClient.from_env({"SINCH_SERVICE_PLAN_ID": "plan", "SINCH_REGION": "eu"})
