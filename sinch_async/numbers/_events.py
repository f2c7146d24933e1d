"""Numbers API events (callbacks): typed records, the ``X-Sinch-Signature`` check, dedupe.

Sinch POSTs an event to a number's ``callbackUrl`` when it is provisioned to (or removed
from) the SMS or voice platform or a 10DLC campaign, and when a number order changes state.
With an ``hmacSecret`` set on the project (``PATCH /callbackConfiguration``), the request
carries ``X-Sinch-Signature``: the lower-case hex HMAC-SHA1 of the raw body. That signature
has no nonce and no timestamp, so a replayed request verifies; [`NumbersEventVerifier`][]
therefore claims each ``eventId`` in a [`NonceStore`][] (memory or Redis),
and the webhook core hands an event over once: a repeat is answered 200 ``duplicate``.

```python
from sinch_async.numbers import NumbersCallbackEvent, NumbersEvent, numbers_receiver
from sinch_async.webhooks import asgi_app, webhook_app

async def on_event(event: NumbersCallbackEvent) -> None:
    if isinstance(event, NumbersEvent) and event.status == "FAILED":
        ...

app.mount("/numbers", asgi_app(numbers_receiver(on_event, hmac_secret="...")))
aiohttp_app.add_subapp("/numbers", webhook_app(numbers_receiver(on_event, hmac_secret="...")))
```
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs
import orjson

from .._callbacks import (
    DEFAULT_MAX_NONCES,
    CallbackParseError,
    CallbackSignatureError,
    MemoryNonceStore,
    NonceStore,
    _header,
    _utf8,
)
from .._errors import SinchConfigError
from .._webhooks import MAX_BODY, WebhookDuplicate, WebhookReceiver
from .._wire import parse_datetime
from ._converter import structure

__all__ = [
    "DEFAULT_EVENT_RETENTION",
    "NUMBERS_SIGNATURE_HEADER",
    "NumbersCallbackEvent",
    "NumbersEvent",
    "NumbersEventStatus",
    "NumbersEventType",
    "NumbersEventVerifier",
    "NumbersFailureCode",
    "NumbersResourceType",
    "UnknownNumbersEvent",
    "numbers_receiver",
    "parse_numbers_event",
    "sign_numbers_event",
]

#: The header carrying a Numbers event's signature (names are compared in any case).
NUMBERS_SIGNATURE_HEADER = "x-sinch-signature"

#: Seconds an accepted ``eventId`` is remembered after the event's ``timestamp`` (7 days);
#: an event whose ``timestamp`` is older is refused (401 ``stale_event``). Sinch documents no
#: retry schedule for Numbers events (the SMS API retries for 22 h 45 min); a week leaves a
#: wide margin for late retries, and Numbers events are few (a handful per number rented,
#: changed or released), so remembering them that long costs little.
DEFAULT_EVENT_RETENTION = 7 * 24 * 3600.0

_CLAIM_PREFIX = "numbers-event:"


class NumbersResourceType(StrEnum):
    """What a Numbers event is about (``resourceType``)."""

    ACTIVE_NUMBER = "ACTIVE_NUMBER"
    NUMBER_ORDER = "NUMBER_ORDER"


class NumbersEventType(StrEnum):
    """What happened (``eventType``). Unknown future values arrive as ``str``."""

    PROVISIONING_TO_SMS_PLATFORM = "PROVISIONING_TO_SMS_PLATFORM"
    DEPROVISIONING_FROM_SMS_PLATFORM = "DEPROVISIONING_FROM_SMS_PLATFORM"
    PROVISIONING_TO_CAMPAIGN = "PROVISIONING_TO_CAMPAIGN"
    DEPROVISIONING_FROM_CAMPAIGN = "DEPROVISIONING_FROM_CAMPAIGN"
    PROVISIONING_TO_VOICE_PLATFORM = "PROVISIONING_TO_VOICE_PLATFORM"
    DEPROVISIONING_FROM_VOICE_PLATFORM = "DEPROVISIONING_FROM_VOICE_PLATFORM"
    NUMBER_ORDER_PROCESSING = "NUMBER_ORDER_PROCESSING"


class NumbersEventStatus(StrEnum):
    """The outcome (``status``): SUCCEEDED/FAILED for an active number, the order's state
    (IN_REVIEW, BLOCKED, COMPLETED, REJECTED, EXPIRED) for a number order. Unknown future
    values arrive as ``str``."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    IN_REVIEW = "IN_REVIEW"
    BLOCKED = "BLOCKED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class NumbersFailureCode(StrEnum):
    """Why a provisioning step FAILED (``failureCode``; mostly 10DLC campaign causes).
    Unknown future values arrive as ``str``."""

    CAMPAIGN_NOT_AVAILABLE = "CAMPAIGN_NOT_AVAILABLE"
    EXCEEDED_10DLC_LIMIT = "EXCEEDED_10DLC_LIMIT"
    NUMBER_PROVISIONING_FAILED = "NUMBER_PROVISIONING_FAILED"
    PARTNER_SERVICE_UNAVAILABLE = "PARTNER_SERVICE_UNAVAILABLE"
    CAMPAIGN_PENDING_ACCEPTANCE = "CAMPAIGN_PENDING_ACCEPTANCE"
    MNO_SHARING_ERROR = "MNO_SHARING_ERROR"
    CAMPAIGN_PROVISIONING_FAILED = "CAMPAIGN_PROVISIONING_FAILED"
    CAMPAIGN_EXPIRED = "CAMPAIGN_EXPIRED"
    CAMPAIGN_MNO_REJECTED = "CAMPAIGN_MNO_REJECTED"
    CAMPAIGN_MNO_SUSPENDED = "CAMPAIGN_MNO_SUSPENDED"
    CAMPAIGN_MNO_REVIEW = "CAMPAIGN_MNO_REVIEW"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    MOCK_CAMPAIGN_NOT_ALLOWED = "MOCK_CAMPAIGN_NOT_ALLOWED"
    TFN_NOT_ALLOWED = "TFN_NOT_ALLOWED"
    INVALID_NNID = "INVALID_NNID"


