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
missing/wrong/stale/undecodable signature, an unknown signature algorithm or a replayed
nonce (Sinch does not retry 4xx), 503 when the nonce store is full or failing (Sinch
retries 5xx: the event is not lost), and 500 if ``on_event`` raised (Sinch retries, and the
nonce is released so the retry is accepted).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from ._callbacks import (
    DEFAULT_TOLERANCE,
    CallbackEvent,
    CallbackNonceStoreFull,
    CallbackParseError,
    CallbackSignatureError,
    CallbackVerifier,
    NonceStore,
    parse_callback,
)
from ._errors import SinchConfigError

__all__ = ["EventHandler", "webhook_app", "webhook_handler"]

log = logging.getLogger("sinch_async.webhooks")

EventHandler = Callable[[CallbackEvent], Awaitable[None]]
MAX_BODY = 1024 * 1024


def webhook_handler(
    on_event: EventHandler,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    nonce_store: NonceStore | None = None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler: verify (when a secret/verifier is given), parse, call ``on_event``.

    With ``secret``, a :class:`CallbackVerifier` is built with ``tolerance`` (25 h by
    default, Sinch's whole retry schedule) and ``nonce_store`` (a
    :class:`~sinch_async._callbacks.MemoryNonceStore` by default: share one store between
    processes receiving the same callbacks). Pass ``verifier`` instead to configure it fully.
    """
    if verifier is None and secret is not None:
        verifier = CallbackVerifier(secret, tolerance=tolerance, nonce_store=nonce_store)
    elif nonce_store is not None:
        raise SinchConfigError(
            "nonce_store is used with secret=...; give it to your CallbackVerifier instead"
        )

    async def release(nonce: str | None) -> None:
        if nonce is None or verifier is None:
            return
        try:
            await verifier.release(nonce)
        except Exception:
            log.exception("could not release the callback nonce; Sinch's retry may get 401")

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body_too_large"}, status=413)
        body = await request.read()
        nonce: str | None = None
        if verifier is not None:
            try:
                nonce = await verifier.verify(body, request.headers)
            except CallbackSignatureError as exc:
                log.warning("refused callback: %s", exc.reason)
                return web.json_response({"error": exc.reason}, status=401)
            except CallbackNonceStoreFull as exc:
                # Never evict an unexpired nonce (a replay would pass): 503, Sinch retries.
                headers = {}
                if exc.retry_after is not None and math.isfinite(exc.retry_after):
                    headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
                return web.json_response({"error": exc.reason}, status=503, headers=headers)
            except Exception:
                log.exception("nonce store failed; answering 503 so Sinch retries")
                return web.json_response({"error": "nonce_store_unavailable"}, status=503)
        try:
            event = parse_callback(body)
        except CallbackParseError as exc:
            await release(nonce)
            log.warning("refused callback: %s", exc.reason)
            return web.json_response({"error": exc.reason}, status=400)
        try:
            await on_event(event)
        except asyncio.CancelledError:
            await release(nonce)
            raise
        except Exception:
            await release(nonce)
            log.exception("callback handler failed; Sinch will retry")
            return web.json_response({"error": "handler_failed"}, status=500)
        return web.json_response({"ok": True}, status=200)

    return handle


def webhook_app(
    on_event: EventHandler,
    *,
    secret: str | None = None,
    verifier: CallbackVerifier | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    nonce_store: NonceStore | None = None,
    path: str = "/",
) -> web.Application:
    """A sub-application answering ``POST {path}`` with :func:`webhook_handler`."""
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(
        path,
        webhook_handler(
            on_event,
            secret=secret,
            verifier=verifier,
            tolerance=tolerance,
            nonce_store=nonce_store,
        ),
    )
    return app
