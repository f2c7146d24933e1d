"""Issue 17 §3: the ASGI adapter of the webhook core, in process: raw ASGI calls (methods,
body limits, chunked bodies, disconnects, raw header bytes, lifespan) and a FastAPI app that
mounts it in one line. (The statuses it shares with the core and the aiohttp adapter are in
``test_webhook_receiver.py``; real uvicorn processes in ``test_webhook_uvicorn.py``.)"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sinch_async import CallbackEvent, CallbackVerifier, MoText, UnknownCallback, sign_callback
from sinch_async.webhooks import asgi_app
from tests.support.webhooks import BODY, NOW, SECRET, asgi_call, signed


def app_with(events: list[Any], **kwargs: Any) -> Any:
    async def on_event(event: CallbackEvent) -> None:
        events.append(event)

    kwargs.setdefault("verifier", CallbackVerifier(SECRET, clock=lambda: NOW))
    return asgi_app(on_event, **kwargs)


def raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers.items()]


def request(body: bytes, *, more_body: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more_body}


def answer(sent: list[dict[str, Any]]) -> tuple[int, dict[bytes, bytes], Any]:
    """(status, headers, JSON body) of a complete response."""
    start, body = sent
    assert start["type"] == "http.response.start" and body["type"] == "http.response.body"
    headers = dict(start["headers"])
    assert int(headers[b"content-length"]) == len(body["body"])
    return start["status"], headers, orjson.loads(body["body"])


async def test_a_signed_callback_in_chunks() -> None:
    events: list[Any] = []
    app = app_with(events)
    third = len(BODY) // 3
    chunks = [BODY[:third], BODY[third : 2 * third], BODY[2 * third :]]
    incoming = [request(c, more_body=True) for c in chunks[:-1]] + [request(chunks[-1])]
    sent = await asgi_call(app, {"headers": raw_headers(signed("chunks"))}, incoming)
    status, headers, body = answer(sent)
    assert (status, body) == (200, {"ok": True})
    assert headers[b"content-type"] == b"application/json"
    assert len(events) == 1 and isinstance(events[0], MoText)


async def test_only_post() -> None:
    events: list[Any] = []
    for method in ("GET", "PUT", "HEAD"):
        sent = await asgi_call(app_with(events), {"method": method}, [])
        status, headers, body = answer(sent)
        assert (status, headers[b"allow"], body) == (405, b"POST", {"error": "method_not_allowed"})
    assert events == []


async def test_413_from_content_length_without_reading_the_body() -> None:
    events: list[Any] = []
    app = app_with(events, max_body=100)
    headers = [(b"content-length", b"1000000000"), *raw_headers(signed("huge"))]
    sent = await asgi_call(app, {"headers": headers}, [])  # receive() is never needed
    assert answer(sent)[::2] == (413, {"error": "body_too_large"})


async def test_413_when_a_streamed_body_grows_past_the_limit() -> None:
    events: list[Any] = []
    app = app_with(events, max_body=100)
    incoming = [request(b"x" * 60, more_body=True), request(b"x" * 60, more_body=True)]
    sent = await asgi_call(app, {"headers": raw_headers(signed("grows"))}, incoming)
    assert answer(sent)[::2] == (413, {"error": "body_too_large"})
    assert events == []


async def test_a_client_gone_before_the_body_ended_gets_nothing() -> None:
    events: list[Any] = []
    app = app_with(events)
    incoming = [request(BODY[:10], more_body=True)]  # then http.disconnect
    assert await asgi_call(app, {"headers": raw_headers(signed("gone"))}, incoming) == []
    # nothing was claimed: Sinch's retry of it is accepted
    sent = await asgi_call(app, {"headers": raw_headers(signed("gone"))}, [request(BODY)])
    assert answer(sent)[0] == 200 and len(events) == 1


async def test_header_names_in_any_case_and_undecodable_values() -> None:
    events: list[Any] = []
    app = app_with(events)
    upper = [(n.upper(), v) for n, v in raw_headers(signed("case"))]
    assert answer(await asgi_call(app, {"headers": upper}, [request(BODY)]))[0] == 200

    headers = signed("bytes")
    dirty = [
        (name.encode(), b"\xff\xfe\x80" if "nonce" in name else value.encode())
        for name, value in headers.items()
    ]
    sent = await asgi_call(app, {"headers": dirty}, [request(BODY)])
    assert answer(sent)[::2] == (401, {"error": "bad_header_encoding"})
    # a repeated header: the first one counts, as in aiohttp
    twice = [*raw_headers(headers), (b"x-sinch-webhook-signature", b"forged")]
    assert answer(await asgi_call(app, {"headers": twice}, [request(BODY)]))[0] == 200
    assert len(events) == 2


async def test_lifespan_is_acknowledged_and_websockets_refused() -> None:
    app = app_with([])
    sent = await asgi_call(
        app, {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent = await asgi_call(app, {"type": "websocket"}, [{"type": "websocket.connect"}])
    assert [m["type"] for m in sent] == ["websocket.close"]
    with pytest.raises(ValueError, match="scope type"):
        await asgi_call(app, {"type": "telepathy"}, [])


# --- FastAPI: one line -----------------------------------------------------------------------


async def test_fastapi_mounts_it_in_one_line() -> None:
    fastapi = pytest.importorskip("fastapi", reason="pip install -e '.[dev]'")
    httpx = pytest.importorskip("httpx", reason="pip install -e '.[dev]'")
    events: list[Any] = []

    api = fastapi.FastAPI()
    api.mount("/sinch", app_with(events))

    @api.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    unknown = orjson.dumps({"type": "delivery_report_rcs", "batch_id": "b1"})
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://sinch.test") as client:
        first = await client.post("/sinch/", content=BODY, headers=signed("fastapi"))
        assert (first.status_code, first.json()) == (200, {"ok": True})
        replay = await client.post("/sinch/", content=BODY, headers=signed("fastapi"))
        assert (replay.status_code, replay.json()) == (401, {"error": "replayed_nonce"})
        new_type = await client.post(
            "/sinch/", content=unknown, headers=sign_callback(SECRET, unknown, "rcs", NOW)
        )
        assert new_type.status_code == 200
        not_json = await client.post(
            "/sinch/", content=b"<xml/>", headers=sign_callback(SECRET, b"<xml/>", "x", NOW)
        )
        assert (not_json.status_code, not_json.json()) == (400, {"error": "not_json"})
        assert (await client.get("/sinch/")).status_code == 405
        assert (await client.get("/health")).json() == {"ok": True}  # the rest of the app
    assert isinstance(events[0], MoText)
    assert isinstance(events[1], UnknownCallback) and events[1].type == "delivery_report_rcs"
    assert len(events) == 2
