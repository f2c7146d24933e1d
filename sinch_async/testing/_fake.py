"""``FakeSinch``: a stateful in-memory xms v1 server on aiohttp.web, bound to loopback."""

from __future__ import annotations

import asyncio
import importlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote

import orjson
from aiohttp import web

from ._batches import BatchStore
from ._faults import Fault, FaultHandle, FaultSet
from ._http import RecordedRequest, Reply, RequestContext, RouteMatch, Router, call_handler
from ._util import ApiError, JSONObject, truncate_to_millis

__all__ = ["FakeSinch"]

_API_PREFIX = "/xms/v1/"
_JSON = "application/json"
_State = Literal["new", "started", "closed"]


class FakeSinch:
    """An in-memory Sinch SMS (xms v1) server for tests, listening on ``127.0.0.1``.

    Stores plain JSON dicts, validates requests itself and never imports the SDK (except
    in :meth:`client`). Use as ``async with FakeSinch() as fake:`` or ``await
    fake.start()`` / ``await fake.close()``.

    * ``now``: callable returning an aware UTC ``datetime`` (default: the real clock);
      used for ``created_at`` / ``modified_at`` and the default list window.
    * ``latency``: seconds added before every response (settable at any time); it is
      spent after the request was processed, so a client that times out during it
      leaves a stored batch behind, as with a real slow response.
    * ``seed``: seeds the ``random.Random`` used for fault probabilities and ids.
    """

    def __init__(
        self,
        service_plan_id: str = "test-plan",
        api_token: str = "test-token",
        *,
        latency: float = 0.0,
        now: Callable[[], datetime] | None = None,
        seed: int | None = None,
    ) -> None:
        if not service_plan_id or "/" in service_plan_id:
            raise ValueError("service_plan_id must be a non-empty path segment")
        self.service_plan_id = service_plan_id
        self.api_token = api_token
        self.latency = latency
        self._clock: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._rng = random.Random(seed)
        self._faults = FaultSet(self._rng)
        self._store = BatchStore(random.Random(seed))
        self._router = Router()
        self._store.register(self._router)
        #: Every request received, in arrival order (before auth, routing and faults).
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._state: _State = "new"
        self._inflight: set[asyncio.Task[Any]] = set()

    # -- public state ------------------------------------------------------------------

    @property
    def batches(self) -> dict[str, JSONObject]:
        """Stored batches: id → raw batch JSON, in insertion order."""
        return self._store.batches

    @property
    def feedback(self) -> dict[str, list[str]]:
        """Delivery feedback received: batch id → recipients, in arrival order."""
        return self._store.feedback

    @property
    def latency(self) -> float:
        """Seconds of delay added before each response."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must be >= 0")
        self._latency = float(value)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (origin only; the API lives under ``/xms/v1/{plan}``)."""
        if self._base_url is None or self._state != "started":
            raise RuntimeError("FakeSinch is not running; use 'async with' or await start()")
        return self._base_url

    def url(self, path: str = "") -> str:
        """Absolute URL of an API path, e.g. ``fake.url("/batches")``."""
        return f"{self.base_url}{_API_PREFIX}{self.service_plan_id}{path}"

    @property
    def faults(self) -> list[FaultHandle]:
        """The registered faults that can still fire, in matching order."""
        return [handle for handle in self._faults.handles if handle.active]

    def now(self) -> datetime:
        """The fake's current time (aware UTC, millisecond precision)."""
        value = self._clock()
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise TypeError("FakeSinch(now=...) must return an aware datetime")
        return truncate_to_millis(value.astimezone(UTC))

    # -- configuration -----------------------------------------------------------------

    def add_fault(self, fault: Fault) -> FaultHandle:
        """Register ``fault`` (faults are tried in the order added)."""
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def seed_batches(
        self,
        n: int,
        *,
        start: datetime | None = None,
        spacing: timedelta = timedelta(seconds=1),
        **fields: Any,
    ) -> list[JSONObject]:
        """Store ``n`` text batches created at ``start + i * spacing`` (oldest first).

        ``start`` defaults to ``now - n * spacing`` so all of them fall in the default
        24 h list window. ``fields`` override the request fields (``from_`` means
        ``from``); a callable value is called with the index ``i``. Seeds are validated
        like a send (``ValueError`` if invalid). Returns the stored dicts.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        if start is None:
            start = self.now() - n * spacing
        elif start.tzinfo is None or start.tzinfo.utcoffset(start) is None:
            raise ValueError("start must be an aware datetime")
        return self._store.seed(
            n, start=truncate_to_millis(start.astimezone(UTC)), spacing=spacing, fields=fields
        )

    def client(self, **kwargs: Any) -> Any:
        """A ``sinch_async.SinchClient`` pointed at this fake (``kwargs`` passed through)."""
        sinch_async = importlib.import_module("sinch_async")
        return sinch_async.SinchClient(
            service_plan_id=self.service_plan_id,
            api_token=self.api_token,
            base_url=self.base_url,
            **kwargs,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Bind ``127.0.0.1`` on a free port and start serving."""
        if self._state != "new":
            raise RuntimeError(f"FakeSinch cannot be started twice (state: {self._state})")
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        port = runner.addresses[0][1]
        self._runner = runner
        self._base_url = f"http://127.0.0.1:{port}"
        self._state = "started"

    async def close(self) -> None:
        """Stop serving; in-flight requests are aborted. Safe to call more than once."""
        runner, self._runner = self._runner, None
        self._state = "closed"
        if runner is None:
            return
        for task in list(self._inflight):
            task.cancel()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

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

    async def _pipeline(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        self.requests.append(record)
        plan, raw_sub = _split_api_path(request.rel_url.raw_path)
        match = self._router.resolve(raw_sub) if raw_sub is not None else None
        sub = unquote(raw_sub) if raw_sub is not None else None
        template = match.template if match is not None else None
        method = request.method

        before = await self._faults.apply("before", method, sub, template)
        if before.terminal is not None:
            return await self._fault_response(request, before.terminal, before.headers)

        reply = await self._process(request, record, plan, sub, match)

        after = await self._faults.apply("after", method, sub, template)
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

    async def _process(
        self,
        request: web.Request,
        record: RecordedRequest,
        plan: str | None,
        sub: str | None,
        match: RouteMatch | None,
    ) -> Reply:
        try:
            if plan is None or sub is None:
                raise ApiError(404, "not_found", f"no resource at {request.path}")
            self._authenticate(request, plan)
            if match is None:
                raise ApiError(404, "not_found", f"no resource at {request.path}")
            spec = match.methods.get(request.method)
            if spec is None:
                allowed = ", ".join(sorted(match.methods))
                raise ApiError(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not allowed on {sub}",
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
                path=sub,
                params=match.params,
                query=record.query,
                json=payload,
                now=self.now(),
            )
            return await call_handler(spec.handler, ctx)
        except ApiError as exc:
            return Reply(exc.status, {"code": exc.code, "text": exc.text}, exc.headers)

    def _authenticate(self, request: web.Request, plan: str) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if (
            scheme.lower() != "bearer"
            or token.strip() != self.api_token
            or plan != self.service_plan_id
        ):
            raise ApiError(
                401,
                "unauthorized",
                "invalid API token for this service plan",
                {"WWW-Authenticate": "Bearer"},
            )

    async def _sleep_latency(self) -> None:
        if self._latency > 0:
            await asyncio.sleep(self._latency)

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


def _split_api_path(raw_path: str) -> tuple[str | None, str | None]:
    """``/xms/v1/{plan}/rest`` → (decoded plan, raw ``/rest``); (None, None) otherwise."""
    if not raw_path.startswith(_API_PREFIX):
        return None, None
    plan, sep, rest = raw_path[len(_API_PREFIX) :].partition("/")
    if not plan:
        return None, None
    return unquote(plan), f"{sep}{rest}"
