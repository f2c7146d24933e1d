"""A ready aiohttp.web endpoint for Sinch callbacks (delivery reports and inbounds).

```python
from aiohttp import web
from sinch_async.webhooks import webhook_app

async def on_event(event):        # MoText | MoBinary | MoMedia | BatchDeliveryReport | ...
    ...

app = web.Application()
app.add_subapp("/sinch", webhook_app(on_event, secret="..."))
```
Sinch gets 200 once ``on_event`` returned, 400 for a body that is not a callback, 401 for a
bad/stale/replayed signature (Sinch does not retry 4xx), and 500 if ``on_event`` raised
(Sinch retries 5xx, and the nonce is released so the retry is accepted).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ._callbacks import (
    CallbackEvent,
    CallbackParseError,
    CallbackSignatureError,
    CallbackVerifier,
    parse_callback,
)

__all__ = ["EventHandler", "webhook_app", "webhook_handler"]

log = logging.getLogger("sinch_async.webhooks")

EventHandler = Callable[[CallbackEvent], Awaitable[None]]
MAX_BODY = 1024 * 1024


def webhook_handler(
    on_event: EventHandler,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | None = None,
    tolerance: float = 300.0,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler: verify (when a secret/verifier is given), parse, call ``on_event``."""
    if verifier is None and secret is not None:
        verifier = CallbackVerifier(secret, tolerance=tolerance)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body_too_large"}, status=413)
        body = await request.read()
        nonce: str | None = None
        try:
            if verifier is not None:
                nonce = verifier.verify(body, request.headers)
            event = parse_callback(body)
        except CallbackSignatureError as exc:
            log.warning("refused callback: %s", exc.reason)
            return web.json_response({"error": exc.reason}, status=401)
        except CallbackParseError as exc:
            if nonce is not None and verifier is not None:
                verifier.release(nonce)
            log.warning("refused callback: %s", exc.reason)
            return web.json_response({"error": exc.reason}, status=400)
        try:
            await on_event(event)
        except Exception:
            if nonce is not None and verifier is not None:
                verifier.release(nonce)
            log.exception("callback handler failed; Sinch will retry")
            return web.json_response({"error": "handler_failed"}, status=500)
        return web.json_response({"ok": True}, status=200)

    return handle


def webhook_app(
    on_event: EventHandler,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | None = None,
    tolerance: float = 300.0,
    path: str = "/",
) -> web.Application:
    """A sub-application answering ``POST {path}`` with :func:`webhook_handler`."""
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(
        path, webhook_handler(on_event, secret=secret, verifier=verifier, tolerance=tolerance)
    )
    return app
