"""The framework-neutral webhook core: body bytes + headers in, a status + a typed event out.

[`WebhookReceiver`][] does everything a callback endpoint has to decide: verify the
signature (claiming its nonce), parse the body, await the user's handler, release the nonce
when the handler failed, and map each outcome to the status Sinch expects. The aiohttp
adapter ([`sinch_async.webhooks.webhook_app`][]) and the ASGI adapter
([`sinch_async.webhooks.asgi_app`][]) only move bytes in and out of it.

An event family is a verifier + a parser: the SMS family is [`CallbackVerifier`][] +
[`parse_callback`][]; another family (e.g. Numbers events, signed differently:
[`sinch_async.numbers.numbers_receiver`][]) plugs into the same receiver and the same
adapters with ``WebhookReceiver(on_event, verifier=..., parser=...)``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar, overload

import attrs
import orjson

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
from ._errors import SinchConfigError, SinchError

__all__ = [
    "MAX_BODY",
    "WebhookDuplicate",
    "WebhookReceiver",
    "WebhookResponse",
    "WebhookVerifier",
    "build_receiver",
]

log = logging.getLogger("sinch_async.webhooks")

#: The largest callback body accepted (bytes); larger ones are answered 413.
MAX_BODY = 1024 * 1024

E = TypeVar("E")

_JSON = (("Content-Type", "application/json"),)


class WebhookDuplicate(SinchError):
    """Raised by a verifier: the request is authentic, but its event was accepted before.

    For event families whose signature carries no nonce or timestamp (Numbers events), a
    replay verifies, and Sinch's retry of an event whose 200 was lost looks just like one.
    The receiver answers **200** ``{"ok": true, "duplicate": true}`` without handing the
    event over (Sinch stops retrying; the handler sees each event once), or **503**
    ``event_in_progress`` while this receiver is still handling the first delivery of
    ``claim`` (Sinch retries; if that handling fails its claim is released and the retry is
    handed over). Deliberately not a [`CallbackError`][]: it is not a refusal.
    """

    reason = "duplicate_event"

    def __init__(self, claim: str, message: str = "") -> None:
        super().__init__(message or f"event {claim[:80]!r} was already accepted")
        self.claim = claim


class WebhookVerifier(Protocol):
    """How a [`WebhookReceiver`][] authenticates a request ([`CallbackVerifier`][] is one).

    ``verify`` returns a *claim* (for SMS callbacks, the signature nonce, now remembered so a
    replay is refused) or ``None``; the receiver passes it to ``release`` when the callback
    was not handled, so that Sinch's retry is accepted. Raise [`CallbackSignatureError`][]
    for a request to refuse (401), [`CallbackNonceStoreFull`][] when the replay store is
    full (503), [`WebhookDuplicate`][] for an authentic request whose claim is taken
    (200 without handing it over); any other exception means the store could not be asked
    (503 too).
    """

    async def verify(self, body: bytes, headers: Mapping[str, str], /) -> str | None:
        """Authenticate the request and claim it; return the claim (or ``None``)."""
        ...

    async def release(self, claim: str, /) -> None:
        """Give back a claim: the callback was not handled, its retry must get in."""
        ...


@attrs.frozen(kw_only=True)
class WebhookResponse(Generic[E]):
    """What to answer Sinch, and what happened.

    ``status``, ``headers`` and ``body`` (a small JSON object: ``{"ok": true}`` or
    ``{"error": reason}``) are the HTTP response. ``event`` is the parsed event when the
    body was parsed (handed to the handler), ``reason`` a short machine-readable cause of a
    refusal or failure (``None`` on success), and ``error`` the exception the handler (or the
    nonce store) raised, for your own error reporting; it was logged already.
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON
    event: E | None = None
    reason: str | None = None
    error: BaseException | None = attrs.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """The callback was handled (2xx): Sinch will not send it again."""
        return 200 <= self.status < 300


