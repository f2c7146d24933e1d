"""Issue #9 points 6-8: a default window that covers Sinch's retries, a bounded replay store
that refuses (503) instead of evicting, the signature-algorithm header, undecodable headers
and tolerance validation. The verifier directly and the aiohttp webhook app on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_async import (
    CallbackError,
    CallbackSignatureError,
    MoText,
    SinchConfigError,
    SinchError,
    parse_callback,
)
from sinch_async._callbacks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_ALGORITHM_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_NONCE_HEADER,
    SIGNATURE_TIMESTAMP_HEADER,
    CallbackNonceStoreFull,
    CallbackVerifier,
    MemoryNonceStore,
    NonceStore,
    sign_callback,
)
from sinch_async.webhooks import webhook_app
from tests.support.webhooks import BODY, NOW, SECRET, serve, signed

HOUR = 3600


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(clock: Callable[[], float] | None = None, **kwargs: Any) -> CallbackVerifier:
    return CallbackVerifier(SECRET, clock=clock or Clock(), **kwargs)


# --- 6. the default window covers Sinch's retry schedule --------------------------------


async def test_two_hour_old_signature_is_accepted_by_default() -> None:
    assert await verifier().verify(BODY, signed("old", NOW - 2 * HOUR)) == "old"


async def test_default_window_covers_sinchs_last_retry_and_no_more() -> None:
    # Sinch: "The last retry will be at 81920 seconds (22 hours 45 minutes) after the
    # initial failed attempt"; a refused (4xx) retry is never retried again.
    assert DEFAULT_TOLERANCE >= 81_920 + HOUR
    v = verifier()
    assert await v.verify(BODY, signed("last-retry", NOW - 81_920 - 600)) == "last-retry"
    assert await v.verify(BODY, signed("edge", NOW - int(DEFAULT_TOLERANCE))) == "edge"
    for age in (int(DEFAULT_TOLERANCE) + 1, 26 * HOUR, -26 * HOUR):
        with pytest.raises(CallbackSignatureError) as err:
            await v.verify(BODY, signed(f"stale{age}", NOW - age))
        assert err.value.reason == "stale_timestamp"


async def test_nonce_is_remembered_for_the_whole_window() -> None:
    clock = Clock()
    v = verifier(clock)
    headers = signed("n1", NOW)
    await v.verify(BODY, headers)
    for later in (HOUR, 24 * HOUR, DEFAULT_TOLERANCE):  # replays inside the window
        clock.now = NOW + later
        with pytest.raises(CallbackSignatureError) as err:
            await v.verify(BODY, headers)
        assert err.value.reason == "replayed_nonce"
    clock.now = NOW + DEFAULT_TOLERANCE + 1  # past it: refused as stale, not accepted
    with pytest.raises(CallbackSignatureError) as err:
        await v.verify(BODY, headers)
    assert err.value.reason == "stale_timestamp"


# --- 7. the bounded store refuses rather than evicts ------------------------------------


async def test_replay_is_refused_at_and_past_the_bound() -> None:
    clock = Clock()
    store = MemoryNonceStore(max_entries=5, clock=clock)
    v = verifier(clock, nonce_store=store)
    fresh = [signed(f"n{i}", NOW - 10 + i) for i in range(5)]
    for i, headers in enumerate(fresh):
        assert await v.verify(BODY, headers) == f"n{i}"
    assert len(store) == 5

    # at the bound: a replay is still a replay (401)...
    with pytest.raises(CallbackSignatureError) as err:
        await v.verify(BODY, fresh[0])
    assert err.value.reason == "replayed_nonce"
    # ...and a new callback is refused with a retryable, non-4xx error: nothing is evicted
    for attempt in range(3):
        with pytest.raises(CallbackNonceStoreFull) as full:
            await v.verify(BODY, signed(f"new{attempt}", NOW))
        assert not isinstance(full.value, CallbackError)  # not mapped to 4xx by mistake
        assert isinstance(full.value, SinchError)
        assert full.value.reason == "nonce_store_full"
        assert full.value.retry_after == pytest.approx(DEFAULT_TOLERANCE - 10)
    # past the bound, every remembered nonce is still refused
    for i, headers in enumerate(fresh):
        with pytest.raises(CallbackSignatureError) as err:
            await v.verify(BODY, headers)
        assert err.value.reason == "replayed_nonce", i
    assert len(store) == 5

    # room comes back only as nonces expire (timestamp + tolerance), oldest first
    clock.now = NOW - 10 + DEFAULT_TOLERANCE + 0.5
    assert len(store) == 4
    assert await v.verify(BODY, signed("after-expiry", NOW + HOUR)) == "after-expiry"
    with pytest.raises(CallbackNonceStoreFull):
        await v.verify(BODY, signed("one-too-many", NOW + HOUR))
    with pytest.raises(CallbackSignatureError) as err:
        await v.verify(BODY, fresh[0])  # the expired one: its timestamp is stale now
    assert err.value.reason == "stale_timestamp"


async def test_max_nonces_bounds_the_default_store_the_same_way() -> None:
    v = verifier(max_nonces=3)
    for i in range(3):
        await v.verify(BODY, signed(f"m{i}", NOW))
    with pytest.raises(CallbackNonceStoreFull):
        await v.verify(BODY, signed("m3", NOW))
    with pytest.raises(CallbackSignatureError, match="already used"):
        await v.verify(BODY, signed("m0", NOW))
    # a released nonce frees its slot (the handler failed; Sinch's retry gets in)
    await v.release("m1")
    assert await v.verify(BODY, signed("m1", NOW)) == "m1"


async def test_full_store_warns_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    store = MemoryNonceStore(max_entries=1, clock=clock)
    await store.add("a", NOW + 1000)
    with caplog.at_level(logging.WARNING, logger="sinch_async.callbacks"):
        for i in range(5):
            with pytest.raises(CallbackNonceStoreFull):
                await store.add(f"b{i}", NOW + 1000)
        clock.now += 61
        with pytest.raises(CallbackNonceStoreFull):
            await store.add("c", NOW + 1000)
    warnings = [r.getMessage() for r in caplog.records if r.name == "sinch_async.callbacks"]
    assert len(warnings) == 2
    assert "nonce store full" in warnings[0] and "refused 1 callback" in warnings[0]
    assert "refused 5 callback" in warnings[1]  # the 4 quiet ones are counted


async def test_memory_store_semantics() -> None:
    clock = Clock()
    store = MemoryNonceStore(max_entries=2, clock=clock)
    assert isinstance(store, MemoryNonceStore) and store.max_entries == 2
    assert await store.add("x", NOW + 10) is True
    assert await store.add("x", NOW + 99) is False
    assert await store.add("past", NOW - 1) is True  # already expired: nothing to remember
    assert len(store) == 1
    await store.discard("x")
    await store.discard("never-added")
    assert await store.add("x", NOW + 5) is True
    clock.now = NOW + 5  # expires_at is inclusive: still remembered at that instant
    assert await store.add("x", NOW + 5) is False
    clock.now = NOW + 5.001
    assert await store.add("x", NOW + 20) is True
    with pytest.raises(ValueError):
        await store.add("nan", math.nan)
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(SinchConfigError):
            MemoryNonceStore(max_entries=bad)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["add", "discard", "tick"]),
            st.integers(0, 6),  # nonce
            st.integers(0, 30),  # expiry offset / tick
        ),
        max_size=80,
    )
)
def test_memory_store_never_forgets_an_unexpired_nonce(ops: list[tuple[str, int, int]]) -> None:
    """Against a model: bound respected, no unexpired nonce lost, expired ones forgotten."""
    clock = Clock(0)
    store = MemoryNonceStore(max_entries=3, clock=clock)
    model: dict[str, float] = {}

    async def run() -> None:
        for op, n, k in ops:
            nonce = f"n{n}"
            for key in [key for key, exp in model.items() if exp < clock.now]:
                del model[key]
            if op == "tick":
                clock.now += k
            elif op == "discard":
                model.pop(nonce, None)
                await store.discard(nonce)
            else:
                expires_at = clock.now + k
                if nonce in model:
                    assert await store.add(nonce, expires_at) is False
                elif len(model) >= 3:
                    with pytest.raises(CallbackNonceStoreFull) as full:
                        await store.add(nonce, expires_at)
                    assert full.value.retry_after == min(model.values()) - clock.now
                else:
                    assert await store.add(nonce, expires_at) is True
                    model[nonce] = expires_at
            assert len(store) == len([e for e in model.values() if e >= clock.now]) <= 3

    asyncio.run(run())


class RecordingStore:
    """A NonceStore shaped like the Redis one to come (SET NX EXAT / DEL)."""

    def __init__(self, fail: bool = False) -> None:
        self.keys: dict[str, float] = {}
        self.calls: list[tuple[str, str, float | None]] = []
        self.fail = fail

    async def add(self, nonce: str, expires_at: float) -> bool:
        self.calls.append(("add", nonce, expires_at))
        if self.fail:
            raise ConnectionError("redis is down")
        if nonce in self.keys:  # SET nonce 1 NX EXAT expires_at -> nil
            return False
        self.keys[nonce] = expires_at
        return True

    async def discard(self, nonce: str) -> None:
        self.calls.append(("discard", nonce, None))
        self.keys.pop(nonce, None)


async def test_custom_store_gets_timestamp_plus_tolerance() -> None:
    store = RecordingStore()
    typed: NonceStore = store  # structural: satisfies the protocol
    v = verifier(nonce_store=typed, tolerance=600)
    await v.verify(BODY, signed("r1", NOW - 100))
    await v.release("r1")
    assert store.calls == [("add", "r1", NOW - 100 + 600), ("discard", "r1", None)]
    assert v.nonce_store is store and v.tolerance == 600
    with pytest.raises(SinchConfigError, match="max_nonces"):
        verifier(nonce_store=store, max_nonces=10)


# --- 8. the algorithm header --------------------------------------------------------------


@pytest.mark.parametrize("name", ["HmacSHA256", "hmacsha256", "HMACSHA256", " HmacSha256 "])
async def test_algorithm_header_is_honoured_in_any_case(name: str) -> None:
    headers = signed("alg", algorithm=name)
    assert headers[SIGNATURE_ALGORITHM_HEADER] == name
    assert await verifier().verify(BODY, headers) == "alg"
    upper = {k.upper(): v for k, v in signed("alg2", algorithm=name).items()}
    assert await verifier().verify(BODY, upper) == "alg2"


async def test_missing_algorithm_header_means_sha256() -> None:
    headers = signed("plain", algorithm=None)
    assert SIGNATURE_ALGORITHM_HEADER not in headers
    assert await verifier().verify(BODY, headers) == "plain"


@pytest.mark.parametrize("name", ["HmacSHA512", "HmacSHA1", "sha256", "none", "", "HmacSHA256x"])
async def test_unknown_algorithm_is_a_signature_error(name: str) -> None:
    headers = {**signed("alg"), SIGNATURE_ALGORITHM_HEADER: name}
    with pytest.raises(CallbackSignatureError) as err:
        await verifier().verify(BODY, headers)
    assert err.value.reason == "unsupported_algorithm"
    with pytest.raises(SinchConfigError):
        sign_callback(SECRET, BODY, "n", NOW, algorithm=name)


async def test_matches_the_dotnet_sdk_signature_vector() -> None:
    """sinch-sdk-dotnet's ValidateAuthenticationHeader test (Conversation/Hooks fixture)."""
    body = (
        b'{\n    "app_id": "01W4FFL35P4NC4K35CONVAPP01",\n'
        b'    "event_time": "2024-06-06T14:42:42.379863404Z",\n'
        b'    "project_id": "tinyfrog-jump-high-over-lilypadbasin",\n'
        b'    "event": {\n        "direction": "TO_APP",\n        "contact_event": {\n'
        b'            "composing_event": {}\n        },\n'
        b'        "id": "01W4FFL35P4NC4K35EVENT0001",\n'
        b'        "conversation_id": "01W4FFL35P4NC4K35CONVERS01",\n'
        b'        "contact_id": "01W4FFL35P4NC4K35CONTACT01",\n'
        b'        "channel_identity": {\n            "channel": "RCS",\n'
        b'            "identity": "12015555555",\n            "app_id": ""\n        },\n'
        b'        "accept_time": "2024-06-06T14:42:42.429455346Z",\n'
        b'        "processing_mode": "CONVERSATION"\n    },\n'
        b'    "message_metadata": "",\n    "correlation_id": ""\n}\n'
    )
    headers = {
        "x-sinch-webhook-signature-nonce": "01FJA8B4A7BM43YGWSG9GBV067",
        "x-sinch-webhook-signature-timestamp": "1634579353",
        "x-sinch-webhook-signature-algorithm": "HmacSHA256",
        "x-sinch-webhook-signature": "wKmZBGo4Cf+y9cZoPHhiVw6ziKeubLGqN4OdG8jlaPo=",
    }
    v = CallbackVerifier("foo_secret1234", clock=lambda: 1634579353)
    assert await v.verify(body, headers) == "01FJA8B4A7BM43YGWSG9GBV067"
    assert sign_callback("foo_secret1234", body, headers[SIGNATURE_NONCE_HEADER], 1634579353) == (
        headers
    )


