"""Fault injection: what can go wrong between a client and the fake, and when."""

from __future__ import annotations

import asyncio
import fnmatch
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

__all__ = ["Fault", "FaultHandle", "FaultOutcome", "FaultSet"]

Phase = Literal["before", "after"]

_PLACEHOLDER = re.compile(r"\{[^}/]*\}")

_DEFAULT_CODES: Mapping[int, str] = {
    400: "syntax_constraint_violation",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "too_many_requests",
}


def _normalise_template(path: str) -> str:
    return _PLACEHOLDER.sub("{}", path)


@dataclass(frozen=True, kw_only=True)
class Fault:
    """A rule that disturbs matching requests.

    ``path`` is matched against the path after ``/xms/v1/{owner}`` (the service plan id or
    the project id) for API requests, and against the absolute path for anything else:

    * ``"*"`` matches every request to the API host (also unknown paths), but not the
      fake's auxiliary endpoints (the OAuth token endpoint ``/oauth2/token``, which is a
      separate host at Sinch, and the ``/_admin/...`` test-control routes): target those
      by their absolute path, e.g. ``Fault(path="/oauth2/token", status=429)``;
    * a template with placeholders (``"/batches/{id}"``) matches requests routed to that
      template (placeholder names do not matter; ``/batches/dry_run`` is its own route
      and is *not* matched by ``/batches/{id}``);
    * anything else is a literal path or an ``fnmatch`` glob (``"/batches/01H*"``).

    Effects, applied in this order when the fault fires: sleep ``delay`` seconds, then
    either answer ``status`` (with ``body``, default ``{"code", "text": "injected"}``),
    or ``drop`` the TCP connection without any HTTP response, or (neither set) carry on
    normally, adding ``headers`` to the eventual response.

    ``phase="before"`` fires before the request is processed (nothing is stored);
    ``phase="after"`` processes the request fully (a batch *is* stored) and then replaces
    the response: the way to simulate an ambiguous send outcome.

    ``times`` limits how often it fires (``None`` = forever); ``probability`` draws from
    the fake's seeded ``random.Random``.
    """

    method: str | None = None
    path: str = "*"
    status: int | None = None
    body: bytes | Mapping[str, Any] | None = None
    content_type: str = "application/json"
    drop: bool = False
    delay: float = 0.0
    phase: Phase = "before"
    times: int | None = None
    probability: float = 1.0
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.status is not None and self.drop:
            raise ValueError("a fault either answers with a status or drops, not both")
        if self.phase not in ("before", "after"):
            raise ValueError(f"phase must be 'before' or 'after', got {self.phase!r}")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if not self.path:
            raise ValueError("path must not be empty (use '*' for any path)")

    @property
    def terminal(self) -> bool:
        """True if the fault ends the exchange (status reply or dropped connection)."""
        return self.drop or self.status is not None

    def matches(
        self, method: str, path: str | None, template: str | None, *, auxiliary: bool = False
    ) -> bool:
        """Does this fault apply to ``method`` on ``path`` (routed to ``template``)?

        ``auxiliary``: the request is for an auxiliary endpoint (token, admin), which
        ``"*"`` does not cover.
        """
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path == "*":
            return not auxiliary
        if path is None:
            return False
        if "{" in self.path:
            if template is None:
                return False
            return _normalise_template(template) == _normalise_template(self.path)
        return fnmatch.fnmatchcase(path, self.path)

    def reply_body(self) -> bytes:
        """The bytes sent with a ``status`` reply."""
        if isinstance(self.body, bytes):
            return self.body
        if self.body is not None:
            return orjson.dumps(dict(self.body))
        status = self.status or 500
        if status < 400:
            return b""
        code = "internal_error" if status >= 500 else _DEFAULT_CODES.get(status, "injected_error")
        return orjson.dumps({"code": code, "text": "injected"})


class FaultHandle:
    """A fault registered on a fake; tells how often it fired and can remove it."""

    def __init__(self, fault: Fault, owner: FaultSet) -> None:
        self.fault = fault
        self.fired = 0
        self._owner = owner

    @property
    def remaining(self) -> int | None:
        """How many more times it may fire (``None`` = unlimited)."""
        if self.fault.times is None:
            return None
        return max(self.fault.times - self.fired, 0)

    @property
    def active(self) -> bool:
        """Still registered and not used up."""
        return self in self._owner.handles and self.remaining != 0

    def remove(self) -> None:
        """Unregister the fault (no-op if already gone)."""
        self._owner.remove(self)

    def __repr__(self) -> str:
        return f"FaultHandle({self.fault!r}, fired={self.fired})"


@dataclass
class FaultOutcome:
    """What the faults of one phase decided: extra headers and an optional terminal fault."""

    headers: dict[str, str] = field(default_factory=dict)
    terminal: Fault | None = None


class FaultSet:
    """The ordered faults of one fake."""

    def __init__(
        self,
        rng: random.Random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.handles: list[FaultHandle] = []
        self._rng = rng
        #: How ``delay`` is waited (``asyncio.sleep``, or the fake's clock's ``sleep``).
        self.sleep = sleep

    def add(self, fault: Fault) -> FaultHandle:
        handle = FaultHandle(fault, self)
        self.handles.append(handle)
        return handle

    def remove(self, handle: FaultHandle) -> None:
        if handle in self.handles:
            self.handles.remove(handle)

    def clear(self) -> None:
        self.handles.clear()

    async def apply(
        self,
        phase: Phase,
        method: str,
        path: str | None,
        template: str | None,
        *,
        auxiliary: bool = False,
    ) -> FaultOutcome:
        """Fire the matching faults of ``phase`` in order until one is terminal.

        Delays of all fired faults accumulate; the first terminal one wins.
        """
        outcome = FaultOutcome()
        for handle in list(self.handles):
            fault = handle.fault
            if fault.phase != phase or handle.remaining == 0:
                continue
            if not fault.matches(method, path, template, auxiliary=auxiliary):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            handle.fired += 1
            if handle.remaining == 0:
                self.remove(handle)
            if fault.delay > 0:
                await self.sleep(fault.delay)
            outcome.headers.update(fault.headers)
            if fault.terminal:
                outcome.terminal = fault
                break
        return outcome
