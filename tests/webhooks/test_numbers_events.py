"""Issue 18 §3: Numbers events. Typed records (unknown values and shapes kept), the
``X-Sinch-Signature`` check (hex HMAC-SHA1 of the raw body), each ``eventId`` handed over once
(memory and Redis stores), the same answers from the core, aiohttp and ASGI, and FakeSinch
POSTing signed events to a handler served by the aiohttp adapter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from sinch_async import (
    CallbackParseError,
    CallbackSignatureError,
    MemoryNonceStore,
    SinchConfigError,
)
from sinch_async.numbers import (
    DEFAULT_EVENT_RETENTION,
    NumbersCallbackEvent,
    NumbersEvent,
    NumbersEventStatus,
    NumbersEventType,
    NumbersEventVerifier,
    NumbersFailureCode,
    NumbersResourceType,
    UnknownNumbersEvent,
    numbers_receiver,
    parse_numbers_event,
    sign_numbers_event,
)
from sinch_async.testing import FakeSinch, numbers_event, post_numbers_event
from sinch_async.webhooks import WebhookDuplicate, WebhookReceiver, webhook_app
from tests.support.webhooks import NOW, FailingStore, serve_receiver

HMAC_SECRET = "numbers-hmac-secret-0123456789abcdef"
AT = datetime.fromtimestamp(NOW, UTC)

#: Sinch's own example (its .NET/Node SDK tests): secret, exact body and signature.
SINCH_SECRET = "callback-secret"
SINCH_BODY = (
    b'{"eventId":"01hpa0mww4m79q8j2dwn3ggbgz","timestamp":"2024-02-10T17:22:09.412722588",'
    b'"projectId":"37b62a7b-0177-abcd-efgh-e10f848de123","resourceId":"+17818510001",'
    b'"resourceType":"ACTIVE_NUMBER","eventType":"DEPROVISIONING_FROM_VOICE_PLATFORM",'
    b'"status":"SUCCEEDED","failureCode":null}'
)
SINCH_SIGNATURE = "dcf80daac2f232f4b23d5f719db3aa0fdca6af43"


def body_of(event_id: str = "01evt", **fields: Any) -> bytes:
    fields.setdefault("timestamp", AT)
    return orjson.dumps(numbers_event(event_id=event_id, **fields))


def signed(body: bytes, secret: str = HMAC_SECRET) -> dict[str, str]:
    return sign_numbers_event(secret, body)


def verifier(**kwargs: Any) -> NumbersEventVerifier:
    """A verifier on the tests' fixed clock (events stamped at ``NOW``)."""
    kwargs.setdefault("clock", lambda: NOW)
    return NumbersEventVerifier(HMAC_SECRET, **kwargs)


class Recorder:
    """An ``on_event`` that records events; it waits for ``gate`` (when set), then raises
    ``fail`` while it is set, and fails the next ``failures`` calls."""

    def __init__(self) -> None:
        self.events: list[NumbersCallbackEvent] = []
        self.fail: BaseException | None = None
        self.failures = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, event: NumbersCallbackEvent) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database down")
        self.events.append(event)


