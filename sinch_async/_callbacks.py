"""Callbacks (webhooks) from Sinch: signature checks and parsing into typed events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ._converter import converter
from ._errors import SinchError
from .models.delivery_reports import BatchDeliveryReport, RecipientDeliveryReport
from .models.inbounds import Inbound

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_NONCE_HEADER",
    "SIGNATURE_TIMESTAMP_HEADER",
    "CallbackError",
    "CallbackEvent",
    "CallbackParseError",
    "CallbackSignatureError",
    "CallbackVerifier",
    "parse_callback",
    "sign_callback",
]

SIGNATURE_HEADER = "x-sinch-webhook-signature"
SIGNATURE_NONCE_HEADER = "x-sinch-webhook-signature-nonce"
SIGNATURE_TIMESTAMP_HEADER = "x-sinch-webhook-signature-timestamp"

#: What a callback can carry.
CallbackEvent = Inbound | BatchDeliveryReport | RecipientDeliveryReport

_BATCH_REPORTS = ("delivery_report_sms", "delivery_report_mms")
_RECIPIENT_REPORTS = ("recipient_delivery_report_sms", "recipient_delivery_report_mms")
_INBOUNDS = ("mo_text", "mo_binary", "mo_media")


class CallbackError(SinchError, ValueError):
    """A request to the callback URL that is not a valid Sinch callback.

    ``reason`` is a short machine-readable cause (``not_json``, ``bad_signature``, ...).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CallbackParseError(CallbackError):
    """The body is not JSON, or not a delivery report or inbound this SDK understands."""


class CallbackSignatureError(CallbackError):
    """The HMAC signature is missing, wrong, stale, or its nonce was seen before."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def _signature(secret: bytes, body: bytes, nonce: str, timestamp: str) -> str:
    signed = body + b"." + nonce.encode() + b"." + timestamp.encode()
    return base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()


def sign_callback(secret: str, body: bytes, nonce: str, timestamp: int | str) -> dict[str, str]:
    """The signature headers Sinch would send for ``body`` (for tests and local tools)."""
    ts = str(timestamp)
    return {
        SIGNATURE_HEADER: _signature(secret.encode(), body, nonce, ts),
        SIGNATURE_NONCE_HEADER: nonce,
        SIGNATURE_TIMESTAMP_HEADER: ts,
    }


class _Nonces:
    """Nonces seen within the tolerance window (bounded; oldest dropped first)."""

    def __init__(self, ttl: float, max_size: int) -> None:
        self._ttl = ttl
        self._max = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def claim(self, nonce: str, now: float) -> bool:
        while self._seen and next(iter(self._seen.values())) < now - self._ttl:
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True

    def release(self, nonce: str) -> None:
        self._seen.pop(nonce, None)


class CallbackVerifier:
    """Checks Sinch's HMAC-SHA256 callback signatures.

    The signed string is ``body + "." + nonce + "." + timestamp``; the signature is its
    Base64 HMAC-SHA256 under the secret, compared in constant time. A timestamp more than
    ``tolerance`` seconds away from now, or a nonce already accepted within that window,
    is refused. Keep one verifier per process so replays are caught.
    """

    def __init__(
        self,
        secret: str,
        *,
        tolerance: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_nonces: int = 100_000,
    ) -> None:
        if not isinstance(secret, str) or not secret:
            raise ValueError("a callback secret must be a non-empty string")
        if tolerance <= 0:
            raise ValueError("tolerance must be positive")
        self._secret = secret.encode()
        self._tolerance = tolerance
        self._clock = clock
        self._nonces = _Nonces(ttl=2 * tolerance, max_size=max_nonces)

    def __repr__(self) -> str:
        return f"CallbackVerifier(secret=********, tolerance={self._tolerance})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Raise :class:`CallbackSignatureError` unless the request is signed, fresh and new.

        Returns the nonce, which is now claimed; call :meth:`release` if handling the
        callback failed so that Sinch's retry of it is accepted.
        """
        signature = _header(headers, SIGNATURE_HEADER)
        nonce = _header(headers, SIGNATURE_NONCE_HEADER)
        timestamp = _header(headers, SIGNATURE_TIMESTAMP_HEADER)
        if not signature or not nonce or not timestamp:
            raise CallbackSignatureError("missing_signature", "callback is not signed")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise CallbackSignatureError(
                "bad_timestamp", "signature timestamp is not an integer"
            ) from None
        expected = _signature(self._secret, body, nonce, timestamp)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackSignatureError("bad_signature", "callback signature does not match")
        now = self._clock()
        if abs(now - sent_at) > self._tolerance:
            raise CallbackSignatureError(
                "stale_timestamp",
                f"signature timestamp is {abs(now - sent_at):.0f}s away from now "
                f"(tolerance {self._tolerance:.0f}s)",
            )
        if not self._nonces.claim(nonce, now):
            raise CallbackSignatureError("replayed_nonce", "callback nonce was already used")
        return nonce

    def release(self, nonce: str) -> None:
        """Forget a claimed nonce (the callback was not handled; let a retry through)."""
        self._nonces.release(nonce)


def parse_callback(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    verifier: CallbackVerifier | None = None,
) -> CallbackEvent:
    """Parse a callback body into an inbound message or a delivery report.

    With a ``verifier`` the signature headers are checked first. Anything that is not a
    valid callback raises :class:`CallbackError` (never a bare KeyError/ValueError).
    """
    if verifier is not None:
        verifier.verify(body, headers or {})
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
    else:
        raise CallbackParseError("unknown_type", f"unknown callback type {kind!r}")
    try:
        event: CallbackEvent = converter.structure(data, target)
    except Exception as exc:  # the converter's errors, whatever their class
        raise CallbackParseError("invalid", f"invalid {kind} callback: {exc!r}") from exc
    return event
