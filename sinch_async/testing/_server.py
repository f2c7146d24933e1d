"""The HTTP side of the fake: aiohttp.web on loopback, request recording, routing, faults.

API requests live under ``/xms/v1/{owner}/...`` (routed by the ``api`` router on the path
after the owner, authenticated by the ``authenticate`` hook); anything else is routed by
the ``aux`` router on its absolute path (token endpoint, admin routes; no xms auth).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import orjson
from aiohttp import web

from ._faults import Fault, FaultSet
from ._http import RecordedRequest, Reply, RequestContext, RouteMatch, Router, call_handler
from ._util import ApiError, not_found

__all__ = ["API_PREFIX", "Server", "ServerHooks"]

API_PREFIX = "/xms/v1/"
_JSON = "application/json"
_State = Literal["new", "started", "closed"]


@dataclass
class ServerHooks:
    """What the server asks of its owner.

    ``authenticate(request, owner)`` raises ``ApiError`` to refuse an API request;
    ``around_api()`` runs before and after each authenticated API request is processed;
    ``on_aux(template)`` runs on arrival of a request routed to an auxiliary template;
    ``now()`` is the fake's clock (timestamps, and the ``Date`` header of every response).
    """

    authenticate: Callable[[web.Request, str], None]
    now: Callable[[], datetime]
    around_api: Callable[[], None]
    on_aux: Callable[[str], None]


@dataclass(frozen=True)
class _Route:
    api: bool
    owner: str | None
    path: str | None  # decoded; xms-relative for the API, absolute otherwise
    match: RouteMatch | None

    @property
    def auxiliary(self) -> bool:
        return not self.api and self.match is not None


def _url_host(host: str) -> str:
    """How a client reaches ``host``: a wildcard address through loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Server:
    """Serves ``api`` and ``aux`` routes on ``127.0.0.1``; faults and latency apply."""

    def __init__(
        self,
        api: Router,
        aux: Router,
        faults: FaultSet,
        hooks: ServerHooks,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.api = api
        self.aux = aux
        self.faults = faults
        self.hooks = hooks
        self.latency = 0.0
        #: Every request received, in arrival order (before auth, routing and faults).
        self.requests: list[RecordedRequest] = []
        self.base_url: str | None = None
        self.state: _State = "new"
        self._runner: web.AppRunner | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        #: How latency is waited (``asyncio.sleep``, or the fake's clock's ``sleep``).
        self.sleep = sleep
        #: Called with each request as it is recorded, and when a handler ends.
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self.on_done: Callable[[], None] | None = None
        self._date: tuple[int, str] = (0, "")  # (POSIX second, its Date header text)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind ``host`` on ``port`` (0: a free one) and start serving."""
        if self.state != "new":
            raise RuntimeError(f"FakeSinch cannot be started twice (state: {self.state})")
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(self._stamp_date)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        port = runner.addresses[0][1]
        self._runner = runner
        self.base_url = f"http://{_url_host(host)}:{port}"
        self.state = "started"

    async def close(self) -> None:
        """Stop serving; in-flight requests are aborted. Safe to call more than once."""
        runner, self._runner = self._runner, None
        self.state = "closed"
        if runner is None:
            return
        for task in list(self._inflight):
            task.cancel()
        await runner.cleanup()

    def http_date(self) -> str:
        """The ``Date`` header for now on the fake's clock (RFC 7231, whole seconds)."""
        now = self.hooks.now()
        second = int(now.timestamp() // 1)
        if second != self._date[0]:
            self._date = (second, format_datetime(now.replace(microsecond=0), usegmt=True))
        return self._date[1]

    async def _stamp_date(self, request: web.Request, response: web.StreamResponse) -> None:
        # aiohttp dates every response on the real clock; the fake's clock may differ.
        response.headers["Date"] = self.http_date()

    # -- request pipeline --------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            return await self._pipeline(request)
        finally:
            if task is not None:
                self._inflight.discard(task)
            if self.on_done is not None:
                self.on_done()

    @property
    def handlers(self) -> int:
        """Request handlers running now."""
        return len(self._inflight)

    def route(self, raw_path: str) -> _Route:
        owner, raw_sub = split_api_path(raw_path)
        if raw_sub is not None:
            return _Route(True, owner, unquote(raw_sub), self.api.resolve(raw_sub))
        return _Route(False, None, unquote(raw_path), self.aux.resolve(raw_path))

    async def _pipeline(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        self.requests.append(record)
        if self.on_request is not None:
            self.on_request(record)
        route = self.route(request.rel_url.raw_path)
        template = route.match.template if route.match is not None else None
        if route.auxiliary and template is not None:
            self.hooks.on_aux(template)
        method = request.method
        aux = route.auxiliary

        before = await self.faults.apply("before", method, route.path, template, auxiliary=aux)
        if before.terminal is not None:
            return await self._fault_response(request, before.terminal, before.headers)

        reply = await self._process(request, record, route)

        after = await self.faults.apply("after", method, route.path, template, auxiliary=aux)
        headers = {**before.headers, **after.headers}
        if after.terminal is not None:
            return await self._fault_response(request, after.terminal, headers)
        await self._sleep_latency()
        body = b"" if reply.body is None else orjson.dumps(reply.body)
        headers.update(reply.headers)
        if body:
            headers["Content-Type"] = _JSON
        return web.Response(status=reply.status, body=body, headers=headers)

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        parsed: Any = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
        query_string = request.rel_url.raw_query_string
        return RecordedRequest(
            method=request.method,
            path=request.path,
            raw_path=request.rel_url.raw_path,
            query_string=query_string,
            query=parse_qsl(query_string, keep_blank_values=True),
            headers=request.headers,
            body=body,
            json=parsed,
            received_at=asyncio.get_running_loop().time(),
        )

    async def _process(self, request: web.Request, record: RecordedRequest, route: _Route) -> Reply:
        try:
            if route.api and route.owner is not None:
                self.hooks.authenticate(request, route.owner)
                self.hooks.around_api()
                try:
                    return await self._dispatch(request, record, route)
                finally:
                    self.hooks.around_api()
            return await self._dispatch(request, record, route)
        except ApiError as exc:
            return Reply(exc.status, {"code": exc.code, "text": exc.text}, exc.headers)

    async def _dispatch(
        self, request: web.Request, record: RecordedRequest, route: _Route
    ) -> Reply:
        match = route.match
        if match is None or route.path is None:
            raise not_found(f"no resource at {request.path}")
        spec = match.methods.get(request.method)
        if spec is None:
            allowed = ", ".join(sorted(match.methods))
            raise ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {route.path}",
                {"Allow": allowed},
            )
        payload: Any = None
        if spec.json_body:
            if request.content_type != _JSON:
                raise ApiError(
                    415, "unsupported_media_type", "Content-Type must be application/json"
                )
            try:
                payload = orjson.loads(record.body)
            except orjson.JSONDecodeError:
                raise ApiError(
                    400, "syntax_invalid_json", "request body is not valid JSON"
                ) from None
        ctx = RequestContext(
            method=request.method,
            path=route.path,
            params=match.params,
            query=record.query,
            json=payload,
            now=self.hooks.now(),
            headers=request.headers,
            body=record.body,
        )
        return await call_handler(spec.handler, ctx)

    async def _sleep_latency(self) -> None:
        if self.latency > 0:
            await self.sleep(self.latency)

    async def _fault_response(
        self, request: web.Request, fault: Fault, headers: dict[str, str]
    ) -> web.StreamResponse:
        await self._sleep_latency()
        if fault.drop:
            # Close the socket without writing anything; aiohttp then fails to write the
            # returned response, treats it as a client disconnect and logs nothing.
            request.protocol.force_close()
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        body = fault.reply_body()
        if body:
            headers = {**headers, "Content-Type": fault.content_type}
        return web.Response(status=fault.status or 500, body=body, headers=headers)


def split_api_path(raw_path: str) -> tuple[str | None, str | None]:
    """``/xms/v1/{owner}/rest`` → (decoded owner, raw ``/rest``); (None, None) otherwise."""
    if not raw_path.startswith(API_PREFIX):
        return None, None
    owner, sep, rest = raw_path[len(API_PREFIX) :].partition("/")
    if not owner:
        return None, None
    return unquote(owner), f"{sep}{rest}"
