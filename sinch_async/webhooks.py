"""Endpoints for Sinch callbacks (delivery reports and inbounds): aiohttp and ASGI.

```python
from sinch_async.webhooks import asgi_app, webhook_app

async def on_event(event):   # MoText | ... | BatchDeliveryReport | ... | UnknownCallback
    ...

# aiohttp.web
app = web.Application()
app.add_subapp("/sinch", webhook_app(on_event, secret="..."))

# FastAPI / Starlette (or any ASGI server: the app alone is a whole ASGI application)
api = FastAPI()
api.mount("/sinch", asgi_app(on_event, secret="..."))
```

Both are thin adapters of one framework-neutral core, [`WebhookReceiver`][]
(``await receiver.handle(body, headers)`` -> [`WebhookResponse`][]), and answer alike:
200 once ``on_event`` returned (a callback of an unknown ``type`` is handed over as
[`UnknownCallback`][] and answered 200 too), 400 for a body that is not a callback, 401
for a missing/wrong/stale/undecodable signature, an unknown signature algorithm or a
replayed nonce (Sinch does not retry 4xx), 413 for a body over 1 MiB, 503 when the nonce
store is full or unavailable (Sinch retries 5xx: the event is not lost; ``on_event`` is not
called), and 500 if ``on_event`` raised (Sinch retries, and the nonce is released so the
retry is accepted).

Numbers events (provisioning of a rented number, number orders) are served by the same
adapters: ``asgi_app(numbers_receiver(on_event, hmac_secret="..."))`` (or ``webhook_app``);
an event handed over before is answered 200 ``{"ok": true, "duplicate": true}`` and not
handed over again (see [`sinch_async.numbers.numbers_receiver`][]).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._asgi import WebhookASGIApp
from ._callbacks import (
    DEFAULT_TOLERANCE,
    CallbackEvent,
    CallbackVerifier,
    NonceStore,
    UnknownCallback,
)
from ._webhooks import (
    MAX_BODY,
    WebhookDuplicate,
    WebhookReceiver,
    WebhookResponse,
    WebhookVerifier,
    build_receiver,
)
from .numbers._events import NumbersCallbackEvent, numbers_receiver

__all__ = [
    "MAX_BODY",
    "CallbackEvent",
    "EventHandler",
    "NumbersCallbackEvent",
    "UnknownCallback",
    "WebhookASGIApp",
    "WebhookDuplicate",
    "WebhookReceiver",
    "WebhookResponse",
    "WebhookVerifier",
    "asgi_app",
    "numbers_receiver",
    "webhook_app",
    "webhook_handler",
]

#: An SMS callback handler: ``async def on_event(event: CallbackEvent) -> None``.
EventHandler = Callable[[CallbackEvent], Awaitable[None]]

#: What the adapters take: an SMS handler (with the options to build its receiver), or a
#: ready `WebhookReceiver` of any event family (then without options).
HandlerOrReceiver = Callable[[CallbackEvent], Awaitable[object]] | WebhookReceiver[Any]


def webhook_handler(
    on_event: HandlerOrReceiver,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | WebhookVerifier | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    nonce_store: NonceStore | None = None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler serving a [`WebhookReceiver`][] (route it to ``POST``).

    ``on_event`` is your handler, and the options build the receiver as
    [`WebhookReceiver`][] does (``secret`` with ``tolerance`` and ``nonce_store``, or a
    ``verifier``); or ``on_event`` is a ready receiver, and no option may be given.
    """
    receiver = build_receiver(
        on_event,
        secret=secret,
        verifier=verifier,
        tolerance=tolerance,
        nonce_store=nonce_store,
        max_body=None,
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > receiver.max_body:
            return web.json_response({"error": "body_too_large"}, status=413)
        body = await request.read()
        result = await receiver.handle(body, request.headers)
        return web.Response(status=result.status, body=result.body, headers=result.headers)

    return handle


def webhook_app(
    on_event: HandlerOrReceiver,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | WebhookVerifier | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    nonce_store: NonceStore | None = None,
    path: str = "/",
) -> web.Application:
    """An aiohttp sub-application answering ``POST {path}`` with [`webhook_handler`][].

    Mount it with ``app.add_subapp("/sinch", webhook_app(on_event, secret=...))``; options
    as for [`webhook_handler`][].
    """
    handler = webhook_handler(
        on_event,
        secret=secret,
        verifier=verifier,
        tolerance=tolerance,
        nonce_store=nonce_store,
    )
    limit = on_event.max_body if isinstance(on_event, WebhookReceiver) else MAX_BODY
    app = web.Application(client_max_size=limit)
    app.router.add_post(path, handler)
    return app


def asgi_app(
    on_event: HandlerOrReceiver,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | WebhookVerifier | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    nonce_store: NonceStore | None = None,
    max_body: int | None = None,
) -> WebhookASGIApp:
    """A pure ASGI 3 application serving a [`WebhookReceiver`][] (no framework needed).

    In FastAPI or Starlette: ``app.mount("/sinch", asgi_app(on_event, secret=...))`` (Sinch's
    callback URL is then ``https://host/sinch/``); or run it alone under any ASGI server.
    Options as for [`webhook_handler`][], plus ``max_body`` (1 MiB by default).
    """
    receiver = build_receiver(
        on_event,
        secret=secret,
        verifier=verifier,
        tolerance=tolerance,
        nonce_store=nonce_store,
        max_body=max_body,
    )
    return WebhookASGIApp(receiver)
