"""Webhook delivery by the fake (§8): signed POSTs with Sinch-like retries, recorded.

Each submitted job (a list of payloads for one URL) runs as a background task that POSTs
the payloads in order; every attempt is recorded as a [`CallbackAttempt`][]. 5xx, 429
and connection errors are retried after ``retry_delays`` (tiny, unlike Sinch's 5 s
doubling); other statuses end the attempt chain.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from ._util import JSONObject

__all__ = ["CallbackAttempt", "CallbackDispatcher", "post_attempt", "sign_callback"]

SIGNATURE_HEADER = "x-sinch-webhook-signature"
NONCE_HEADER = "x-sinch-webhook-signature-nonce"
TIMESTAMP_HEADER = "x-sinch-webhook-signature-timestamp"
ALGORITHM_HEADER = "x-sinch-webhook-signature-algorithm"
_ATTEMPT_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


@dataclass(frozen=True)
class CallbackAttempt:
    """One POST of a callback: what was sent and how it ended.

    ``status`` is the receiver's HTTP status (``None`` if no response arrived, then
    ``error`` says why); ``attempt`` is 1 for the first try, 2 for the first retry...
    """

    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    error: str | None
    attempt: int = 1

    @property
    def retried(self) -> bool:
        """Whether Sinch retries after this attempt: no answer, a 429 or a 5xx."""
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)

    @property
    def ok(self) -> bool:
        """The receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


def sign_callback(secret: str, body: bytes, nonce: str, timestamp: str) -> str:
    """Base64(HMAC-SHA256(secret, body + "." + nonce + "." + timestamp))."""
    signed = body + b"." + nonce.encode() + b"." + timestamp.encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class _Waiter:
    count: int
    future: asyncio.Future[None] = field(repr=False)


class CallbackDispatcher:
    """Delivers callback jobs while running; jobs submitted before `start` wait."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        secret: str | None,
        delay: float,
        retry_delays: tuple[float, ...],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.secret = secret
        #: How delays are waited (``asyncio.sleep``, or the fake's clock's ``sleep``).
        self.sleep = sleep
        #: Called when a delivery job ends.
        self.on_done: Callable[[], None] | None = None
        self.delay = delay
        self.retry_delays = retry_delays
        self.attempts: list[CallbackAttempt] = []
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued: list[tuple[str, list[bytes]]] = []
        self._waiters: list[_Waiter] = []
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs not finished yet (queued or running)."""
        return len(self._queued) + len(self._tasks)

    def submit(self, url: str, payloads: list[JSONObject]) -> None:
        """POST ``payloads`` to ``url`` in order, in the background."""
        if self._closed or not payloads:
            return
        bodies = [orjson.dumps(payload) for payload in payloads]
        if self._session is None:
            self._queued.append((url, bodies))
            return
        self._spawn(url, bodies)

    def _spawn(self, url: str, bodies: list[bytes]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(url, bodies))
        self._tasks.add(task)
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self.on_done is not None:
            self.on_done()

    @property
    def running(self) -> int:
        """Delivery jobs running now (started, not finished)."""
        return len(self._tasks)

    async def start(self) -> None:
        """Open the client session and launch queued jobs."""
        self._session = aiohttp.ClientSession(timeout=_ATTEMPT_TIMEOUT)
        queued, self._queued = self._queued, []
        for url, bodies in queued:
            self._spawn(url, bodies)

    async def close(self) -> None:
        """Cancel pending deliveries, wait for them, close the session."""
        self._closed = True
        self._queued.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(RuntimeError("FakeSinch was closed"))
        self._waiters.clear()

    async def wait_for(self, count: int, timeout: float) -> list[CallbackAttempt]:  # noqa: ASYNC109
        """Wait until at least ``count`` attempts completed; ``TimeoutError`` otherwise."""
        if len(self.attempts) >= count:
            return list(self.attempts)
        waiter = _Waiter(count, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{len(self.attempts)} callback attempt(s) completed within {timeout} s, "
                f"expected at least {count}"
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return list(self.attempts)

    def _record(self, attempt: CallbackAttempt) -> None:
        self.attempts.append(attempt)
        for waiter in list(self._waiters):
            if len(self.attempts) >= waiter.count and not waiter.future.done():
                waiter.future.set_result(None)

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.secret is not None:
            nonce = secrets.token_urlsafe(16)
            timestamp = str(int(self._clock().timestamp()))
            headers[NONCE_HEADER] = nonce
            headers[TIMESTAMP_HEADER] = timestamp
            headers[ALGORITHM_HEADER] = "HmacSHA256"
            headers[SIGNATURE_HEADER] = sign_callback(self.secret, body, nonce, timestamp)
        return headers

    async def _run(self, url: str, bodies: list[bytes]) -> None:
        for body in bodies:
            if self.delay > 0:
                await self.sleep(self.delay)
            await self._deliver(url, body)

    async def _deliver(self, url: str, body: bytes) -> None:
        delays = tuple(self.retry_delays)
        for attempt in range(1, len(delays) + 2):
            session = self._session
            if session is None:
                return
            done = await post_attempt(session, url, body, self._headers(body), attempt)
            self._record(done)
            if not done.retried or attempt > len(delays):
                return
            await self.sleep(delays[attempt - 1])


async def post_attempt(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], attempt: int
) -> CallbackAttempt:
    """One POST of a callback body as Sinch makes it (no redirects followed); how it
    ended, a connection error included (then ``status`` is None)."""
    status: int | None = None
    error: str | None = None
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return CallbackAttempt(url, dict(headers), body, status, error, attempt)
