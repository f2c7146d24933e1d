"""Issue 17 §3: the framework-neutral webhook core (``WebhookReceiver``: bytes + headers in, a
status and a typed event out) and the same answers from each of its adapters (the core
called directly, aiohttp, ASGI), plus a second event family plugged into the same stack."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any

import attrs
import orjson
import pytest

from sinch_async import (
    CallbackEvent,
    CallbackParseError,
    CallbackSignatureError,
    CallbackVerifier,
    MemoryNonceStore,
    MoText,
    SinchConfigError,
    UnknownCallback,
    sign_callback,
)
from sinch_async.webhooks import (
    WebhookASGIApp,
    WebhookReceiver,
    WebhookResponse,
    WebhookVerifier,
    asgi_app,
    webhook_app,
    webhook_handler,
)
from tests.support.webhooks import BODY, NOW, SECRET, FailingStore, serve_receiver, signed

UNKNOWN = orjson.dumps({"type": "mo_rcs", "id": "01RCS", "from": "+46701234567", "card": {}})


class Recorder:
    """An ``on_event`` that records events, and raises ``fail`` while it is set."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.fail: BaseException | None = None

    async def __call__(self, event: CallbackEvent) -> None:
        if self.fail is not None:
            raise self.fail
        self.events.append(event)


def receiver_for(on_event: Recorder, **kwargs: Any) -> WebhookReceiver[CallbackEvent]:
    """An SMS receiver on the tests' fixed clock (signatures made at ``NOW``)."""
    kwargs.setdefault("verifier", CallbackVerifier(SECRET, clock=lambda: NOW))
    return WebhookReceiver(on_event, **kwargs)


def sign(body: bytes, nonce: str) -> dict[str, str]:
    return sign_callback(SECRET, body, nonce, NOW)


# --- every status, from every adapter -------------------------------------------------------


async def test_each_status_from_each_adapter(webhook_adapter: str) -> None:
    on_event = Recorder()
    async with serve_receiver(webhook_adapter, receiver_for(on_event)) as post:
        status, body, headers = await post(signed("first"))
        assert (status, body) == (200, {"ok": True})
        assert headers["content-type"].startswith("application/json")
        assert len(on_event.events) == 1 and isinstance(on_event.events[0], MoText)

        # 401: replayed nonce, wrong secret, not signed, unknown algorithm
        status, body, _ = await post(signed("first"))
        assert (status, body) == (401, {"error": "replayed_nonce"})
        wrong = sign_callback("other-secret", BODY, "wrong", NOW)
        assert (await post(wrong))[:2] == (401, {"error": "bad_signature"})
        assert (await post({}))[:2] == (401, {"error": "missing_signature"})
        sha512 = {**signed("alg"), "x-sinch-webhook-signature-algorithm": "HmacSHA512"}
        assert (await post(sha512))[:2] == (401, {"error": "unsupported_algorithm"})

        # 400: signed bodies that are not callbacks
        for raw, reason in [
            (b"{oops", "not_json"),
            (b"[1]", "not_object"),
            (b'{"id": "x"}', "missing_type"),
            (b'{"type": "mo_text", "id": 5}', "invalid"),
        ]:
            assert (await post(sign(raw, f"bad-{reason}"), raw))[:2] == (400, {"error": reason})
        assert len(on_event.events) == 1

        # an unknown type is handed over, typed, and answered 2xx
        status, body, _ = await post(sign(UNKNOWN, "unknown"), UNKNOWN)
        assert (status, body) == (200, {"ok": True})
        event = on_event.events[-1]
        assert isinstance(event, UnknownCallback) and event.type == "mo_rcs"
        assert event.raw == orjson.loads(UNKNOWN)

        # 500 when the handler raises; the nonce is released, so Sinch's retry gets in
        on_event.fail = RuntimeError("database down")
        retry = signed("retried")
        assert (await post(retry))[:2] == (500, {"error": "handler_failed"})
        on_event.fail = None
        assert (await post(retry))[:2] == (200, {"ok": True})
        assert (await post(retry))[:2] == (401, {"error": "replayed_nonce"})
        assert len(on_event.events) == 3


