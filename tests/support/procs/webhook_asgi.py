"""App factory for ``tests/webhooks/test_webhook_uvicorn.py``: the SDK's ASGI webhook app with
a Redis nonce store, run by a real server::

    python -m uvicorn --factory tests.support.procs.webhook_asgi:create_app --port P

(from the repository root). Configured by environment variables:

* ``SINCH_WEBHOOK_REDIS``: the Redis URL of the shared nonce store;
* ``SINCH_WEBHOOK_SECRET``: the callback secret;
* ``SINCH_WEBHOOK_RECORD``: a file this process appends one JSON line to per handled event
  (``pid``, the event's class, ``type`` and ``id``, or ``raw`` for an unknown type);
* ``SINCH_WEBHOOK_FAIL``: a path; while a file exists there, the handler raises.

The handler holds each event ``HOLD`` seconds before recording it, so concurrent copies of a
callback arrive while the first one is being handled.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import redis.asyncio as redis_asyncio

from sinch_async import CallbackEvent, UnknownCallback
from sinch_async.redis import RedisNonceStore
from sinch_async.webhooks import WebhookASGIApp, asgi_app

HOLD = 0.05


def create_app() -> WebhookASGIApp:
    redis = redis_asyncio.from_url(
        os.environ["SINCH_WEBHOOK_REDIS"], socket_timeout=1, socket_connect_timeout=1
    )
    record = Path(os.environ["SINCH_WEBHOOK_RECORD"])
    fail = Path(os.environ["SINCH_WEBHOOK_FAIL"])

    def write(line: dict[str, object]) -> None:
        if fail.exists():
            raise RuntimeError("the handler failed (test)")
        with record.open("a") as out:
            out.write(json.dumps(line) + "\n")

    async def on_event(event: CallbackEvent) -> None:
        await asyncio.sleep(HOLD)
        line: dict[str, object] = {
            "pid": os.getpid(),
            "class": type(event).__name__,
            "type": event.type,
        }
        if isinstance(event, UnknownCallback):
            line["raw"] = dict(event.raw)
        else:
            line["id"] = getattr(event, "id", None)
        write(line)  # tiny local writes: blocking the loop for them is fine here

    return asgi_app(
        on_event,
        secret=os.environ["SINCH_WEBHOOK_SECRET"],
        nonce_store=RedisNonceStore(redis),
    )
