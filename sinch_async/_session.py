"""The request engine: one place that turns a call into HTTP and HTTP into a result or error."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import attrs
import backoff
from yarl import URL

from . import _constants as C
from ._config import Secret, Timeouts
from ._errors import (
    ClientClosedError,
    ClientLoopError,
    RateLimitError,
    SinchAPIError,
    SinchConnectionError,
    SinchTimeoutError,
    SinchTransportError,
    TokenEndpointError,
    api_error_for_status,
)
from ._limits import Limits
from ._retry import RetryPolicy
from ._wire import QueryValue, build_query, parse_error_body, parse_retry_after

__all__ = ["Auth", "Response", "ServicePlanAuth", "Session"]

log = logging.getLogger("sinch_async")


class Auth(Protocol):
    """Supplies the path prefix owner (plan or project id) and the Authorization header."""

    @property
    def owner_id(self) -> str: ...

    async def authorization(self, session: aiohttp.ClientSession) -> str: ...

    def invalidate(self, header: str) -> bool:
        """Drop ``header`` after Sinch said it expired; True if a fresh one can be fetched."""
        ...

    def rebind(self) -> None:
        """Forget loop-bound state (locks) when the client moves to a new event loop."""
        ...


@attrs.frozen(repr=False)
class ServicePlanAuth:
    """Service plan id + API token (``Authorization: Bearer <token>``)."""

    service_plan_id: str
    api_token: Secret

    @property
    def owner_id(self) -> str:
        return self.service_plan_id

    async def authorization(self, session: aiohttp.ClientSession) -> str:
        return f"Bearer {self.api_token.reveal()}"

    def invalidate(self, header: str) -> bool:
        return False  # a static token cannot be refreshed

    def rebind(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"ServicePlanAuth(service_plan_id={self.service_plan_id!r}, api_token=********)"


@attrs.frozen
class Response:
    """A successful HTTP response, body fully read."""

    status: int
    headers: Mapping[str, str]
    body: bytes


_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class Session:
    """Owns (or borrows) the aiohttp session and performs requests.

    The aiohttp session is created lazily inside the running event loop on first use.
    A borrowed session is never closed by us.
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
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._base = f"{base_url}{C.API_PATH}/{auth.owner_id}"
        self._auth = auth
        self._timeouts = timeouts
        self._default_timeout = self._client_timeout(timeouts)
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._user_agent = user_agent
        self._state = _State.UNOPENED
        self._limits = limits or Limits()
        self._retry = RetryPolicy() if retry is None else retry
        self._retry_cache: dict[tuple[RetryPolicy, bool], Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def base(self) -> str:
        """``{origin}/xms/v1/{owner_id}``."""
        return self._base

    def _client_timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        # ``connect`` bounds opening a new socket (sock_connect), not every request's wait for
        # a pooled connection, which ``total`` covers: one timer per request instead of three.
        return aiohttp.ClientTimeout(
            total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
        )

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this SinchClient is closed; create a new one")
        loop = asyncio.get_running_loop()  # refuse to build a session outside a loop
        if loop is not self._loop:
            self._move_to(loop)
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._default_timeout,
                headers={"User-Agent": self._user_agent},
            )
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
            self._limits.rebind()
            self._auth.rebind()
        elif self._session is not None and not self._owns_session:
            owner = getattr(self._session, "_loop", loop)
            if owner is not loop:
                raise ClientLoopError("the borrowed aiohttp session belongs to another loop")
        self._loop = loop

    def url(self, path: str, query: Mapping[str, QueryValue] | None = None) -> URL:
        """The encoded URL for an API path (relative to ``/xms/v1/{owner}``)."""
        text = self._base + path
        if query:
            qs = build_query(query)
            if qs:
                text = f"{text}?{qs}"
        return URL(text, encoded=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        body: bytes | None = None,
        timeouts: Timeouts | None = None,
        cost: int = 0,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> Response:
        """Send a request under the client's limits and retry policy.

        Returns the 2xx response or raises a typed error. ``cost`` is the number of
        messages the request sends (for the messages-per-second limit). ``idempotent``
        defaults to True for GET/PUT/DELETE; non-idempotent calls are retried only when
        Sinch certainly did not process them (see :class:`RetryPolicy`).
        """
        session = self._ensure_session()
        url = self.url(path, query)
        shown = f"{self._base}{path}"
        # Always per request, so a borrowed session gets our timeouts too.
        timeout = self._default_timeout if timeouts is None else self._client_timeout(timeouts)
        policy = self._retry if retry is None else retry
        if policy.max_attempts == 1:
            return await self._attempt(session, method, url, shown, body, timeout, cost)
        idem = method in _IDEMPOTENT if idempotent is None else idempotent
        try:  # the first try goes straight through: nothing to pay when nothing fails
            return await self._attempt(session, method, url, shown, body, timeout, cost)
        except (SinchAPIError, SinchTransportError) as exc:
            if not policy.should_retry(exc, idempotent=idem):
                raise
            waits = policy.waits()
            next(waits)
            wait = waits.send(exc)
            self._on_backoff({"exception": exc, "wait": wait, "tries": 1})
        await asyncio.sleep(wait)
        attempt = self._retrying(policy, idem)
        response: Response = await attempt(session, method, url, shown, body, timeout, cost)
        return response

    def _retrying(self, policy: RetryPolicy, idempotent: bool) -> Any:
        """``_attempt`` wrapped by ``backoff`` for this policy (built once, then cached)."""
        key = (policy, idempotent)
        wrapped = self._retry_cache.get(key)
        if wrapped is None:
            # The first try happened in request(); backoff runs the remaining ones, its
            # waits continuing the same exponential schedule (from attempt 1).
            wrapped = backoff.on_exception(
                lambda: policy.waits(first_attempt=1),
                (SinchAPIError, SinchTransportError),
                max_tries=policy.max_attempts - 1,
                giveup=lambda exc: not policy.should_retry(exc, idempotent=idempotent),
                jitter=None,
                on_backoff=self._on_backoff,
                logger=None,
            )(self._attempt)
            if len(self._retry_cache) < 32:
                self._retry_cache[key] = wrapped
        return wrapped

    def _on_backoff(self, details: Any) -> None:
        exc = details.get("exception")
        if isinstance(exc, RateLimitError):
            # Without Retry-After the backoff wait is the pause: hold every request.
            self._limits.pause(float(details.get("wait") or 0.0))
        log.debug(
            "retrying in %.2fs after %s (attempt %s)",
            details.get("wait") or 0.0,
            type(exc).__name__,
            details.get("tries"),
        )

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        shown: str,
        body: bytes | None,
        client_timeout: aiohttp.ClientTimeout,
        cost: int,
    ) -> Response:
        """One try: wait out a 429 pause, take the message budget and a slot, send.

        A 401 whose ``WWW-Authenticate`` says the token expired is replayed once with a
        fresh token (Sinch did not process it, so this is safe even for a send).
        """
        if self._state is _State.CLOSED:  # closed while this call waited to retry
            raise ClientClosedError("this SinchClient was closed while the call was pending")
        limits = self._limits
        if limits.paused_for > 0:
            await limits.wait_unpaused()
        if cost and limits.rate_limiter is not None:
            await limits.acquire_messages(cost)
        async with limits.slot():
            for auth_try in (1, 2):
                authorization = await self._authorization(session)
                status, resp_headers, data = await self._send(
                    session, method, url, shown, authorization, body, client_timeout
                )
                if (
                    status == 401
                    and auth_try == 1
                    and "expired" in resp_headers.get("WWW-Authenticate", "").lower()
                    and self._auth.invalidate(authorization)
                ):
                    log.debug("%s %s -> 401 token expired; refreshing once", method, shown)
                    continue
                break
        if status >= 300:  # redirects are never followed: a 3xx is an error too
            error = _api_error(status, method, shown, resp_headers, data)
            if isinstance(error, RateLimitError) and error.retry_after is not None:
                limits.pause(min(error.retry_after, self._retry.max_retry_after))
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
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        shown: str,
        authorization: str,
        body: bytes | None,
        client_timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = {"Authorization": authorization, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=client_timeout,
            ) as resp:
                data = await resp.read()
                status = resp.status
                # aiohttp's case-insensitive view: no copy, and "retry-after" is found
                # however the server spells it.
                resp_headers: Mapping[str, str] = resp.headers
        except aiohttp.ConnectionTimeoutError as exc:
            raise SinchTimeoutError(
                f"{method} {shown}: connect timeout",
                method=method,
                url=shown,
                may_have_reached_sinch=False,
            ) from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise SinchTimeoutError(
                f"{method} {shown}: timed out waiting for Sinch",
                method=method,
                url=shown,
                may_have_reached_sinch=True,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise SinchConnectionError(
                f"{method} {shown}: cannot connect ({exc.os_error or exc})",
                method=method,
                url=shown,
                may_have_reached_sinch=False,
            ) from exc
        except aiohttp.ClientError as exc:
            raise SinchConnectionError(
                f"{method} {shown}: connection failed ({type(exc).__name__}: {exc})",
                method=method,
                url=shown,
                may_have_reached_sinch=True,
            ) from exc
        except OSError as exc:
            raise SinchTransportError(
                f"{method} {shown}: {exc}", method=method, url=shown, may_have_reached_sinch=True
            ) from exc
        except RuntimeError as exc:
            if self._state is _State.CLOSED or session.closed:
                raise ClientClosedError(
                    f"{method} {shown}: the client was closed during the request"
                ) from exc
            raise
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %s (%.1f ms)", method, shown, status, elapsed)
        return status, resp_headers, data

    async def aclose(self) -> None:
        """Close the owned aiohttp session (a borrowed one stays open). Idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


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


def _api_error(
    status: int, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> Exception:
    code, text = parse_error_body(body)
    cls = api_error_for_status(status)
    if cls is RateLimitError:
        error = RateLimitError(
            status,
            code,
            text,
            method=method,
            url=url,
            headers=headers,
            body=body,
        )
        # read from the error's case-insensitive copy, whoever built ``headers``
        error.retry_after = parse_retry_after(error.headers.get("Retry-After"))
        return error
    return cls(status, code, text, method=method, url=url, headers=headers, body=body)
