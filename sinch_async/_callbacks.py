"""Callbacks (webhooks) from Sinch: signature checks, replay protection, typed events."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import orjson

from ._converter import converter
from ._errors import SinchConfigError, SinchError
from ._validation import (
    check_absent,
    check_expiry,
    check_positive_int,
    check_seconds,
    check_text,
)
from .models.delivery_reports import BatchDeliveryReport, RecipientDeliveryReport
from .models.inbounds import Inbound

__all__ = [
    "DEFAULT_MAX_NONCES",
    "DEFAULT_TOLERANCE",
    "SIGNATURE_ALGORITHM_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_NONCE_HEADER",
    "SIGNATURE_TIMESTAMP_HEADER",
    "CallbackError",
    "CallbackEvent",
    "CallbackNonceStoreFull",
    "CallbackParseError",
    "CallbackSignatureError",
    "CallbackVerifier",
    "MemoryNonceStore",
    "NonceStore",
    "UnknownCallback",
    "parse_callback",
    "sign_callback",
]

log = logging.getLogger("sinch_async.callbacks")

SIGNATURE_HEADER = "x-sinch-webhook-signature"
SIGNATURE_NONCE_HEADER = "x-sinch-webhook-signature-nonce"
SIGNATURE_TIMESTAMP_HEADER = "x-sinch-webhook-signature-timestamp"
SIGNATURE_ALGORITHM_HEADER = "x-sinch-webhook-signature-algorithm"

#: Seconds a signature timestamp may be away from now (25 h). Sinch retries a callback
#: answered 5xx/429 for up to 81 920 s (22 h 45 min) after the first failed attempt; if a
#: retry carries the original timestamp, any shorter window answers it 401, which Sinch
#: never retries: the event would be lost. The 2 h 15 min on top cover the time between
#: signing and the first attempt, slow attempts and clock skew.
DEFAULT_TOLERANCE = 25 * 3600.0

#: Default bound of `MemoryNonceStore` (about 200 bytes each, ~50 MB when full).
DEFAULT_MAX_NONCES = 250_000


@attrs.frozen(kw_only=True)
class UnknownCallback:
    """A callback whose ``type`` this SDK version does not know; ``raw`` keeps every field.

    Sinch may add callback types at any time: such a callback is still a callback (signed
    like the others), so it is handed to your handler rather than refused with a 4xx that
    Sinch would never retry. Branch on ``type`` and read ``raw`` (the body's JSON object).
    """

    type: str
    raw: Mapping[str, Any]


#: What a callback can carry: an inbound, a delivery report, or a callback of a type this
#: SDK version does not know (`UnknownCallback`).
CallbackEvent = Inbound | BatchDeliveryReport | RecipientDeliveryReport | UnknownCallback

_BATCH_REPORTS = ("delivery_report_sms", "delivery_report_mms")
_RECIPIENT_REPORTS = ("recipient_delivery_report_sms", "recipient_delivery_report_mms")
_INBOUNDS = ("mo_text", "mo_binary", "mo_media")

#: Algorithms named by ``x-sinch-webhook-signature-algorithm`` (compared case-insensitively).
#: Sinch sends ``HmacSHA256``; its .NET SDK accepts only that name too.
_ALGORITHMS: dict[str, Callable[[], Any]] = {"hmacsha256": hashlib.sha256}
_DEFAULT_ALGORITHM = "HmacSHA256"
_FULL_WARNING_INTERVAL = 60.0


class CallbackError(SinchError, ValueError):
    """A request to the callback URL that is not a valid Sinch callback.

    ``reason`` is a short machine-readable cause (``not_json``, ``bad_signature``, ...).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CallbackParseError(CallbackError):
    """The body is not a callback: not JSON, not a JSON object, without a string ``type``,
    or a delivery report or inbound whose fields do not fit its ``type``. (A ``type`` this SDK
    does not know is not an error: it parses as [`UnknownCallback`][].)"""


class CallbackSignatureError(CallbackError):
    """The signature is missing, wrong, stale, not decodable, of an unknown algorithm, or its
    nonce was seen before. Answer 4xx (401): the request is not a callback to accept."""


class CallbackNonceStoreFull(SinchError):
    """The nonce store cannot remember one more nonce without forgetting an unexpired one.

    Forgetting one would let a replay of it through, so the callback is refused instead:
    answer **503** (Sinch retries 5xx) so the event is delivered again once nonces expire.
    Deliberately *not* a [`CallbackError`][]: code that maps ``CallbackError`` to 4xx would
    make Sinch drop the event. ``retry_after`` is the number of seconds until the earliest
    remembered nonce expires (``None`` when unknown).
    """

    reason = "nonce_store_full"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NonceStore(Protocol):
    """Where a [`CallbackVerifier`][] remembers the nonces it accepted.

    One store must be shared by every process that receives the same callbacks, or a replay
    sent to another process is accepted. A Redis store maps onto one command per call:
    ``add`` is ``SET key 1 NX EXAT ceil(expires_at)`` (True when set), ``discard`` is ``DEL``.
    """

    async def add(self, nonce: str, expires_at: float) -> bool:
        """Remember ``nonce`` until ``expires_at`` (unix seconds).

        Return True if it was not remembered yet, False if it is (a replay). Raise
        [`CallbackNonceStoreFull`][] rather than forget an unexpired nonce to make room.
        """
        ...

    async def discard(self, nonce: str) -> None:
        """Forget ``nonce`` (its callback was not handled; let Sinch's retry of it in)."""
        ...


class MemoryNonceStore:
    """A [`NonceStore`][] in this process's memory, for one receiving process.

    Each nonce is remembered until its ``expires_at`` (the verifier passes the signature
    timestamp + tolerance: exactly while a replay would pass the timestamp check), then
    forgotten. At most ``max_entries`` unexpired nonces are kept. **At the bound** a new
    nonce is refused with [`CallbackNonceStoreFull`][] (the webhook app answers 503, which
    Sinch retries) and a warning is logged (at most once a minute); no unexpired nonce is
    ever evicted, since that would reopen its replay. A nonce already remembered is still
    answered False (a replay) at the bound. Room comes back as nonces expire, so the store
    takes ``max_entries`` callbacks per tolerance window (250 000 per 25 h by default, about
    2.8/s sustained, bursts up to the bound); raise the bound or share a larger store above
    that. Memory: about 200 bytes per nonce.
    """

    def __init__(
        self, max_entries: int = DEFAULT_MAX_NONCES, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._max = check_positive_int(max_entries, "max_entries", config=True)
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # (expires_at, nonce); stale rows skipped
        self._refused = 0
        self._warned_at: float | None = None

    def __repr__(self) -> str:
        return f"MemoryNonceStore(max_entries={self._max}, entries={len(self._expiry)})"

    def __len__(self) -> int:
        """Unexpired nonces remembered now."""
        self._purge(self._clock())
        return len(self._expiry)

    @property
    def max_entries(self) -> int:
        return self._max

    def _purge(self, now: float) -> None:
        heap, expiry = self._heap, self._expiry
        while heap:
            expires_at, nonce = heap[0]
            current = expiry.get(nonce)
            if current == expires_at and expires_at >= now:
                return
            heapq.heappop(heap)
            if current == expires_at:
                del expiry[nonce]

    async def add(self, nonce: str, expires_at: float) -> bool:
        expires_at = check_expiry(expires_at)  # the rule of every nonce store
        now = self._clock()
        self._purge(now)
        if nonce in self._expiry:
            return False
        if expires_at < now:
            return True  # already expired: a replay would be refused as stale anyway
        if len(self._expiry) >= self._max:
            retry_after = max(0.0, self._heap[0][0] - now)
            self._refused += 1
            if self._warned_at is None or not now - self._warned_at < _FULL_WARNING_INTERVAL:
                log.warning(
                    "nonce store full (%d unexpired nonces): refused %d callback(s) with 503 "
                    "so Sinch retries them; the next nonce expires in %.0f s",
                    self._max,
                    self._refused,
                    retry_after,
                )
                self._warned_at, self._refused = now, 0
            raise CallbackNonceStoreFull(
                f"nonce store full ({self._max} unexpired nonces); retry in {retry_after:.0f}s",
                retry_after=retry_after,
            )
        self._expiry[nonce] = expires_at
        heapq.heappush(self._heap, (expires_at, nonce))
        return True

    async def discard(self, nonce: str) -> None:
        if (
            self._expiry.pop(nonce, None) is not None
            and len(self._heap) > 2 * len(self._expiry) + 64
        ):
            self._heap = [(expires_at, n) for n, expires_at in self._expiry.items()]
            heapq.heapify(self._heap)


def _header(headers: Mapping[str, str | bytes], name: str) -> str | bytes | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if isinstance(key, str) and key.lower() == lowered:
                return candidate
    return value


def _utf8(value: str | bytes) -> bytes:
    """The header's bytes; [`CallbackSignatureError`][] unless they are valid UTF-8.

    aiohttp (like most servers) decodes header bytes as UTF-8 with ``surrogateescape``, so
    bytes that are not UTF-8 arrive as lone surrogates, which do not encode back.
    """
    try:
        if isinstance(value, bytes):
            value.decode("utf-8")
            return value
        return value.encode("utf-8")
    except UnicodeError:
        raise CallbackSignatureError(
            "bad_header_encoding", "a signature header is not valid UTF-8"
        ) from None


def _hash_for(algorithm: str | bytes | None) -> Callable[[], Any]:
    if algorithm is None:
        return hashlib.sha256  # not sent: Sinch's HMAC is SHA-256
    name = algorithm.decode("utf-8", "replace") if isinstance(algorithm, bytes) else algorithm
    digest = _ALGORITHMS.get(name.strip().lower())
    if digest is None:
        raise CallbackSignatureError(
            "unsupported_algorithm",
            f"signature algorithm {name[:40]!r} is not supported (expected {_DEFAULT_ALGORITHM})",
        )
    return digest


def _signature(
    secret: bytes, body: bytes, nonce: bytes, timestamp: bytes, digest: Callable[[], Any]
) -> bytes:
    signed = body + b"." + nonce + b"." + timestamp
    return base64.b64encode(hmac.new(secret, signed, digest).digest())


def sign_callback(
    secret: str,
    body: bytes,
    nonce: str,
    timestamp: int | str,
    *,
    algorithm: str | None = _DEFAULT_ALGORITHM,
) -> dict[str, str]:
    """The signature headers Sinch would send for ``body`` (for tests and local tools).

    ``algorithm`` is sent as ``x-sinch-webhook-signature-algorithm`` as given (any case of
    ``HmacSHA256``); ``None`` leaves that header out (SHA-256 is then assumed).
    """
    ts = str(timestamp)
    try:
        digest = _hash_for(algorithm)
    except CallbackSignatureError as exc:
        raise SinchConfigError(str(exc)) from None
    headers = {
        SIGNATURE_HEADER: _signature(
            secret.encode(), body, nonce.encode(), ts.encode(), digest
        ).decode("ascii"),
        SIGNATURE_NONCE_HEADER: nonce,
        SIGNATURE_TIMESTAMP_HEADER: ts,
    }
    if algorithm is not None:
        headers[SIGNATURE_ALGORITHM_HEADER] = algorithm
    return headers


class CallbackVerifier:
    """Checks Sinch's HMAC callback signatures and refuses replays.

    The signed string is ``body + "." + nonce + "." + timestamp``; the signature is its
    Base64 HMAC under the secret with the algorithm named by
    ``x-sinch-webhook-signature-algorithm`` (``HmacSHA256``, any case; SHA-256 when the
    header is absent; any other name is refused), compared in constant time.

    A timestamp more than ``tolerance`` seconds away from now is refused, and each nonce is
    accepted once while its timestamp is inside that window (``nonce_store`` remembers it
    until timestamp + tolerance). The default tolerance, 25 h, covers Sinch's whole retry
    schedule (its last retry comes 22 h 45 min after the first failed attempt; a refused
    retry is a lost event). The price: a captured callback can be replayed for that long,
    and only the nonce store stops it, so it must remember nonces for the whole window and
    be shared by every process receiving the callbacks (the default
    [`MemoryNonceStore`][] serves one process; ``max_nonces`` is its bound). Shorten
    ``tolerance`` only if a lost callback is acceptable to you.

    ``tolerance`` must be a finite number > 0 (``nan``, ``inf``, ``0`` and negatives raise
    [`SinchConfigError`][]); so must the secret be a non-empty string.
    """

    def __init__(
        self,
        secret: str,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
        nonce_store: NonceStore | None = None,
        max_nonces: int | None = None,
    ) -> None:
        self._secret = check_text(secret, "secret", config=True).encode()
        # inf is refused too: a window that never closes needs nonces remembered forever,
        # so every bounded store would end up full and refuse every callback
        self._tolerance = check_seconds(tolerance, "tolerance", positive=True, config=True)
        self._clock = clock
        if nonce_store is None:
            self._nonces: NonceStore = MemoryNonceStore(
                DEFAULT_MAX_NONCES if max_nonces is None else max_nonces, clock=clock
            )
        else:
            why = "is for the default store: bound your nonce_store"
            check_absent(max_nonces, "max_nonces", why, config=True)
            self._nonces = nonce_store

    def __repr__(self) -> str:
        return (
            f"CallbackVerifier(secret=********, tolerance={self._tolerance:g}, "
            f"nonce_store={self._nonces!r})"
        )

    @property
    def tolerance(self) -> float:
        return self._tolerance

    @property
    def nonce_store(self) -> NonceStore:
        return self._nonces

    def _check(self, body: bytes, headers: Mapping[str, str | bytes]) -> tuple[str, int]:
        """Signature, algorithm and timestamp window (no nonce claimed): (nonce, timestamp)."""
        signature = _header(headers, SIGNATURE_HEADER)
        nonce = _header(headers, SIGNATURE_NONCE_HEADER)
        timestamp = _header(headers, SIGNATURE_TIMESTAMP_HEADER)
        if not signature or not nonce or not timestamp:
            raise CallbackSignatureError("missing_signature", "callback is not signed")
        digest = _hash_for(_header(headers, SIGNATURE_ALGORITHM_HEADER))
        signature_b, nonce_b, timestamp_b = _utf8(signature), _utf8(nonce), _utf8(timestamp)
        if not (timestamp_b.isdigit() and len(timestamp_b) <= 15):
            raise CallbackSignatureError("bad_timestamp", "signature timestamp is not an integer")
        sent_at = int(timestamp_b)
        expected = _signature(self._secret, body, nonce_b, timestamp_b, digest)
        if not hmac.compare_digest(expected, signature_b):
            raise CallbackSignatureError("bad_signature", "callback signature does not match")
        now = self._clock()
        if not abs(now - sent_at) <= self._tolerance:
            raise CallbackSignatureError(
                "stale_timestamp",
                f"signature timestamp is {abs(now - sent_at):.0f}s away from now "
                f"(tolerance {self._tolerance:.0f}s)",
            )
        return nonce_b.decode("utf-8"), sent_at

    async def verify(self, body: bytes, headers: Mapping[str, str | bytes]) -> str:
        """Return the nonce if the request is signed, fresh and new; raise otherwise.

        Raises [`CallbackSignatureError`][] (answer 401) for a missing, wrong, stale or
        undecodable signature, an unknown algorithm or a replayed nonce, and
        [`CallbackNonceStoreFull`][] (answer 503) when the store is full. The nonce is
        now claimed: ``await release(nonce)`` if handling the callback failed, so that
        Sinch's retry of it is accepted.
        """
        nonce, sent_at = self._check(body, headers)
        if not await self._nonces.add(nonce, sent_at + self._tolerance):
            raise CallbackSignatureError("replayed_nonce", "callback nonce was already used")
        return nonce

    async def release(self, nonce: str) -> None:
        """Forget a claimed nonce (the callback was not handled; let a retry through)."""
        await self._nonces.discard(nonce)


def parse_callback(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    verifier: CallbackVerifier | None = None,
) -> CallbackEvent:
    """Parse a callback body into an inbound message, a delivery report or, for a ``type``
    this SDK version does not know, an [`UnknownCallback`][] (the event is not dropped).

    Anything that is not a callback raises [`CallbackParseError`][] (never a bare
    KeyError/ValueError): ``reason`` is ``not_json``, ``not_object``, ``missing_type`` (no
    string ``type``) or ``invalid`` (a known ``type`` whose fields do not fit).

    Verification is async (the nonce store may be remote): call ``nonce = await
    verifier.verify(body, headers)`` first; passing ``verifier=`` here raises ``TypeError``,
    and ``headers`` is ignored. [`WebhookReceiver`][sinch_async.webhooks.WebhookReceiver] does both,
    releases the nonce when your handler fails, and maps every outcome to a status.
    """
    if verifier is not None:
        raise TypeError(
            "parse_callback() cannot verify: use `nonce = await verifier.verify(body, "
            "headers)` and then `parse_callback(body)`"
        )
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CallbackParseError("not_json", f"callback body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CallbackParseError("not_object", "callback body is not a JSON object")
    kind = data.get("type")
    target: Any
    if kind in _INBOUNDS:
        target = Inbound
    elif kind in _BATCH_REPORTS:
        target = BatchDeliveryReport
    elif kind in _RECIPIENT_REPORTS:
        target = RecipientDeliveryReport
    elif isinstance(kind, str) and kind:
        return UnknownCallback(type=kind, raw=data)
    else:
        raise CallbackParseError("missing_type", "callback body has no string 'type'")
    try:
        event: CallbackEvent = converter.structure(data, target)
    except Exception as exc:  # the converter's errors, whatever their class
        why = converter.explain(data, target, exc)  # names the field that failed
        raise CallbackParseError("invalid", f"invalid {kind} callback: {why}") from exc
    return event
