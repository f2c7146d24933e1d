"""The ASGI adapter of the webhook core: pure ASGI 3, no framework needed at run time.

Serve it alone (``uvicorn module:app``) or mount it in Starlette / FastAPI
(``app.mount("/sinch", asgi_app(on_event, secret=...))``); every request it receives, at
any path under its mount, is a callback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._webhooks import WebhookReceiver, WebhookResponse

__all__ = ["ASGIReceive", "ASGIScope", "ASGISend", "WebhookASGIApp"]

#: The ASGI types, spelled as Starlette spells them (so ``app.mount`` type-checks).
ASGIScope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class WebhookASGIApp:
    """An ASGI 3 application answering POSTed callbacks with a [`WebhookReceiver`][].

    Built by [`sinch_async.webhooks.asgi_app`][]. ``POST`` (at any path) is a callback;
    other methods get 405. A ``Content-Length`` over the receiver's ``max_body``, or a body
    that grows past it, gets 413 without being read to the end. Lifespan events are
    acknowledged, so it can be the whole application of a server.
    """

    def __init__(self, receiver: WebhookReceiver[Any]) -> None:
        self.receiver = receiver

    def __repr__(self) -> str:
        return f"WebhookASGIApp({self.receiver!r})"

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    async def _http(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope.get("method") != "POST":
            await _send(send, 405, b'{"error":"method_not_allowed"}', [(b"allow", b"POST")])
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            # As aiohttp does: undecodable bytes survive as lone surrogates, and the verifier
            # refuses them (401) rather than guess.
            name = bytes(raw_name).decode("latin-1").lower()
            headers.setdefault(name, bytes(raw_value).decode("utf-8", "surrogateescape"))
        limit = self.receiver.max_body
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _send(send, 413, b'{"error":"body_too_large"}')
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # nobody to answer: the callback was not handled, Sinch retries
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send(send, 413, b'{"error":"body_too_large"}')
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        result = await self.receiver.handle(b"".join(chunks), headers)
        await _respond(send, result)


async def _respond(send: ASGISend, result: WebhookResponse[Any]) -> None:
    extra = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in result.headers
    ]
    await _send(send, result.status, result.body, extra, json=False)


async def _send(
    send: ASGISend,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    json: bool = True,
) -> None:
    out = [(b"content-length", str(len(body)).encode("ascii")), *(headers or [])]
    if json:
        out.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: ASGIReceive, send: ASGISend) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
