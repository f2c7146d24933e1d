"""Retry policy as data, Retry-After aware waits, and the one loop that retries a request.

`retrying` is that loop (on ``backoff``): every HTTP request of the SDK (API calls
and the OAuth2 token endpoint alike, the first attempt included) runs inside it, and its
waits pass through the client's clock (``SinchClient(clock=...)``).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import attrs
import backoff
from backoff.types import Details

from ._errors import (
    RateLimitError,
    SinchAPIError,
    SinchTimeoutError,
    SinchTransportError,
)
from ._validation import check_number, check_positive_int, check_seconds

__all__ = ["RetryPolicy", "retry_after_or_expo", "retrying"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
#: Called before each retry wait with backoff's details and the wait (seconds).
OnRetry = Callable[[Details, float], None]
#: Called when the loop gives up (``details["tries"]`` attempts made).
OnGiveup = Callable[[Details], None]


def _seconds(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_seconds(value, f"RetryPolicy.{attribute.name}", config=True)


def _factor(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_number(value, f"RetryPolicy.{attribute.name}", config=True)


@attrs.frozen(kw_only=True, cache_hash=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait in between.

    * Idempotent calls (GET, PUT, DELETE) retry on ``retry_statuses``, connection errors
      and timeouts.
    * Non-idempotent calls (POST: a send, a group create) retry **only** when Sinch
      certainly did not process them: a 429, or a connection that failed before the
      request was written. Their ambiguous failures are left to the caller (or to send
      reconciliation).
    * Waits follow ``Retry-After`` (seconds or HTTP-date) when given, else full-jitter
      exponential backoff: ``uniform(0, min(max_delay, base_delay * factor**n))``.
    * A ``Retry-After`` above ``max_retry_after`` fails fast with [`RateLimitError`][].
    * One send (``batches.send``) makes at most ``max_send_posts`` POSTs, its retries and
      its resends after a reconciliation lookup together (10 by default: whatever mix of
      429s, 5xx and resets the server answers).
    """

    max_attempts: int = 4
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    retry_connection_errors: bool = True
    retry_timeouts: bool = True
    base_delay: float = attrs.field(default=0.5, validator=_seconds)
    factor: float = attrs.field(default=2.0, validator=_factor)
    max_delay: float = attrs.field(default=30.0, validator=_seconds)
    max_retry_after: float = attrs.field(default=60.0, validator=_seconds)
    max_send_posts: int = 10

    def __attrs_post_init__(self) -> None:
        for name in ("max_attempts", "max_send_posts"):
            check_positive_int(getattr(self, name), f"RetryPolicy.{name}", config=True)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """No retries at all."""
        return cls(max_attempts=1)

    def should_retry(self, exc: BaseException, *, idempotent: bool) -> bool:
        """True if ``exc`` may be retried for a call of this idempotency."""
        if getattr(exc, "no_retry", False):
            return False
        if isinstance(exc, RateLimitError):
            if 429 not in self.retry_statuses:
                return False
            return exc.retry_after is None or exc.retry_after <= self.max_retry_after
        if isinstance(exc, SinchAPIError):
            return idempotent and exc.status in self.retry_statuses
        if isinstance(exc, SinchTransportError):
            enabled = (
                self.retry_timeouts
                if isinstance(exc, SinchTimeoutError)
                else self.retry_connection_errors
            )
            return enabled and (idempotent or not exc.may_have_reached_sinch)
        return False

    def wait(self, cause: object, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` after ``cause``: its
        ``Retry-After`` (at most ``max_retry_after``), else full-jitter exponential."""
        return _wait(
            cause, attempt, self.base_delay, self.factor, self.max_delay, self.max_retry_after, rng
        )

    def waits(
        self, rng: random.Random | None = None, *, first_attempt: int = 0
    ) -> Generator[float, Any, None]:
        """A fresh ``backoff`` wait generator for this policy."""
        return retry_after_or_expo(
            first_attempt=first_attempt,
            base=self.base_delay,
            factor=self.factor,
            max_value=self.max_delay,
            max_retry_after=self.max_retry_after,
            rng=rng,
        )


_RNG = random.Random()


def _wait(
    cause: object,
    attempt: int,
    base: float,
    factor: float,
    max_value: float,
    max_retry_after: float,
    rng: random.Random | None,
) -> float:
    retry_after = getattr(cause, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after >= 0:
        return min(float(retry_after), max_retry_after)
    return (rng or _RNG).uniform(0, min(max_value, base * factor**attempt))


def retry_after_or_expo(
    *,
    base: float = 1.0,
    factor: float = 4.0,
    max_value: float = 60.0,
    max_retry_after: float = 60.0,
    rng: random.Random | None = None,
    first_attempt: int = 0,
) -> Generator[float, Any, None]:
    """A ``backoff`` wait generator (use with ``jitter=None``).

    ``backoff`` sends it the exception (or result) that caused the retry: an object with a
    ``retry_after`` in seconds waits exactly that long (at most ``max_retry_after``);
    otherwise the wait is full-jitter exponential, ``uniform(0, min(max_value, base *
    factor**n))``.
    """
    attempt = first_attempt
    cause = yield  # type: ignore[misc]  # backoff primes the generator with send(None)
    while True:
        wait = _wait(cause, attempt, base, factor, max_value, max_retry_after, rng)
        attempt += 1
        cause = yield wait


def _waits_elsewhere() -> Generator[float, Any, None]:
    """backoff's own wait: none (its ``asyncio.sleep(0)`` only yields); the real wait is
    taken in ``on_backoff``, through the caller's clock."""
    while True:
        yield 0.0


def retrying(
    fn: Callable[..., Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    sleep: Sleep,
    on_retry: OnRetry | None = None,
    on_giveup: OnGiveup | None = None,
    max_tries: int | None = None,
    rng: random.Random | None = None,
) -> Callable[..., Awaitable[T]]:
    """``fn`` run by ``backoff`` under ``policy``: THE retry loop of the SDK, used for every
    HTTP request (API calls and the OAuth2 token endpoint), the first attempt included.

    ``backoff`` decides whether to try again (``policy.should_retry`` for this
    idempotency, at most ``max_tries`` attempts, default ``policy.max_attempts``); the wait
    ([`RetryPolicy.wait`][]) is taken with ``sleep``, the client's clock, after
    ``on_retry`` was told about it.
    """

    async def wait_then_retry(details: Details) -> None:
        wait = policy.wait(details.get("exception"), int(details["tries"]) - 1, rng)
        if on_retry is not None:
            on_retry(details, wait)
        await sleep(wait)

    def giveup(exc: Exception) -> bool:
        return not policy.should_retry(exc, idempotent=idempotent)

    wrapped: Callable[..., Awaitable[T]] = backoff.on_exception(
        _waits_elsewhere,
        (SinchAPIError, SinchTransportError),
        max_tries=policy.max_attempts if max_tries is None else max_tries,
        giveup=giveup,
        jitter=None,
        on_backoff=wait_then_retry,
        on_giveup=on_giveup,
        logger=None,
    )(fn)
    return wrapped
