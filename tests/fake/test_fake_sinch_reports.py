"""FakeSinch delivery reports (§5, §6) over loopback with a raw aiohttp session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async.testing import FakeClock, FakeSinch
from tests.support.fake_http import NOW, call

pytestmark = pytest.mark.fake_sinch(on_clock=True, seed=5)
A, B, C = "+15550000001", "+15550000002", "+15550000003"


async def send(http: aiohttp.ClientSession, fake: FakeSinch, **body: Any) -> dict[str, Any]:
    payload = {"to": [A, B, C], "from": "SHOP", "body": "hello", **body}
    status, batch = await call(http, fake, "POST", "/batches", json=payload)
    assert status == 201, batch
    return batch  # type: ignore[no-any-return]


async def report(
    http: aiohttp.ClientSession, fake: FakeSinch, batch_id: str, query: str = ""
) -> dict[str, Any]:
    status, body = await call(http, fake, "GET", f"/batches/{batch_id}/delivery_report{query}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_summary_and_full(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    fake.set_outcome("15550000002", status="Failed", code=402)  # set without '+'
    batch = await send(http, fake, client_reference="order-1")
    summary = await report(http, fake, batch["id"])
    assert summary == {
        "type": "delivery_report_sms",
        "batch_id": batch["id"],
        "total_message_count": 3,
        "statuses": [
            {"code": 0, "status": "Delivered", "count": 2},
            {"code": 402, "status": "Failed", "count": 1},
        ],
        "client_reference": "order-1",
    }
    assert await report(http, fake, batch["id"], "?type=summary") == summary
    full = await report(http, fake, batch["id"], "?type=full")
    assert full["statuses"] == [
        {
            "code": 0,
            "status": "Delivered",
            "count": 2,
            "recipients": ["15550000001", "15550000003"],
        },
        {"code": 402, "status": "Failed", "count": 1, "recipients": ["15550000002"]},
    ]
    media = await send(http, fake, type="mt_media", body={"url": "https://x.test/a.png"})
    assert (await report(http, fake, media["id"]))["type"] == "delivery_report_mms"
    assert "client_reference" not in await report(http, fake, media["id"])
    _, one = await call(http, fake, "GET", f"/batches/{media['id']}/delivery_report/{A}")
    assert one["type"] == "recipient_delivery_report_mms"


async def test_batch_report_filters_and_errors(
    fake: FakeSinch, http: aiohttp.ClientSession
) -> None:
    fake.set_outcome(B, "Failed", 402)
    fake.set_outcome(C, "Rejected", 0)
    batch = await send(http, fake, client_reference="ref")
    bid = batch["id"]

    async def buckets(query: str) -> list[tuple[int, str, int]]:
        body = await report(http, fake, bid, query)
        assert body["total_message_count"] == 3  # filters never change the total
        return [(row["code"], row["status"], row["count"]) for row in body["statuses"]]

    assert await buckets("?status=Failed") == [(402, "Failed", 1)]
    assert await buckets("?status=Failed,Rejected") == [(0, "Rejected", 1), (402, "Failed", 1)]
    assert await buckets("?code=0") == [(0, "Delivered", 1), (0, "Rejected", 1)]
    assert await buckets("?code=0&status=Delivered") == [(0, "Delivered", 1)]
    assert await buckets("?client_reference=ref&status=Delivered") == [(0, "Delivered", 1)]
    assert await buckets("?client_reference=other") == []
    for query, status, code in [
        ("?type=detailed", 400, "syntax_constraint_violation"),
        ("?status=Lost", 400, "syntax_constraint_violation"),
        ("?code=zero", 400, "syntax_invalid_parameter_format"),
    ]:
        got_status, body = await call(http, fake, "GET", f"/batches/{bid}/delivery_report{query}")
        assert (got_status, body["code"]) == (status, code)
    got_status, body = await call(
        http, fake, "GET", "/batches/01AAAAAAAAAAAAAAAAAAAAAAAA/delivery_report"
    )
    assert (got_status, body["code"]) == (404, "not_found")


async def test_recipient_report(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    fake.set_outcome(B, "Failed", 402)
    batch = await send(
        http,
        fake,
        to=[A, "15550000002"],
        client_reference="c-1",
        max_number_of_message_parts=3,
        body="x" * 200,
    )
    base = f"/batches/{batch['id']}/delivery_report"
    status, one = await call(http, fake, "GET", f"{base}/{A}")
    assert status == 200
    assert one == {
        "type": "recipient_delivery_report_sms",
        "batch_id": batch["id"],
        "recipient": A,
        "code": 0,
        "status": "Delivered",
        "at": batch["created_at"],
        "operator_status_at": batch["created_at"],
        "client_reference": "c-1",
        "applied_originator": "SHOP",
        "number_of_message_parts": 2,
    }
    for path in (f"{base}/15550000001", f"{base}/%2B15550000001"):  # '+' optional, encoded
        assert await call(http, fake, "GET", path) == (200, one)
    status, other = await call(http, fake, "GET", f"{base}/%2B15550000002")
    assert (status, other["recipient"], other["status"], other["code"]) == (
        200,
        "15550000002",  # as addressed in the batch
        "Failed",
        402,
    )
    assert (await call(http, fake, "GET", f"{base}/{C}"))[0] == 404
    missing = "/batches/01AAAAAAAAAAAAAAAAAAAAAAAA/delivery_report/" + A
    assert (await call(http, fake, "GET", missing))[0] == 404


async def test_outcomes_are_fixed_when_dispatched(
    fake: FakeSinch, http: aiohttp.ClientSession
) -> None:
    first = await send(http, fake, to=[A])
    fake.set_outcome(A, "Expired", 406)
    second = await send(http, fake, to=[A])
    fake.clear_outcomes()
    third = await send(http, fake, to=[A])
    statuses = [
        (await report(http, fake, b["id"]))["statuses"][0]["status"] for b in (first, second, third)
    ]
    assert statuses == ["Delivered", "Expired", "Delivered"]
    assert fake.delivery_reports[second["id"]][0]["code"] == 406
    with pytest.raises(ValueError):
        fake.set_outcome(A, "Lost")


async def test_platform_aborts(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    batch = await send(
        http,
        fake,
        to=[A, B],
        body="Hi ${name}",
        parameters={"name": {A: "Ann"}},  # no value for B and no default
    )
    full = await report(http, fake, batch["id"], "?type=full")
    assert full["statuses"] == [
        {"code": 0, "status": "Delivered", "count": 1, "recipients": ["15550000001"]},
        {"code": 405, "status": "Aborted", "count": 1, "recipients": ["15550000002"]},
    ]
    long = await send(http, fake, to=[A], body="y" * 161, max_number_of_message_parts=1)
    _, one = await call(http, fake, "GET", f"/batches/{long['id']}/delivery_report/{A}")
    assert (one["status"], one["code"], one["number_of_message_parts"]) == ("Aborted", 411, 2)


async def test_scheduled_batch_has_no_report_until_sent(
    fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    send_at = clock.value + timedelta(minutes=10)
    batch = await send(http, fake, send_at=send_at.isoformat())
    assert await report(http, fake, batch["id"]) == {
        "type": "delivery_report_sms",
        "batch_id": batch["id"],
        "total_message_count": 0,
        "statuses": [],
    }
    assert (await call(http, fake, "GET", f"/batches/{batch['id']}/delivery_report/{A}"))[0] == 404
    clock.advance(minutes=10)
    body = await report(http, fake, batch["id"])
    assert body["statuses"] == [{"code": 0, "status": "Delivered", "count": 3}]
    _, one = await call(http, fake, "GET", f"/batches/{batch['id']}/delivery_report/{A}")
    assert one["at"] == batch["created_at"]
    assert one["operator_status_at"] == "2026-11-23T12:10:00.123Z"


async def test_cancel(fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    fake.set_outcome(B, "Queued", 400)
    fake.set_outcome(C, "Dispatched", 401)
    batch = await send(http, fake)
    before = await report(http, fake, batch["id"])
    assert [(r["code"], r["status"]) for r in before["statuses"]] == [
        (0, "Delivered"),
        (400, "Queued"),
        (401, "Dispatched"),
    ]
    _, listed = await call(http, fake, "GET", "/delivery_reports")
    assert [r["recipient"] for r in listed["delivery_reports"]] == [A]  # finished ones only
    clock.advance(seconds=2)
    await call(http, fake, "DELETE", f"/batches/{batch['id']}")
    after = await report(http, fake, batch["id"], "?type=full")
    assert after["statuses"] == [
        {"code": 0, "status": "Delivered", "count": 1, "recipients": ["15550000001"]},
        {
            "code": 407,
            "status": "Cancelled",
            "count": 2,
            "recipients": ["15550000002", "15550000003"],
        },
    ]
    _, cancelled = await call(http, fake, "GET", f"/batches/{batch['id']}/delivery_report/{B}")
    assert cancelled["operator_status_at"] == "2026-11-23T12:00:02.123Z"

    done = await send(http, fake, to=[A])
    await call(http, fake, "DELETE", f"/batches/{done['id']}")
    assert (await report(http, fake, done["id"]))["statuses"][0]["status"] == "Delivered"

    later = await send(http, fake, send_at=(clock.value + timedelta(hours=1)).isoformat())
    await call(http, fake, "DELETE", f"/batches/{later['id']}")
    clock.advance(hours=2)
    assert (await report(http, fake, later["id"]))["statuses"] == []  # never went out


async def test_replace_sends_anew(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    batch = await send(http, fake, to=[A, B])
    fake.set_outcome(C, "Failed", 402)
    status, _ = await call(
        http, fake, "PUT", f"/batches/{batch['id']}", json={"to": [C], "body": "new"}
    )
    assert status == 200
    full = await report(http, fake, batch["id"], "?type=full")
    assert full["statuses"] == [
        {"code": 402, "status": "Failed", "count": 1, "recipients": ["15550000003"]}
    ]
    # an update after sending changes the batch, not what was already sent
    await call(http, fake, "POST", f"/batches/{batch['id']}", json={"to_add": [A]})
    assert (await report(http, fake, batch["id"]))["total_message_count"] == 1


async def test_list_pages_and_window(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    seeded = fake.seed_delivery_reports(65)
    old = fake.seed_delivery_reports(1, start=NOW - timedelta(hours=25))[0]
    newest_first = [r["batch_id"] for r in reversed(seeded)]
    seen: list[str] = []
    for page, expected in enumerate([30, 30, 5, 0]):
        status, body = await call(http, fake, "GET", f"/delivery_reports?page={page}")
        assert status == 200
        assert (body["count"], body["page"], body["page_size"]) == (65, page, expected)
        seen.extend(r["batch_id"] for r in body["delivery_reports"])
    assert seen == newest_first
    query = "start_date=2026-11-22T00:00:00Z&page=2"
    _, body = await call(http, fake, "GET", f"/delivery_reports?{query}")
    assert (body["count"], body["page_size"]) == (66, 6)
    assert body["delivery_reports"][-1] == old  # outside the default 24 h window, oldest
    # start inclusive, end exclusive (seeded at 11:58:55.123 + i s)
    window = "start_date=2026-11-23T11:59:00.123Z&end_date=2026-11-23T11:59:03.123Z"
    _, body = await call(http, fake, "GET", f"/delivery_reports?{window}")
    assert [r["at"] for r in body["delivery_reports"]] == [
        "2026-11-23T11:59:02.123Z",
        "2026-11-23T11:59:01.123Z",
        "2026-11-23T11:59:00.123Z",
    ]
    for query, code in [
        ("page_size=0", "syntax_constraint_violation"),
        ("page_size=101", "syntax_constraint_violation"),
        ("start_date=soon", "syntax_invalid_parameter_format"),
        ("status=Nope", "syntax_constraint_violation"),
    ]:
        status, body = await call(http, fake, "GET", f"/delivery_reports?{query}")
        assert (status, body["code"]) == (400, code)
    # a seeded report's batch id works on the batch report routes too
    one = seeded[0]
    assert (await report(http, fake, one["batch_id"]))["statuses"] == [
        {"code": 0, "status": "Delivered", "count": 1}
    ]
    status, got = await call(
        http, fake, "GET", f"/batches/{one['batch_id']}/delivery_report/{one['recipient']}"
    )
    assert (status, got) == (200, one)
    assert one["batch_id"] not in fake.batches


async def test_list_filters_and_ties(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    fake.seed_delivery_reports(
        6,
        status=lambda i: ["Delivered", "Failed", "Expired"][i % 3],
        code=lambda i: [0, 402, 406][i % 3],
        client_reference=lambda i: f"ref-{i % 2}",
    )

    async def ats(query: str) -> list[str]:
        status, body = await call(http, fake, "GET", f"/delivery_reports?{query}")
        assert status == 200, body
        assert body["count"] == len(body["delivery_reports"])
        return [r["recipient"][-1] for r in body["delivery_reports"]]

    assert await ats("") == list("543210")
    assert await ats("status=Failed,Expired") == list("5421")
    assert await ats("code=0,406") == list("5320")
    assert await ats("client_reference=ref-1") == list("531")
    assert await ats("status=Delivered&client_reference=ref-1") == ["3"]

    # real batches sent in the same millisecond: later batch first, recipients in order
    first = await send(http, fake, to=[A, B])
    second = await send(http, fake, to=[C, A])
    assert first["created_at"] == second["created_at"]
    _, body = await call(http, fake, "GET", "/delivery_reports?page_size=4")
    assert [(r["batch_id"], r["recipient"]) for r in body["delivery_reports"]] == [
        (second["id"], C),
        (second["id"], A),
        (first["id"], A),
        (first["id"], B),
    ]


async def test_seed_delivery_reports_validation(fake: FakeSinch) -> None:
    with pytest.raises(ValueError):
        fake.seed_delivery_reports(1, status="Lost")
    with pytest.raises(ValueError):
        fake.seed_delivery_reports(1, at="2026-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        fake.seed_delivery_reports(-1)
    batch = fake.seed_batches(1)[0]
    with pytest.raises(ValueError):
        fake.seed_delivery_reports(1, batch_id=batch["id"])
    mms = fake.seed_delivery_reports(2, type="recipient_delivery_report_mms", batch_id="SHARED")
    assert [r["batch_id"] for r in mms] == ["SHARED", "SHARED"]
    assert len(fake.delivery_reports["SHARED"]) == 2
    # seeded batches are dispatched like sent ones
    assert [r["recipient"] for r in fake.delivery_reports[batch["id"]]] == batch["to"]
