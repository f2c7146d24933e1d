"""Signed callbacks and the SDK's aiohttp webhook app on loopback, for the webhook tests (and
the Redis nonce-store tests that drive the same app)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from sinch_async._callbacks import sign_callback
from sinch_async.webhooks import webhook_app

#: The callback secret of these tests.
SECRET = "callback-secret-1"
#: A fixed signing time (epoch seconds).
NOW = 1_800_000_000
#: A signed MO text body.
BODY = orjson.dumps(
    {
        "type": "mo_text",
        "id": "01FC66621XXXXX119Z8PMV1QPA",
        "from": "+46701234567",
        "to": "12345",
        "body": "STOP",
        "received_at": "2026-11-23T12:00:00.000Z",
    }
)


def signed(nonce: str, timestamp: int = NOW, **kwargs: Any) -> dict[str, str]:
    return sign_callback(SECRET, BODY, nonce, timestamp, **kwargs)


class App:
    def __init__(self, url: str, events: list[Any], port: int) -> None:
        self.url, self.events, self.port = url, events, port
        self.fail: BaseException | None = None

    async def post(self, headers: dict[str, str], body: bytes = BODY) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.post(self.url, data=body, headers=headers) as r:
            return r.status, (await r.json(), r.headers)

    async def post_raw(self, header_lines: list[bytes], body: bytes = BODY) -> int:
        """POST with header bytes as given (no client would send non-UTF-8 ones)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        request = [b"POST /sinch/ HTTP/1.1", b"Host: 127.0.0.1", *header_lines]
        request += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
        request += [b"Connection: close", b"", b""]
        writer.write(b"\r\n".join(request) + body)
        await writer.drain()
        response = await reader.read()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        return int(response.split(b" ", 2)[1])


@contextlib.asynccontextmanager
async def serve(**kwargs: Any) -> AsyncIterator[App]:
    events: list[Any] = []
    holder: list[App] = []

    async def on_event(event: Any) -> None:
        app = holder[0]
        if app.fail is not None:
            raise app.fail
        events.append(event)

    root = web.Application()
    root.add_subapp("/sinch", webhook_app(on_event, **kwargs))
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(App(f"http://127.0.0.1:{port}/sinch/", events, port))
    try:
        yield holder[0]
    finally:
        await runner.cleanup()