async def test_503_when_the_nonce_store_is_down_and_the_handler_is_not_called(
    webhook_adapter: str,
) -> None:
    on_event, store = Recorder(), FailingStore()
    verifier = CallbackVerifier(SECRET, clock=lambda: NOW, nonce_store=store)
    async with serve_receiver(webhook_adapter, receiver_for(on_event, verifier=verifier)) as post:
        status, body, headers = await post(signed("down"))
        assert (status, body) == (503, {"error": "nonce_store_unavailable"})
        assert "retry-after" not in headers
        # the body is never parsed: not even an unknown type reaches the handler
        assert (await post(sign(UNKNOWN, "down2"), UNKNOWN))[0] == 503
    assert on_event.events == [] and store.calls == 2


async def test_503_with_retry_after_when_the_store_is_full(webhook_adapter: str) -> None:
    on_event = Recorder()
    store = MemoryNonceStore(max_entries=1, clock=lambda: NOW)
    verifier = CallbackVerifier(SECRET, clock=lambda: NOW, nonce_store=store)
    async with serve_receiver(webhook_adapter, receiver_for(on_event, verifier=verifier)) as post:
        assert (await post(signed("one")))[0] == 200
        status, body, headers = await post(signed("two"))
        assert (status, body) == (503, {"error": "nonce_store_full"})
        assert int(headers["retry-after"]) == 25 * 3600
        assert (await post(signed("one")))[:2] == (401, {"error": "replayed_nonce"})
    assert len(on_event.events) == 1


async def test_413_for_a_body_over_max_body(webhook_adapter: str) -> None:
    on_event = Recorder()
    async with serve_receiver(webhook_adapter, receiver_for(on_event, max_body=len(BODY))) as post:
        assert (await post(signed("fits")))[0] == 200
        big = BODY + b" "
        status, body, _ = await post(sign(big, "big"), big)
        assert (status, body) == (413, {"error": "body_too_large"})
    assert len(on_event.events) == 1


async def test_unsigned_callbacks_without_a_verifier(webhook_adapter: str) -> None:
    on_event = Recorder()
    async with serve_receiver(webhook_adapter, WebhookReceiver(on_event)) as post:
        assert (await post({}))[0] == 200
        assert (await post({}))[0] == 200  # no nonce, no replay protection
        assert (await post({}, b"nope"))[:2] == (400, {"error": "not_json"})
    assert len(on_event.events) == 2


# --- the core's result and its edges -------------------------------------------------------


async def test_the_result_carries_the_event_reason_and_error() -> None:
    on_event = Recorder()
    receiver = receiver_for(on_event)
    ok = await receiver.handle(BODY, signed("r1"))
    assert isinstance(ok, WebhookResponse) and ok.ok and ok.status == 200
    assert isinstance(ok.event, MoText) and ok.reason is None and ok.error is None
    assert dict(ok.headers) == {"Content-Type": "application/json"}

    replay = await receiver.handle(BODY, signed("r1"))
    assert not replay.ok and replay.reason == "replayed_nonce" and replay.event is None
    assert isinstance(replay.error, CallbackSignatureError)

    bad = await receiver.handle(b"[]", sign(b"[]", "r2"))
    assert (bad.status, bad.reason) == (400, "not_object")
    assert isinstance(bad.error, CallbackParseError)

    boom = RuntimeError("boom")
    on_event.fail = boom
    failed = await receiver.handle(BODY, signed("r3"))
    assert (failed.status, failed.reason, failed.error) == (500, "handler_failed", boom)
    assert isinstance(failed.event, MoText)  # what the handler was given
    assert "boom" not in repr(failed)


async def test_a_parse_error_releases_the_nonce() -> None:
    store = MemoryNonceStore(clock=lambda: NOW)
    verifier = CallbackVerifier(SECRET, clock=lambda: NOW, nonce_store=store)
    receiver = receiver_for(Recorder(), verifier=verifier)
    assert (await receiver.handle(b"{", sign(b"{", "p"))).status == 400
    assert len(store) == 0


