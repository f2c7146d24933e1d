"""FakeSinch driven over loopback with a raw aiohttp session (independent of the SDK)."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
import types
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async.testing import FakeClock, FakeSinch, Fault
from sinch_async.testing.pytest_plugin import FakeSinchFactory
from tests.support.fake_http import AUTH, NOW, TEXT, ULID, call

pytestmark = pytest.mark.fake_sinch(on_clock=True, seed=7)


async def send(http: aiohttp.ClientSession, fake: FakeSinch, **overrides: Any) -> tuple[int, Any]:
    return await call(http, fake, "POST", "/batches", json={**TEXT, **overrides})


# -- lifecycle, auth, protocol -------------------------------------------------------------


async def test_lifecycle_and_plugin_fixture(fake_sinch: FakeSinch) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake_sinch.base_url)
    assert fake_sinch.url("/batches").endswith("/xms/v1/test-plan/batches")
    with pytest.raises(RuntimeError):
        await fake_sinch.start()
    idle = FakeSinch()
    with pytest.raises(RuntimeError):
        _ = idle.base_url
    async with idle:
        url = idle.base_url
    with pytest.raises(RuntimeError):
        _ = idle.base_url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url)


async def test_client_passes_credentials(fake: FakeSinch, monkeypatch: pytest.MonkeyPatch) -> None:
    class StubClient:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    stub = types.ModuleType("sinch_async")
    stub.SinchClient = StubClient  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sinch_async", stub)
    client = fake.client(max_retries=0)
    assert client.kwargs == {
        "service_plan_id": "test-plan",
        "api_token": "test-token",
        "base_url": fake.base_url,
        "max_retries": 0,
    }


@pytest.mark.parametrize(
    ("headers", "plan"),
    [
        ({}, "test-plan"),
        ({"Authorization": "Bearer wrong"}, "test-plan"),
        ({"Authorization": "Basic test-token"}, "test-plan"),
        (AUTH, "other-plan"),
    ],
)
async def test_auth_is_checked_before_validation(
    fake: FakeSinch, headers: dict[str, str], plan: str
) -> None:
    url = f"{fake.base_url}/xms/v1/{plan}/batches"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"to": []}, headers=headers) as resp,
    ):
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert (await resp.json())["code"] == "unauthorized"
    assert fake.batches == {}
    assert fake.requests[-1].json == {"to": []}


async def test_content_type_and_invalid_json(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, fake, "POST", "/batches", data=b"{}", headers={})
    assert status == 415
    status, body = await call(
        http, fake, "POST", "/batches", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (status, body["code"]) == (400, "syntax_invalid_json")
    status, body = await call(
        http,
        fake,
        "POST",
        "/batches",
        data=b'{"to": ["+15551230001"], "body": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 201


async def test_unknown_path_and_wrong_method(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    assert (await call(http, fake, "GET", "/nothing"))[0] == 404
    assert (await call(http, fake, "GET", "/batches/x/y/z"))[0] == 404
    async with http.get(f"{fake.base_url}/other") as resp:
        assert resp.status == 404
    async with http.patch(fake.url("/batches")) as resp:
        assert resp.status == 405
        assert set(resp.headers["Allow"].split(", ")) == {"GET", "POST"}
    # dry_run is its own route, not a batch id
    async with http.get(fake.url("/batches/dry_run")) as resp:
        assert resp.status == 405


async def test_requests_are_recorded_raw(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    url = fake.url("/batches") + "?from=%2B1555,%2B1666&page=1"
    async with http.get(url, headers={"X-Trace": "t1"}) as resp:
        assert resp.status == 200
    record = fake.requests[-1]
    assert record.method == "GET"
    assert record.path == "/xms/v1/test-plan/batches"
    assert record.query_string == "from=%2B1555,%2B1666&page=1"
    assert record.query == [("from", "+1555,+1666"), ("page", "1")]
    assert record.query_value("from") == "+1555,+1666"
    assert record.headers["x-trace"] == "t1"
    assert record.body == b""
    assert record.json is None
    await send(http, fake)
    assert fake.requests[-1].json == TEXT


# -- send / get ----------------------------------------------------------------------------


async def test_send_text_batch(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    status, batch = await send(
        http, fake, client_reference="ref-1", future_field=1, send_at="2026-11-24T10:00:00+02:00"
    )
    assert status == 201
    assert ULID.fullmatch(batch["id"])
    assert batch["type"] == "mt_text"
    assert batch["to"] == TEXT["to"]
    assert batch["body"] == "hello"
    assert batch["created_at"] == batch["modified_at"] == "2026-11-23T12:00:00.123Z"
    assert batch["send_at"] == "2026-11-24T08:00:00.000Z"
    assert batch["expire_at"] == "2026-11-27T08:00:00.000Z"
    assert batch["canceled"] is False
    assert batch["delivery_report"] == "none"
    assert batch["client_reference"] == "ref-1"
    assert "future_field" not in batch
    assert fake.batches == {batch["id"]: batch}
    assert await call(http, fake, "GET", f"/batches/{batch['id']}") == (200, batch)


async def test_send_defaults_and_unique_ids(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    ids = set()
    for _ in range(20):
        status, batch = await send(http, fake)
        assert status == 201
        assert "send_at" not in batch
        assert batch["expire_at"] == "2026-11-26T12:00:00.123Z"
        ids.add(batch["id"])
    assert len(ids) == 20 == len(fake.batches)


async def test_send_binary_and_media(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    status, batch = await send(
        http, fake, type="mt_binary", body="SGVsbG8=", udh="050003010201", parameters={"a": {}}
    )
    assert status == 201
    assert (batch["type"], batch["body"], batch["udh"]) == ("mt_binary", "SGVsbG8=", "050003010201")
    assert "parameters" not in batch
    media = {"url": "https://example.com/a.png", "message": "hi", "extra": 1}
    status, batch = await send(http, fake, type="mt_media", body=media, strict_validation=True)
    assert status == 201
    assert batch["body"] == {"url": "https://example.com/a.png", "message": "hi"}
    assert batch["strict_validation"] is True


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"to": None}, "syntax_constraint_violation"),
        ({"to": []}, "syntax_constraint_violation"),
        ({"to": ["+1555"] * 1001}, "syntax_constraint_violation"),
        ({"to": "+15551230001"}, "syntax_constraint_violation"),
        ({"to": ["not-a-number"]}, "syntax_invalid_parameter_format"),
        ({"to": ["+1234567890123456"]}, "syntax_invalid_parameter_format"),
        ({"body": None}, "syntax_constraint_violation"),
        ({"body": "x" * 2001}, "syntax_constraint_violation"),
        ({"type": "mt_fax"}, "syntax_constraint_violation"),
        ({"delivery_report": "sometimes"}, "syntax_constraint_violation"),
        ({"send_at": "tomorrow"}, "syntax_invalid_parameter_format"),
        (
            {"send_at": "2026-11-24T10:00:00Z", "expire_at": "2026-11-24T09:00:00Z"},
            "syntax_constraint_violation",
        ),
        ({"from_ton": 7}, "syntax_constraint_violation"),
        ({"from_npi": 19}, "syntax_constraint_violation"),
        ({"from_npi": True}, "syntax_constraint_violation"),
        ({"callback_url": "https://x/" + "a" * 2040}, "syntax_constraint_violation"),
        ({"client_reference": "r" * 2049}, "syntax_constraint_violation"),
        ({"max_number_of_message_parts": 0}, "syntax_constraint_violation"),
        ({"parameters": {"name": "flat"}}, "syntax_constraint_violation"),
        ({"feedback_enabled": "yes"}, "syntax_constraint_violation"),
        ({"type": "mt_binary", "body": "!!!", "udh": "00"}, "syntax_invalid_parameter_format"),
        ({"type": "mt_binary", "body": "AAAA", "udh": "xyz"}, "syntax_invalid_parameter_format"),
        ({"type": "mt_binary", "body": "AAAA"}, "syntax_constraint_violation"),
        (
            {"type": "mt_binary", "body": "A" * 184, "udh": "0500030102"},  # 138 + 5 bytes
            "syntax_constraint_violation",
        ),
        ({"type": "mt_media", "body": {"message": "no url"}}, "syntax_constraint_violation"),
        ({"type": "mt_media", "body": "just text"}, "syntax_constraint_violation"),
    ],
)
async def test_send_validation(
    fake: FakeSinch, http: aiohttp.ClientSession, overrides: dict[str, Any], code: str
) -> None:
    status, body = await send(http, fake, **overrides)
    assert (status, body["code"]) == (400, code), body
    assert body["text"]
    assert fake.batches == {}


async def test_send_non_object_body(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, fake, "POST", "/batches", json=[TEXT])
    assert (status, body["code"]) == (400, "syntax_constraint_violation")


async def test_get_unknown_batch(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, fake, "GET", "/batches/01HEAWCHESCXG8SDG5R10VF8E1")
    assert (status, body["code"]) == (404, "not_found")


# -- list ----------------------------------------------------------------------------------


async def test_list_pages(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    seeded = fake.seed_batches(65)
    newest_first = [b["id"] for b in reversed(seeded)]
    seen: list[str] = []
    for page, expected in enumerate([30, 30, 5, 0]):
        status, body = await call(http, fake, "GET", f"/batches?page={page}&page_size=30")
        assert status == 200
        assert (body["count"], body["page"], body["page_size"]) == (65, page, expected)
        assert len(body["batches"]) == expected
        seen.extend(b["id"] for b in body["batches"])
    assert seen == newest_first
    status, body = await call(http, fake, "GET", "/batches")
    assert (body["page"], body["page_size"], body["count"]) == (0, 30, 65)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("page_size=0", "syntax_constraint_violation"),
        ("page_size=101", "syntax_constraint_violation"),
        ("page=-1", "syntax_constraint_violation"),
        ("page=one", "syntax_invalid_parameter_format"),
        ("start_date=yesterday", "syntax_invalid_parameter_format"),
        ("end_date=2026-13-01", "syntax_invalid_parameter_format"),
    ],
)
async def test_list_bad_query(
    fake: FakeSinch, http: aiohttp.ClientSession, query: str, code: str
) -> None:
    status, body = await call(http, fake, "GET", f"/batches?{query}")
    assert (status, body["code"]) == (400, code)


async def test_list_filters(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    start = NOW - timedelta(hours=1)
    batches = fake.seed_batches(
        6,
        start=start,
        spacing=timedelta(minutes=10),
        from_=lambda i: ["+111", "+222", "SHOP"][i % 3],
        client_reference=lambda i: f"ref-{i % 2}",
    )
    old = fake.seed_batches(1, start=NOW - timedelta(hours=25))[0]

    async def ids(query: str) -> list[str]:
        status, body = await call(http, fake, "GET", f"/batches?{query}")
        assert status == 200, body
        assert body["count"] == len(body["batches"])
        return [b["id"] for b in body["batches"]]

    def pick(*indexes: int) -> list[str]:
        return [batches[i]["id"] for i in sorted(indexes, reverse=True)]

    assert await ids("") == pick(0, 1, 2, 3, 4, 5)  # default window: last 24 h
    assert await ids("from=%2B111,SHOP") == pick(0, 2, 3, 5)
    assert await ids("from=%2B111&from=SHOP") == pick(2, 5)  # repeated: last one wins
    assert await ids("client_reference=ref-1") == pick(1, 3, 5)
    assert await ids("from=%2B222&client_reference=ref-1") == pick(1)
    # start inclusive, end exclusive; offsets and missing offsets both understood
    window = "start_date=2026-11-23T11:20:00.123Z&end_date=2026-11-23T13:40:00.123%2B02:00"
    assert await ids(window) == pick(2, 3)
    assert await ids("start_date=2026-11-23T11:30:00.123") == pick(3, 4, 5)
    assert await ids("start_date=2026-11-20T00:00:00Z") == [*pick(0, 1, 2, 3, 4, 5), old["id"]]


async def test_list_ties_newest_insert_first(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    first = (await send(http, fake))[1]
    second = (await send(http, fake))[1]
    assert first["created_at"] == second["created_at"]
    _, body = await call(http, fake, "GET", "/batches")
    assert [b["id"] for b in body["batches"]] == [second["id"], first["id"]]


# -- dry run -------------------------------------------------------------------------------


async def dry_run(
    http: aiohttp.ClientSession, fake: FakeSinch, query: str = "", **overrides: Any
) -> tuple[int, Any]:
    return await call(http, fake, "POST", f"/batches/dry_run{query}", json={**TEXT, **overrides})


@pytest.mark.parametrize(
    ("text", "parts", "encoding"),
    [
        ("a" * 160, 1, "text"),
        ("a" * 161, 2, "text"),
        ("a" * 306, 2, "text"),
        ("a" * 307, 3, "text"),
        ("€" * 80, 1, "text"),  # extended characters count twice
        ("€" * 81, 2, "text"),
        ("é" * 70 + "😀", 2, "unicode"),  # 71 characters, 72 UTF-16 units
        ("ж" * 70, 1, "unicode"),
        ("ж" * 134, 2, "unicode"),
        ("ж" * 135, 3, "unicode"),
    ],
)
async def test_dry_run_parts(
    fake: FakeSinch, http: aiohttp.ClientSession, text: str, parts: int, encoding: str
) -> None:
    status, body = await dry_run(
        http, fake, "?per_recipient=true", body=text, to=["+15551230001", "+15551230002"]
    )
    assert status == 200
    assert body["number_of_recipients"] == 2
    assert body["number_of_messages"] == 2 * parts
    assert [row["number_of_parts"] for row in body["per_recipient"]] == [parts, parts]
    assert {row["encoding"] for row in body["per_recipient"]} == {encoding}


async def test_dry_run_parameters_and_limits(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    to = [f"+1555123000{i}" for i in range(5)]
    params = {"name": {"15551230001": "Ann", "+15551230002": "Bob", "default": "you"}}
    status, body = await dry_run(
        http,
        fake,
        "?per_recipient=true&number_of_recipients=3",
        to=to,
        body="Hi ${name}${unknown}",
        parameters=params,
    )
    assert status == 200
    assert body["number_of_recipients"] == 5
    assert body["number_of_messages"] == 5
    assert [(r["recipient"], r["body"]) for r in body["per_recipient"]] == [
        ("+15551230000", "Hi you${unknown}"),
        ("+15551230001", "Hi Ann${unknown}"),
        ("+15551230002", "Hi Bob${unknown}"),
    ]
    status, body = await dry_run(http, fake, to=to)
    assert "per_recipient" not in body
    status, body = await dry_run(http, fake, "?number_of_recipients=1001")
    assert (status, body["code"]) == (400, "syntax_constraint_violation")
    status, body = await dry_run(http, fake, "?per_recipient=maybe")
    assert (status, body["code"]) == (400, "syntax_invalid_parameter_format")
    status, body = await dry_run(http, fake, to=[])
    assert (status, body["code"]) == (400, "syntax_constraint_violation")
    status, body = await dry_run(http, fake, type="mt_binary", body="AAAA", udh="00", to=to)
    assert (status, body["number_of_messages"]) == (200, 5)
    assert fake.batches == {}


# -- update / replace / cancel / feedback --------------------------------------------------


async def test_update_batch(fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    _, batch = await send(http, fake, to=["+111", "+222"], client_reference="keep")
    clock.advance(seconds=5)
    status, updated = await call(
        http,
        fake,
        "POST",
        f"/batches/{batch['id']}",
        json={
            "to_add": ["+333", "+444", "+111"],
            "to_remove": ["+222", "+444"],
            "body": "changed",
            "type": "mt_text",
            "send_at": "2026-11-25T00:00:00Z",
        },
    )
    assert status == 200
    assert updated["id"] == batch["id"]
    assert updated["to"] == ["+111", "+333"]
    assert updated["body"] == "changed"
    assert updated["client_reference"] == "keep"
    assert updated["created_at"] == batch["created_at"]
    assert updated["modified_at"] == "2026-11-23T12:00:05.123Z"
    assert updated["expire_at"] == "2026-11-28T00:00:00.000Z"  # default follows send_at
    assert fake.batches[batch["id"]] == updated


@pytest.mark.parametrize(
    ("update", "code"),
    [
        ({"type": "mt_binary"}, "syntax_constraint_violation"),
        ({"to_add": []}, "syntax_constraint_violation"),
        ({"to_add": [f"+1{i:05d}" for i in range(101)]}, "syntax_constraint_violation"),
        ({"to_remove": ["+15551230001"]}, "syntax_constraint_violation"),  # none left
        ({"to_add": ["bogus"]}, "syntax_invalid_parameter_format"),
        (
            {"expire_at": "2020-01-01T00:00:00Z", "send_at": "2026-12-01T00:00:00Z"},
            "syntax_constraint_violation",
        ),
        ({"delivery_report": "loud"}, "syntax_constraint_violation"),
    ],
)
async def test_update_validation(
    fake: FakeSinch, http: aiohttp.ClientSession, update: dict[str, Any], code: str
) -> None:
    _, batch = await send(http, fake)
    status, body = await call(http, fake, "POST", f"/batches/{batch['id']}", json=update)
    assert (status, body["code"]) == (400, code)
    assert fake.batches[batch["id"]] == batch


async def test_replace_keeps_id(
    fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    _, batch = await send(http, fake, client_reference="old", delivery_report="full")
    clock.advance(minutes=1)
    new = {"to": ["+999"], "type": "mt_binary", "body": "AAAA", "udh": "00"}
    status, replaced = await call(http, fake, "PUT", f"/batches/{batch['id']}", json=new)
    assert status == 200
    assert (replaced["id"], replaced["created_at"]) == (batch["id"], batch["created_at"])
    assert replaced["modified_at"] == "2026-11-23T12:01:00.123Z"
    assert (replaced["type"], replaced["to"], replaced["udh"]) == ("mt_binary", ["+999"], "00")
    assert "client_reference" not in replaced
    assert replaced["delivery_report"] == "none"
    assert list(fake.batches) == [batch["id"]]
    status, body = await call(http, fake, "PUT", f"/batches/{batch['id']}", json={"to": ["+1"]})
    assert (status, body["code"]) == (400, "syntax_constraint_violation")
    assert (await call(http, fake, "PUT", "/batches/unknown", json=TEXT))[0] == 404


async def test_cancel(fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    _, batch = await send(http, fake)
    clock.advance(seconds=1)
    status, canceled = await call(http, fake, "DELETE", f"/batches/{batch['id']}")
    assert status == 200
    assert canceled["canceled"] is True
    assert canceled["modified_at"] == "2026-11-23T12:00:01.123Z"
    clock.advance(seconds=1)
    assert await call(http, fake, "DELETE", f"/batches/{batch['id']}") == (200, canceled)
    status, body = await call(http, fake, "POST", f"/batches/{batch['id']}", json={"body": "x"})
    assert (status, body["text"]) == (400, "batch is canceled")
    assert (await call(http, fake, "DELETE", "/batches/unknown"))[0] == 404


async def test_delivery_feedback(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    _, batch = await send(http, fake, to=["+111", "+222"], feedback_enabled=True)
    path = f"/batches/{batch['id']}/delivery_feedback"
    async with http.post(fake.url(path), json={"recipients": ["+111", "222"]}) as resp:
        assert resp.status == 202
        assert await resp.read() == b""
    assert (await call(http, fake, "POST", path, json={"recipients": []}))[0] == 202
    assert fake.feedback == {batch["id"]: ["+111", "222"]}

    for body in ({}, {"recipients": "+111"}, {"recipients": ["+333"]}):
        status, error = await call(http, fake, "POST", path, json=body)
        assert (status, error["code"]) == (400, "syntax_constraint_violation")
    _, plain = await send(http, fake)
    status, error = await call(
        http, fake, "POST", f"/batches/{plain['id']}/delivery_feedback", json={"recipients": []}
    )
    assert (status, error["code"]) == (400, "syntax_constraint_violation")
    status, _ = await call(
        http, fake, "POST", "/batches/nope/delivery_feedback", json={"recipients": []}
    )
    assert status == 404
    assert fake.feedback == {batch["id"]: ["+111", "222"]}


# -- seeding -------------------------------------------------------------------------------


async def test_seed_batches(fake: FakeSinch) -> None:
    seeded = fake.seed_batches(3, spacing=timedelta(minutes=1), client_reference=lambda i: f"r{i}")
    assert [b["created_at"] for b in seeded] == [
        "2026-11-23T11:57:00.123Z",
        "2026-11-23T11:58:00.123Z",
        "2026-11-23T11:59:00.123Z",
    ]
    assert [b["client_reference"] for b in seeded] == ["r0", "r1", "r2"]
    assert list(fake.batches) == [b["id"] for b in seeded]
    with pytest.raises(ValueError, match="invalid seed"):
        fake.seed_batches(1, to=["not a number"])
    with pytest.raises(ValueError):
        fake.seed_batches(1, start=datetime(2026, 1, 1))  # naive


# -- faults --------------------------------------------------------------------------------


async def test_status_fault_before_is_not_processed(
    fake: FakeSinch, http: aiohttp.ClientSession
) -> None:
    handle = fake.add_fault(
        Fault(method="POST", path="/batches", status=503, times=1, headers={"Retry-After": "2"})
    )
    async with http.post(fake.url("/batches"), json=TEXT) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "2"
        assert await resp.json() == {"code": "internal_error", "text": "injected"}
    assert fake.batches == {}
    assert (handle.fired, handle.remaining, handle.active) == (1, 0, False)
    assert fake.faults == []
    assert (await send(http, fake))[0] == 201
    assert len(fake.requests) == 2


async def test_status_fault_after_is_processed(
    fake: FakeSinch, http: aiohttp.ClientSession
) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=500, phase="after", times=1))
    status, body = await send(http, fake, client_reference="ambiguous")
    assert (status, body["code"]) == (500, "internal_error")
    assert [b["client_reference"] for b in fake.batches.values()] == ["ambiguous"]


async def test_fault_custom_body_and_429(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    fake.add_fault(Fault(path="*", status=502, body=b"<html>", content_type="text/html", times=1))
    fake.add_fault(Fault(path="*", status=429, times=1))
    async with http.get(fake.url("/batches")) as resp:
        assert (resp.status, resp.content_type, await resp.read()) == (502, "text/html", b"<html>")
    status, body = await call(http, fake, "GET", "/batches")
    assert (status, body["code"]) == (429, "too_many_requests")
    assert (await call(http, fake, "GET", "/batches"))[0] == 200


@pytest.mark.parametrize(("phase", "stored"), [("before", 0), ("after", 1)])
async def test_drop_fault(
    fake: FakeSinch,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    phase: str,
    stored: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    fake.add_fault(Fault(method="POST", path="/batches", drop=True, phase=phase, times=1))  # type: ignore[arg-type]
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await send(http, fake)
    assert len(fake.batches) == stored
    assert (await send(http, fake))[0] == 201
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_delay_fault_and_client_timeout(
    fake_on_clock: FakeSinch, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """A delay fault holds the request on the fake's clock (parked here: no wall time)."""
    fake = fake_on_clock
    clock.auto_advance = False
    fake.add_fault(Fault(method="GET", path="/batches/{id}", delay=0.15, times=1))
    _, batch = await send(http, fake)
    get = asyncio.create_task(call(http, fake, "GET", f"/batches/{batch['id']}"))
    await clock.wait_for_sleepers(1)  # held by its fault
    clock.advance(0.1)
    await asyncio.sleep(0)
    assert not get.done()
    clock.advance(0.05)
    assert await asyncio.wait_for(get, 5) == (200, batch)
    assert clock.sleeps == [0.15]

    # a client that gives up during a "before" delay leaves nothing behind
    fake.add_fault(Fault(method="POST", path="/batches", delay=0.3, times=1))
    post = asyncio.create_task(call(http, fake, "POST", "/batches", json=TEXT))
    await clock.wait_for_sleepers(1)
    post.cancel()
    with pytest.raises(asyncio.CancelledError):
        await post
    await fake.settle()  # the server cancelled the held handler when the client left
    assert clock.sleepers == 0
    clock.advance(0.3)
    await fake.settle()
    assert len(fake.batches) == 1