@attrs.frozen(kw_only=True)
class NumbersEvent:
    """An event about an active number or a number order (a known ``resourceType``).

    ``resource_id`` is the phone number (E.164) of an ``ACTIVE_NUMBER`` event, the order's
    ID of a ``NUMBER_ORDER`` one. ``timestamp`` is when Sinch queued the event (Sinch sends
    it without an offset: read as UTC). The enum-typed fields keep a value this SDK does
    not know as a plain ``str``; compare them with strings or with the enum members alike.
    """

    event_id: str
    resource_type: NumbersResourceType | str
    event_type: NumbersEventType | str = ""
    status: NumbersEventStatus | str = ""
    resource_id: str = ""
    project_id: str = ""
    timestamp: datetime | None = None
    failure_code: NumbersFailureCode | str | None = None
    internal_failure_code: str | None = None


@attrs.frozen(kw_only=True)
class UnknownNumbersEvent:
    """An event whose ``resourceType`` this SDK version does not know (or that has none);
    ``raw`` keeps every field.

    It is signed like the others, so it is handed to your handler rather than refused with
    a 4xx that Sinch would never retry. ``event_id``, ``resource_type`` and ``event_type``
    are the body's values when they are strings (``None`` otherwise).
    """

    event_id: str | None
    resource_type: str | None
    event_type: str | None
    raw: Mapping[str, Any]


#: What a Numbers callback carries: a `NumbersEvent`, or an
#: `UnknownNumbersEvent` of a ``resourceType`` this SDK version does not know.
NumbersCallbackEvent = NumbersEvent | UnknownNumbersEvent


