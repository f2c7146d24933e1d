"""Retry policy as data, Retry-After aware waits, and which failures may be retried."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import attrs
import backoff

from ._errors import (
    RateLimitError,
    SinchAPIError,
    SinchConfigError,
    SinchTimeoutError,
    SinchTransportError,
)

__all__ = ["RetryPolicy", "retry_after_or_expo", "retrying"]

T = TypeVar("T")


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not value >= 0:
        raise SinchConfigError(f"RetryPolicy.{attribute.name} must be >= 0")


@attrs.frozen(kw_only=True)
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
    * A ``Retry-After`` above ``max_retry_after`` fails fast with :class:`RateLimitError`.
    """

    max_attempts: int = 4
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    retry_connection_errors: bool = True
    retry_timeouts: bool = True
    base_delay: float = attrs.field(default=0.5, validator=_positive)
    factor: float = attrs.field(default=2.0, validator=_positive)
    max_delay: float = attrs.field(default=30.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not (
            isinstance(self.max_attempts, int) and self.max_attempts >= 1
        ):
            raise SinchConfigError("RetryPolicy.max_attempts must be an integer >= 1")

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
    pick = rng or _RNG
    attempt = first_attempt
    cause = yield  # type: ignore[misc]  # backoff primes the generator with send(None)
    while True:
        retry_after = getattr(cause, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            wait = min(float(retry_after), max_retry_after)
        else:
            wait = pick.uniform(0, min(max_value, base * factor**attempt))
        attempt += 1
        cause = yield wait


def retrying(
    fn: Callable[..., Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    on_backoff: Callable[[Any], None] | None = None,
    first_attempt: int = 0,
    max_tries: int | None = None,
) -> Callable[..., Awaitable[T]]:
    """``fn`` retried by ``backoff`` under ``policy``: the one retry loop of the SDK, used
    for API calls and the OAuth2 token endpoint alike.

    ``first_attempt`` continues an exponential schedule (when a first try already
    happened); ``max_tries`` defaults to ``policy.max_attempts``.
    """
    wrapped: Callable[..., Awaitable[T]] = backoff.on_exception(
        lambda: policy.waits(first_attempt=first_attempt),
        (SinchAPIError, SinchTransportError),
        max_tries=policy.max_attempts if max_tries is None else max_tries,
        giveup=lambda exc: not policy.should_retry(exc, idempotent=idempotent),
        jitter=None,
        on_backoff=on_backoff,
        logger=None,
    )(fn)
    return wrapped