async def test_latency_applies_after_processing(
    fake_on_clock: FakeSinch, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """Latency holds the response (on the fake's clock, parked here) after the request was
    processed."""
    fake = fake_on_clock
    clock.auto_advance = False
    fake.latency = 0.05
    listed = asyncio.create_task(call(http, fake, "GET", "/batches"))
    await clock.wait_for_sleepers(1)
    assert not listed.done()
    clock.advance(0.05)
    assert (await asyncio.wait_for(listed, 5))[0] == 200

    fake.latency = 0.3
    post = asyncio.create_task(call(http, fake, "POST", "/batches", json=TEXT))
    await clock.wait_for_sleepers(1)
    assert len(fake.batches) == 1  # processed, only the response is late
    post.cancel()  # a client that gives up on the late response
    with pytest.raises(asyncio.CancelledError):
        await post
    clock.advance(0.3)
    await fake.settle()
    assert len(fake.batches) == 1
    assert clock.sleeps == [0.05, 0.3]
    with pytest.raises(ValueError):
        fake.latency = -1


async def test_fault_times_and_matching(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    _, batch = await send(http, fake)
    handle = fake.add_fault(Fault(path="/batches/{batch_id}", status=500, times=2))
    assert (await call(http, fake, "POST", "/batches/dry_run", json=TEXT))[0] == 200
    assert (await call(http, fake, "GET", "/batches"))[0] == 200
    statuses = [(await call(http, fake, "GET", f"/batches/{batch['id']}"))[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert handle.fired == 2

    fake.add_fault(Fault(method="DELETE", path=f"/batches/{batch['id'][:5]}*", status=409))
    assert (await call(http, fake, "GET", f"/batches/{batch['id']}"))[0] == 200
    assert (await call(http, fake, "DELETE", f"/batches/{batch['id']}"))[0] == 409
    fake.clear_faults()
    assert (await call(http, fake, "DELETE", f"/batches/{batch['id']}"))[0] == 200


async def test_fault_probability_is_seeded(
    fake_sinch_factory: FakeSinchFactory, http: aiohttp.ClientSession
) -> None:
    async def pattern(seed: int) -> list[int]:
        fake = await fake_sinch_factory(seed=seed)
        fake.add_fault(Fault(status=500, probability=0.5))
        return [(await call(http, fake, "GET", "/batches"))[0] for _ in range(12)]

    first = await pattern(3)
    assert first == await pattern(3)
    assert set(first) == {200, 500}


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault(status=500, drop=True)
    with pytest.raises(ValueError):
        Fault(probability=1.5)
    with pytest.raises(ValueError):
        Fault(phase="during")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault(status=42)


async def test_header_only_fault_decorates_normal_response(
    fake: FakeSinch, http: aiohttp.ClientSession
) -> None:
    fake.add_fault(Fault(method="GET", headers={"X-Injected": "yes"}, times=1))
    async with http.get(fake.url("/batches")) as resp:
        assert (resp.status, resp.headers.get("X-Injected")) == (200, "yes")
    async with http.get(fake.url("/batches")) as resp:
        assert "X-Injected" not in resp.headers


async def test_close_aborts_requests_in_flight(
    fake_sinch_factory: FakeSinchFactory,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    fake = await fake_sinch_factory()
    fake.add_fault(Fault(delay=30))
    pending = asyncio.ensure_future(call(http, fake, "GET", "/batches"))
    await fake.wait_for_requests(1)  # arrived, and held by its 30 s fault
    started = time.monotonic()
    await fake.close()
    assert time.monotonic() - started < 2
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await pending
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_naive_clock_is_rejected() -> None:
    with pytest.raises(TypeError):
        FakeSinch(now=lambda: datetime(2026, 1, 1)).now()
