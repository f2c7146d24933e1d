"""Webhooks POSTed by FakeSinch (§8), received by a tiny aiohttp.web app on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from sinch_async.testing import CallbackAttempt, FakeClock, FakeSinch
from sinch_async.testing.pytest_plugin import FakeSinchFactory
from tests.support.fake_http import NOW, call
from tests.support.net import free_port
from tests.support.virtual_time import VirtualTime

A, B = "+15550000001", "+15550000002"
SECRET = "webhook-secret"

pytestmark = pytest.mark.fake_sinch(on_clock=True, seed=1, callback_secret=SECRET)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers the next status queued for its path, else 200."""

    base: str = ""
    got: list[Received] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append(Received(request.path, dict(request.headers), await request.read()))
        queue = self.statuses.get(request.path)
        return web.Response(status=queue.pop(0) if queue else 200)

    def url(self, path: str) -> str:
        return self.base + path

    def at(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recv.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield recv
    finally:
        await runner.cleanup()


async def send(http: aiohttp.ClientSession, fake: FakeSinch, **body: Any) -> dict[str, Any]:
    status, batch = await call(
        http, fake, "POST", "/batches", json={"to": [A, B], "body": "hi", **body}
    )
    assert status == 201, batch
    return batch  # type: ignore[no-any-return]


def expected_signature(body: bytes, nonce: str, timestamp: str) -> str:
    signed = body + b"." + nonce.encode() + b"." + timestamp.encode()
    return base64.b64encode(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()


async def settled(fake: FakeSinch) -> None:
    """Wait until no callback delivery of the started fake is running: then nothing else
    is on its way (instead of sleeping a while and hoping everything that would come came).

    Waits on the dispatcher's delivery tasks: FakeSinch has no public way to say so yet.
    """
    tasks = fake._callbacks._tasks  # a job's task leaves the set when it is done
    async with asyncio.timeout(5):
        while tasks:
            await asyncio.wait(set(tasks))


async def test_report_modes(
    fake: FakeSinch, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    fake.set_outcome(B, "Failed", 402)
    batches = {
        mode: await send(
            http,
            fake,
            delivery_report=mode,
            callback_url=receiver.url(f"/{mode}"),
            client_reference=mode,
        )
        for mode in ("none", "summary", "full", "per_recipient", "per_recipient_final")
    }
    await fake.wait_for_callbacks(1 + 1 + 6 + 2)
    await settled(fake)  # nothing else is on its way
    assert len(receiver.got) == len(fake.callbacks) == 10
    assert receiver.at("/none") == []

    (summary,) = [r.json for r in receiver.at("/summary")]
    assert summary == {
        "type": "delivery_report_sms",
        "batch_id": batches["summary"]["id"],
        "total_message_count": 2,
        "statuses": [
            {"code": 0, "status": "Delivered", "count": 1},
            {"code": 402, "status": "Failed", "count": 1},
        ],
        "client_reference": "summary",
    }
    (full,) = [r.json for r in receiver.at("/full")]
    assert [row["recipients"] for row in full["statuses"]] == [["15550000001"], ["15550000002"]]

    steps = [
        (r.json["recipient"], r.json["status"], r.json["code"])
        for r in receiver.at("/per_recipient")
    ]
    assert steps == [
        (A, "Queued", 400),
        (A, "Dispatched", 401),
        (A, "Delivered", 0),
        (B, "Queued", 400),
        (B, "Dispatched", 401),
        (B, "Failed", 402),
    ]
    assert {r.json["type"] for r in receiver.at("/per_recipient")} == {
        "recipient_delivery_report_sms"
    }
    finals = [r.json for r in receiver.at("/per_recipient_final")]
    assert [(f["recipient"], f["status"]) for f in finals] == [(A, "Delivered"), (B, "Failed")]
    _, stored = await call(
        http, fake, "GET", f"/batches/{batches['per_recipient_final']['id']}/delivery_report/{A}"
    )
    assert finals[0] == stored  # the callback carries the same report the API serves


async def test_signature(fake: FakeSinch, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    await send(http, fake, delivery_report="per_recipient_final", callback_url=receiver.url("/dr"))
    await fake.wait_for_callbacks(2)
    nonces = set()
    for got, attempt in zip(receiver.got, fake.callbacks, strict=True):
        headers = {k.lower(): v for k, v in got.headers.items()}
        nonce = headers["x-sinch-webhook-signature-nonce"]
        timestamp = headers["x-sinch-webhook-signature-timestamp"]
        assert timestamp == str(int(NOW.timestamp()))  # the fake's clock, unix seconds
        assert headers["x-sinch-webhook-signature"] == expected_signature(
            got.body, nonce, timestamp
        )
        assert headers["content-type"] == "application/json"
        assert headers["x-sinch-webhook-signature-algorithm"] == "HmacSHA256"  # as Sinch sends
        assert attempt.body == got.body
        assert attempt.headers["x-sinch-webhook-signature"] == headers["x-sinch-webhook-signature"]
        nonces.add(nonce)
    assert len(nonces) == 2
    # a tampered body no longer verifies
    got = receiver.got[0]
    nonce = got.headers["x-sinch-webhook-signature-nonce"]
    timestamp = got.headers["x-sinch-webhook-signature-timestamp"]
    assert (
        expected_signature(got.body + b" ", nonce, timestamp)
        != got.headers["x-sinch-webhook-signature"]
    )

    fake.callback_secret = None
    await send(http, fake, delivery_report="summary", callback_url=receiver.url("/plain"))
    await fake.wait_for_callbacks(3)
    (plain,) = receiver.at("/plain")
    assert not any(k.lower().startswith("x-sinch-webhook") for k in plain.headers)


async def test_retries(fake: FakeSinch, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    receiver.statuses = {"/flaky": [500, 429], "/bad": [400]}
    await send(http, fake, to=[A], delivery_report="summary", callback_url=receiver.url("/flaky"))
    await send(http, fake, to=[A], delivery_report="summary", callback_url=receiver.url("/bad"))
    await fake.wait_for_callbacks(4)
    await settled(fake)

    def by_url(path: str) -> list[tuple[int, int | None]]:
        return [(a.attempt, a.status) for a in fake.callbacks if a.url.endswith(path)]

    assert by_url("/flaky") == [(1, 500), (2, 429), (3, 200)]
    assert by_url("/bad") == [(1, 400)]  # other 4xx are not retried
    flaky = [r for r in receiver.got if r.path == "/flaky"]
    assert len({r.body for r in flaky}) == 1  # the same report each time...
    assert len({r.headers["x-sinch-webhook-signature-nonce"] for r in flaky}) == 3  # fresh nonce

    fake.callback_retry_delays = (0.01, 0.01)
    dead = f"http://127.0.0.1:{free_port()}/gone"
    await send(http, fake, to=[A], delivery_report="summary", callback_url=dead)
    attempts = await fake.wait_for_callbacks(7)
    failed = [a for a in attempts if a.url == dead]
    assert [(a.attempt, a.status) for a in failed] == [(1, None), (2, None), (3, None)]
    assert all(a.error for a in failed)
    assert all(isinstance(a, CallbackAttempt) and not a.ok for a in failed)


async def test_default_url_and_missing_url(
    fake: FakeSinch, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    await send(http, fake, delivery_report="summary")  # no URL anywhere: nothing to POST
    fake.default_callback_url = receiver.url("/plan")
    batch = await send(http, fake, delivery_report="full")
    own = await send(http, fake, delivery_report="summary", callback_url=receiver.url("/own"))
    await fake.wait_for_callbacks(2)
    await settled(fake)
    assert sorted((r.path, r.json["batch_id"]) for r in receiver.got) == [
        ("/own", own["id"]),
        ("/plan", batch["id"]),
    ]


async def test_summary_waits_for_final_statuses(
    fake: FakeSinch, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    fake.set_outcome(B, "Dispatched", 401)
    batch = await send(http, fake, delivery_report="summary", callback_url=receiver.url("/s"))
    per = await send(http, fake, delivery_report="per_recipient", callback_url=receiver.url("/p"))
    await fake.wait_for_callbacks(5)  # per_recipient: A x3, B Queued + Dispatched
    await settled(fake)
    assert receiver.at("/s") == []  # B is not final yet
    await call(http, fake, "DELETE", f"/batches/{batch['id']}")
    await call(http, fake, "DELETE", f"/batches/{per['id']}")
    await fake.wait_for_callbacks(7)
    (summary,) = [r.json for r in receiver.at("/s")]
    assert [(s["status"], s["count"]) for s in summary["statuses"]] == [
        ("Delivered", 1),
        ("Cancelled", 1),
    ]
    assert [(r.json["recipient"], r.json["status"]) for r in receiver.at("/p")][-1] == (
        B,
        "Cancelled",
    )


async def test_scheduled_batch_calls_back_when_due(
    fake: FakeSinch, http: aiohttp.ClientSession, receiver: Receiver, clock: FakeClock
) -> None:
    send_at = (clock.value + timedelta(minutes=1)).isoformat()
    await send(
        http, fake, delivery_report="summary", callback_url=receiver.url("/later"), send_at=send_at
    )
    fake.dispatch_due()  # what the fake's ticker does every few ms: not due yet
    await settled(fake)
    assert fake.callbacks == []
    clock.advance(minutes=1)  # no request needed: the fake notices on its own
    await fake.wait_for_callbacks(1, timeout=2)
    assert receiver.at("/later")[0].json["statuses"] == [
        {"code": 0, "status": "Delivered", "count": 2}
    ]


async def test_inbound_callbacks(
    fake_sinch_factory: FakeSinchFactory, receiver: Receiver, clock: FakeClock
) -> None:
    fake = await fake_sinch_factory(
        now=clock, inbound_callback_url=receiver.url("/mo"), callback_secret=SECRET
    )
    inbound = fake.add_inbound(from_="+46700000001", to="12345", body="JOIN")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{fake.base_url}/_admin/inbounds", json={"from": "+1", "to": "2", "body": "via admin"}
        ) as resp,
    ):
        assert resp.status == 201
        admin = await resp.json()
    fake.seed_inbounds(3)  # seeds arrive silently
    await fake.wait_for_callbacks(2)
    await settled(fake)
    bodies = sorted((r.json for r in receiver.got), key=lambda mo: str(mo["body"]))
    assert bodies == [inbound, admin]
    got = receiver.got[0]
    nonce = got.headers["x-sinch-webhook-signature-nonce"]
    timestamp = got.headers["x-sinch-webhook-signature-timestamp"]
    assert got.headers["x-sinch-webhook-signature"] == expected_signature(
        got.body, nonce, timestamp
    )


async def test_callbacks_before_start_and_after_close(receiver: Receiver) -> None:
    """Real time on purpose: closing must cancel the fake's own 30 s wait at once."""
    fake = FakeSinch(inbound_callback_url=receiver.url("/early"))
    fake.add_inbound(from_="+1", to="2", body="queued until start")
    async with fake:
        await fake.wait_for_callbacks(1)
        assert receiver.got[0].json["body"] == "queued until start"
        fake.callback_delay = 30  # the next one would wait a long time...
        fake.add_inbound(from_="+1", to="2", body="never delivered")
        started = time.monotonic()
    assert time.monotonic() - started < 2  # ...but close cancels it
    assert len(receiver.got) == len(fake.callbacks) == 1
    fake.add_inbound(from_="+1", to="2", body="after close")  # stored, not delivered
    assert len(fake.inbounds) == 3
    with pytest.raises(ValueError):
        fake.callback_delay = -1


async def test_wait_for_callbacks_times_out(virtual_time: VirtualTime, fake: FakeSinch) -> None:
    """The timeout under test runs on the event loop's clock (``virtual_time``: no callback
    is ever due, so it fires once nothing else can happen, after its 0.1 s)."""
    started = virtual_time.time()
    with pytest.raises(TimeoutError):
        await fake.wait_for_callbacks(1, timeout=0.1)
    assert virtual_time.time() - started == pytest.approx(0.1, abs=0.01)
    assert await fake.wait_for_callbacks(0) == []
