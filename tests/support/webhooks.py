"""Signed callbacks and the SDK's webhook endpoints, for the webhook tests (and the Redis
nonce-store tests that drive the same app): the aiohttp app on loopback (``serve``), one
``WebhookReceiver`` behind any adapter (``serve_receiver``), nonce stores that fail, and
uvicorn child processes (``start_uvicorn``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from sinch_async._callbacks import sign_callback
from sinch_async.webhooks import WebhookReceiver, asgi_app, webhook_app
from tests.support.paths import ROOT

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


# --- one receiver behind each adapter --------------------------------------------------------

#: The adapters of the webhook core: the core called directly, aiohttp on loopback, ASGI in
#: process (httpx's ASGITransport).
ADAPTERS = ("core", "aiohttp", "asgi")

#: ``await post(headers, body)`` -> (status, JSON body, response headers with lower-case names)
Post = Callable[..., Awaitable[tuple[int, Any, dict[str, str]]]]


@contextlib.asynccontextmanager
async def serve_receiver(kind: str, receiver: WebhookReceiver[Any]) -> AsyncIterator[Post]:
    """``receiver`` served by the adapter ``kind`` (one of :data:`ADAPTERS`)."""
    if kind == "core":

        async def post_core(
            headers: Mapping[str, str], body: bytes = BODY
        ) -> tuple[int, Any, dict[str, str]]:
            result = await receiver.handle(body, headers)
            return result.status, orjson.loads(result.body), _lower(result.headers)

        yield post_core
    elif kind == "aiohttp":
        root = web.Application()
        root.add_subapp("/sinch", webhook_app(receiver))
        runner = web.AppRunner(root, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/sinch/"
        try:
            async with aiohttp.ClientSession() as session:

                async def post_aiohttp(
                    headers: Mapping[str, str], body: bytes = BODY
                ) -> tuple[int, Any, dict[str, str]]:
                    async with session.post(url, data=body, headers=dict(headers)) as r:
                        return r.status, await r.json(), _lower(r.headers.items())

                yield post_aiohttp
        finally:
            await runner.cleanup()
    elif kind == "asgi":
        import httpx

        transport = httpx.ASGITransport(app=asgi_app(receiver))
        async with httpx.AsyncClient(transport=transport, base_url="http://sinch.test") as client:

            async def post_asgi(
                headers: Mapping[str, str], body: bytes = BODY
            ) -> tuple[int, Any, dict[str, str]]:
                r = await client.post("/sinch/", content=body, headers=dict(headers))
                return r.status_code, r.json(), _lower(r.headers.items())

            yield post_asgi
    else:
        raise ValueError(kind)


def _lower(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers}


class FailingStore:
    """A nonce store whose backend is down (every call raises ``ConnectionError``)."""

    def __init__(self) -> None:
        self.calls = 0

    async def add(self, nonce: str, expires_at: float) -> bool:
        self.calls += 1
        raise ConnectionError("redis is down")

    async def discard(self, nonce: str) -> None:
        self.calls += 1
        raise ConnectionError("redis is down")


async def asgi_call(
    app: Any, scope: Mapping[str, Any], incoming: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Call the ASGI ``app`` once with ``scope`` (``type`` "http" by default), feeding it the
    ``incoming`` messages in order (then ``http.disconnect``); the messages it sent."""
    sent: list[dict[str, Any]] = []
    queue = list(incoming)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    full = {"type": "http", "method": "POST", "path": "/", "headers": [], **scope}
    await app(full, receive, send)
    return sent


# --- uvicorn child processes -----------------------------------------------------------------

#: The app factory the uvicorn children serve (``tests/support/procs/webhook_asgi.py``).
UVICORN_FACTORY = "tests.support.procs.webhook_asgi:create_app"


def start_uvicorn(port: int, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m uvicorn`` serving :data:`UVICORN_FACTORY` on 127.0.0.1:``port`` (from the
    repository root, output to ``log``); wait for it with :func:`wait_listening`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                UVICORN_FACTORY,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_listening(proc: subprocess.Popen[bytes], port: int, within: float = 30) -> None:
    """Wait until ``port`` accepts connections; ``RuntimeError`` if ``proc`` exits first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn on port {port} exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise RuntimeError(f"uvicorn on port {port} did not listen within {within} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc`` (kill it if it does not exit within 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
