"""The request engine: the one seam every request of every API goes through.

Resources, pagers, per-call options (`RequestOptions`), hooks and logs all meet in
`Engine.request`: an `Api` (SMS, Numbers, the OAuth2 token
endpoint), method, path, query, body, cost (messages, for the rate limit), idempotency and
options in; a `Response` (or a decoded record, through `Session.call`) or a
typed [`SinchError`][] out. Every request runs inside the one retry loop
(`_retry.retrying`, on ``backoff``), first attempt included, and every wait passes
through the client's `Clock`.
"""

from __future__ import annotations

import asyncio
import atexit
import enum
import itertools
import logging
import math
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import aiohttp
import attrs
from backoff.types import Details
from yarl import URL

from . import _constants as C
from ._api import JSON, Api, Auth, Cast, Response
from ._clock import SYSTEM_CLOCK, Clock, SinchClock, SystemClock, call_later
from ._config import Timeouts
from ._converter import decode_page
from ._errors import (
    ClientClosedError,
    ClientLoopError,
    RateLimitError,
    SinchAPIError,
    SinchConfigError,
    SinchConnectionError,
    SinchError,
    SinchTimeoutError,
    SinchTransportError,
    TokenEndpointError,
)
from ._limits import Limits
from ._retry import RetryPolicy, retrying
from ._validation import check_seconds
from ._wire import QueryValue, api_error, build_query

__all__ = [
    "Attempts",
    "Engine",
    "Hook",
    "HookEvent",
    "Operation",
    "Query",
    "RequestOptions",
    "Response",
    "Session",
    "check_header",
    "current_operation",
    "encode_query",
]

log = logging.getLogger("sinch_async")
T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})

#: A query: a mapping (SMS: lists go comma-separated) or ``(name, value)`` pairs
#: (Numbers: a list is the parameter repeated).
Query = Mapping[str, QueryValue] | Sequence[tuple[str, str]]


def encode_query(query: Query) -> str:
    """The percent-encoded query string (``+`` survives as ``%2B``)."""
    if isinstance(query, Mapping):
        return build_query(query)
    return "&".join(f"{quote(k, safe='.')}={quote(v, safe='')}" for k, v in query)


def check_header(name: object, value: object) -> None:
    """A header this client sends on every request (``user_agent``, ``default_headers``,
    ``with_options(headers=...)``): refused now with [`SinchConfigError`][] when it could
    not go out (CR/LF would split it, aiohttp would raise ``ValueError`` at request time)."""
    if not isinstance(name, str) or not name or not name.isascii():
        raise SinchConfigError(f"header name must be a non-empty ASCII string, got {name!r}")
    if any(ord(ch) <= 32 or ord(ch) == 127 or ch in '():;<=>?@[\\]{}",/' for ch in name):
        raise SinchConfigError(f"header name {name!r} is not a valid HTTP token")
    if not isinstance(value, str):
        raise SinchConfigError(f"header {name}: the value must be a string")
    if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
        raise SinchConfigError(f"header {name}: the value must not contain CR, LF or controls")


class Attempts:
    """A bound on the attempts several requests make together: ``batches.send`` shares
    one between its POSTs, resends after a lookup included (``RetryPolicy.max_send_posts``).
    The engine takes one per write; a request gets at most what is left."""

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit


@attrs.frozen(kw_only=True)
class RequestOptions:
    """Per-call settings (``client.with_options(...)``); ``None`` means the client's own.

    ``deadline`` (seconds) bounds a whole SDK call: every attempt, retry wait and 429
    pause inside it (a send's reconciliation included); when it passes, the call raises
    [`SinchTimeoutError`][]. It is measured on the client's clock
    (``SinchClient(clock=...)``): with a ``FakeClock`` it passes in virtual time.
    ``headers`` are added to every request.
    """

    timeouts: Timeouts | None = None
    retry: RetryPolicy | None = None
    deadline: float | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __attrs_post_init__(self) -> None:
        check_seconds(self.deadline, "deadline", positive=True, optional=True, config=True)
        for name, value in self.headers:
            check_header(name, value)

    def merged(self, other: RequestOptions) -> RequestOptions:
        """``other`` over ``self`` (headers combined)."""
        return RequestOptions(
            timeouts=other.timeouts or self.timeouts,
            retry=other.retry or self.retry,
            deadline=other.deadline or self.deadline,
            headers=self.headers + other.headers,
        )


_OP_IDS = itertools.count(1)


class Operation:
    """One SDK-level call (``batches.send`` with its retries and reconciliation, one page
    fetch, ...). Hooks receive it with every event; ``data`` is theirs to keep state in
    (a tracing span, a timer).

    ``name`` is ``<resource>.<method>`` for the client's resource methods
    (``batches.send_text``, ``batches.get``, ``numbers.rent``; a pager's page:
    ``batches.list``), else ``{METHOD} {route}`` (``GET /batches/{batch_id}``): never an id;
    ``batch_id`` and ``client_reference`` are the batch and reference the call is about,
    where known: a get's id from the start, a send's reference from the start and its
    batch's id by ``operation_end``."""

    __slots__ = (
        "attempts",
        "batch_id",
        "client_reference",
        "data",
        "deadline_at",
        "id",
        "name",
        "started",
    )

    def __init__(
        self,
        name: str,
        deadline_at: float | None,
        *,
        batch_id: str | None = None,
        client_reference: str | None = None,
    ) -> None:
        self.id = next(_OP_IDS)
        self.name = name
        self.deadline_at = deadline_at
        self.started = time.perf_counter()
        self.attempts = 0
        self.data: dict[str, Any] = {}
        self.batch_id = batch_id
        self.client_reference = client_reference

    def __repr__(self) -> str:
        return f"<Operation {self.id} {self.name}>"