# --- 8. undecodable headers ---------------------------------------------------------------

SURROGATES = "ab\udcff\udcfe"  # how aiohttp hands over the bytes b"ab\xff\xfe"


@pytest.mark.parametrize(
    "header",
    [SIGNATURE_HEADER, SIGNATURE_NONCE_HEADER, SIGNATURE_TIMESTAMP_HEADER],
)
async def test_undecodable_header_is_a_signature_error(header: str) -> None:
    as_str = {**signed("enc"), header: SURROGATES}
    with pytest.raises(CallbackSignatureError) as err:
        await verifier().verify(BODY, as_str)
    assert err.value.reason == "bad_header_encoding"
    raw: dict[str, str | bytes] = {**signed("enc"), header: b"ab\xff\xfe"}
    with pytest.raises(CallbackSignatureError) as err:
        await verifier().verify(BODY, raw)
    assert err.value.reason == "bad_header_encoding"


async def test_bytes_headers_that_are_utf8_verify() -> None:
    raw = {k: v.encode() for k, v in signed("bytes-ok").items()}
    assert await verifier().verify(BODY, raw) == "bytes-ok"


@pytest.mark.parametrize("timestamp", ["\u0661\u0662\u0663", "1_800_000_000", " 1800000000", "-5"])
async def test_only_ascii_digit_timestamps(timestamp: str) -> None:
    headers = sign_callback(SECRET, BODY, "ts", timestamp)
    with pytest.raises(CallbackSignatureError) as err:
        await verifier().verify(BODY, headers)
    assert err.value.reason == "bad_timestamp"