class RecordingStore(MemoryNonceStore):
    """A memory store that also records what it was asked to remember, and until when."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: NOW)
        self.added: list[tuple[str, float]] = []

    async def add(self, nonce: str, expires_at: float) -> bool:
        self.added.append((nonce, expires_at))
        return await super().add(nonce, expires_at)


# --- typed records ---------------------------------------------------------------------------


def test_sinchs_example_event_parses_and_its_signature_matches() -> None:
    assert sign_numbers_event(SINCH_SECRET, SINCH_BODY) == {"X-Sinch-Signature": SINCH_SIGNATURE}
    event = parse_numbers_event(SINCH_BODY)
    assert event == NumbersEvent(
        event_id="01hpa0mww4m79q8j2dwn3ggbgz",
        resource_type=NumbersResourceType.ACTIVE_NUMBER,
        event_type=NumbersEventType.DEPROVISIONING_FROM_VOICE_PLATFORM,
        status=NumbersEventStatus.SUCCEEDED,
        resource_id="+17818510001",
        project_id="37b62a7b-0177-abcd-efgh-e10f848de123",
        # no offset on the wire: read as UTC; nanoseconds cut to microseconds
        timestamp=datetime(2024, 2, 10, 17, 22, 9, 412722, tzinfo=UTC),
    )
    assert isinstance(event.event_type, NumbersEventType)
    assert event.status == "SUCCEEDED" and event.failure_code is None


def test_known_event_types_statuses_and_failure_codes_are_enum_members() -> None:
    event = parse_numbers_event(
        body_of(
            event_type="PROVISIONING_TO_CAMPAIGN",
            status="FAILED",
            failure_code="CAMPAIGN_MNO_REJECTED",
            internal_failure_code="E1234",
        )
    )
    assert isinstance(event, NumbersEvent)
    assert event.event_type is NumbersEventType.PROVISIONING_TO_CAMPAIGN
    assert event.status is NumbersEventStatus.FAILED
    assert event.failure_code is NumbersFailureCode.CAMPAIGN_MNO_REJECTED
    assert event.internal_failure_code == "E1234"
    assert event.timestamp == AT
    order = parse_numbers_event(
        body_of(
            resource_type="NUMBER_ORDER",
            resource_id="ord-1",
            event_type="NUMBER_ORDER_PROCESSING",
            status="COMPLETED",
        )
    )
    assert isinstance(order, NumbersEvent)
    assert order.resource_type is NumbersResourceType.NUMBER_ORDER
    assert (order.event_type, order.status) == ("NUMBER_ORDER_PROCESSING", "COMPLETED")


def test_unknown_values_are_kept_as_strings_and_unknown_fields_ignored() -> None:
    event = parse_numbers_event(
        body_of(
            event_type="LINK_TO_RCS_AGENT",
            status="PARTIALLY_DONE",
            failure_code="NEW_FAILURE",
            brandNewField={"x": 1},
        )
    )
    assert isinstance(event, NumbersEvent)
    assert (event.event_type, event.status, event.failure_code) == (
        "LINK_TO_RCS_AGENT",
        "PARTIALLY_DONE",
        "NEW_FAILURE",
    )
    assert type(event.event_type) is str and type(event.status) is str


def test_an_unknown_resource_type_is_kept_whole() -> None:
    raw = {"eventId": "01brand", "resourceType": "BRAND", "eventType": "BRAND_VETTED", "x": [1]}
    event = parse_numbers_event(orjson.dumps(raw))
    assert event == UnknownNumbersEvent(
        event_id="01brand", resource_type="BRAND", event_type="BRAND_VETTED", raw=raw
    )
    bare = parse_numbers_event(b'{"eventId": 7}')
    assert isinstance(bare, UnknownNumbersEvent)
    assert (bare.event_id, bare.resource_type, bare.event_type) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{oops", "not_json"),
        (b'["ACTIVE_NUMBER"]', "not_object"),
        (b'{"resourceType": "ACTIVE_NUMBER", "status": "SUCCEEDED"}', "invalid"),
        (b'{"resourceType": "ACTIVE_NUMBER", "eventId": "e", "timestamp": "soon"}', "invalid"),
        (b'{"resourceType": "NUMBER_ORDER", "eventId": "e", "status": 3.5}', "invalid"),
    ],
)
def test_bodies_that_are_not_events_are_parse_errors(body: bytes, reason: str) -> None:
    with pytest.raises(CallbackParseError) as err:
        parse_numbers_event(body)
    assert err.value.reason == reason


# --- the verifier ----------------------------------------------------------------------------


async def test_a_signed_event_is_claimed_once_and_released_for_a_retry() -> None:
    store = RecordingStore()
    check = verifier(nonce_store=store)
    body = body_of("01once")
    assert await check.verify(body, signed(body)) == "01once"
    # remembered until the event's (signed) timestamp + retention, under its own prefix
    assert store.added == [("numbers-event:01once", NOW + DEFAULT_EVENT_RETENTION)]
    with pytest.raises(WebhookDuplicate) as dup:
        await check.verify(body, signed(body))
    assert dup.value.claim == "01once" and dup.value.reason == "duplicate_event"
    # another delivery of the same eventId (re-serialized) is the same event
    again = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    with pytest.raises(WebhookDuplicate):
        await check.verify(again, signed(again))
    await check.release("01once")
    assert await check.verify(body, signed(body)) == "01once"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda b, h: (b, {}), "missing_signature"),
        (lambda b, h: (b, {"X-Sinch-Signature": ""}), "missing_signature"),
        (lambda b, h: (b, {"X-Sinch-Signature": "0" * 40}), "bad_signature"),
        (lambda b, h: (b, {"X-Sinch-Signature": h["X-Sinch-Signature"][:-1]}), "bad_signature"),
        (lambda b, h: (b.replace(b"SUCCEEDED", b"FAILED"), h), "bad_signature"),
        (lambda b, h: (b + b" ", h), "bad_signature"),
        (lambda b, h: (b, sign_numbers_event("another-secret", b)), "bad_signature"),
        # the SMS scheme's headers mean nothing here
        (
            lambda b, h: (b, {"x-sinch-webhook-signature": h["X-Sinch-Signature"]}),
            "missing_signature",
        ),
        (lambda b, h: (b, {"X-Sinch-Signature": "caf\udcc3"}), "bad_header_encoding"),
    ],
)
async def test_forged_unsigned_and_altered_requests_are_refused(mangle: Any, reason: str) -> None:
    store = RecordingStore()
    body = body_of("01forged")
    sent_body, headers = mangle(body, signed(body))
    with pytest.raises(CallbackSignatureError) as err:
        await verifier(nonce_store=store).verify(sent_body, headers)
    assert err.value.reason == reason
    assert store.added == []  # nothing claimed: the genuine event still gets in


async def test_header_name_and_hex_case_do_not_matter() -> None:
    body = body_of("01case")
    digest = signed(body)["X-Sinch-Signature"]
    assert await verifier().verify(body, {"x-sinch-signature": digest.upper()}) == "01case"
    assert await verifier().verify(body, {"X-SINCH-SIGNATURE": f" {digest} "}) == "01case"


async def test_an_event_older_than_the_retention_is_stale() -> None:
    old = body_of("01old", timestamp=AT - timedelta(seconds=3601))
    with pytest.raises(CallbackSignatureError) as err:
        await verifier(retention=3600).verify(old, signed(old))
    assert err.value.reason == "stale_event"
    fresh = body_of("01fresh", timestamp=AT - timedelta(seconds=3599))
    store = RecordingStore()
    assert await verifier(retention=3600, nonce_store=store).verify(fresh, signed(fresh))
    assert store.added == [("numbers-event:01fresh", NOW + 1)]


async def test_a_body_without_event_id_or_timestamp_is_claimed_by_its_hash() -> None:
    store = RecordingStore()
    check = verifier(nonce_store=store, retention=60)
    body = b'{"resourceType": "SOMETHING_NEW"}'
    claim = await check.verify(body, signed(body))
    assert claim.startswith("sha256:") and len(claim) == 7 + 64
    assert store.added == [("numbers-event:" + claim, NOW + 60)]  # from now: no timestamp
    with pytest.raises(WebhookDuplicate):
        await check.verify(body, signed(body))


def test_verifier_configuration_is_checked() -> None:
    for secret in ("", None, b"bytes"):
        with pytest.raises(SinchConfigError):
            NumbersEventVerifier(secret)  # type: ignore[arg-type]
    for retention in (0, -1, math.nan, math.inf, True, "1"):
        with pytest.raises(SinchConfigError):
            NumbersEventVerifier(HMAC_SECRET, retention=retention)  # type: ignore[arg-type]
    with pytest.raises(SinchConfigError):
        NumbersEventVerifier(HMAC_SECRET, nonce_store=MemoryNonceStore(), max_events=5)
    check = NumbersEventVerifier(HMAC_SECRET, max_events=5)
    assert HMAC_SECRET not in repr(check) and "retention=604800" in repr(check)
    assert isinstance(check.nonce_store, MemoryNonceStore) and check.nonce_store.max_entries == 5


def test_numbers_receiver_configuration_is_checked() -> None:
    on_event = Recorder()
    with pytest.raises(SinchConfigError):
        numbers_receiver(on_event)
    with pytest.raises(SinchConfigError):
        numbers_receiver(on_event, hmac_secret=HMAC_SECRET, verifier=verifier())
    with pytest.raises(SinchConfigError):
        numbers_receiver(on_event, verifier=verifier(), nonce_store=MemoryNonceStore())
    with pytest.raises(SinchConfigError):
        numbers_receiver(on_event, verifier=verifier(), retention=60)
    built = numbers_receiver(on_event, hmac_secret=HMAC_SECRET, retention=60, max_body=1000)
    assert isinstance(built.verifier, NumbersEventVerifier) and built.verifier.retention == 60
    assert built.max_body == 1000


# --- every answer, from every adapter --------------------------------------------------------


async def test_each_answer_from_each_adapter(webhook_adapter: str) -> None:
    on_event = Recorder()
    receiver = numbers_receiver(on_event, verifier=verifier())
    async with serve_receiver(webhook_adapter, receiver) as post:
        body = body_of("01first")
        status, answer, headers = await post(signed(body), body)
        assert (status, answer) == (200, {"ok": True})
        assert headers["content-type"].startswith("application/json")
        [event] = on_event.events
        assert isinstance(event, NumbersEvent) and event.event_id == "01first"

        # its replay verifies, but is not handed over again; 2xx so Sinch stops retrying
        assert (await post(signed(body), body))[:2] == (200, {"ok": True, "duplicate": True})
        assert len(on_event.events) == 1

        # forged, unsigned, altered, wrong secret: 401, nothing handed over
        other = body_of("01other")
        assert (await post({"X-Sinch-Signature": "ab" * 20}, other))[:2] == (
            401,
            {"error": "bad_signature"},
        )
        assert (await post({}, other))[:2] == (401, {"error": "missing_signature"})
        altered = other.replace(b"SUCCEEDED", b"FAILED")
        assert (await post(signed(other), altered))[:2] == (401, {"error": "bad_signature"})
        assert (await post(signed(other, "wrong-secret"), other))[:2] == (
            401,
            {"error": "bad_signature"},
        )
        assert len(on_event.events) == 1
        # none of those claimed its eventId: the genuine event gets in
        assert (await post(signed(other), other))[:2] == (200, {"ok": True})

        # 400 for a signed body that is not an event; its claim is released
        junk = b'{"resourceType": "ACTIVE_NUMBER", "eventId": "01junk", "status": []}'
        assert (await post(signed(junk), junk))[:2] == (400, {"error": "invalid"})

        # an unknown resourceType is handed over, whole, and answered 200
        unknown = orjson.dumps({"eventId": "01brand", "resourceType": "BRAND"})
        assert (await post(signed(unknown), unknown))[:2] == (200, {"ok": True})
        assert isinstance(on_event.events[-1], UnknownNumbersEvent)
        assert len(on_event.events) == 3


async def test_a_failed_handling_is_retried_and_then_handed_over_once(webhook_adapter: str) -> None:
    on_event = Recorder()
    receiver = numbers_receiver(on_event, verifier=verifier())
    async with serve_receiver(webhook_adapter, receiver) as post:
        body = body_of("01retry")
        on_event.fail = RuntimeError("database down")
        assert (await post(signed(body), body))[:2] == (500, {"error": "handler_failed"})
        on_event.fail = None
        assert (await post(signed(body), body))[:2] == (200, {"ok": True})
        assert (await post(signed(body), body))[:2] == (200, {"ok": True, "duplicate": True})
        assert [e.event_id for e in on_event.events] == ["01retry"]


async def test_a_duplicate_while_the_first_is_being_handled_gets_503(webhook_adapter: str) -> None:
    on_event = Recorder()
    on_event.gate = asyncio.Event()
    receiver = numbers_receiver(on_event, verifier=verifier())
    async with serve_receiver(webhook_adapter, receiver) as post:
        body = body_of("01slow")

        async def deliver() -> tuple[int, Any, dict[str, str]]:
            return await post(signed(body), body)

        first = asyncio.create_task(deliver())
        await on_event.entered.wait()
        # Sinch gave up waiting and retried: not handed over twice, but not "done" yet either
        assert (await post(signed(body), body))[:2] == (503, {"error": "event_in_progress"})
        on_event.gate.set()
        assert (await first)[:2] == (200, {"ok": True})
        assert (await post(signed(body), body))[:2] == (200, {"ok": True, "duplicate": True})
        assert len(on_event.events) == 1


async def test_the_retry_of_an_in_flight_event_that_failed_is_handed_over() -> None:
    on_event = Recorder()
    on_event.gate = asyncio.Event()
    on_event.fail = RuntimeError("boom")
    receiver = numbers_receiver(on_event, verifier=verifier())
    body = body_of("01flaky")
    first = asyncio.create_task(receiver.handle(body, signed(body)))
    await on_event.entered.wait()
    assert (await receiver.handle(body, signed(body))).status == 503
    on_event.gate.set()
    assert (await first).status == 500
    on_event.fail = None
    result = await receiver.handle(body, signed(body))
    assert result.status == 200 and isinstance(result.event, NumbersEvent)
    assert len(on_event.events) == 1


async def test_store_down_is_503_and_nothing_is_handed_over(webhook_adapter: str) -> None:
    on_event = Recorder()
    receiver = numbers_receiver(on_event, verifier=verifier(nonce_store=FailingStore()))
    async with serve_receiver(webhook_adapter, receiver) as post:
        body = body_of("01down")
        assert (await post(signed(body), body))[:2] == (503, {"error": "nonce_store_unavailable"})
        assert on_event.events == []


async def test_the_core_reports_a_duplicate_without_an_event() -> None:
    on_event = Recorder()
    receiver: WebhookReceiver[NumbersCallbackEvent] = numbers_receiver(
        on_event, verifier=verifier()
    )
    body = body_of("01core")
    first = await receiver.handle(body, signed(body))
    assert first.ok and isinstance(first.event, NumbersEvent) and first.reason is None
    again = await receiver.handle(body, signed(body))
    assert again.ok and again.event is None and again.reason == "duplicate_event"


async def test_the_duplicate_log_line_names_the_event_id(caplog: pytest.LogCaptureFixture) -> None:
    receiver = numbers_receiver(Recorder(), verifier=verifier())
    body = body_of("01logged")
    await receiver.handle(body, signed(body))
    with caplog.at_level(logging.INFO, logger="sinch_async.webhooks"):
        again = await receiver.handle(body, signed(body))
    assert again.reason == "duplicate_event"
    assert "duplicate event '01logged' answered 200" in caplog.text


# --- a shared Redis store --------------------------------------------------------------------


async def test_replay_handed_over_once_across_two_workers_sharing_redis(
    redis_url: str, redis_client: Any
) -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")
    from sinch_async.redis import RedisNonceStore

    clients = [redis_asyncio.from_url(redis_url) for _ in range(2)]
    try:
        workers = [Recorder(), Recorder()]
        receivers = [
            numbers_receiver(w, hmac_secret=HMAC_SECRET, nonce_store=RedisNonceStore(c))
            for w, c in zip(workers, clients, strict=True)
        ]
        body = orjson.dumps(numbers_event(event_id="01redis", timestamp=datetime.now(UTC)))
        headers = signed(body)
        assert (await receivers[0].handle(body, headers)).status == 200
        second = await receivers[1].handle(body, headers)
        assert (second.status, second.reason) == (200, "duplicate_event")
        assert [len(w.events) for w in workers] == [1, 0]
        ttl = await redis_client.ttl("sinch:nonce:numbers-event:01redis")
        assert DEFAULT_EVENT_RETENTION - 10 <= ttl <= DEFAULT_EVENT_RETENTION + 1

        # worker one fails to handle the next event: the claim goes back to Redis, and
        # Sinch's retry is handed over by worker two
        body = orjson.dumps(numbers_event(event_id="01redis2", timestamp=datetime.now(UTC)))
        workers[0].fail = RuntimeError("down")
        assert (await receivers[0].handle(body, signed(body))).status == 500
        assert await redis_client.exists("sinch:nonce:numbers-event:01redis2") == 0
        assert (await receivers[1].handle(body, signed(body))).status == 200
        assert (await receivers[0].handle(body, signed(body))).reason == "duplicate_event"
        assert [len(w.events) for w in workers] == [1, 1]
    finally:
        for c in clients:
            await c.aclose()


# --- FakeSinch POSTs signed events to a handler on the aiohttp adapter -----------------------


@contextlib.asynccontextmanager
async def served(receiver: WebhookReceiver[Any]) -> AsyncIterator[str]:
    """``receiver`` behind ``webhook_app`` on loopback; yields its URL."""
    root = web.Application()
    root.add_subapp("/numbers", webhook_app(receiver))
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/numbers/"
    finally:
        await runner.cleanup()


async def test_fake_sinch_posts_signed_events_end_to_end(fake: FakeSinch) -> None:
    on_event = Recorder()
    async with served(numbers_receiver(on_event, hmac_secret=HMAC_SECRET)) as url:
        [attempt] = await fake.post_numbers_event(
            url,
            secret=HMAC_SECRET,
            event_type="PROVISIONING_TO_SMS_PLATFORM",
            resource_id="+12025550123",
        )
        assert attempt.ok and attempt.headers["X-Sinch-Signature"]
        [event] = on_event.events
        assert isinstance(event, NumbersEvent)
        assert event.event_type is NumbersEventType.PROVISIONING_TO_SMS_PLATFORM
        assert (event.resource_id, event.project_id) == ("+12025550123", fake.project_id)
        assert event.event_id == attempt.json["eventId"] and event.timestamp is not None
        assert abs(event.timestamp - fake.now()) < timedelta(seconds=60)

        # the exact request again (a replay, or Sinch's retry after a lost 200)
        [replay] = await fake.post_numbers_event(url, attempt.body, secret=HMAC_SECRET)
        assert (replay.status, replay.json) == (200, attempt.json)
        assert len(on_event.events) == 1

        # unsigned, wrong secret, altered body: 401 (final: not retried)
        body = orjson.dumps(numbers_event(timestamp=fake.now()))
        for attempts in (
            await fake.post_numbers_event(url, body, secret=None),
            await fake.post_numbers_event(url, body, secret="not-the-secret"),
            await post_numbers_event(url, body.replace(b"SUCCEEDED", b"FAILED"), None),
        ):
            assert [a.status for a in attempts] == [401]
        assert len(on_event.events) == 1
        assert len(fake.numbers_events) == 4  # the module-level helper records nothing

        # the handler fails once: Sinch (the fake) retries, the retry is handed over once
        on_event.failures = 1
        attempts = await fake.post_numbers_event(
            url, secret=HMAC_SECRET, event_type="FUTURE_EVENT", retry_delays=(0, 0)
        )
        assert [a.status for a in attempts] == [500, 200]
        assert attempts[0].body == attempts[1].body
        retried = on_event.events[-1]
        assert isinstance(retried, NumbersEvent) and retried.event_type == "FUTURE_EVENT"
        assert len(on_event.events) == 2
        assert len(fake.numbers_events) == 6


async def test_post_numbers_event_without_a_fake_signs_as_sinch_does() -> None:
    received: list[tuple[bytes, str | None]] = []

    async def capture(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get("X-Sinch-Signature")))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/", capture)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        [attempt] = await post_numbers_event(url, SINCH_BODY, SINCH_SECRET)
        assert attempt.ok and received == [(SINCH_BODY, SINCH_SIGNATURE)]
        event = numbers_event(timestamp=AT)
        assert event["timestamp"] == AT.replace(tzinfo=None).isoformat(timespec="microseconds")
        assert event["failureCode"] is None and len(event["eventId"]) == 26
        assert numbers_event()["eventId"] != numbers_event()["eventId"]
    finally:
        await runner.cleanup()
