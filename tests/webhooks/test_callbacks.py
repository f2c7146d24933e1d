"""Callback parsing and signature checks, the webhook handler, and a fuzzed parser."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_async import (
    BatchDeliveryReport,
    CallbackError,
    CallbackParseError,
    CallbackSignatureError,
    CallbackVerifier,
    MoText,
    RecipientDeliveryReport,
    UnknownCallback,
    parse_callback,
    sign_callback,
)
from sinch_async.webhooks import webhook_app
from tests.support.paths import anchors_dir

SECRET = "callback-secret-1"
NOW = 1_800_000_000
INBOUND = {
    "type": "mo_text",
    "id": "01FC66621XXXXX119Z8PMV1QPA",
    "from": "+46701234567",
    "to": "12345",
    "body": "STOP",
    "received_at": "2026-11-23T12:00:00.000Z",
}


def _verifier(now: float = NOW) -> CallbackVerifier:
    return CallbackVerifier(SECRET, tolerance=300, clock=lambda: now)


async def _verify_and_parse(
    body: bytes, headers: dict[str, str], verifier: CallbackVerifier
) -> Any:
    await verifier.verify(body, headers)
    return parse_callback(body)


def test_parses_each_callback_kind() -> None:
    root = anchors_dir() / "java/sms-v1/deliveryreports"
    batch = parse_callback((root / "BatchDeliveryReportSMSDto.json").read_bytes())
    assert isinstance(batch, BatchDeliveryReport) and batch.statuses[0].count == 1
    rec = parse_callback((root / "RecipientDeliveryReportMMSDto.json").read_bytes())
    assert isinstance(rec, RecipientDeliveryReport) and rec.type.endswith("_mms")
    mo = parse_callback(orjson.dumps(INBOUND))
    assert isinstance(mo, MoText) and mo.body == "STOP"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not_json"),
        (b"[1]", "not_object"),
        (b"{}", "missing_type"),
        (b'{"type": 5}', "missing_type"),
        (b'{"type": ""}', "missing_type"),
        (b'{"type": "mo_text", "id": 5}', "invalid"),
        (b'{"type": "recipient_delivery_report_sms", "batch_id": "x"}', "invalid"),
    ],
)
def test_bad_bodies_are_typed(body: bytes, reason: str) -> None:
    with pytest.raises(CallbackParseError) as err:
        parse_callback(body)
    assert err.value.reason == reason and isinstance(err.value, ValueError)


def test_an_unknown_type_is_handed_over_not_refused() -> None:
    event = parse_callback(b'{"type": "mt_text", "x": [1]}')
    assert isinstance(event, UnknownCallback)
    assert event.type == "mt_text" and event.raw == {"type": "mt_text", "x": [1]}


async def test_signature_accepted_once_and_replay_refused() -> None:
    body = orjson.dumps(INBOUND)
    headers = sign_callback(SECRET, body, "nonce-1", NOW - 10)
    verifier = _verifier()
    assert isinstance(await _verify_and_parse(body, headers, verifier), MoText)
    with pytest.raises(CallbackSignatureError) as err:
        await verifier.verify(body, headers)
    assert err.value.reason == "replayed_nonce"
    # released (the handler failed): the retry of the same callback is accepted
    await verifier.release("nonce-1")
    assert await verifier.verify(body, headers) == "nonce-1"


def test_parse_callback_refuses_to_verify_synchronously() -> None:
    body = orjson.dumps(INBOUND)
    with pytest.raises(TypeError, match=r"await verifier\.verify"):
        parse_callback(body, sign_callback(SECRET, body, "n", NOW), verifier=_verifier())


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b, h: (b + b" ", h), "bad_signature"),
        (lambda b, h: (b, {**h, "x-sinch-webhook-signature": "AAAA"}), "bad_signature"),
        (lambda b, h: (b, sign_callback("other-secret", b, "n", NOW)), "bad_signature"),
        (lambda b, h: (b, sign_callback(SECRET, b, "n", NOW - 301)), "stale_timestamp"),
        (lambda b, h: (b, sign_callback(SECRET, b, "n", NOW + 301)), "stale_timestamp"),
        (lambda b, h: (b, {k: v for k, v in h.items() if "nonce" not in k}), "missing_signature"),
        (lambda b, h: (b, {}), "missing_signature"),
        (lambda b, h: (b, {**h, "x-sinch-webhook-signature-timestamp": "soon"}), "bad_timestamp"),
    ],
)
async def test_signature_failures(mutate: Any, reason: str) -> None:
    body = orjson.dumps(INBOUND)
    body, headers = mutate(body, sign_callback(SECRET, body, "n", NOW))
    with pytest.raises(CallbackSignatureError) as err:
        await _verifier().verify(body, headers)
    assert err.value.reason == reason


async def test_headers_are_case_insensitive_and_secret_not_in_repr() -> None:
    body = orjson.dumps(INBOUND)
    headers = {k.upper(): v for k, v in sign_callback(SECRET, body, "n", NOW).items()}
    assert isinstance(await _verify_and_parse(body, headers, _verifier()), MoText)
    assert SECRET not in repr(_verifier())


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200))
def test_fuzz_parser_bytes(body: bytes) -> None:
    with contextlib.suppress(CallbackError):
        parse_callback(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=15,
)
callbackish = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "mo_text",
                "mo_binary",
                "mo_media",
                "delivery_report_sms",
                "recipient_delivery_report_mms",
                "other",
            ]
        )
    },
    optional={
        k: json_values | st.text(max_size=5)
        for k in (
            "id",
            "from",
            "to",
            "body",
            "batch_id",
            "recipient",
            "code",
            "status",
            "statuses",
            "at",
            "received_at",
        )
    },
)


@settings(max_examples=500, deadline=None)
@given(payload=callbackish, headers=st.dictionaries(st.text(max_size=40), st.text(max_size=40)))
def test_fuzz_parser_json_and_headers(payload: dict[str, Any], headers: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    with contextlib.suppress(CallbackError):
        parse_callback(body, headers)
    with contextlib.suppress(CallbackError):
        asyncio.run(_verify_and_parse(body, headers, _verifier()))


# --- the aiohttp handler over loopback ---------------------------------------------------


@pytest.fixture
async def webhook_server() -> AsyncIterator[tuple[str, list[Any], dict[str, bool]]]:
    events: list[Any] = []
    control = {"fail": False}

    async def on_event(event: Any) -> None:
        if control["fail"]:
            raise RuntimeError("database down")
        events.append(event)

    app = web.Application()
    app.add_subapp("/sinch", webhook_app(on_event, secret=SECRET))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/sinch/", events, control
    finally:
        await runner.cleanup()


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status


async def test_handler_statuses(webhook_server: tuple[str, list[Any], dict[str, bool]]) -> None:
    import time

    url, events, control = webhook_server
    body = orjson.dumps(INBOUND)
    now = int(time.time())
    good = sign_callback(SECRET, body, "nonce-a", now)
    assert await _post(url, body, good) == 200
    assert await _post(url, body, good) == 401  # replayed nonce
    assert len(events) == 1 and isinstance(events[0], MoText)

    assert await _post(url, body, sign_callback("wrong", body, "nonce-b", now)) == 401
    # stale: older than the default window (25 h, Sinch's whole retry schedule)
    assert await _post(url, body, sign_callback(SECRET, body, "nonce-c", now - 26 * 3600)) == 401
    assert await _post(url, b"{oops", sign_callback(SECRET, b"{oops", "nonce-d", now)) == 400
    assert await _post(url, body, {}) == 401
    assert len(events) == 1

    # the user's handler fails: 500 so Sinch retries, and the retry (same nonce) is accepted
    control["fail"] = True
    retry = sign_callback(SECRET, body, "nonce-e", now)
    assert await _post(url, body, retry) == 500
    control["fail"] = False
    assert await _post(url, body, retry) == 200
    assert len(events) == 2


async def test_fake_sinch_callbacks_reach_the_webhook_app_once() -> None:
    """End to end: FakeSinch signs and POSTs reports and inbounds to our webhook app."""
    from sinch_async.testing import FakeSinch

    events: list[Any] = []

    async def on_event(event: Any) -> None:
        events.append(event)

    app = web.Application()
    app.add_subapp("/hooks/", webhook_app(on_event, secret=SECRET))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/"
    try:
        async with (
            FakeSinch(callback_secret=SECRET, inbound_callback_url=url) as fake,
            fake.client() as client,
        ):
            await client.batches.send_text(
                to=["+46701234567", "+46701234568"],
                body="hi",
                delivery_report="per_recipient_final",
                callback_url=url,
            )
            await client.batches.send_text(
                to=["+46701234567"], body="hi", delivery_report="full", callback_url=url
            )
            fake.add_inbound(from_="+46701234567", to="12345", body="STOP")
            attempts = await fake.wait_for_callbacks(4)
    finally:
        await runner.cleanup()
    assert [a.status for a in attempts] == [200, 200, 200, 200]
    kinds = sorted(type(e).__name__ for e in events)
    assert kinds == [
        "BatchDeliveryReport",
        "MoText",
        "RecipientDeliveryReport",
        "RecipientDeliveryReport",
    ]
    full = next(e for e in events if isinstance(e, BatchDeliveryReport))
    assert full.statuses[0].recipients == ("46701234567",)