def _answer(
    status: int,
    reason: str,
    *,
    event: Any = None,
    error: BaseException | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> WebhookResponse[Any]:
    return WebhookResponse(
        status=status,
        body=orjson.dumps({"error": reason}),
        headers=_JSON + headers,
        event=event,
        reason=reason,
        error=error,
    )


class WebhookReceiver(Generic[E]):
    """Verifies, parses and hands over one callback; answers with the status Sinch expects.

    ``await receiver.handle(body, headers)`` returns a [`WebhookResponse`][]:

    ====== ===============================================================================
    200    ``on_event`` returned (an unknown ``type`` too: it arrives as
           [`UnknownCallback`][])
    400    the body is not a callback (not JSON, not an object, no ``type``, or fields that
           do not fit a known ``type``); ``on_event`` is not called
    200    the verifier raised [`WebhookDuplicate`][] (an event accepted before, e.g. a
           Numbers event's retry): ``{"ok": true, "duplicate": true}``, ``on_event`` is
           not called
    401    missing, wrong, stale or undecodable signature, unknown signature algorithm,
           replayed nonce; ``on_event`` is not called (Sinch does not retry 4xx)
    413    the body is larger than ``max_body``
    500    ``on_event`` raised: logged, the nonce released so Sinch's retry is accepted
    503    the nonce store is full or unavailable (e.g. Redis down), or a duplicate
           arrived while this receiver still handles the first delivery
           (``event_in_progress``); ``on_event`` is not called, Sinch retries
    ====== ===============================================================================

    With ``secret``, a [`CallbackVerifier`][] is built with ``tolerance`` (25 h by
    default, Sinch's whole retry schedule) and ``nonce_store`` (a
    [`MemoryNonceStore`][] by default: give every process receiving the same
    callbacks one shared store, e.g. [`RedisNonceStore`][sinch_async.redis.RedisNonceStore]). Pass
    ``verifier`` instead to configure it fully, or neither to accept unsigned callbacks.
    ``parser`` turns the body into the event ([`parse_callback`][] by
    default); another event family brings its own ``verifier`` and ``parser``.

    If ``on_event`` is cancelled, the nonce is released and the cancellation propagates.
    """

    @overload
    def __init__(
        self: WebhookReceiver[CallbackEvent],
        on_event: Callable[[CallbackEvent], Awaitable[object]],
        *,
        secret: str | None = None,
        verifier: WebhookVerifier | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        nonce_store: NonceStore | None = None,
        max_body: int = MAX_BODY,
    ) -> None: ...

    @overload
    def __init__(
        self,
        on_event: Callable[[E], Awaitable[object]],
        *,
        parser: Callable[[bytes], E],
        secret: str | None = None,
        verifier: WebhookVerifier | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        nonce_store: NonceStore | None = None,
        max_body: int = MAX_BODY,
    ) -> None: ...

    def __init__(
        self,
        on_event: Callable[[Any], Awaitable[object]],
        *,
        parser: Callable[[bytes], Any] = parse_callback,
        secret: str | None = None,
        verifier: WebhookVerifier | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        nonce_store: NonceStore | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        if not callable(on_event):
            raise SinchConfigError(f"on_event must be an async callable, got {on_event!r}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise SinchConfigError(f"max_body must be a positive integer, got {max_body!r}")
        if secret is not None and verifier is not None:
            raise SinchConfigError("give either secret=... or verifier=..., not both")
        if secret is not None:
            verifier = CallbackVerifier(secret, tolerance=tolerance, nonce_store=nonce_store)
        elif nonce_store is not None:
            raise SinchConfigError(
                "nonce_store is used with secret=...; give it to your CallbackVerifier instead"
            )
        self._on_event = on_event
        self._parser = parser
        self._verifier = verifier
        self._max_body = max_body
        # claims whose handling has not ended yet (a count: a released claim may be taken
        # again by a retry before the first handling has returned)
        self._in_flight: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"WebhookReceiver(verifier={self._verifier!r}, max_body={self._max_body})"

    @property
    def verifier(self) -> WebhookVerifier | None:
        """The verifier (``None``: callbacks are not authenticated)."""
        return self._verifier

    @property
    def max_body(self) -> int:
        """The largest body accepted, in bytes."""
        return self._max_body

    async def _release(self, claim: str | None) -> None:
        if claim is None or self._verifier is None:
            return
        try:
            await self._verifier.release(claim)
        except Exception:
            log.exception("could not release the callback nonce; Sinch's retry may get 401")

    async def handle(self, body: bytes, headers: Mapping[str, str]) -> WebhookResponse[E]:
        """Verify, parse and hand over one callback; the response to give Sinch.

        ``headers`` is the request's headers (names in any case). Never raises for a bad
        request, a failing store or a failing handler: each is a status (see the class).
        Only cancellation propagates (the nonce is released first).
        """
        if len(body) > self._max_body:
            return _answer(413, "body_too_large")
        claim: str | None = None
        if self._verifier is not None:
            try:
                claim = await self._verifier.verify(body, headers)
            except CallbackSignatureError as exc:
                log.warning("refused callback: %s", exc.reason)
                return _answer(401, exc.reason, error=exc)
            except WebhookDuplicate as exc:
                # the claim: a Numbers event's eventId (the body's hash without one)
                if exc.claim in self._in_flight:
                    log.info(
                        "duplicate of event %r, still being handled: 503, Sinch retries",
                        exc.claim[:80],
                    )
                    return _answer(503, "event_in_progress", error=exc)
                log.info("duplicate event %r answered 200, not handed over again", exc.claim[:80])
                return WebhookResponse(
                    status=200, body=b'{"ok":true,"duplicate":true}', reason=exc.reason
                )
            except CallbackNonceStoreFull as exc:
                # Never evict an unexpired nonce (a replay would pass): 503, Sinch retries.
                retry: tuple[tuple[str, str], ...] = ()
                if exc.retry_after is not None and math.isfinite(exc.retry_after):
                    retry = (("Retry-After", str(max(1, math.ceil(exc.retry_after)))),)
                return _answer(503, exc.reason, error=exc, headers=retry)
            except Exception as exc:
                log.exception("nonce store failed; answering 503 so Sinch retries")
                return _answer(503, "nonce_store_unavailable", error=exc)
        if claim is None:
            return await self._handle(body, None)
        in_flight = self._in_flight
        in_flight[claim] = in_flight.get(claim, 0) + 1
        try:
            return await self._handle(body, claim)
        finally:
            if in_flight[claim] == 1:
                del in_flight[claim]
            else:
                in_flight[claim] -= 1

    async def _handle(self, body: bytes, claim: str | None) -> WebhookResponse[E]:
        """Parse and hand over a verified callback (``claim`` held, released on failure)."""
        try:
            event = self._parser(body)
        except CallbackParseError as exc:
            await self._release(claim)
            log.warning("refused callback: %s (%s)", exc.reason, exc)
            return _answer(400, exc.reason, error=exc)
        except Exception as exc:
            await self._release(claim)
            log.exception("callback parser failed; answering 500 so Sinch retries")
            return _answer(500, "parser_failed", error=exc)
        try:
            await self._on_event(event)
        except asyncio.CancelledError:
            await self._release(claim)
            raise
        except Exception as exc:
            await self._release(claim)
            log.exception("callback handler failed; answering 500 so Sinch retries")
            return _answer(500, "handler_failed", event=event, error=exc)
        return WebhookResponse(status=200, body=b'{"ok":true}', event=event)


def build_receiver(
    on_event: Callable[[Any], Awaitable[object]] | WebhookReceiver[Any],
    *,
    secret: str | None,
    verifier: WebhookVerifier | None,
    tolerance: float,
    nonce_store: NonceStore | None,
    max_body: int | None,
) -> WebhookReceiver[Any]:
    """The receiver an adapter serves: ``on_event`` itself when it is one (then no other
    option may be given), else a new SMS receiver with these options."""
    if isinstance(on_event, WebhookReceiver):
        given = [
            name
            for name, value in (
                ("secret", secret),
                ("verifier", verifier),
                ("nonce_store", nonce_store),
                ("max_body", max_body),
            )
            if value is not None
        ]
        if tolerance != DEFAULT_TOLERANCE:
            given.append("tolerance")
        if given:
            raise SinchConfigError(
                f"{', '.join(given)}: configure the WebhookReceiver, not its adapter"
            )
        return on_event
    return WebhookReceiver(
        on_event,
        secret=secret,
        verifier=verifier,
        tolerance=tolerance,
        nonce_store=nonce_store,
        max_body=MAX_BODY if max_body is None else max_body,
    )
