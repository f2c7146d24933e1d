"""Retry timing: Retry-After when the server gives one, else exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

__all__ = ["retry_after_or_expo"]


def retry_after_or_expo(
    *,
    base: float = 1.0,
    factor: float = 4.0,
    max_value: float = 60.0,
    rng: random.Random | None = None,
) -> Generator[float, Any, None]:
    """A ``backoff`` wait generator (use with ``jitter=None``).

    ``backoff`` sends it the exception (or result) that caused the retry: an object with a
    ``retry_after`` in seconds waits exactly that long; otherwise the wait is full-jitter
    exponential, ``uniform(0, min(max_value, base * factor**n))``.
    """
    pick = rng or random.Random()
    attempt = 0
    cause = yield  # type: ignore[misc]  # backoff primes the generator with send(None)
    while True:
        retry_after = getattr(cause, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            wait = min(float(retry_after), max_value)
        else:
            wait = pick.uniform(0, min(max_value, base * factor**attempt))
        attempt += 1
        cause = yield wait