EventKind = Literal["operation_start", "request", "response", "error", "retry", "operation_end"]


@attrs.frozen(kw_only=True)
class HookEvent:
    """What a hook sees. ``kind``:

    * ``operation_start`` / ``operation_end`` (``error`` set if it failed);
    * ``request`` before an attempt is sent (``attempt`` counts from 1);
    * ``response`` with ``status`` and ``elapsed`` seconds (any status, 4xx/5xx included);
    * ``error`` when an attempt got no usable response (``error`` set);
    * ``retry`` before waiting ``wait`` seconds to try again.

    ``url`` never carries credentials (they travel in headers) nor the query. ``route``
    is the path's template relative to the API's base URL (``/batches/{batch_id}``: the
    same for every batch, fit for a span or metric name). ``attempt`` counts the
    operation's attempts (a send's reconciliation lookup included); ``resend_count`` how
    often this same request was sent before (0 on its first attempt), and ``request_id``
    tells the events of one request from another's in the same operation.
    """

    kind: EventKind
    operation: Operation
    method: str | None = None
    url: str | None = None
    route: str | None = None
    resend_count: int = 0
    request_id: int = 0
    attempt: int = 0
    status: int | None = None
    error: BaseException | None = None
    wait: float | None = None
    elapsed: float | None = None


Hook = Callable[[HookEvent], None]

_CURRENT: ContextVar[Operation | None] = ContextVar("sinch_async_operation", default=None)


def current_operation() -> Operation | None:
    """The operation of the running call (None when nobody listens and no deadline
    applies: then there is none)."""
    return _CURRENT.get()


class _Scope:
    """``with engine.operation(...)``: the operation of everything awaited inside (nested
    scopes join the outer one)."""

    __slots__ = ("_engine", "_op", "_token")

    def __init__(
        self,
        engine: Engine,
        name: str,
        deadline: float | None,
        batch_id: str | None = None,
        client_reference: str | None = None,
    ) -> None:
        self._engine = engine
        self._token: Any = None
        outer = _CURRENT.get()
        if outer is None:
            deadline_at = None
            if deadline is not None:
                deadline_at = engine.clock.monotonic() + deadline
            self._op: Operation | None = Operation(
                name, deadline_at, batch_id=batch_id, client_reference=client_reference
            )
        else:
            self._op = None
            _fill(outer, batch_id, client_reference)

    def __enter__(self) -> Operation | None:
        if self._op is not None:
            self._token = _CURRENT.set(self._op)
            self._engine.emit("operation_start", self._op)
        return self._op

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._op is not None:
            _CURRENT.reset(self._token)
            self._engine.emit("operation_end", self._op, error=exc)


def _fill(op: Operation, batch_id: str | None, client_reference: str | None) -> None:
    """What a nested call knows of its batch and reference, told to the operation when
    it does not know them yet."""
    if batch_id is not None and op.batch_id is None:
        op.batch_id = batch_id
    if client_reference is not None and op.client_reference is None:
        op.client_reference = client_reference


class _NoScope:
    """Stands in for `_Scope` when there is nothing to track."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SCOPE = _NoScope()


BeforeWrite = Callable[[], Awaitable[None]]


class _WriteRefused(Exception):
    """Carries what a ``before_write`` callback raised past the retry loop, the deadline
    and the transport error mapping; `Engine._request` raises ``error`` itself."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _Call:
    """The values one request carries through its attempts."""

    __slots__ = (
        "api",
        "attempts",
        "before_write",
        "body",
        "content_type",
        "cost",
        "headers",
        "in_flight",
        "max_retry_after",
        "method",
        "route",
        "sent",
        "shown",
        "timeout",
        "url",
    )

    def __init__(
        self,
        api: Api,
        method: str,
        url: URL,
        shown: str,
        route: str,
        body: bytes | None,
        content_type: str,
        timeout: aiohttp.ClientTimeout,
        cost: int,
        headers: dict[str, str],
        before_write: BeforeWrite | None,
        attempts: Attempts | None,
        max_retry_after: float,
    ) -> None:
        self.api = api
        self.method = method
        self.url = url
        self.shown = shown
        self.route = route
        self.sent = 0  # times this request was written (retries and the 401 replay)
        self.body = body
        self.content_type = content_type
        self.timeout = timeout
        self.cost = cost
        self.headers = headers
        self.before_write = before_write
        self.attempts = attempts
        #: Its retry policy's ``max_retry_after``: a 429 asking for longer fails it.
        self.max_retry_after = max_retry_after
        self.in_flight = False


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


