"""Numbers events as Sinch sends them: a JSON body (``numbers_event``), signed with the
project's ``hmacSecret`` in ``X-Sinch-Signature`` (hex HMAC-SHA1 of the raw body), POSTed to
a number's ``callbackUrl`` (``post_numbers_event``).

Written independently of [`sinch_async.numbers`][] (as the SMS callback signer is), so the
SDK's verifier is checked against a second implementation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from ._callbacks import CallbackAttempt, post_attempt
from ._util import JSONObject

__all__ = ["NUMBERS_SIGNATURE_HEADER", "numbers_event", "post_numbers_event"]

NUMBERS_SIGNATURE_HEADER = "X-Sinch-Signature"
_TIMEOUT = aiohttp.ClientTimeout(total=5.0)
_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _event_id() -> str:
    """A fresh lower-case ULID-like ID, as Sinch's ``eventId`` looks."""
    return "".join(secrets.choice(_ULID_ALPHABET) for _ in range(26))


def _sinch_timestamp(when: datetime) -> str:
    """Sinch's format: UTC, microseconds, **no offset** (``2023-06-06T07:45:27.787890``)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds")


def numbers_event(
    event_type: str = "PROVISIONING_TO_SMS_PLATFORM",
    *,
    resource_id: str = "+12025550100",
    status: str = "SUCCEEDED",
    resource_type: str = "ACTIVE_NUMBER",
    project_id: str = "test-project",
    event_id: str | None = None,
    timestamp: datetime | None = None,
    failure_code: str | None = None,
    internal_failure_code: str | None = None,
    **extra: Any,
) -> JSONObject:
    """A Numbers event body as Sinch sends it (camelCase; ``failureCode`` null unless given).

    ``event_id`` defaults to a fresh one, ``timestamp`` to now (both as Sinch formats them);
    ``extra`` fields are added as given (camelCase names), e.g. to mimic a future field.
    """
    body: JSONObject = {
        "eventId": event_id if event_id is not None else _event_id(),
        "timestamp": _sinch_timestamp(timestamp if timestamp is not None else datetime.now(UTC)),
        "projectId": project_id,
        "resourceId": resource_id,
        "resourceType": resource_type,
        "eventType": event_type,
        "status": status,
        "failureCode": failure_code,
    }
    if internal_failure_code is not None:
        body["internalFailureCode"] = internal_failure_code
    body.update(extra)
    return body


def sign_numbers_body(secret: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA1 of ``body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


async def post_numbers_event(
    url: str,
    event: Mapping[str, Any] | bytes,
    secret: str | None,
    *,
    retry_delays: Iterable[float] = (),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    session: aiohttp.ClientSession | None = None,
) -> list[CallbackAttempt]:
    """POST one Numbers event to ``url`` as Sinch does; every attempt, in order.

    ``event`` is a body object (see [`numbers_event`][]) or the exact bytes to send (to
    replay or alter a body). With ``secret`` the request carries ``X-Sinch-Signature``;
    ``None`` sends it unsigned. After a 5xx, a 429 or a connection error the POST is retried
    after each of ``retry_delays`` in turn (waited with ``sleep``); other statuses are final.
    A ``session`` is used if given, else one is opened for the call.
    """
    body = event if isinstance(event, bytes) else orjson.dumps(dict(event))
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[NUMBERS_SIGNATURE_HEADER] = sign_numbers_body(secret, body)
    own = session is None
    client = aiohttp.ClientSession(timeout=_TIMEOUT) if session is None else session
    attempts: list[CallbackAttempt] = []
    delays = tuple(retry_delays)
    try:
        for number in range(1, len(delays) + 2):
            done = await post_attempt(client, url, body, headers, number)
            attempts.append(done)
            if not done.retried or number > len(delays):
                break
            await sleep(delays[number - 1])
    finally:
        if own:
            await client.close()
    return attempts
