"""FakeSinch inbounds (§9) and the admin route, over loopback with a raw aiohttp session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async.testing import FakeClock, FakeSinch, Fault
from tests.support.fake_http import AUTH, NOW, ULID, call

pytestmark = pytest.mark.fake_sinch(on_clock=True, seed=3)


async def test_add_inbound_shapes(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    text = fake.add_inbound(
        from_="+11203494390",
        to="11203453453",
        body="a body",
        client_reference="a client reference",
        operator_id="35000",
        sent_at="2026-11-23T11:59:00Z",
    )
    assert ULID.fullmatch(text["id"])
    assert text == {
        "type": "mo_text",
        "id": text["id"],
        "from": "+11203494390",
        "to": "11203453453",
        "body": "a body",
        "received_at": "2026-11-23T12:00:00.123Z",
        "sent_at": "2026-11-23T11:59:00.000Z",
        "operator_id": "35000",
        "client_reference": "a client reference",
    }
    binary = fake.add_inbound(
        from_="+1", to="2", type="mo_binary", body="SGVsbG8=", udh="050003010201"
    )
    assert (binary["body"], binary["udh"]) == ("SGVsbG8=", "050003010201")
    media = fake.add_inbound(
        from_="+1",
        to="2",
        type="mo_media",
        body={
            "subject": "s",
            "message": "m",
            "media": [{"url": "https://x.test/a.jpg", "content_type": "image/jpeg"}],
        },
        received_at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
    )
    assert media["body"] == {
        "subject": "s",
        "message": "m",
        "media": [
            {
                "url": "https://x.test/a.jpg",
                "content_type": "image/jpeg",
                "status": "Uploaded",
                "code": 0,
            }
        ],
    }
    assert media["received_at"] == "2026-11-23T11:00:00.000Z"
    assert "udh" not in media
    assert list(fake.inbounds) == [text["id"], binary["id"], media["id"]]
    for inbound in (text, binary, media):
        assert await call(http, fake, "GET", f"/inbounds/{inbound['id']}") == (200, inbound)
    status, body = await call(http, fake, "GET", "/inbounds/01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert (status, body["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "mo_fax"},
        {"type": "mo_binary", "body": "SGVsbG8="},  # no udh
        {"type": "mo_binary", "body": "not base64!", "udh": "00"},
        {"udh": "00"},  # udh on a text message
        {"body": {"message": "dict body for text"}},
        {"from_": ""},
        {"received_at": datetime(2026, 1, 1)},  # naive
        {"received_at": "yesterday"},
        {"type": "mo_media", "body": {"media": [{"url": "https://x.test"}]}},  # no content_type
    ],
)
def test_add_inbound_validation(fake: FakeSinch, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"from_": "+1", "to": "2", **kwargs}
    with pytest.raises(ValueError, match="invalid inbound"):
        fake.add_inbound(**args)
    assert fake.inbounds == {}


async def test_list_pages(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    seeded = fake.seed_inbounds(65)
    seen: list[str] = []
    for page, expected in enumerate([30, 30, 5, 0]):
        status, body = await call(http, fake, "GET", f"/inbounds?page={page}&page_size=30")
        assert status == 200
        assert (body["count"], body["page"], body["page_size"]) == (65, page, expected)
        seen.extend(i["id"] for i in body["inbounds"])
    assert seen == [i["id"] for i in reversed(seeded)]
    for query, code in [
        ("page_size=0", "syntax_constraint_violation"),
        ("page_size=101", "syntax_constraint_violation"),
        ("page=x", "syntax_invalid_parameter_format"),
        ("end_date=tomorrow", "syntax_invalid_parameter_format"),
    ]:
        status, body = await call(http, fake, "GET", f"/inbounds?{query}")
        assert (status, body["code"]) == (400, code)


async def test_list_filters(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    inbounds = fake.seed_inbounds(
        6,
        start=NOW - timedelta(hours=1),
        spacing=timedelta(minutes=10),
        to=lambda i: ["+15550001111", "15550002222", "45607"][i % 3],
        client_reference=lambda i: f"ref-{i % 2}",
    )
    old = fake.seed_inbounds(1, start=NOW - timedelta(hours=25))[0]

    async def ids(query: str) -> list[str]:
        status, body = await call(http, fake, "GET", f"/inbounds?{query}")
        assert status == 200, body
        assert body["count"] == len(body["inbounds"])
        return [i["id"] for i in body["inbounds"]]

    def pick(*indexes: int) -> list[str]:
        return [inbounds[i]["id"] for i in sorted(indexes, reverse=True)]

    assert await ids("") == pick(0, 1, 2, 3, 4, 5)  # default window: last 24 h
    assert await ids("to=15550001111,%2B15550002222") == pick(0, 1, 3, 4)  # '+' optional
    assert await ids("to=45607") == pick(2, 5)
    assert await ids("client_reference=ref-1") == pick(1, 3, 5)
    assert await ids("to=45607&client_reference=ref-0") == pick(2)
    window = "start_date=2026-11-23T11:20:00.123Z&end_date=2026-11-23T11:40:00.123Z"
    assert await ids(window) == pick(2, 3)
    assert await ids("start_date=2026-11-20T00:00:00Z") == [*pick(0, 1, 2, 3, 4, 5), old["id"]]


async def test_list_ties_newest_insert_first(fake: FakeSinch, http: aiohttp.ClientSession) -> None:
    first = fake.add_inbound(from_="+1", to="2")
    second = fake.add_inbound(from_="+1", to="2")
    assert first["received_at"] == second["received_at"]
    _, body = await call(http, fake, "GET", "/inbounds")
    assert [i["id"] for i in body["inbounds"]] == [second["id"], first["id"]]


async def test_admin_route_makes_an_inbound_arrive(fake: FakeSinch, clock: FakeClock) -> None:
    url = f"{fake.base_url}/_admin/inbounds"
    async with aiohttp.ClientSession() as anonymous:  # no Authorization header needed
        payload = {"from": "+46700000001", "to": "12345", "body": "STOP", "extra": 1}
        async with anonymous.post(url, json=payload) as resp:
            assert resp.status == 201
            inbound = await resp.json()
        assert inbound["from"] == "+46700000001"
        assert inbound["type"] == "mo_text"
        assert "extra" not in inbound
        assert fake.inbounds == {inbound["id"]: inbound}
        async with anonymous.post(url, json={"to": "12345"}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (
                400,
                "syntax_constraint_violation",
            )
        async with anonymous.post(url, data=b"{}") as resp:
            assert resp.status == 415
        async with anonymous.get(url) as resp:
            assert resp.status == 405
        # faults: '*' leaves the admin route alone; an explicit path reaches it
        fake.add_fault(Fault(status=503))
        async with anonymous.post(url, json=payload) as resp:
            assert resp.status == 201
        fake.clear_faults()
        fake.add_fault(Fault(path="/_admin/inbounds", status=500, times=1))
        async with anonymous.post(url, json=payload) as resp:
            assert resp.status == 500
    assert len(fake.inbounds) == 2
    async with aiohttp.ClientSession(headers=AUTH) as http:
        status, got = await call(http, fake, "GET", f"/inbounds/{inbound['id']}")
    assert (status, got) == (200, inbound)
