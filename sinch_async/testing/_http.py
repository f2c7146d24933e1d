"""Request records, handler context/reply types and the path router of the fake."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from .. import _constants as C
from .._validation import parse_int
from ._util import constraint_violation, invalid_format, parse_timestamp

__all__ = [
    "Handler",
    "RecordedRequest",
    "Reply",
    "RequestContext",
    "RouteMatch",
    "RouteSpec",
    "Router",
    "call_handler",
]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (recorded before auth, routing or faults).

    ``path`` is percent-decoded, ``raw_path`` as sent; ``query_string`` is the raw,
    undecoded query; ``query`` its decoded ``(name, value)`` pairs in order (repeats
    kept); ``headers`` is a case-insensitive read-only mapping; ``json`` is the parsed
    body or ``None`` when the body is empty or not JSON; ``received_at`` is the event
    loop's clock (``loop.time()``) on arrival.
    """

    method: str
    path: str
    raw_path: str
    query_string: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    json: Any
    received_at: float

    def query_value(self, name: str) -> str | None:
        """Last value of query parameter ``name`` (``None`` if absent)."""
        value = None
        for key, item in self.query:
            if key == name:
                value = item
        return value


@dataclass
class Reply:
    """A handler's answer: status, JSON-able body (``None`` = empty) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RequestContext:
    """What a route handler sees: path params, decoded query, parsed JSON body, the time.

    ``headers`` (case-insensitive) and the raw ``body`` are there for routes that are not
    JSON (the OAuth2 token endpoint).
    """

    method: str
    path: str
    params: dict[str, str]
    query: list[tuple[str, str]]
    json: Any
    now: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def query_value(self, name: str) -> str | None:
        """Last value of ``name``; repeated parameters are not merged (last one wins)."""
        value = None
        for key, item in self.query:
            if key == name:
                value = item
        return value or None

    def query_int(self, name: str, default: int, lo: int, hi: int | None) -> int:
        """Integer query parameter within ``[lo, hi]``."""
        text = self.query_value(name)
        if text is None:
            return default
        value = parse_int(text)  # ASCII digits, as the SDK writes them
        if value is None:
            raise invalid_format(f"query parameter '{name}' must be an integer")
        if value < lo or (hi is not None and value > hi):
            upper = "" if hi is None else f" and <= {hi}"
            raise constraint_violation(f"query parameter '{name}' must be >= {lo}{upper}")
        return value

    def query_bool(self, name: str, default: bool) -> bool:
        """Boolean query parameter (``true`` / ``false``)."""
        text = self.query_value(name)
        if text is None:
            return default
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise invalid_format(f"query parameter '{name}' must be true or false")
        return lowered == "true"

    def query_datetime(self, name: str) -> datetime | None:
        """ISO-8601 query parameter (no offset = UTC)."""
        text = self.query_value(name)
        if text is None:
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            raise invalid_format(f"query parameter '{name}' is not an ISO-8601 date") from None

    def paging(self) -> tuple[int, int]:
        """``page`` (>= 0, default 0) and ``page_size`` (1..100, default 30: the SDK's
        `MAX_PAGE_SIZE` and default)."""
        page_size = self.query_int("page_size", C.DEFAULT_PAGE_SIZE, 1, C.MAX_PAGE_SIZE)
        return self.query_int("page", 0, 0, None), page_size

    def query_list(self, name: str) -> list[str] | None:
        """Comma-separated list parameter (one parameter, ``a,b,c``)."""
        text = self.query_value(name)
        if text is None:
            return None
        items = [item.strip() for item in text.split(",") if item.strip()]
        return items or None


Handler = Callable[[RequestContext], Reply | Awaitable[Reply]]


async def call_handler(handler: Handler, ctx: RequestContext) -> Reply:
    """Run a sync or async handler."""
    result = handler(ctx)
    if inspect.isawaitable(result):
        return await result
    return result


@dataclass(frozen=True)
class RouteSpec:
    """One method on one path template. ``json_body``: the route takes a JSON body."""

    method: str
    template: str
    handler: Handler
    json_body: bool = False


@dataclass(frozen=True)
class RouteMatch:
    """A resolved path: its template, decoded params and the methods it allows."""

    template: str
    params: dict[str, str]
    methods: Mapping[str, RouteSpec]


class Router:
    """Path templates like ``/batches/{batch_id}``; literal segments beat placeholders.

    So ``/batches/dry_run`` is never swallowed by ``/batches/{batch_id}``, and a
    ``GET /batches/dry_run`` is a 405, not a lookup of a batch called ``dry_run``.
    """

    def __init__(self) -> None:
        self._templates: dict[str, dict[str, RouteSpec]] = {}

    def add(self, method: str, template: str, handler: Handler, *, json_body: bool = False) -> None:
        """Register ``handler`` for ``method`` on ``template``."""
        methods = self._templates.setdefault(template, {})
        method = method.upper()
        if method in methods:
            raise ValueError(f"route already registered: {method} {template}")
        methods[method] = RouteSpec(method, template, handler, json_body)

    def resolve(self, path: str) -> RouteMatch | None:
        """Find the most specific template matching ``path`` (``None`` if none does)."""
        segments = path.split("/")
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for template in self._templates:
            parts = template.split("/")
            if len(parts) != len(segments):
                continue
            params: dict[str, str] = {}
            score: list[int] = []
            for part, segment in zip(parts, segments, strict=True):
                if part.startswith("{") and part.endswith("}"):
                    if not segment:
                        break
                    params[part[1:-1]] = unquote(segment)
                    score.append(1)
                elif part == segment:
                    score.append(0)
                else:
                    break
            else:
                key = tuple(score)
                if best is None or key < best[0]:
                    best = (key, template, params)
        if best is None:
            return None
        return RouteMatch(best[1], best[2], self._templates[best[1]])
