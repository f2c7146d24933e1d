"""The request engine: the one seam every call goes through.

Resources, pagers, per-call options (:class:`RequestOptions`), hooks and logs all meet in
:meth:`Engine.request`: method, path, query, body, cost (messages, for the rate limit),
idempotency and options in; a :class:`Response` (or a decoded record, through
:meth:`Session.call`) or a typed :class:`SinchError` out. Retries run on ``backoff`` via
:func:`_retry.retrying`, the same loop the OAuth2 token endpoint uses.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiohttp
import attrs
from yarl import URL

from . import _constants as C
from ._auth import Auth
from ._clock import SinchClock
from ._config import Timeouts
from ._converter import decode, decode_page
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
from ._wire import QueryValue, api_error, build_query

__all__ = [
    "Engine",
    "Hook",
    "HookEvent",
    "Operation",
    "RequestOptions",
    "Response",
    "Session",
]

log = logging.getLogger("sinch_async")
T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


@attrs.frozen(kw_only=True)
class RequestOptions:
    """Per-call settings (``client.with_options(...)``); ``None`` means the client's own.

    ``deadline`` (seconds) bounds a whole SDK call: every attempt, retry wait and 429
    pause inside it (a send's reconciliation included); when it passes, the call raises
    :class:`SinchTimeoutError`. ``headers`` are added to every request.
    """

    timeouts: Timeouts | None = None
    retry: RetryPolicy | None = None
    deadline: float | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.deadline is not None and (
            isinstance(self.deadline, bool)
            or not isinstance(self.deadline, int | float)
            or not self.deadline > 0
        ):
            raise SinchConfigError("deadline must be a positive number of seconds")

    def merged(self, other: RequestOptions) -> RequestOptions:
        """``other`` over ``self`` (headers combined)."""
        return RequestOptions(
            timeouts=other.timeouts or self.timeouts,
            retry=other.retry or self.retry,
            deadline=other.deadline or self.deadline,
            headers=self.headers + other.headers,
        )


@attrs.frozen
class Response:
    """A successful HTTP response, body fully read."""

    status: int
    headers: Mapping[str, str]
    body: bytes


_OP_IDS = itertools.count(1)


class Operation:
    """One SDK-level call (``batches.send`` with its retries and reconciliation, one page
    fetch, ...). Hooks receive it with every event; ``data`` is theirs to keep state in
    (a tracing span, a timer)."""

    __slots__ = ("attempts", "data", "deadline_at", "id", "name", "started")

    def __init__(self, name: str, deadline_at: float | None) -> None:
        self.id = next(_OP_IDS)
        self.name = name
        self.deadline_at = deadline_at
        self.started = time.perf_counter()
        self.attempts = 0
        self.data: dict[str, Any] = {}

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

    ``url`` never carries credentials (they travel in headers).
    """

    kind: EventKind
    operation: Operation
    method: str | None = None
    url: str | None = None
    attempt: int = 0
    status: int | None = None
    error: BaseException | None = None
    wait: float | None = None
    elapsed: float | None = None


Hook = Callable[[HookEvent], None]

_CURRENT: ContextVar[Operation | None] = ContextVar("sinch_async_operation", default=None)


class _Scope:
    """``with engine.operation(...)``: the operation of everything awaited inside (nested
    scopes join the outer one)."""

    __slots__ = ("_engine", "_op", "_token")

    def __init__(self, engine: Engine, name: str, deadline: float | None) -> None:
        self._engine = engine
        self._token: Any = None
        if _CURRENT.get() is None:
            deadline_at = None
            if deadline is not None:
                deadline_at = asyncio.get_running_loop().time() + deadline
            self._op: Operation | None = Operation(name, deadline_at)
        else:
            self._op = None

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


class _NoScope:
    """Stands in for :class:`_Scope` when there is nothing to track."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SCOPE = _NoScope()


BeforeWrite = Callable[[], Awaitable[None]]


class _WriteRefused(Exception):
    """Carries what a ``before_write`` callback raised past the retry loop, the deadline
    and the transport error mapping; :meth:`Engine._request` raises ``error`` itself."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _Call:
    """The values one request carries through its attempts."""

    __slots__ = (
        "before_write",
        "body",
        "cost",
        "headers",
        "in_flight",
        "method",
        "shown",
        "timeout",
        "url",
    )

    def __init__(
        self,
        method: str,
        url: URL,
        shown: str,
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
        cost: int,
        headers: dict[str, str],
        before_write: BeforeWrite | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.shown = shown
        self.body = body
        self.timeout = timeout
        self.cost = cost
        self.headers = headers
        self.before_write = before_write
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
    """Owns (or borrows) the aiohttp session, the limits, auth and hooks of one client.

    The aiohttp session is created lazily inside the running event loop on first use and
    belongs to that loop; a borrowed session is never closed by us.
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth,
        timeouts: Timeouts,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
        user_agent: str = C.USER_AGENT,
        default_headers: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        hooks: Iterable[Hook] = (),
    ) -> None:
        self.base = f"{base_url}{C.API_PATH}/{auth.owner_id}"
        self._auth = auth
        self.timeouts = timeouts
        self.default_timeout = client_timeout(timeouts)
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self.base_headers: dict[str, str] = {
            "Accept": "application/json",
            **dict(default_headers or {}),
            "User-Agent": user_agent,  # per request: a borrowed session gets it too
        }
        self._state = _State.UNOPENED
        self.limits = limits or Limits()
        self.retry = RetryPolicy() if retry is None else retry
        self._retry_cache: dict[tuple[RetryPolicy, bool], Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.hooks: list[Hook] = list(hooks)
        self._urls: dict[str, URL] = {}  # query-less paths (a send's /batches)
        #: Sinch's clock as learnt from the ``Date`` header of every API response.
        self.sinch_clock = SinchClock()

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    # --- hooks and operations --------------------------------------------------------------

    def operation(self, name: str, deadline: float | None = None) -> _Scope | _NoScope:
        """A scope that makes everything awaited inside one operation (free when nobody
        listens and no deadline applies)."""
        if deadline is None and not self.hooks:
            return _NO_SCOPE
        return _Scope(self, name, deadline)

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

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this SinchClient is closed; create a new one")
        loop = asyncio.get_running_loop()  # refuse to build a session outside a loop
        if loop is not self._loop:
            self._move_to(loop)
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.default_timeout)
        elif self._session.closed:
            raise ClientClosedError("the aiohttp session this client uses is closed")
        self._state = _State.OPENED
        return self._session

    def _move_to(self, loop: asyncio.AbstractEventLoop) -> None:
        """Adopt ``loop``: the session and locks of a loop that has stopped are dropped.

        A client built at import time and used from successive ``asyncio.run()`` calls
        (task queues) gets a fresh session per loop; two loops running at once is an error.
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
                _abandon(self._session)
                self._session = None
            self.limits.rebind()
            self._auth.rebind()
        elif self._session is not None and not self._owns_session:
            owner = getattr(self._session, "_loop", loop)
            if owner is not loop:
                raise ClientLoopError("the borrowed aiohttp session belongs to another loop")
        self._loop = loop

    def url(self, path: str, query: Mapping[str, QueryValue] | None = None) -> URL:
        """The encoded URL for an API path (relative to ``/xms/v1/{owner}``)."""
        if not query:
            url = self._urls.get(path)
            if url is None:
                url = URL(self.base + path, encoded=True)
                if len(self._urls) < 256:
                    self._urls[path] = url
            return url
        text = self.base + path
        qs = build_query(query)
        if qs:
            text = f"{text}?{qs}"
        return URL(text, encoded=True)

    # --- the seam ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: bytes | None = None,
        cost: int = 0,
        idempotent: bool | None = None,
        options: RequestOptions | None = None,
        headers: dict[str, str] | None = None,
        name: str | None = None,
        before_write: BeforeWrite | None = None,
    ) -> Response:
        """Send a request under the client's limits, retry policy and ``options``.

        Returns the 2xx response or raises a typed error. ``cost`` is the number of
        messages the request sends (for the messages-per-second limit). ``idempotent``
        defaults to True for GET/PUT/DELETE; non-idempotent calls are retried only when
        Sinch certainly did not process them (see :class:`RetryPolicy`).

        Each attempt takes, in this order, a concurrency slot, waits out any 429 pause,
        then takes the message budget, so the budget is only spent by a request that is
        written right away (a stalled server cannot make held budget go out in a burst).
        ``before_write`` is then awaited, immediately before every write (each retry, and
        the replay after a 401 "token expired", included): whatever it raises propagates
        unchanged, is never retried, and means the request was not written.
        """
        session = self._ensure_session()
        deadline = options.deadline if options is not None else None
        if _CURRENT.get() is None and (self.hooks or deadline):
            with self.operation(name or f"{method} {path}", deadline):
                return await self._request(
                    session,
                    method,
                    path,
                    query,
                    body,
                    cost,
                    idempotent,
                    options,
                    headers,
                    before_write,
                )
        return await self._request(
            session, method, path, query, body, cost, idempotent, options, headers, before_write
        )

    async def _request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        query: Mapping[str, QueryValue] | None,
        body: bytes | None,
        cost: int,
        idempotent: bool | None,
        options: RequestOptions | None,
        headers: dict[str, str] | None,
        before_write: BeforeWrite | None,
    ) -> Response:
        timeout = self.default_timeout
        policy = self.retry
        if options is not None:
            if options.timeouts is not None:
                timeout = client_timeout(options.timeouts)
            if options.retry is not None:
                policy = options.retry
        call = _Call(
            method,
            self.url(path, query),
            f"{self.base}{path}",
            body,
            timeout,
            cost,
            headers if headers is not None else self.base_headers,
            before_write,
        )
        try:
            op = _CURRENT.get()
            if op is None or op.deadline_at is None:
                return await self._with_retries(call, policy, method, idempotent)
            return await self._within_deadline(call, policy, method, idempotent, op.deadline_at)
        except _WriteRefused as refused:
            error = refused.error
        raise error  # outside the except block: the caller's exception, as it was raised

    async def _within_deadline(
        self,
        call: _Call,
        policy: RetryPolicy,
        method: str,
        idempotent: bool | None,
        deadline_at: float,
    ) -> Response:
        try:
            async with asyncio.timeout_at(deadline_at):
                return await self._with_retries(call, policy, method, idempotent)
        except SinchError:
            raise
        except TimeoutError as exc:
            log.warning(
                "%s %s: deadline passed",
                method,
                call.shown,
                extra={"sinch_method": method, "sinch_url": call.shown, "sinch_event": "deadline"},
            )
            raise SinchTimeoutError(
                f"{method} {call.shown}: deadline of the call passed",
                method=method,
                url=call.shown,
                may_have_reached_sinch=call.in_flight,
            ) from exc

    async def _with_retries(
        self, call: _Call, policy: RetryPolicy, method: str, idempotent: bool | None
    ) -> Response:
        if policy.max_attempts == 1:
            return await self._attempt(call)
        idem = method in _IDEMPOTENT if idempotent is None else idempotent
        try:  # the first try goes straight through: nothing to pay when nothing fails
            return await self._attempt(call)
        except (SinchAPIError, SinchTransportError) as exc:
            if not policy.should_retry(exc, idempotent=idem):
                raise
            waits = policy.waits()
            next(waits)
            wait = waits.send(exc)
            self._on_backoff({"exception": exc, "wait": wait, "tries": 1, "args": (call,)})
        await asyncio.sleep(wait)
        try:
            response: Response = await self._retrying(policy, idem)(call)
        except (SinchAPIError, SinchTransportError) as exc:
            log.warning(
                "%s %s: giving up after retries: %s",
                call.method,
                call.shown,
                type(exc).__name__,
                extra={
                    "sinch_method": call.method,
                    "sinch_url": call.shown,
                    "sinch_status": getattr(exc, "status", None),
                    "sinch_event": "give_up",
                },
            )
            raise
        return response

    def _retrying(self, policy: RetryPolicy, idempotent: bool) -> Any:
        """``_attempt`` wrapped by the shared retry loop for this policy (cached)."""
        key = (policy, idempotent)
        wrapped = self._retry_cache.get(key)
        if wrapped is None:
            # The first try happened already; backoff runs the remaining ones, its waits
            # continuing the same exponential schedule (from attempt 1).
            wrapped = retrying(
                self._attempt,
                policy,
                idempotent=idempotent,
                on_backoff=self._on_backoff,
                first_attempt=1,
                max_tries=policy.max_attempts - 1,
            )
            if len(self._retry_cache) < 32:
                self._retry_cache[key] = wrapped
        return wrapped

    def _on_backoff(self, details: Any) -> None:
        exc = details.get("exception")
        wait = float(details.get("wait") or 0.0)
        call: _Call | None = (details.get("args") or (None,))[0]
        if isinstance(exc, RateLimitError) and exc.retry_after is None:
            # Without Retry-After the backoff wait is the pause: hold every request.
            self.limits.pause(wait, cause=exc)
        op = _CURRENT.get()
        attempt = op.attempts if op is not None else int(details.get("tries") or 0)
        method = call.method if call is not None else None
        shown = call.shown if call is not None else None
        log.info(
            "%s %s: retrying in %.2fs after %s (attempt %d)",
            method,
            shown,
            wait,
            type(exc).__name__,
            attempt,
            extra={
                "sinch_method": method,
                "sinch_url": shown,
                "sinch_status": getattr(exc, "status", None),
                "sinch_attempt": attempt,
                "sinch_wait": wait,
                "sinch_event": "retry",
            },
        )
        if op is not None:
            self.emit("retry", op, method=method, url=shown, attempt=attempt, error=exc, wait=wait)

    async def _attempt(self, call: _Call) -> Response:
        """One try: take a slot, wait out a 429 pause, get the Authorization, take the
        message budget, run ``before_write``, send.

        The slot comes first so that the budget is only taken by a request about to be
        written: budget taken by requests queued for a slot would all leave together when
        a stalled server frees its slots, a burst over the limit.

        A 401 whose ``WWW-Authenticate`` says the token expired is replayed once with a
        fresh token (Sinch did not process it, so this is safe even for a send).
        """
        if self._state is _State.CLOSED:  # closed while this call waited to retry
            raise ClientClosedError("this SinchClient was closed while the call was pending")
        session = self._session
        assert session is not None
        limits = self.limits
        async with limits.slot():
            # In-process: no awaits unless paused or rate-limited.
            if limits.paused_for > 0:
                await limits.wait_unpaused()
            authorization = await self._authorization(session)
            if limits.shared is None:
                if call.cost and limits.rate_limiter is not None:
                    await limits.acquire_messages(call.cost)
            else:  # a limiter shared between processes: its pause holds every request
                await limits.acquire_shared(call.cost)
            for auth_try in (1, 2):
                if call.before_write is not None:
                    try:
                        await call.before_write()
                    except Exception as exc:
                        raise _WriteRefused(exc) from None
                status, resp_headers, data = await self._send(session, call, authorization)
                if (
                    status == 401
                    and auth_try == 1
                    and "expired" in resp_headers.get("WWW-Authenticate", "").lower()
                    and self._auth.invalidate(authorization)
                ):
                    log.debug(
                        "%s %s -> 401 token expired; refreshing once", call.method, call.shown
                    )
                    authorization = await self._authorization(session)
                    continue
                break
        if status >= 300:  # redirects are never followed: a 3xx is an error too
            error = api_error(status, call.method, call.shown, resp_headers, data)
            if isinstance(error, RateLimitError) and error.retry_after is not None:
                pause = min(error.retry_after, self.retry.max_retry_after)
                if limits.pause(pause, cause=error):
                    log.info(
                        "%s %s -> 429: pausing every request for %.2fs",
                        call.method,
                        call.shown,
                        pause,
                        extra={
                            "sinch_method": call.method,
                            "sinch_url": call.shown,
                            "sinch_status": 429,
                            "sinch_wait": pause,
                            "sinch_event": "pause",
                        },
                    )
            raise error
        return Response(status=status, headers=resp_headers, body=data)

    async def _authorization(self, session: aiohttp.ClientSession) -> str:
        """The Authorization header; a token endpoint that fails leaves the API request
        unsent, so its 5xx/429/transport failures become :class:`TokenEndpointError`."""
        try:
            return await self._auth.authorization(session)
        except (SinchTransportError, SinchAPIError) as exc:
            retryable = (
                isinstance(exc, SinchTransportError) or exc.status >= 500 or (exc.status == 429)
            )
            if not retryable:
                raise
            wrapped = TokenEndpointError(
                f"token endpoint failed, request not sent: {exc}",
                url=getattr(exc, "url", ""),
                cause=exc,
            )
            wrapped.no_retry = exc.no_retry
            raise wrapped from exc

    async def _send(
        self, session: aiohttp.ClientSession, call: _Call, authorization: str
    ) -> tuple[int, Mapping[str, str], bytes]:
        method, shown = call.method, call.shown
        headers = dict(call.headers)
        headers["Authorization"] = authorization
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        op = _CURRENT.get()
        if op is not None:
            op.attempts += 1
            if self.hooks:
                self.emit("request", op, method=method, url=shown, attempt=op.attempts)
            else:
                op = None  # nobody listens: skip building events below
        started = time.perf_counter()
        sent = time.time()
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
                self.sinch_clock.observe(resp.headers.get("Date"), sent, time.time())
                data = await resp.read()
                status = resp.status
                # aiohttp's case-insensitive view: no copy, and "retry-after" is found
                # however the server spells it.
                resp_headers: Mapping[str, str] = resp.headers
        except BaseException as exc:
            error = self._transport_error(exc, session, method, shown)
            if op is not None:
                self.emit(
                    "error",
                    op,
                    method=method,
                    url=shown,
                    attempt=op.attempts,
                    error=error or exc,
                    elapsed=time.perf_counter() - started,
                )
            if error is None:
                raise
            raise error from exc
        finally:
            call.in_flight = False
        if op is not None or log.isEnabledFor(logging.DEBUG):
            elapsed = time.perf_counter() - started
            if op is not None:
                self.emit(
                    "response",
                    op,
                    method=method,
                    url=shown,
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
                extra={"sinch_method": method, "sinch_url": shown, "sinch_status": status},
            )
        return status, resp_headers, data

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
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