# surrogateescape'd bytes (what aiohttp makes of non-UTF-8), digits, anything else
# (st.text() leaves surrogates out, so build the strings from characters)
header_text = st.lists(
    st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF, categories=["Cs"])
    | st.sampled_from("0123456789")
    | st.characters(),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            SIGNATURE_HEADER: header_text | st.binary(max_size=12),
            SIGNATURE_NONCE_HEADER: header_text | st.binary(max_size=12),
            SIGNATURE_TIMESTAMP_HEADER: header_text | st.binary(max_size=12),
            SIGNATURE_ALGORITHM_HEADER: header_text | st.binary(max_size=12),
        },
    )
)
def test_fuzz_signature_headers_only_raise_callback_errors(values: dict[str, Any]) -> None:
    """Any header text (surrogates included) or bytes: CallbackSignatureError, nothing else."""
    headers = {**signed("fuzz"), **values}
    with contextlib.suppress(CallbackSignatureError):
        asyncio.run(verifier().verify(BODY, headers))


# --- 8. tolerance validation -------------------------------------------------------------


@pytest.mark.parametrize(
    "tolerance", [math.nan, math.inf, -math.inf, -1, -0.5, 0, 0.0, True, "300", None]
)
def test_bad_tolerance_is_refused_at_construction(tolerance: Any) -> None:
    with pytest.raises(SinchConfigError, match="tolerance") as err:
        CallbackVerifier(SECRET, tolerance=tolerance)
    assert isinstance(err.value, ValueError)
    with pytest.raises(SinchConfigError):
        webhook_app(lambda e: asyncio.sleep(0), secret=SECRET, tolerance=tolerance)


