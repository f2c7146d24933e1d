"""The whole SMS surface, run against FakeSinch and, when configured, an independent emulator.

Set ``SINCH_EMULATOR_CMD`` to a command that starts an xms emulator on 127.0.0.1 and prints
``LISTENING http://127.0.0.1:<port>`` (with ``SERVICE_PLAN_ID``/``API_TOKEN`` taken from its
environment), e.g. ``SINCH_EMULATOR_CMD="node /work/xms-emulator/server.js"``. Only the base
URL, service plan id and token change between the two servers.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async import (
    CLEAR,
    BatchDeliveryReport,
    DeliveryStatus,
    MediaBody,
    MoText,
    NotFoundError,
    SinchClient,
    TextBatch,
    TextBatchRequest,
)
from sinch_async.testing import FakeSinch

PLAN, TOKEN = "conformance-plan", "conformance-token"
UNKNOWN_ID = "01AAAAAAAAAAAAAAAAAAAAAAAA"


@dataclass
class Server:
    name: str
    base_url: str

    def client(self) -> SinchClient:
        return SinchClient(PLAN, TOKEN, base_url=self.base_url)

    async def add_inbound(self, **fields: Any) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"{self.base_url}/_admin/inbounds", json=fields) as r,
        ):
            assert r.status == 201, await r.text()
            data = await r.json()
        return data[0] if isinstance(data, list) else data


async def _start_emulator(cmd: str) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "SERVICE_PLAN_ID": PLAN, "API_TOKEN": TOKEN, "PORT": "0"}
    proc = await asyncio.create_subprocess_exec(
        *shlex.split(cmd), stdout=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
    assert line.startswith("LISTENING "), line
    return proc, line.split(" ", 1)[1]


@pytest.fixture(params=["fake", pytest.param("emulator", marks=pytest.mark.process)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    if request.param == "fake":
        async with FakeSinch(PLAN, TOKEN) as fake:
            yield Server("fake", fake.base_url)
        return
    cmd = os.environ.get("SINCH_EMULATOR_CMD")
    if not cmd:
        pytest.skip("SINCH_EMULATOR_CMD not set: no independent emulator configured")
    proc, url = await _start_emulator(cmd)
    try:
        yield Server("emulator", url)
    finally:
        proc.terminate()
        await proc.wait()


async def test_batches_surface(server: Server) -> None:
    async with server.client() as client:
        text = await client.batches.send_text(
            to=["+46701234567", "+46701234568"],
            from_="+12025550134",
            body="Hi ${name}",
            parameters={"name": {"+46701234567": "Ada", "default": "there"}},
            client_reference="conf-1",
            feedback_enabled=True,
            send_at=datetime.now(UTC) + timedelta(hours=1),
        )
        assert isinstance(text, TextBatch) and text.client_reference == "conf-1"
        assert (await client.batches.get(text.id)).id == text.id

        binary = await client.batches.send_binary(
            to=["+46701234567"], body="aGVsbG8=", udh="050003CC0201"
        )
        media = await client.batches.send_media(
            to=["+12025550134"], media_body=MediaBody(url="https://example.com/a.png")
        )
        assert binary.type == "mt_binary" and media.type == "mt_media"

        dry = await client.batches.dry_run(
            TextBatchRequest(to=["+46701234567"], body="x" * 161), per_recipient=True
        )
        assert dry.number_of_recipients == 1 and dry.number_of_messages == 2

        updated = await client.batches.update(text.id, to_add=["+46701234569"])
        assert "+46701234569" in updated.to

        replaced = await client.batches.replace(
            text.id,
            TextBatchRequest(to=["+46701234570"], body="replaced", feedback_enabled=True),
        )
        assert replaced.id == text.id and replaced.to == ("+46701234570",)

        await client.batches.send_delivery_feedback(text.id, recipients=["+46701234570"])

        ids = [b.id async for b in client.batches.list(page_size=2)]
        assert set(ids) == {text.id, binary.id, media.id}
        refs = [b.id async for b in client.batches.list(client_reference="conf-1")]
        assert refs == []  # the replace dropped the reference
        from_ = [b.id async for b in client.batches.list(from_=["+12025550134"])]
        assert from_ == []  # the replacement has no sender either

        canceled = await client.batches.cancel(text.id)
        assert getattr(canceled, "canceled", None) is True
        with pytest.raises(NotFoundError):
            await client.batches.get(UNKNOWN_ID)


@pytest.mark.realtime(
    "external emulator: polls until its reports are final (FakeSinch answers at once, no wait)"
)
async def test_delivery_reports_surface(server: Server) -> None:
    async with server.client() as client:
        batch = await client.batches.send_text(
            to=["+46701234567", "+46701234568"], body="hello", client_reference="dr-1"
        )
        report: BatchDeliveryReport | None = None
        for _ in range(30):  # an emulator may keep messages Queued for a moment
            report = await client.delivery_reports.get(batch.id, type="full")
            if report.statuses and all(
                DeliveryStatus(b.status).is_final for b in report.statuses if b.status
            ):
                break
            await asyncio.sleep(0.2)
        assert report is not None and report.batch_id == batch.id
        assert sum(b.count for b in report.statuses) == 2
        assert report.statuses[0].status == DeliveryStatus.DELIVERED
        recipients = {r for b in report.statuses for r in (b.recipients or ())}
        assert {r.lstrip("+") for r in recipients} == {"46701234567", "46701234568"}

        one = await client.delivery_reports.get_for_recipient(batch.id, "+46701234567")
        assert one.batch_id == batch.id and one.code == 0

        listed = [
            r
            async for r in client.delivery_reports.list(
                status=["Delivered"], code=[0], client_reference="dr-1", page_size=1
            )
        ]
        assert {r.recipient.lstrip("+") for r in listed} == {"46701234567", "46701234568"}


async def test_groups_surface(server: Server) -> None:
    async with server.client() as client:
        child = await client.groups.create(name="child", members=["+46700000001"])
        group = await client.groups.create(
            name="VIP", members=["+46701234567"], child_groups=[child.id]
        )
        assert group.name == "VIP" and (await client.groups.get(group.id)).id == group.id
        updated = await client.groups.update(
            group.id, add=["+46701234568"], remove=["+46701234567"], name="VIP 2"
        )
        assert updated.name == "VIP 2"
        members = await client.groups.members(group.id)
        assert "+46701234568" in members and "+46701234567" not in members
        cleared = await client.groups.update(group.id, name=CLEAR)
        assert cleared.name is None
        replaced = await client.groups.replace(group.id, name="VIP 3", members=["+46709999999"])
        assert replaced.name == "VIP 3"
        ids = [g.id async for g in client.groups.list(page_size=1)]
        assert set(ids) == {child.id, group.id}
        await client.groups.delete(group.id)
        with pytest.raises(NotFoundError):
            await client.groups.get(group.id)


async def test_inbounds_surface(server: Server) -> None:
    stored = await server.add_inbound(**{"from": "+46701234567", "to": "12345", "body": "STOP"})
    async with server.client() as client:
        got = await client.inbounds.get(stored["id"])
        assert isinstance(got, MoText) and got.body == "STOP" and got.from_ == "+46701234567"
        mine = [i async for i in client.inbounds.list(to=["12345"], page_size=1)]
        assert stored["id"] in {i.id for i in mine}
        assert all(getattr(i, "to", None) == "12345" for i in mine)
        with pytest.raises(NotFoundError):
            await client.inbounds.get(UNKNOWN_ID)