async def test_a_failing_parser_is_500_and_releases_the_nonce(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def parser(body: bytes) -> Any:
        raise KeyError("a bug in the parser")

    store = MemoryNonceStore(clock=lambda: NOW)
    on_event = Recorder()
    receiver = WebhookReceiver(
        on_event,
        parser=parser,
        verifier=CallbackVerifier(SECRET, clock=lambda: NOW, nonce_store=store),
    )
    with caplog.at_level(logging.ERROR, logger="sinch_async.webhooks"):
        result = await receiver.handle(BODY, signed("pf"))
    assert (result.status, result.reason) == (500, "parser_failed")
    assert len(store) == 0 and on_event.events == []
    assert "callback parser failed" in caplog.text


async def test_a_failing_handler_is_logged_and_the_secret_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    on_event = Recorder()
    on_event.fail = ValueError("handler bug")
    receiver = WebhookReceiver(on_event, secret=SECRET)
    with caplog.at_level(logging.DEBUG):
        result = await receiver.handle(BODY, sign_callback(SECRET, BODY, "log", int(time.time())))
        await receiver.handle(BODY, sign_callback("nope", BODY, "log2", int(time.time())))
    assert result.status == 500
    assert "callback handler failed" in caplog.text and "handler bug" in caplog.text
    assert "refused callback: bad_signature" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(receiver) and SECRET not in repr(asgi_app(receiver))


async def test_a_callback_that_does_not_fit_its_type_is_logged_with_the_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = WebhookReceiver(Recorder())
    body = orjson.dumps(
        {"type": "mo_text", "id": "x", "from": "+1", "to": "1", "body": "a", "received_at": "no"}
    )
    with caplog.at_level(logging.WARNING, logger="sinch_async.webhooks"):
        result = await receiver.handle(body, {})
    assert (result.status, result.reason) == (400, "invalid")
    assert "refused callback: invalid (invalid mo_text callback: received_at:" in caplog.text


async def test_a_cancelled_handler_releases_the_nonce_and_propagates() -> None:
    on_event = Recorder()
    receiver = receiver_for(on_event)
    on_event.fail = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError):
        await receiver.handle(BODY, signed("cancel"))
    on_event.fail = None
    assert (await receiver.handle(BODY, signed("cancel"))).status == 200


async def test_a_release_that_fails_still_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    class ForgetfulStore(FailingStore):
        async def add(self, nonce: str, expires_at: float) -> bool:
            return True

    on_event = Recorder()
    on_event.fail = RuntimeError("handler down")
    verifier = CallbackVerifier(SECRET, clock=lambda: NOW, nonce_store=ForgetfulStore())
    with caplog.at_level(logging.ERROR, logger="sinch_async.webhooks"):
        result = await receiver_for(on_event, verifier=verifier).handle(BODY, signed("rel"))
    assert (result.status, result.reason) == (500, "handler_failed")
    assert "could not release the callback nonce" in caplog.text


# --- configuration --------------------------------------------------------------------------


def test_configuration_errors() -> None:
    on_event = Recorder()
    verifier = CallbackVerifier(SECRET)
    with pytest.raises(SinchConfigError, match="not both"):
        WebhookReceiver(on_event, secret=SECRET, verifier=verifier)
    with pytest.raises(SinchConfigError, match="nonce_store"):
        WebhookReceiver(on_event, nonce_store=MemoryNonceStore())
    bad_sizes: tuple[Any, ...] = (0, -1, True, 1.5)
    for bad in bad_sizes:
        with pytest.raises(SinchConfigError, match="max_body"):
            WebhookReceiver(on_event, max_body=bad)
    with pytest.raises(SinchConfigError, match="async callable"):
        WebhookReceiver("not a handler")  # type: ignore[call-overload]
    with pytest.raises(SinchConfigError, match="tolerance"):
        WebhookReceiver(on_event, secret=SECRET, tolerance=0)

    # an adapter serves a ready receiver as it is: options belong to the receiver
    receiver = WebhookReceiver(on_event, secret=SECRET)
    assert asgi_app(receiver).receiver is receiver
    for options in (
        {"secret": SECRET},
        {"verifier": verifier},
        {"nonce_store": MemoryNonceStore()},
        {"tolerance": 60},
    ):
        with pytest.raises(SinchConfigError, match="configure the WebhookReceiver"):
            asgi_app(receiver, **options)
        with pytest.raises(SinchConfigError, match="configure the WebhookReceiver"):
            webhook_app(receiver, **options)
        with pytest.raises(SinchConfigError, match="configure the WebhookReceiver"):
            webhook_handler(receiver, **options)
    with pytest.raises(SinchConfigError, match="max_body"):
        asgi_app(receiver, max_body=10)