@pytest.mark.parametrize("secret", ["", None, b"bytes"])
def test_bad_secret_is_a_config_error(secret: Any) -> None:
    with pytest.raises(SinchConfigError):
        CallbackVerifier(secret)


def test_parse_callback_alone_still_parses() -> None:
    assert isinstance(parse_callback(BODY), MoText)


# --- the aiohttp webhook app on loopback ---------------------------------------------------


async def test_app_accepts_a_two_hour_old_signature_by_default() -> None:
    async with serve(secret=SECRET) as app:
        now = int(time.time())
        status, _ = await app.post(signed("two-hours", now - 2 * HOUR))
        assert status == 200 and len(app.events) == 1
        status, (body, _) = await app.post(signed("two-hours", now - 2 * HOUR))
        assert (status, body["error"]) == (401, "replayed_nonce")


async def test_app_answers_503_at_the_bound_and_401_to_replays() -> None:
    async with serve(verifier=CallbackVerifier(SECRET, max_nonces=2)) as app:
        now = int(time.time())
        first, second = signed("b1", now), signed("b2", now)
        assert (await app.post(first))[0] == 200
        assert (await app.post(second))[0] == 200
        status, (body, headers) = await app.post(signed("b3", now))
        assert (status, body["error"]) == (503, "nonce_store_full")
        assert 1 <= int(headers["Retry-After"]) <= math.ceil(DEFAULT_TOLERANCE)
        status, (body, _) = await app.post(first)
        assert (status, body["error"]) == (401, "replayed_nonce")
        assert len(app.events) == 2