def _load(body: bytes) -> dict[str, Any]:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CallbackParseError("not_json", f"Numbers event body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CallbackParseError("not_object", "Numbers event body is not a JSON object")
    return data


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_numbers_event(body: bytes) -> NumbersCallbackEvent:
    """Parse a Numbers event body (verify it first: [`NumbersEventVerifier`][]).

    A JSON object with a known ``resourceType`` (``ACTIVE_NUMBER``, ``NUMBER_ORDER``) is a
    [`NumbersEvent`][] (unknown ``eventType``/``status``/``failureCode`` values are kept
    as strings, unknown fields ignored); any other JSON object is an
    [`UnknownNumbersEvent`][]. Anything else raises [`CallbackParseError`][]
    with ``reason`` ``not_json``, ``not_object`` or ``invalid`` (a known ``resourceType``
    whose fields do not fit, e.g. no string ``eventId``).
    """
    data = _load(body)
    kind = data.get("resourceType")
    if kind not in NumbersResourceType.__members__:
        return UnknownNumbersEvent(
            event_id=_string(data.get("eventId")),
            resource_type=_string(kind),
            event_type=_string(data.get("eventType")),
            raw=data,
        )
    try:
        return structure(data, NumbersEvent)
    except Exception as exc:  # the converter's errors, whatever their class
        raise CallbackParseError("invalid", f"invalid {kind} Numbers event: {exc}") from exc


def sign_numbers_event(hmac_secret: str, body: bytes) -> dict[str, str]:
    """The signature header Sinch sends with ``body`` (for tests and local tools):
    ``{"X-Sinch-Signature": lower-case hex HMAC-SHA1 of the body}``."""
    digest = hmac.new(hmac_secret.encode(), body, hashlib.sha1).hexdigest()
    return {"X-Sinch-Signature": digest}


def _check_retention(retention: object) -> float:
    if (
        isinstance(retention, bool)
        or not isinstance(retention, int | float)
        or not math.isfinite(retention)
        or retention <= 0
    ):
        raise SinchConfigError(
            f"retention must be a finite number of seconds > 0, got {retention!r}"
        )
    return float(retention)


def _identity(body: bytes) -> tuple[str, float | None]:
    """The event's claim (its ``eventId``; for a body without one, the body's SHA-256, so an
    exact replay is still caught) and its ``timestamp`` in POSIX seconds, if readable."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        data = {}
    event_id = data.get("eventId")
    claim = event_id if isinstance(event_id, str) and event_id else None
    if claim is None:
        claim = "sha256:" + hashlib.sha256(body).hexdigest()
    sent_at: float | None = None
    timestamp = data.get("timestamp")
    if isinstance(timestamp, str):
        try:
            sent_at = parse_datetime(timestamp).timestamp()
        except (ValueError, OverflowError):
            sent_at = None
    return claim, sent_at


class NumbersEventVerifier:
    """Checks ``X-Sinch-Signature`` on Numbers events and hands each ``eventId`` over once.

    The signature is the lower-case hex HMAC-SHA1 of the raw body under the project's
    ``hmacSecret`` (any case of hex is accepted), compared in constant time; a missing,
    wrong or undecodable one raises [`CallbackSignatureError`][] (401).

    The signature covers no nonce and no timestamp, so replaying a captured request
    verifies. The body's own (signed) ``eventId`` and ``timestamp`` stand in: an event whose
    ``timestamp`` is more than ``retention`` seconds old is refused (401 ``stale_event``), and
    each ``eventId`` is claimed in ``nonce_store`` until ``timestamp + retention`` (``now +
    retention`` for a body without a readable timestamp; a body without an ``eventId`` is
    claimed by its SHA-256). A claimed ``eventId`` raises
    [`WebhookDuplicate`][]: the receiver answers 200
    ``{"ok": true, "duplicate": true}`` and does not hand it over again (a replay, or
    Sinch's retry of an event whose 200 was lost: 2xx stops the retries), or 503 while the
    same receiver still handles the first delivery. When handling fails, the receiver
    releases the claim, so Sinch's retry is handed over.

    ``retention`` defaults to 7 days ([`DEFAULT_EVENT_RETENTION`][]). ``nonce_store`` is a
    [`MemoryNonceStore`][] (``max_events`` entries) by default; with several
    receiving processes share one, e.g.
    [`RedisNonceStore`][sinch_async.redis.RedisNonceStore] (it may be the SMS callbacks'
    store: claims are kept under ``numbers-event:<eventId>``).
    """

    def __init__(
        self,
        hmac_secret: str,
        *,
        retention: float = DEFAULT_EVENT_RETENTION,
        nonce_store: NonceStore | None = None,
        max_events: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(hmac_secret, str) or not hmac_secret:
            raise SinchConfigError("a Numbers hmac_secret must be a non-empty string")
        self._secret = hmac_secret.encode()
        self._retention = _check_retention(retention)
        self._clock = clock
        if nonce_store is None:
            self._store: NonceStore = MemoryNonceStore(
                DEFAULT_MAX_NONCES if max_events is None else max_events, clock=clock
            )
        elif max_events is not None:
            raise SinchConfigError("max_events is for the default store: bound your nonce_store")
        else:
            self._store = nonce_store

    def __repr__(self) -> str:
        return (
            f"NumbersEventVerifier(hmac_secret=********, retention={self._retention:g}, "
            f"nonce_store={self._store!r})"
        )

    @property
    def retention(self) -> float:
        return self._retention

    @property
    def nonce_store(self) -> NonceStore:
        return self._store

    def check_signature(self, body: bytes, headers: Mapping[str, str | bytes]) -> None:
        """Raise [`CallbackSignatureError`][] unless ``X-Sinch-Signature`` is
        the body's HMAC-SHA1 (no claim is made)."""
        given = _header(headers, NUMBERS_SIGNATURE_HEADER)
        if not given:
            raise CallbackSignatureError("missing_signature", "Numbers event is not signed")
        signature = _utf8(given).strip().lower()
        expected = hmac.new(self._secret, body, hashlib.sha1).hexdigest().encode("ascii")
        if not hmac.compare_digest(expected, signature):
            raise CallbackSignatureError("bad_signature", "Numbers event signature does not match")

    async def verify(self, body: bytes, headers: Mapping[str, str | bytes]) -> str:
        """Return the claimed ``eventId`` if the request is signed, fresh and new.

        Raises [`CallbackSignatureError`][] (401) for a missing, wrong or
        undecodable signature or a stale event, [`WebhookDuplicate`][]
        for an ``eventId`` claimed before, and [`CallbackNonceStoreFull`][]
        (503) when the store is full. ``await release(event_id)`` if handling the event
        failed, so that Sinch's retry of it is accepted.
        """
        self.check_signature(body, headers)
        claim, sent_at = _identity(body)
        now = self._clock()
        if sent_at is not None and now - sent_at > self._retention:
            raise CallbackSignatureError(
                "stale_event",
                f"Numbers event is {now - sent_at:.0f}s old (retention {self._retention:.0f}s)",
            )
        # remembered for as long as the event is not stale: no replay gets through ever
        expires_at = (now if sent_at is None else sent_at) + self._retention
        if not await self._store.add(_CLAIM_PREFIX + claim, expires_at):
            raise WebhookDuplicate(claim)
        return claim

    async def release(self, claim: str) -> None:
        """Forget a claimed ``eventId`` (the event was not handled; let a retry through)."""
        await self._store.discard(_CLAIM_PREFIX + claim)


def numbers_receiver(
    on_event: Callable[[NumbersCallbackEvent], Awaitable[object]],
    *,
    hmac_secret: str | None = None,
    verifier: NumbersEventVerifier | None = None,
    retention: float = DEFAULT_EVENT_RETENTION,
    nonce_store: NonceStore | None = None,
    max_body: int = MAX_BODY,
) -> WebhookReceiver[NumbersCallbackEvent]:
    """A [`WebhookReceiver`][] for Numbers events; serve it with
    ``asgi_app(receiver)`` or ``webhook_app(receiver)`` (or call ``receiver.handle``).

    Give the project's ``hmac_secret`` (with ``retention`` and ``nonce_store`` for the
    [`NumbersEventVerifier`][] it builds) or a ready ``verifier``. Answers as for SMS
    callbacks, plus 200 ``{"ok": true, "duplicate": true}`` for an event handed over before
    (not handed over again) and 503 ``event_in_progress`` for one still being handled.
    """
    if (hmac_secret is None) == (verifier is None):
        raise SinchConfigError("give either hmac_secret=... or verifier=... (one of them)")
    if hmac_secret is not None:
        verifier = NumbersEventVerifier(hmac_secret, retention=retention, nonce_store=nonce_store)
    elif nonce_store is not None or retention != DEFAULT_EVENT_RETENTION:
        raise SinchConfigError("nonce_store and retention go to your NumbersEventVerifier")
    return WebhookReceiver(
        on_event, parser=parse_numbers_event, verifier=verifier, max_body=max_body
    )