def client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for ours: ``connect`` bounds opening a new socket (sock_connect),
    not the wait for a pooled connection, which ``total`` covers."""
    return aiohttp.ClientTimeout(
        total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
    )


class Engine:
    """The one engine of a client: owns (or borrows) the aiohttp session and sends every
    request of every `Api` it serves, under that API's budget,
    the client's retry policy, hooks and clock.

    The aiohttp session is created lazily inside the running event loop on first use and
    belongs to that loop; a borrowed session is never closed by us.
    """

    def __init__(
        self,
        *,
        apis: Iterable[Api] = (),
        timeouts: Timeouts,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
        user_agent: str = C.USER_AGENT,
        default_headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        hooks: Iterable[Hook] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        #: The APIs this engine serves (rebound to a new event loop with it).
        self.apis: tuple[Api, ...] = tuple(apis)
        self.timeouts = timeouts
        self.default_timeout = client_timeout(timeouts)
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        headers = dict(default_headers or {})
        headers["User-Agent"] = user_agent  # per request: a borrowed session gets it too
        for name, value in headers.items():
            check_header(name, value)
        self.base_headers: dict[str, str] = {"Accept": JSON, **headers}
        self._state = _State.UNOPENED
        self.retry = RetryPolicy() if retry is None else retry
        self._loops: dict[tuple[RetryPolicy, bool, int], Callable[[_Call], Awaitable[Response]]]
        self._loops = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # closes the owned session when its loop shuts down (see _close_with_loop)
        self._keeper: AsyncGenerator[None, None] | None = None
        self.hooks: list[Hook] = list(hooks)
        #: The clock every wait of this client passes through.
        self.clock = clock
        self._system_clock = type(clock) is SystemClock
        self._wall = clock.time

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def base(self) -> str:
        """The first API's base URL (the SMS API's for a client that has one).

        Deprecated: kept for callers of the single-API engine of 0.1; use
        ``sinch_async.redis.default_limiter_key`` for a limiter key."""
        return self.apis[0].base if self.apis else ""

    # --- hooks and operations --------------------------------------------------------------

    def operation(
        self,
        name: str,
        deadline: float | None = None,
        *,
        batch_id: str | None = None,
        client_reference: str | None = None,
    ) -> _Scope | _NoScope:
        """A scope that makes everything awaited inside one operation (free when nobody
        listens and no deadline applies)."""
        if deadline is None and not self.hooks:
            return _NO_SCOPE
        return _Scope(self, name, deadline, batch_id, client_reference)

    def emit(self, kind: EventKind, operation: Operation, **fields: Any) -> None:
        """Give ``kind`` to every hook; a hook that raises is logged, never breaks a call."""
        if not self.hooks:
            return
        event = HookEvent(kind=kind, operation=operation, **fields)
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:
                log.warning("sinch_async hook %r raised on %s", hook, kind, exc_info=True)

    # --- the session and its loop ----------------------------------------------------------

    def _open(self) -> aiohttp.ClientSession:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this SinchClient is closed; create a new one")
        loop = asyncio.get_running_loop()  # refuse to build a session outside a loop
        if loop is not self._loop:
            self._move_to(loop)
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.default_timeout)
            self._close_with_loop(self._session)
        elif self._session.closed:
            raise ClientClosedError("the aiohttp session this client uses is closed")
        self._state = _State.OPENED
        return self._session

    def _close_with_loop(self, session: aiohttp.ClientSession) -> None:
        """Close the owned ``session`` when the running loop shuts down.

        An async generator started here, in the loop, is one the loop knows of: its
        ``shutdown_asyncgens()`` (which ``asyncio.run()`` and ``asyncio.Runner`` call once
        the main task is done, before closing the loop) finalizes it while the loop still
        runs, and its ``finally`` closes the session properly: a client used from one
        ``asyncio.run()`` per task leaves no connection of a finished loop open and no
        "Unclosed client session" behind. A loop closed without that step (``loop.close()``
        alone) is handled by `_abandon`, on the next use or at exit.
        """
        self._finish_keeper()
        keeper = self._closing(session)
        step = keeper.asend(None)  # its first step: the running loop adopts it here
        try:
            step.send(None)  # nothing is awaited before its yield: done at once
        except StopIteration:
            self._keeper = keeper
        else:  # pragma: no cover - cannot happen (no await before the yield)
            step.close()
        _OWNED.add(self)

    async def _closing(self, session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if self._session is session:  # still ours: the loop is shutting down
                self._session = None
                try:
                    await session.close()
                except Exception:  # pragma: no cover - best effort at loop shutdown
                    log.debug("could not close the session at loop shutdown", exc_info=True)

    def _finish_keeper(self) -> None:
        """End the keeper of a session already closed or dropped (its ``finally`` then has
        nothing to do and awaits nothing: it ends at once, from any loop or none)."""
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            return
        step = keeper.aclose()
        try:
            step.send(None)
        except (StopIteration, RuntimeError):  # ended (RuntimeError: it is running)
            pass
        else:  # pragma: no cover - it awaited: not ours to finish
            step.close()

    def _drop_dead_session(self) -> None:
        """Drop an owned session whose loop is closed: its sockets closed, no warning."""
        session = self._session
        if session is None or not self._owns_session:
            return
        owner = getattr(session, "_loop", None)
        if owner is not None and owner.is_closed():
            self._session = None
            _abandon(session)
            self._finish_keeper()

    def _move_to(self, loop: asyncio.AbstractEventLoop) -> None:
        """Adopt ``loop``: the session and locks of a loop that has stopped are dropped.

        A client built at import time and used from successive ``asyncio.run()`` calls
        (task queues) gets a fresh session per loop, the previous one closed when its loop
        shut down (`_close_with_loop`), or its sockets closed here; two loops running
        at once is an error.
        """
        old = self._loop
        if old is not None:
            if not old.is_closed() and old.is_running():
                raise ClientLoopError(
                    "this SinchClient is in use by another running event loop; "
                    "create one client per loop (thread)"
                )
            if self._session is not None:
                if not self._owns_session:
                    raise ClientLoopError(
                        "the borrowed aiohttp session belongs to an event loop that has "
                        "stopped; pass a session created in the running loop"
                    )
                session, self._session = self._session, None
                _abandon(session)
            self._finish_keeper()
            for api in self.apis:
                api.limits.rebind()
                api.auth.rebind()
        elif self._session is not None and not self._owns_session:
            owner = getattr(self._session, "_loop", loop)
            if owner is not loop:
                raise ClientLoopError("the borrowed aiohttp session belongs to another loop")
        self._loop = loop

    def url(self, api: Api, path: str, query: Query | None = None) -> URL:
        """The encoded URL of ``path`` (relative to the API's base)."""
        if not query:
            url = api.urls.get(path)
            if url is None:
                url = URL(api.base + path, encoded=True)
                if len(api.urls) < 256:
                    api.urls[path] = url
            return url
        text = api.base + path
        qs = encode_query(query)
        if qs:
            text = f"{text}?{qs}"
        return URL(text, encoded=True)

    # --- the seam ---------------------------------------------------------------------------

    async def request(
        self,
        api: Api,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: bytes | None = None,
        content_type: str = JSON,
        cost: int = 0,
        idempotent: bool | None = None,
        options: RequestOptions | None = None,
        headers: dict[str, str] | None = None,
        name: str | None = None,
        before_write: BeforeWrite | None = None,
        attempts: Attempts | None = None,
        route: str | None = None,
        batch_id: str | None = None,
        client_reference: str | None = None,
    ) -> Response:
        """Send a request to ``api`` under its budget, the retry policy and ``options``.

        Returns the 2xx response or raises a typed error. ``cost`` is the number of
        messages the request sends (for the messages-per-second limit). ``idempotent``
        defaults to True for GET/PUT/DELETE; non-idempotent calls are retried only when
        Sinch certainly did not process them (see [`RetryPolicy`][]). ``attempts``
        bounds the attempts together with other requests sharing it.

        Each attempt takes, in this order, a concurrency slot, waits out any 429 pause,
        then takes the message budget, so the budget is only spent by a request that is
        written right away (a stalled server cannot make held budget go out in a burst).
        ``before_write`` is then awaited, immediately before every write (each retry, and
        the replay after a 401 "token expired", included): whatever it raises propagates
        unchanged, is never retried, and means the request was not written.

        ``route`` is the template ``path`` was built from (``/batches/{batch_id}``;
        default: ``path`` itself, for a path without parameters): hooks, span names and
        the operation's default name use it, never an id. ``batch_id`` and
        ``client_reference`` tell the operation ([`Operation`][]) what it is about.
        """
        if api.unavailable is not None:
            raise SinchConfigError(api.unavailable)
        session = self._session
        if (
            session is None
            or self._state is not _State.OPENED
            or self._loop is not asyncio.get_running_loop()
            or session.closed
        ):
            self._open()
        policy = self.retry
        timeout = self.default_timeout
        deadline = None
        if options is not None:
            deadline = options.deadline
            if options.timeouts is not None:
                timeout = client_timeout(options.timeouts)
            if options.retry is not None:
                policy = options.retry
        url = None if query else api.urls.get(path)
        call = _Call(
            api,
            method,
            self.url(api, path, query) if url is None else url,
            api.base + path,
            path if route is None else route,
            body,
            content_type,
            timeout,
            cost,
            headers if headers is not None else self.base_headers,
            before_write,
            attempts,
            policy.max_retry_after if 429 in policy.retry_statuses else math.inf,
        )
        tries = policy.max_attempts
        if attempts is not None and attempts.left < tries:
            tries = max(1, attempts.left)
        key = (policy, method in _IDEMPOTENT if idempotent is None else idempotent, tries)
        run = self._loops.get(key)
        if run is None:
            run = self._retry_loop(*key)
        try:
            op = _CURRENT.get()
            if op is None:
                if not (self.hooks or deadline):
                    return await run(call)  # the common case: nothing else to do
                with self.operation(
                    name or f"{method} {call.route}",
                    deadline,
                    batch_id=batch_id,
                    client_reference=client_reference,
                ) as op:
                    if op is None or op.deadline_at is None:
                        return await run(call)
                    return await self._within_deadline(run, call, op.deadline_at)
            if batch_id is not None or client_reference is not None:
                _fill(op, batch_id, client_reference)
            if op.deadline_at is None:
                return await run(call)
            return await self._within_deadline(run, call, op.deadline_at)
        except _WriteRefused as refused:
            error = refused.error
        raise error  # outside the except block: the caller's exception, as it was raised

    async def _within_deadline(
        self, run: Callable[[_Call], Awaitable[Response]], call: _Call, deadline_at: float
    ) -> Response:
        clock = self.clock
        left = deadline_at - clock.monotonic()
        try:
            if self._system_clock:
                async with asyncio.timeout(left):
                    return await run(call)
            # Another clock (FakeClock): the deadline passes when that clock says so.
            async with asyncio.timeout(None) as timeout:
                loop = asyncio.get_running_loop()
                timer = call_later(clock, left, lambda: timeout.reschedule(loop.time()))
                try:
                    return await run(call)
                finally:
                    timer.cancel()
        except SinchError:
            raise
        except TimeoutError as exc:
            log.warning(
                "%s %s: deadline passed",
                call.method,
                call.shown,
                extra={
                    "sinch_method": call.method,
                    "sinch_url": call.shown,
                    "sinch_route": call.route,
                    "sinch_event": "deadline",
                },
            )
            raise SinchTimeoutError(
                f"{call.method} {call.shown}: deadline of the call passed",
                method=call.method,
                url=call.shown,
                may_have_reached_sinch=call.in_flight,
            ) from exc

    def _retry_loop(
        self, policy: RetryPolicy, idempotent: bool, tries: int
    ) -> Callable[[_Call], Awaitable[Response]]:
        """``_attempt`` inside the retry loop for this policy (cached)."""
        run = retrying(
            self._attempt,
            policy,
            idempotent=idempotent,
            sleep=self.clock.sleep,
            on_retry=self._on_retry,
            on_giveup=lambda details: self._on_giveup(details, policy, idempotent),
            max_tries=tries,
        )
        if len(self._loops) < 64:
            self._loops[(policy, idempotent, tries)] = run
        return run

    def _on_retry(self, details: Details, wait: float) -> None:
        exc = details.get("exception")
        call: _Call = details["args"][0]
        if isinstance(exc, RateLimitError) and exc.retry_after is None:
            # Without Retry-After the backoff wait is the pause: hold the API's requests.
            call.api.limits.pause(wait, cause=exc)
        op = _CURRENT.get()
        attempt = op.attempts if op is not None else int(details.get("tries") or 0)
        log.info(
            "%s %s: retrying in %.2fs after %s (attempt %d)",
            call.method,
            call.shown,
            wait,
            type(exc).__name__,
            attempt,
            extra={
                "sinch_method": call.method,
                "sinch_url": call.shown,
                "sinch_route": call.route,
                "sinch_status": getattr(exc, "status", None),
                "sinch_attempt": attempt,
                "sinch_wait": wait,
                "sinch_event": "retry",
            },
        )
        if op is not None:
            self.emit(
                "retry",
                op,
                method=call.method,
                url=call.shown,
                route=call.route,
                resend_count=call.sent - 1,
                request_id=id(call),
                attempt=attempt,
                error=exc,
                wait=wait,
            )

    def _on_giveup(self, details: Details, policy: RetryPolicy, idempotent: bool) -> None:
        """The end of a request that was retried and still failed.

        WARNING ``give_up`` only when it failed for a transient reason: out of attempts on
        a failure worth retrying, or a 429 whose ``Retry-After`` is too long to wait. A
        definite answer after a retry (a 404 after a 503) or a failure that must not be
        repeated (a send's ambiguous 5xx, which reconciliation takes over) is the
        caller's to report: INFO ``retry_end``.

        A 429 whose ``Retry-After`` is longer than ``max_retry_after`` is a give-up even on
        the first attempt: the call fails with it while the other requests stay paused."""
        tries = int(details.get("tries") or 0)
        exc = details.get("exception")
        call: _Call = details["args"][0]
        if (
            isinstance(exc, RateLimitError)
            and exc.retry_after is not None
            and exc.retry_after > call.max_retry_after
            and not getattr(exc, "no_retry", False)
        ):
            self._too_long(call, exc, exc.retry_after, tries)
            return
        if tries < 2:
            return  # failed at once: not retried, so nothing was given up
        transient = isinstance(exc, RateLimitError) or (
            isinstance(exc, Exception) and policy.should_retry(exc, idempotent=idempotent)
        )
        extra = {
            "sinch_method": call.method,
            "sinch_url": call.shown,
            "sinch_route": call.route,
            "sinch_status": getattr(exc, "status", None),
            "sinch_attempt": tries,
            "sinch_event": "give_up" if transient else "retry_end",
        }
        if transient:
            log.warning(
                "%s %s: giving up after %d attempts: %s",
                call.method,
                call.shown,
                tries,
                type(exc).__name__,
                extra=extra,
            )
        else:
            log.info(
                "%s %s: %s after %d attempts, not retried",
                call.method,
                call.shown,
                type(exc).__name__,
                tries,
                extra=extra,
            )

    def _too_long(self, call: _Call, exc: RateLimitError, asked: float, tries: int) -> None:
        """WARNING ``give_up``: a 429 asked for longer than the request may wait."""
        limits = call.api.limits
        paused = limits.paused_for
        if limits.pause_scope == "off" or paused <= 0:
            held = f"other requests not paused (pause_scope {limits.pause_scope})"
        else:
            held = f"other requests paused {paused:.2f}s (pause_scope {limits.pause_scope})"
        log.warning(
            "%s %s: Sinch asked to wait %gs (Retry-After), more than max_retry_after %gs: "
            "request failed%s; %s",
            call.method,
            call.shown,
            asked,
            call.max_retry_after,
            f" after {tries} attempts" if tries > 1 else "",
            held,
            extra={
                "sinch_method": call.method,
                "sinch_url": call.shown,
                "sinch_route": call.route,
                "sinch_status": exc.status,
                "sinch_attempt": tries,
                "sinch_wait": paused,
                "sinch_event": "give_up",
            },
        )

    async def _attempt(self, call: _Call) -> Response:
        """One try: take a slot, wait out a 429 pause, get the Authorization, take the
        message budget, run ``before_write``, send, read the response.

        The slot comes first so that the budget is only taken by a request about to be
        written: budget taken by requests queued for a slot would all leave together when
        a stalled server frees its slots, a burst over the limit.

        A 401 whose ``WWW-Authenticate`` says the token expired is replayed once with a
        fresh token (Sinch did not process it, so this is safe even for a send): part of
        the attempt, not a retry.
        """
        if self._state is _State.CLOSED:  # closed while this call waited to retry
            raise ClientClosedError("this SinchClient was closed while the call was pending")
        session = self._session
        assert session is not None
        api = call.api
        limits = api.limits
        auth = api.auth
        slots = limits.slots
        if slots is not None:
            await slots.acquire()
        try:
            # In-process: no awaits unless paused or rate-limited.
            if limits.resume_at and limits.paused_for > 0:
                await limits.wait_unpaused()
            authorization = auth.static
            if authorization is None:
                authorization = await self._authorize(auth)
            if limits.shared is None:
                if call.cost and limits.rate_limiter is not None:
                    await limits.acquire_messages(call.cost)
            else:  # a limiter shared between processes: its pause holds every request
                await limits.acquire_shared(call.cost)
            replayed = False
            while True:
                if call.before_write is not None:
                    try:
                        await call.before_write()
                    except Exception as exc:
                        raise _WriteRefused(exc) from None
                if call.attempts is not None:
                    call.attempts.left -= 1
                # --- the write and the read ---
                method, shown = call.method, call.shown
                headers = dict(call.headers)
                headers["Authorization"] = authorization
                if call.body is not None:
                    headers["Content-Type"] = call.content_type
                call.sent += 1
                op = _CURRENT.get()
                if op is not None:
                    op.attempts += 1
                    if self.hooks:
                        self.emit(
                            "request",
                            op,
                            method=method,
                            url=shown,
                            route=call.route,
                            resend_count=call.sent - 1,
                            request_id=id(call),
                            attempt=op.attempts,
                        )
                    else:
                        op = None  # nobody listens: skip building events below
                started = time.perf_counter()
                wall = self._wall
                sent = wall()
                call.in_flight = True
                try:
                    async with session.request(
                        method,
                        call.url,
                        data=call.body,
                        headers=headers,
                        allow_redirects=False,
                        timeout=call.timeout,
                    ) as resp:
                        api.sinch_clock.observe(resp.headers.get("Date"), sent, wall())
                        data = await resp.read()
                        status = resp.status
                        # aiohttp's case-insensitive view: no copy, and "retry-after" is
                        # found however the server spells it.
                        resp_headers: Mapping[str, str] = resp.headers
                except BaseException as exc:
                    error = self._transport_error(exc, session, method, shown)
                    if op is not None:
                        self.emit(
                            "error",
                            op,
                            method=method,
                            url=shown,
                            route=call.route,
                            resend_count=call.sent - 1,
                            request_id=id(call),
                            attempt=op.attempts,
                            error=error or exc,
                            elapsed=time.perf_counter() - started,
                        )
                    if error is None:
                        # Cancelled (the call's deadline, the caller): the request may be
                        # out there, so in_flight stays set for the deadline's error.
                        raise
                    call.in_flight = False
                    raise error from exc
                call.in_flight = False
                if op is not None or log.isEnabledFor(logging.DEBUG):
                    self._answered(op, call, status, time.perf_counter() - started)
                # --- a 401 "token expired": once more with a fresh token ---
                if (
                    status == 401
                    and not replayed
                    and (call.attempts is None or call.attempts.left > 0)
                    and "expired" in resp_headers.get("WWW-Authenticate", "").lower()
                    and auth.invalidate(authorization)
                ):
                    log.debug("%s %s -> 401 token expired; refreshing once", method, shown)
                    replayed = True
                    authorization = await self._authorize(auth)
                    continue
                break
        finally:
            if slots is not None:
                slots.release()
        if status >= 300:  # redirects are never followed: a 3xx is an error too
            error = api_error(status, call.method, call.shown, resp_headers, data)
            if isinstance(error, RateLimitError) and error.retry_after is not None:
                # the limiter logs the pause (at INFO, with its scope); a Retry-After longer
                # than the request's max_retry_after fails the request (give_up) and only
                # holds the others
                asked = error.retry_after
                limits.pause(
                    min(asked, self.retry.max_retry_after),
                    cause=error,
                    failed=asked if asked > call.max_retry_after else None,
                )
            raise error
        return Response(status=status, headers=resp_headers, body=data)

    def _answered(self, op: Operation | None, call: _Call, status: int, elapsed: float) -> None:
        """Hooks and the debug log of one response."""
        method, shown = call.method, call.shown
        if op is not None:
            self.emit(
                "response",
                op,
                method=method,
                url=shown,
                route=call.route,
                resend_count=call.sent - 1,
                request_id=id(call),
                attempt=op.attempts,
                status=status,
                elapsed=elapsed,
            )
        log.debug(
            "%s %s -> %s (%.1f ms)",
            method,
            shown,
            status,
            elapsed * 1000,
            extra={
                "sinch_method": method,
                "sinch_url": shown,
                "sinch_route": call.route,
                "sinch_status": status,
            },
        )

    async def _authorize(self, auth: Auth) -> str:
        """The Authorization header from ``auth`` (a token request, through this engine).

        The token request is an operation of its own (it serves every request waiting for
        the token) with its own retries: when it fails for good (5xx, 429, transport) the
        API request was not sent, and is not retried on top: [`TokenEndpointError`][].
        """
        token = _CURRENT.set(None)
        try:
            return await auth.authorization(self)
        except (SinchTransportError, SinchAPIError) as exc:
            if isinstance(exc, SinchAPIError) and exc.status < 500 and exc.status != 429:
                raise  # wrong keys (401), refused (403): the caller's to see as they are
            wrapped = TokenEndpointError(
                f"token endpoint failed, request not sent: {exc}",
                url=getattr(exc, "url", ""),
                cause=exc,
            )
            wrapped.no_retry = True  # the token endpoint had its own retries
            raise wrapped from exc
        finally:
            _CURRENT.reset(token)

    def _transport_error(
        self, exc: BaseException, session: aiohttp.ClientSession, method: str, shown: str
    ) -> SinchError | None:
        """Our typed error for what aiohttp raised (None: let it propagate as it is)."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return SinchTimeoutError(
                f"{method} {shown}: connect timeout",
                method=method,
                url=shown,
                may_have_reached_sinch=False,
            )
        if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
            return SinchTimeoutError(
                f"{method} {shown}: timed out waiting for Sinch",
                method=method,
                url=shown,
                may_have_reached_sinch=True,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return SinchConnectionError(
                f"{method} {shown}: cannot connect ({exc.os_error or exc})",
                method=method,
                url=shown,
                may_have_reached_sinch=False,
            )
        if isinstance(exc, aiohttp.ClientError):
            return SinchConnectionError(
                f"{method} {shown}: connection failed ({type(exc).__name__}: {exc})",
                method=method,
                url=shown,
                may_have_reached_sinch=True,
            )
        if isinstance(exc, OSError):
            return SinchTransportError(
                f"{method} {shown}: {exc}", method=method, url=shown, may_have_reached_sinch=True
            )
        if isinstance(exc, RuntimeError) and (self._state is _State.CLOSED or session.closed):
            return ClientClosedError(f"{method} {shown}: the client was closed during the request")
        return None

    async def aclose(self) -> None:
        """Close the owned aiohttp session (a borrowed one stays open). Idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        _OWNED.discard(self)
        session, self._session = self._session, None
        if self._owns_session and session is not None:
            loop = self._loop
            if loop is not None and loop is not asyncio.get_running_loop() and loop.is_closed():
                _abandon(session)  # its loop is gone: closed here, without it
            else:
                await session.close()
        self._finish_keeper()


class Session:
    """What resources hold: the client's `Engine` and one of its APIs, seen through
    one set of `RequestOptions` (``client.with_options(...)`` makes another view)."""

    __slots__ = (
        "_headers",
        "_options",
        "api",
        "clock",
        "engine",
        "options",
        "retry_policy",
        "sinch_clock",
    )

    def __init__(self, engine: Engine, api: Api, options: RequestOptions | None = None) -> None:
        self.engine = engine
        self.api = api
        self.options = opts = options or RequestOptions()
        extra = dict(opts.headers)
        self._headers = {**engine.base_headers, **extra} if extra else engine.base_headers
        self._options = opts if (opts.timeouts or opts.retry or opts.deadline) else None
        #: The retry policy of this view's calls.
        self.retry_policy: RetryPolicy = opts.retry or engine.retry
        #: The clock this client waits on (``SinchClient(clock=...)``).
        self.clock: Clock = engine.clock
        #: Sinch's clock as learnt from this API's responses (shared by every view).
        self.sinch_clock: SinchClock = api.sinch_clock

    @property
    def closed(self) -> bool:
        return self.engine.closed

    @property
    def base(self) -> str:
        """The API's base URL (``{origin}/xms/v1/{owner_id}`` for SMS)."""
        return self.api.base

    @property
    def limits(self) -> Limits:
        """The API's budget."""
        return self.api.limits

    def with_options(self, options: RequestOptions) -> Session:
        return Session(self.engine, self.api, self.options.merged(options))

    def for_api(self, api: Api) -> Session:
        """The same engine and options, for another API."""
        return Session(self.engine, api, self.options)

    def check(self) -> None:
        """Raise [`SinchConfigError`][] now if this client cannot call the API."""
        self.api.check()

    def operation(
        self, name: str, *, batch_id: str | None = None, client_reference: str | None = None
    ) -> _Scope | _NoScope:
        """Make everything awaited inside one SDK-level operation (hooks, deadline), about
        ``batch_id`` / ``client_reference`` when known ([`Operation`][])."""
        deadline = self.options.deadline
        if deadline is None and not self.engine.hooks:
            return _NO_SCOPE
        return _Scope(self.engine, name, deadline, batch_id, client_reference)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: bytes | None = None,
        content_type: str = JSON,
        cost: int = 0,
        idempotent: bool | None = None,
        name: str | None = None,
        before_write: BeforeWrite | None = None,
        attempts: Attempts | None = None,
        route: str | None = None,
        batch_id: str | None = None,
        client_reference: str | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """See `Engine.request` (returns its coroutine: one frame less per call)."""
        return self.engine.request(
            self.api,
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            cost=cost,
            idempotent=idempotent,
            options=self._options,
            headers=self._headers,
            name=name,
            before_write=before_write,
            attempts=attempts,
            route=route,
            batch_id=batch_id,
            client_reference=client_reference,
        )

    async def call(
        self,
        method: str,
        path: str,
        cast_to: type[T] | Cast[T],
        *,
        query: Query | None = None,
        body: bytes | None = None,
        cost: int = 0,
        idempotent: bool | None = None,
        name: str | None = None,
        before_write: BeforeWrite | None = None,
        route: str | None = None,
        batch_id: str | None = None,
        client_reference: str | None = None,
    ) -> T:
        """`request`, then the body decoded into ``cast_to`` by the API's codec (a
        typed error if it cannot be). ``Cast(Union)`` for a target that is not a class.
        ``route``: the template ``path`` was built from (see `Engine.request`)."""
        resp = await self.request(
            method,
            path,
            query=query,
            body=body,
            cost=cost,
            idempotent=idempotent,
            name=name,
            before_write=before_write,
            route=route,
            batch_id=batch_id,
            client_reference=client_reference,
        )
        target = cast_to.target if isinstance(cast_to, Cast) else cast_to
        result: T = self.api.decode(resp.body, target, status=resp.status)
        return result

    async def page(self, path: str, key: str, item: Any, query: Mapping[str, QueryValue]) -> Any:
        """One page of an SMS list endpoint, decoded (``page`` defaults to the one asked
        for)."""
        reference = query.get("client_reference")
        resp = await self.request(
            "GET",
            path,
            query=query,
            name=f"{key}.list",
            client_reference=reference if isinstance(reference, str) else None,
        )
        page = query.get("page", 0)
        return decode_page(
            resp.body,
            key,
            item,
            status=resp.status,
            default_page=page if isinstance(page, int) and not isinstance(page, bool) else 0,
        )


#: Engines with an owned session open: at exit, those whose loop is closed drop it.
_OWNED: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _drop_dead_sessions() -> None:
    for engine in list(_OWNED):
        engine._drop_dead_session()


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session whose event loop has stopped (it cannot be closed from another loop).

    When that loop is closed its connections cannot close themselves (that takes the
    loop): their sockets are closed here, and the transports marked closed so that they do
    not warn when collected."""
    connector = session.connector
    session.detach()
    owner = getattr(connector, "_loop", None)
    if owner is not None and owner.is_closed():
        try:
            for transport in _transports(connector):
                _close_dead_transport(transport)
        except Exception:  # pragma: no cover - best effort on a dead loop
            log.debug("could not close the sockets of a closed loop", exc_info=True)
    close = getattr(connector, "_close", None)  # sync part of close(): marks it closed
    if close is not None:
        try:
            close()
        except Exception:  # pragma: no cover - best effort on a dead loop
            log.debug("could not close a connector of a stopped loop", exc_info=True)


def _transports(connector: object) -> list[Any]:
    """The transports of ``connector``'s connections, idle and in use (aiohttp's own
    attributes: there is no public way to reach them)."""
    protocols: list[Any] = [
        proto for idle in getattr(connector, "_conns", {}).values() for proto, _ in idle
    ]
    protocols.extend(getattr(connector, "_acquired", ()))
    return [t for p in protocols if (t := getattr(p, "transport", None)) is not None]


def _close_dead_transport(transport: Any) -> None:
    """Close the socket under ``transport``, whose loop is closed (a transport closes its
    socket through its loop), and mark it closed (else it warns "unclosed transport")."""
    ssl = getattr(transport, "_ssl_protocol", None)
    if ssl is not None:  # TLS: the transport seen by the protocol, over the socket's
        transport._closed = True
        transport = getattr(ssl, "_transport", None)
    sock = getattr(transport, "_sock", None)
    if sock is not None:
        transport._sock = None
        sock.close()