async def test_app_answers_503_when_the_store_fails() -> None:
    async with serve(secret=SECRET, nonce_store=RecordingStore(fail=True)) as app:
        status, (body, _) = await app.post(signed("down", int(time.time())))
        assert (status, body["error"]) == (503, "nonce_store_unavailable")
        assert app.events == []


async def test_app_honours_the_algorithm_header() -> None:
    async with serve(secret=SECRET) as app:
        now = int(time.time())
        assert (await app.post(signed("lower", now, algorithm="hmacsha256")))[0] == 200
        unknown = {**signed("unknown", now), SIGNATURE_ALGORITHM_HEADER: "HmacSHA512"}
        status, (body, _) = await app.post(unknown)
        assert (status, body["error"]) == (401, "unsupported_algorithm")


@pytest.mark.parametrize(
    "header",
    [
        SIGNATURE_HEADER,
        SIGNATURE_NONCE_HEADER,
        SIGNATURE_TIMESTAMP_HEADER,
        SIGNATURE_ALGORITHM_HEADER,
    ],
)
async def test_app_answers_401_to_non_utf8_headers(header: str) -> None:
    async with serve(secret=SECRET) as app:
        headers = signed("raw", int(time.time()))
        lines = [
            name.encode() + b": " + (b"\xff\xfe\x80" if name == header else value.encode())
            for name, value in headers.items()
        ]
        assert await app.post_raw(lines) == 401
        assert app.events == []
        # the same request with clean headers goes through: the nonce was not claimed
        assert (await app.post(headers))[0] == 200


async def test_app_releases_the_nonce_when_the_handler_is_cancelled() -> None:
    async with serve(secret=SECRET) as app:
        headers = signed("cancelled", int(time.time()))
        app.fail = asyncio.CancelledError()
        with contextlib.suppress(aiohttp.ClientError):
            await app.post(headers)
        app.fail = None
        assert (await app.post(headers))[0] == 200


def test_app_refuses_a_nonce_store_without_a_secret() -> None:
    with pytest.raises(SinchConfigError):
        webhook_app(lambda e: asyncio.sleep(0), nonce_store=RecordingStore())