def test_adapters_built_from_a_handler_share_the_core() -> None:
    app = asgi_app(Recorder(), secret=SECRET, max_body=2048)
    assert isinstance(app, WebhookASGIApp) and isinstance(app.receiver, WebhookReceiver)
    assert app.receiver.max_body == 2048
    assert isinstance(app.receiver.verifier, CallbackVerifier)
    assert asgi_app(Recorder()).receiver.verifier is None
    verifier: WebhookVerifier = CallbackVerifier(SECRET)  # the SMS verifier fits the protocol
    assert asgi_app(Recorder(), verifier=verifier).receiver.verifier is verifier


# --- a second event family on the same stack -------------------------------------------------

NUMBERS_SECRET = "numbers-hmac-secret"


@attrs.frozen
class NumberEvent:
    """A stand-in for the Numbers API's events (``eventId``, ``eventType``, ``status``)."""

    event_id: str
    event_type: str
    status: str


def parse_number_event(body: bytes) -> NumberEvent:
    try:
        data = orjson.loads(body)
        return NumberEvent(data["eventId"], data["eventType"], data["status"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise CallbackParseError("invalid", f"not a Numbers event: {exc!r}") from exc


class NumbersVerifier:
    """Numbers-style signing (hex HMAC-SHA1 of the body in ``X-Sinch-Signature``, no nonce);
    the event id is the claim, so a redelivered event is refused while it is remembered."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._seen = MemoryNonceStore(clock=lambda: NOW)

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        given = {k.lower(): v for k, v in headers.items()}.get("x-sinch-signature", "")
        expected = hmac.new(self._secret, body, hashlib.sha1).hexdigest()
        if not hmac.compare_digest(expected, given):
            raise CallbackSignatureError("bad_signature", "Numbers signature does not match")
        event_id = str(orjson.loads(body).get("eventId", ""))
        if not await self._seen.add(event_id, NOW + 3600):
            raise CallbackSignatureError("replayed_nonce", "event already handled")
        return event_id

    async def release(self, claim: str) -> None:
        await self._seen.discard(claim)


def numbers_signed(body: bytes, secret: str = NUMBERS_SECRET) -> dict[str, str]:
    return {"X-Sinch-Signature": hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


async def test_a_second_event_family_plugs_into_the_same_stack(webhook_adapter: str) -> None:
    events: list[NumberEvent] = []
    fail = [True]

    async def on_number_event(event: NumberEvent) -> None:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("first attempt fails")
        events.append(event)

    receiver: WebhookReceiver[NumberEvent] = WebhookReceiver(
        on_number_event, verifier=NumbersVerifier(NUMBERS_SECRET), parser=parse_number_event
    )
    body = orjson.dumps(
        {"eventId": "e1", "eventType": "PROVISIONING_TO_SMS_PLATFORM", "status": "SUCCEEDED"}
    )
    async with serve_receiver(webhook_adapter, receiver) as post:
        assert (await post(numbers_signed(body), body))[:2] == (500, {"error": "handler_failed"})
        assert (await post(numbers_signed(body), body))[:2] == (200, {"ok": True})
        assert (await post(numbers_signed(body), body))[:2] == (401, {"error": "replayed_nonce"})
        wrong = numbers_signed(body, "other")
        assert (await post(wrong, body))[:2] == (401, {"error": "bad_signature"})
        junk = b'{"eventId": "e2"}'
        assert (await post(numbers_signed(junk), junk))[:2] == (400, {"error": "invalid"})
        # the SMS signature means nothing to this family
        assert (await post(signed("sms"), BODY))[0] == 401
    assert events == [NumberEvent("e1", "PROVISIONING_TO_SMS_PLATFORM", "SUCCEEDED")]