class Session:
    """What resources hold: the client's :class:`Engine` seen through one set of
    :class:`RequestOptions` (``client.with_options(...)`` makes another view)."""

    __slots__ = ("_headers", "engine", "options")

    def __init__(self, engine: Engine, options: RequestOptions | None = None) -> None:
        self.engine = engine
        self.options = options or RequestOptions()
        extra = dict(self.options.headers)
        self._headers = {**engine.base_headers, **extra} if extra else engine.base_headers

    @property
    def closed(self) -> bool:
        return self.engine.closed

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.options.retry or self.engine.retry

    @property
    def base(self) -> str:
        """``{origin}/xms/v1/{owner_id}``."""
        return self.engine.base

    @property
    def limits(self) -> Limits:
        return self.engine.limits

    @property
    def sinch_clock(self) -> SinchClock:
        """Sinch's clock as the engine learnt it (shared by every view of the client)."""
        return self.engine.sinch_clock

    def with_options(self, options: RequestOptions) -> Session:
        return Session(self.engine, self.options.merged(options))

    def operation(self, name: str) -> _Scope | _NoScope:
        """Make everything awaited inside one SDK-level operation (hooks, deadline)."""
        return self.engine.operation(name, self.options.deadline)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: bytes | None = None,
        cost: int = 0,
        idempotent: bool | None = None,
        name: str | None = None,
        before_write: BeforeWrite | None = None,
    ) -> Response:
        """See :meth:`Engine.request`."""
        opts = self.options
        return await self.engine.request(
            method,
            path,
            query=query,
            body=body,
            cost=cost,
            idempotent=idempotent,
            options=opts if (opts.timeouts or opts.retry or opts.deadline) else None,
            headers=self._headers,
            name=name,
            before_write=before_write,
        )

    async def call(
        self,
        method: str,
        path: str,
        result: Any,
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: bytes | None = None,
        cost: int = 0,
        idempotent: bool | None = None,
        name: str | None = None,
        before_write: BeforeWrite | None = None,
    ) -> Any:
        """:meth:`request`, then the body decoded into ``result`` (typed error if it
        cannot be)."""
        resp = await self.request(
            method,
            path,
            query=query,
            body=body,
            cost=cost,
            idempotent=idempotent,
            name=name,
            before_write=before_write,
        )
        return decode(resp.body, result, status=resp.status)

    async def page(self, path: str, key: str, item: Any, query: Mapping[str, QueryValue]) -> Any:
        """One page of a list endpoint, decoded (``page`` defaults to the one asked for)."""
        resp = await self.request("GET", path, query=query, name=f"list {key}")
        page = query.get("page", 0)
        return decode_page(
            resp.body,
            key,
            item,
            status=resp.status,
            default_page=page if isinstance(page, int) and not isinstance(page, bool) else 0,
        )


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session whose event loop has stopped (it cannot be closed from another loop)."""
    connector = session.connector
    session.detach()
    close = getattr(connector, "_close", None)  # sync part of close(): marks it closed
    if close is not None:
        try:
            close()
        except Exception:  # pragma: no cover - best effort on a dead loop
            log.debug("could not close a connector of a stopped loop", exc_info=True)
