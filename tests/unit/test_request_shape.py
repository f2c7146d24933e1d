"""Request-shape unit tests with aioresponses: what exactly leaves the SDK."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from sinch_async import (
    MediaBody,
    SinchClient,
    TextBatch,
)

BASE = "https://eu.sms.api.sinch.com/xms/v1/plan-1"
TOKEN = "tok-very-secret-123"
BATCH = {
    "id": "01FC66621XXXXX119Z8PMV1QPQ",
    "to": ["+46701234567"],
    "from": "+12025550134",
    "body": "Hi",
    "type": "mt_text",
    "canceled": False,
    "created_at": "2026-11-23T12:00:00.000Z",
    "modified_at": "2026-11-23T12:00:00.000Z",
}


def _only_call(mocked: Any) -> tuple[str, str, dict[str, Any]]:
    calls = [(k[0], str(k[1]), c.kwargs) for k, cs in mocked.requests.items() for c in cs]
    assert len(calls) == 1, calls
    return calls[0]


async def test_send_text_body_headers_and_no_nulls(mocked: Any, eu_client: SinchClient) -> None:
    mocked.post(f"{BASE}/batches", status=201, body=orjson.dumps(BATCH))
    cet = timezone(timedelta(hours=1))
    batch = await eu_client.batches.send_text(
        to=["+46701234567"],
        from_="+12025550134",
        body="Hi ${name}",
        parameters={"name": {"+46701234567": "Ada", "default": "there"}},
        delivery_report="full",
        client_reference="order-17",
        send_at=datetime(2026, 11, 24, 13, 0, tzinfo=cet),
    )
    assert isinstance(batch, TextBatch) and batch.id == BATCH["id"]
    method, url, kwargs = _only_call(mocked)
    assert (method, url) == ("POST", f"{BASE}/batches")
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert kwargs["headers"]["Content-Type"] == "application/json"
    sent = orjson.loads(kwargs["data"])
    assert sent == {
        "type": "mt_text",
        "to": ["+46701234567"],
        "from": "+12025550134",
        "body": "Hi ${name}",
        "parameters": {"name": {"+46701234567": "Ada", "default": "there"}},
        "delivery_report": "full",
        "client_reference": "order-17",
        "send_at": "2026-11-24T12:00:00Z",
    }
    assert b"null" not in kwargs["data"]


async def test_send_media_and_binary_shapes(mocked: Any, eu_client: SinchClient) -> None:
    media = {**BATCH, "type": "mt_media", "body": {"url": "https://x.example/a.png"}}
    mocked.post(f"{BASE}/batches", status=201, body=orjson.dumps(media))
    await eu_client.batches.send_media(
        to=["+12025550134"], media_body=MediaBody(url="https://x.example/a.png", message="hey")
    )
    _, _, kwargs = _only_call(mocked)
    assert orjson.loads(kwargs["data"]) == {
        "type": "mt_media",
        "to": ["+12025550134"],
        "body": {"url": "https://x.example/a.png", "message": "hey"},
    }


async def test_list_query_is_comma_separated_and_keeps_plus(
    mocked: Any, eu_client: SinchClient
) -> None:
    page = {"count": 1, "page": 0, "page_size": 1, "batches": [BATCH]}
    mocked.get(re.compile(r".*/batches\?.*"), status=200, body=orjson.dumps(page))
    start = datetime(2026, 11, 20, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    items = [
        b
        async for b in eu_client.batches.list(
            from_=["+12025550134", "+46701234567"],
            start_date=start,
            end_date=datetime(2026, 11, 21, tzinfo=UTC),
            client_reference="order 17",
            page_size=50,
        )
    ]
    assert [b.id for b in items] == [BATCH["id"]]
    _, url, _ = _only_call(mocked)
    raw_query = urlsplit(url).query
    assert raw_query.count("from=") == 1
    assert "%2B12025550134,%2B46701234567" in raw_query
    assert parse_qs(raw_query) == {
        "from": ["+12025550134,+46701234567"],
        "start_date": ["2026-11-20T06:30:00Z"],
        "end_date": ["2026-11-21T00:00:00Z"],
        "client_reference": ["order 17"],
        "page": ["0"],
        "page_size": ["50"],
    }


async def test_update_without_type_specific_fields_sends_mt_text(
    mocked: Any, eu_client: SinchClient
) -> None:
    mocked.post(f"{BASE}/batches/{BATCH['id']}", status=200, body=orjson.dumps(BATCH))
    await eu_client.batches.update(BATCH["id"], to_add=["+46700000001"], to_remove=["+46701234567"])
    _, _, kwargs = _only_call(mocked)
    assert orjson.loads(kwargs["data"]) == {  # as the official SDKs: type always sent
        "type": "mt_text",
        "to_add": ["+46700000001"],
        "to_remove": ["+46701234567"],
    }


async def test_update_infers_binary(mocked: Any, eu_client: SinchClient) -> None:
    mocked.post(
        f"{BASE}/batches/{BATCH['id']}",
        status=200,
        body=orjson.dumps({**BATCH, "type": "mt_binary"}),
    )
    await eu_client.batches.update(BATCH["id"], body="aGk=", udh="0605040B8423F0")
    _, _, kwargs = _only_call(mocked)
    assert orjson.loads(kwargs["data"]) == {
        "type": "mt_binary",
        "body": "aGk=",
        "udh": "0605040B8423F0",
    }


async def test_dry_run_query_and_feedback_body(mocked: Any, eu_client: SinchClient) -> None:
    mocked.post(
        f"{BASE}/batches/dry_run?per_recipient=true&number_of_recipients=10",
        status=200,
        body=b'{"number_of_recipients": 1, "number_of_messages": 1}',
    )
    mocked.post(f"{BASE}/batches/{BATCH['id']}/delivery_feedback", status=202, body=b"")
    from sinch_async import TextBatchRequest

    result = await eu_client.batches.dry_run(
        TextBatchRequest(to=["+46701234567"], body="x"), per_recipient=True, number_of_recipients=10
    )
    assert result.number_of_messages == 1
    await eu_client.batches.send_delivery_feedback(BATCH["id"], recipients=["+46701234567"])
    feedback_calls = [
        c.kwargs
        for k, cs in mocked.requests.items()
        if "delivery_feedback" in str(k[1])
        for c in cs
    ]
    assert [orjson.loads(c["data"]) for c in feedback_calls] == [{"recipients": ["+46701234567"]}]


async def test_cancel_and_get_paths(mocked: Any, eu_client: SinchClient) -> None:
    mocked.delete(
        f"{BASE}/batches/{BATCH['id']}", status=200, body=orjson.dumps({**BATCH, "canceled": True})
    )
    batch = await eu_client.batches.cancel(BATCH["id"])
    assert isinstance(batch, TextBatch) and batch.canceled is True
