"""FakeSinch groups (§10) over loopback with a raw aiohttp session (independent of the SDK)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async.testing import FakeClock, FakeSinch
from tests.support.fake_http import ULID, call
from tests.support.paths import anchors_dir

pytestmark = pytest.mark.fake_sinch(on_clock=True, seed=11)
UNKNOWN = "01FC66621XXXXX119Z8PMV1QPU"


async def create(http: aiohttp.ClientSession, fake: FakeSinch, **body: Any) -> dict[str, Any]:
    status, group = await call(http, fake, "POST", "/groups", json=body)
    assert status == 201, group
    return group  # type: ignore[no-any-return]


async def members(http: aiohttp.ClientSession, fake: FakeSinch, group_id: str) -> list[str]:
    status, body = await call(http, fake, "GET", f"/groups/{group_id}/members")
    assert status == 200, body
    assert isinstance(body, list)
    return body


async def test_group_crud(fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    child = await create(http, fake, members=["+15550000009", "+15550000001"])
    auto = {"to": 15551231234, "add": {"first_word": "JOIN"}, "remove": {"first_word": "STOP"}}
    group = await create(
        http,
        fake,
        name="Customers",
        members=["+15550000001", "15550000001", "+15550000002"],  # same number twice
        child_groups=[child["id"]],
        auto_update=auto,
        unknown_field=True,
    )
    assert ULID.fullmatch(group["id"])
    assert list(group) == [
        "id",
        "name",
        "size",
        "created_at",
        "modified_at",
        "child_groups",
        "auto_update",
    ]
    assert group["size"] == 3  # +1, +2 and the child's +9; duplicates counted once
    assert group["created_at"] == group["modified_at"] == "2026-11-23T12:00:00.123Z"
    assert group["child_groups"] == [child["id"]]
    assert group["auto_update"] == auto
    assert child == {  # no name, no children: those keys are omitted
        "id": child["id"],
        "size": 2,
        "created_at": "2026-11-23T12:00:00.123Z",
        "modified_at": "2026-11-23T12:00:00.123Z",
    }
    assert await call(http, fake, "GET", f"/groups/{group['id']}") == (200, group)
    assert await members(http, fake, group["id"]) == [
        "+15550000001",
        "+15550000002",
        "+15550000009",
    ]
    assert fake.groups[group["id"]] == group
    assert fake.group_members(group["id"]) == await members(http, fake, group["id"])

    clock.advance(seconds=3)
    status, replaced = await call(
        http, fake, "PUT", f"/groups/{group['id']}", json={"members": ["+15550000003"]}
    )
    assert status == 200
    assert replaced == {
        "id": group["id"],
        "size": 1,
        "created_at": group["created_at"],
        "modified_at": "2026-11-23T12:00:03.123Z",
    }
    assert await members(http, fake, group["id"]) == ["+15550000003"]

    async with http.delete(fake.url(f"/groups/{group['id']}")) as resp:
        assert resp.status == 200
        assert await resp.read() == b""
    for method, path in (
        ("GET", f"/groups/{group['id']}"),
        ("GET", f"/groups/{group['id']}/members"),
        ("DELETE", f"/groups/{group['id']}"),
    ):
        status, body = await call(http, fake, method, path)
        assert (status, body["code"]) == (404, "not_found")
    for method in ("PUT", "POST"):
        status, body = await call(http, fake, method, f"/groups/{UNKNOWN}", json={"members": []})
        assert status == 404
    assert list(fake.groups) == [child["id"]]


async def test_deleting_a_child_shrinks_the_parent(
    fake: FakeSinch,
    http: aiohttp.ClientSession,
) -> None:
    child = await create(http, fake, members=["+15550000009"])
    parent = await create(http, fake, members=["+15550000001"], child_groups=[child["id"]])
    assert parent["size"] == 2
    await call(http, fake, "DELETE", f"/groups/{child['id']}")
    _, parent = await call(http, fake, "GET", f"/groups/{parent['id']}")
    assert parent["size"] == 1
    assert parent["child_groups"] == [child["id"]]  # the reference stays, it counts as empty


async def test_update_semantics(
    fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    other = await create(http, fake, members=["+15550000007", "+15550000008"])
    drop = await create(http, fake, members=["+15550000002"])
    group = await create(http, fake, name="Team", members=["+15550000001", "+15550000002"])
    path = f"/groups/{group['id']}"
    clock.advance(seconds=1)
    status, updated = await call(
        http,
        fake,
        "POST",
        path,
        json={
            "add": ["+15550000003", "15550000001", "+15550000004"],  # 1 is already in
            "remove": ["+15550000004", "+15559999999"],  # in add and remove → removed
            "add_from_group": other["id"],
            "remove_from_group": drop["id"],
            "auto_update": {"to": "12345", "add": {"first_word": "Add 1st keyword"}},
        },
    )
    assert status == 200
    assert updated["name"] == "Team"  # omitted: kept
    assert updated["size"] == 4
    assert updated["modified_at"] == "2026-11-23T12:00:01.123Z"
    assert updated["created_at"] == group["created_at"]
    assert updated["auto_update"] == {"to": "12345", "add": {"first_word": "Add 1st keyword"}}
    assert await members(http, fake, group["id"]) == [
        "+15550000001",
        "+15550000003",
        "+15550000007",
        "+15550000008",
    ]

    status, renamed = await call(http, fake, "POST", path, json={"name": "Renamed"})
    assert (status, renamed["name"], list(renamed)[:2]) == (200, "Renamed", ["id", "name"])
    status, cleared = await call(http, fake, "POST", path, json={"name": None})
    assert status == 200
    assert "name" not in cleared
    assert cleared["size"] == 4
    assert fake.groups[group["id"]] == cleared


@pytest.mark.parametrize(
    ("method", "body", "status", "code"),
    [
        ("POST", {"name": "x" * 21}, 400, "syntax_constraint_violation"),
        ("POST", {"name": 5}, 400, "syntax_constraint_violation"),
        ("POST", {"members": "+15550000001"}, 400, "syntax_constraint_violation"),
        ("POST", {"members": ["foo"]}, 400, "syntax_invalid_parameter_format"),
        ("POST", {"members": ["+1555"] * 10_001}, 400, "syntax_constraint_violation"),
        ("POST", {"child_groups": [UNKNOWN] * 11}, 400, "syntax_constraint_violation"),
        ("POST", {"child_groups": [UNKNOWN]}, 403, "unknown_group"),
        ("POST", {"auto_update": {"add": {"first_word": "A"}}}, 400, "syntax_constraint_violation"),
        ("POST", {"auto_update": {"to": "1", "add": {}}}, 400, "syntax_constraint_violation"),
        ("POST", {"auto_update": {"to": True}}, 400, "syntax_constraint_violation"),
        ("PUT", {"name": "no members"}, 400, "syntax_constraint_violation"),
        ("PUT", {"members": [], "child_groups": ["SELF"]}, 400, "syntax_constraint_violation"),
        ("PUT", {"members": [], "child_groups": [UNKNOWN]}, 403, "unknown_group"),
        ("UPDATE", {"add": ["+1555"] * 10_001}, 400, "syntax_constraint_violation"),
        ("UPDATE", {"remove": ["bogus"]}, 400, "syntax_invalid_parameter_format"),
        ("UPDATE", {"add_from_group": UNKNOWN, "add": ["+1555"]}, 403, "unknown_group"),
        ("UPDATE", {"remove_from_group": UNKNOWN}, 403, "unknown_group"),
        ("UPDATE", {"name": "y" * 21}, 400, "syntax_constraint_violation"),
    ],
)
async def test_group_validation(
    fake: FakeSinch,
    http: aiohttp.ClientSession,
    method: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    existing = await create(http, fake, name="Keep", members=["+15550000001"])
    before = json.dumps(fake.groups, sort_keys=True)
    if method == "POST":
        got = await call(http, fake, "POST", "/groups", json=body)
    else:
        if "child_groups" in body:
            body = {
                **body,
                "child_groups": [
                    existing["id"] if g == "SELF" else g for g in body["child_groups"]
                ],
            }
        verb = "PUT" if method == "PUT" else "POST"
        got = await call(http, fake, verb, f"/groups/{existing['id']}", json=body)
    assert (got[0], got[1]["code"]) == (status, code), got
    assert json.dumps(fake.groups, sort_keys=True) == before  # nothing changed
    assert fake.group_members(existing["id"]) == ["+15550000001"]


async def test_list_groups_pages(
    fake: FakeSinch, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    ids = []
    for i in range(5):
        ids.append((await create(http, fake, name=f"g{i}"))["id"])
        if i != 3:  # groups 3 and 4 share a created_at: insertion order breaks the tie
            clock.advance(seconds=1)
    seen = []
    for page, expected in enumerate([2, 2, 1, 0]):
        status, body = await call(http, fake, "GET", f"/groups?page={page}&page_size=2")
        assert status == 200
        assert (body["count"], body["page"], body["page_size"]) == (5, page, expected)
        seen.extend(g["id"] for g in body["groups"])
    assert seen == ids[::-1]
    status, body = await call(http, fake, "GET", "/groups")
    assert (body["page_size"], len(body["groups"])) == (5, 5)
    for query in ("page_size=0", "page_size=101", "page=-1"):
        status, body = await call(http, fake, "GET", f"/groups?{query}")
        assert (status, body["code"]) == (400, "syntax_constraint_violation")


async def test_groups_as_batch_recipients(
    fake: FakeSinch,
    http: aiohttp.ClientSession,
) -> None:
    child = await create(http, fake, members=["+15550000003"])
    group = await create(
        http, fake, members=["+15550000001", "+15550000002"], child_groups=[child["id"]]
    )
    to = [group["id"], "+15550000002", "+15550000004"]  # +2 is also a member: counted once
    status, dry = await call(
        http,
        fake,
        "POST",
        "/batches/dry_run?per_recipient=true",
        json={"to": to, "body": "hi"},
    )
    assert status == 200
    assert dry["number_of_recipients"] == 4
    assert [row["recipient"] for row in dry["per_recipient"]] == [
        "+15550000001",
        "+15550000002",
        "+15550000003",
        "+15550000004",
    ]
    status, batch = await call(http, fake, "POST", "/batches", json={"to": to, "body": "hi"})
    assert status == 201
    assert batch["to"] == to  # the batch keeps the group id
    _, report = await call(http, fake, "GET", f"/batches/{batch['id']}/delivery_report?type=full")
    assert report["total_message_count"] == 4
    assert report["statuses"][0]["recipients"] == [
        "15550000001",
        "15550000002",
        "15550000003",
        "15550000004",
    ]

    bad = [UNKNOWN, "+15550000001"]
    requests = [
        ("POST", "/batches", {"to": bad, "body": "x"}),
        ("POST", "/batches/dry_run", {"to": bad, "body": "x"}),
        ("PUT", f"/batches/{batch['id']}", {"to": bad, "body": "x"}),
        ("POST", f"/batches/{batch['id']}", {"to_add": [UNKNOWN]}),
    ]
    for method, path, body in requests:
        status, error = await call(http, fake, method, path, json=body)
        assert (status, error["code"]) == (403, "unknown_group"), (method, path)
    assert list(fake.batches) == [batch["id"]]
    assert fake.batches[batch["id"]]["to"] == to


async def test_scheduled_batch_expands_group_at_send_time(
    fake: FakeSinch,
    http: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    keep = await create(http, fake, members=["+15550000001"])
    gone = await create(http, fake, members=["+15550000002"])
    send_at = (clock.value + timedelta(minutes=5)).isoformat()
    _, batch = await call(
        http,
        fake,
        "POST",
        "/batches",
        json={"to": [keep["id"], gone["id"]], "body": "later", "send_at": send_at},
    )
    await call(http, fake, "POST", f"/groups/{keep['id']}", json={"add": ["+15550000005"]})
    await call(http, fake, "DELETE", f"/groups/{gone['id']}")
    clock.advance(minutes=5)
    _, report = await call(http, fake, "GET", f"/batches/{batch['id']}/delivery_report?type=full")
    assert report["statuses"] == [
        {"code": 0, "status": "Delivered", "count": 2, "recipients": ["15550000001", "15550000005"]}
    ]
    # already sent: later group changes do not rewrite the report
    await call(http, fake, "POST", f"/groups/{keep['id']}", json={"add": ["+15550000006"]})
    _, again = await call(http, fake, "GET", f"/batches/{batch['id']}/delivery_report?type=full")
    assert again == report


async def test_official_group_fixtures_are_accepted(
    fake: FakeSinch,
    http: aiohttp.ClientSession,
) -> None:
    folder = anchors_dir() / "java" / "sms-v1" / "groups" / "request"
    create_body = json.loads((folder / "GroupRequestDto.json").read_text())
    update_body = json.loads((folder / "GroupUpdateRequestDto.json").read_text())
    children = [(await create(http, fake, members=["+15550000001"]))["id"] for _ in range(2)]
    create_body["child_groups"] = children
    group = await create(http, fake, **create_body)
    assert group["auto_update"] == create_body["auto_update"]  # multi-word keywords kept
    assert group["size"] == 2
    path = f"/groups/{group['id']}"
    status, error = await call(http, fake, "POST", path, json=update_body)
    assert (status, error["code"]) == (403, "unknown_group")  # the fixture's ids do not exist
    update_body.update(add_from_group=children[0], remove_from_group=children[1])
    status, updated = await call(http, fake, "POST", path, json=update_body)
    assert status == 200
    assert updated["name"] == "My new customers"
    # remove_from_group edits the group's own members; its child groups still contribute
    assert fake.group_members(group["id"]) == ["+15551231234", "+12345674890", "+15550000001"]
    assert updated["size"] == 3


def test_add_group_helper_validates(fake: FakeSinch) -> None:
    group = fake.add_group("Helpers", ["+15550000001"])
    assert (group["name"], group["size"]) == ("Helpers", 1)
    parent = fake.add_group(members=["+15550000002"], child_groups=[group["id"]])
    assert fake.group_members(parent["id"]) == ["+15550000002", "+15550000001"]
    with pytest.raises(ValueError, match="invalid group"):
        fake.add_group("x" * 21)
    with pytest.raises(ValueError, match="does not exist"):
        fake.add_group(child_groups=[UNKNOWN])
    with pytest.raises(KeyError):
        fake.group_members(UNKNOWN)
