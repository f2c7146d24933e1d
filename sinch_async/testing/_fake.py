"""``FakeSinch``: a stateful in-memory xms v1 server on aiohttp.web, bound to loopback."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, Unpack

from aiohttp import web

from ._batches import BatchStore, MessageLimit
from ._callbacks import CallbackAttempt, CallbackDispatcher
from ._faults import Fault, FaultHandle, FaultSet
from ._groups import GroupStore
from ._http import RecordedRequest, Router
from ._inbounds import InboundStore
from ._numbers import NumbersStore
from ._numbers_events import numbers_event, post_numbers_event
from ._oauth import TOKEN_PATH, TokenIssuer
from ._reports import ReportEngine
from ._server import API_PREFIX, Server, ServerHooks
from ._util import ApiError, JSONObject, aware_utc, truncate_to_millis

__all__ = ["FakeSinch"]

_TICK = 0.02  # seconds between checks for scheduled batches that became due

if TYPE_CHECKING:
    from .._client import ClientOptions, SinchClient
    from .._clock import Clock


def _rng(seed: int | None, area: str) -> random.Random:
    return random.Random(None if seed is None else f"{seed}:{area}")


def _real_now() -> datetime:
    return datetime.now(UTC)


def _wall_of(clock: Clock) -> Callable[[], datetime]:
    """``clock``'s wall clock as an aware UTC datetime (microseconds, as ``now`` wants)."""

    def now() -> datetime:
        return datetime.fromtimestamp(clock.time(), UTC)

    return now


class _RequestWaiter:
    """One [`FakeSinch.wait_for_requests`][]: what it waits for and what matched."""

    __slots__ = ("any_path", "count", "fault", "future", "matched", "seen")

    def __init__(self, count: int, fault: Fault | None, any_path: bool) -> None:
        self.count = count
        self.fault = fault
        self.any_path = any_path
        self.future: asyncio.Future[None] | None = None
        self.matched: list[RecordedRequest] = []
        self.seen = 0


class FakeSinch:
    """An in-memory Sinch SMS (xms v1) server for tests, listening on ``127.0.0.1``.

    Stores plain JSON dicts, validates requests itself and never imports the SDK (except
    in [`client`][] / [`project_client`][]). Use as ``async with FakeSinch() as
    fake:`` or ``await fake.start()`` / ``await fake.close()``.

    Areas: batches, groups, delivery reports, inbounds (routes under
    ``/xms/v1/{owner}``), webhooks the fake POSTs itself, the OAuth2 token endpoint, and
    the Numbers API (``fake.numbers``: ``/v1/projects/{project_id}``, bearer tokens or
    HTTP Basic with the project key; provisioning on the fake's clock).

    * ``now``: callable returning an aware UTC ``datetime`` (default: ``clock``'s wall
      clock when ``clock`` is given, else the real clock); used for timestamps, the
      default list windows, token expiry, when scheduled batches go out, and the
      ``Date`` header of every response.
    * ``clock``: a ``sinch_async`` clock (``monotonic()``, ``time()``, ``async
      sleep()``), typically the test's ``FakeClock``: fault ``delay``, ``latency``,
      ``callback_delay`` and ``callback_retry_delays`` are waited with ``clock.sleep``
      and the ``messages_per_second`` bucket reads ``clock.monotonic``. On a
      ``FakeClock`` with ``auto_advance = False`` a delayed response *parks*:
      ``await clock.wait_for_sleepers(n)`` says n of them are held, ``clock.advance``
      releases them. (The fake's check for due scheduled batches stays on real time.)
    * ``latency``: seconds added before every response (settable at any time); it is
      spent after the request was processed, so a client that times out during it
      leaves a stored batch behind, as with a real slow response.
    * ``seed``: seeds the ``random.Random`` used for fault probabilities and ids.
    * ``project_id`` / ``key_id`` / ``key_secret`` / ``token_ttl``: project (OAuth2)
      authentication: ``POST /oauth2/token`` issues bearer tokens valid for
      ``token_ttl`` seconds of the fake's clock; the API then also answers under
      ``/xms/v1/{project_id}``. Both owners share one store.
    * ``callback_secret``: sign every callback (HMAC-SHA256, §8.3 headers).
    * ``inbound_callback_url``: plan-level URL that receives each inbound that arrives.
    * ``default_callback_url``: plan-level URL for delivery-report callbacks of batches
      without ``callback_url``.
    * ``callback_delay``: seconds to wait before each callback POST;
      ``callback_retry_delays``: pauses between retries (after 5xx, 429 or connection
      errors; other statuses are final), one retry per entry.

    The callback knobs and ``inbound_callback_url`` / ``default_callback_url`` are also
    settable attributes.
    """

    def __init__(
        self,
        service_plan_id: str = "test-plan",
        api_token: str = "test-token",
        *,
        latency: float = 0.0,
        now: Callable[[], datetime] | None = None,
        seed: int | None = None,
        project_id: str = "test-project",
        key_id: str = "test-key-id",
        key_secret: str = "test-key-secret",
        token_ttl: float = 3600.0,
        callback_secret: str | None = None,
        inbound_callback_url: str | None = None,
        default_callback_url: str | None = None,
        callback_delay: float = 0.0,
        callback_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2),
        messages_per_second: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        for name, value in (("service_plan_id", service_plan_id), ("project_id", project_id)):
            if not value or "/" in value:
                raise ValueError(f"{name} must be a non-empty path segment")
        self.service_plan_id = service_plan_id
        self.api_token = api_token
        self.project_id = project_id
        self.inbound_callback_url = inbound_callback_url
        self.default_callback_url = default_callback_url
        #: The clock the fake waits on (``None``: the real one, ``asyncio.sleep``).
        self.clock = clock
        if now is None:
            now = _real_now if clock is None else _wall_of(clock)
        self._clock: Callable[[], datetime] = now
        sleep = asyncio.sleep if clock is None else clock.sleep
        self._rng = random.Random(seed)
        self._faults = FaultSet(self._rng, sleep)
        self._groups = GroupStore(_rng(seed, "groups"))
        self._store = BatchStore(random.Random(seed), self._groups)
        if clock is not None:
            self._store.limit = MessageLimit(clock.monotonic)
        self.messages_per_second = messages_per_second
        self._reports = ReportEngine(self._store, self._groups, self.now, _rng(seed, "reports"))
        self._reports.emit = self._emit_report_callbacks
        self._inbounds = InboundStore(_rng(seed, "inbounds"))
        self._inbounds.on_arrival = self._emit_inbound_callback
        self._oauth = TokenIssuer(
            key_id=key_id, key_secret=key_secret, token_ttl=token_ttl, clock=self.now
        )
        self._callbacks = CallbackDispatcher(
            self.now, secret=callback_secret, delay=0.0, retry_delays=(), sleep=sleep
        )
        self._callbacks.on_done = self._check_settled
        #: Every Numbers event POST attempt made by `post_numbers_event`, in order.
        self.numbers_events: list[CallbackAttempt] = []
        self.callback_delay = callback_delay
        self.callback_retry_delays = callback_retry_delays
        api, aux = Router(), Router()
        self._store.register(api)
        self._reports.register(api)
        self._groups.register(api)
        self._inbounds.register(api)
        self._inbounds.register_admin(aux)
        self._oauth.register(aux)
        self.numbers = NumbersStore(
            project_id, self._oauth.authenticate_key, _rng(seed, "numbers"), now=self.now
        )
        self.numbers.register(aux)
        hooks = ServerHooks(self._authenticate, self.now, self._reports.sweep, self._on_aux)
        self._server = Server(api, aux, self._faults, hooks, sleep)
        self._server.on_request = self._on_request
        self._server.on_done = self._check_settled
        self.latency = latency
        self._ticker: asyncio.Task[None] | None = None
        self._settle_waiters: list[asyncio.Future[None]] = []
        self._request_waiters: list[_RequestWaiter] = []

    # -- public state ------------------------------------------------------------------

    @property
    def messages_per_second(self) -> float | None:
        """The plan's limit: sends beyond it get 429 with ``Retry-After`` (None = off).

        A batch to N recipients counts N messages (a group counts its members).
        """
        return self._store.limit.messages_per_second

    @messages_per_second.setter
    def messages_per_second(self, value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError("messages_per_second must be positive or None")
        self._store.limit.messages_per_second = value

    @property
    def rate_limited(self) -> int:
        """How many sends were refused with 429 by the messages-per-second limit."""
        return self._store.limit.rejected

    @property
    def accepted_messages(self) -> int:
        """Messages (recipients) in every accepted send or replace."""
        return self._store.limit.accepted_messages

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order (before auth, routing and faults)."""
        return self._server.requests

    @requests.setter
    def requests(self, value: list[RecordedRequest]) -> None:
        self._server.requests = value

    @property
    def batches(self) -> dict[str, JSONObject]:
        """Stored batches: id → raw batch JSON, in insertion order."""
        return self._store.batches

    @property
    def feedback(self) -> dict[str, list[str]]:
        """Delivery feedback received: batch id → recipients, in arrival order."""
        return self._store.feedback

    @property
    def groups(self) -> dict[str, JSONObject]:
        """Stored groups: id → group JSON as the API returns it, in insertion order."""
        return self._groups.groups

    @property
    def delivery_reports(self) -> dict[str, list[JSONObject]]:
        """Recipient delivery reports: batch id → live report dicts (dispatched batches
        and seeded report-only batches)."""
        return self._reports.view()

    @property
    def inbounds(self) -> dict[str, JSONObject]:
        """Stored inbound messages: id → inbound JSON, in insertion order."""
        return self._inbounds.inbounds

    @property
    def callbacks(self) -> list[CallbackAttempt]:
        """Every callback POST attempt the fake made, in completion order."""
        return self._callbacks.attempts

    @property
    def token_requests(self) -> int:
        """Requests received on ``/oauth2/token`` (failed and fault-injected included)."""
        return self._oauth.requests

    @property
    def latency(self) -> float:
        """Seconds of delay added before each response."""
        return self._server.latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must be >= 0")
        self._server.latency = float(value)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (origin only; the API lives under ``/xms/v1/{owner}``)."""
        if self._server.base_url is None or self._server.state != "started":
            raise RuntimeError("FakeSinch is not running; use 'async with' or await start()")
        return self._server.base_url

    @property
    def auth_url(self) -> str:
        """The OAuth2 token endpoint, ``base_url + "/oauth2/token"``."""
        return self.base_url + TOKEN_PATH

    def url(self, path: str = "") -> str:
        """Absolute URL of an API path under the service plan, e.g. ``fake.url("/batches")``."""
        return f"{self.base_url}{API_PREFIX}{self.service_plan_id}{path}"

    def project_url(self, path: str = "") -> str:
        """Absolute URL of an API path under the project id (OAuth2 authentication)."""
        return f"{self.base_url}{API_PREFIX}{self.project_id}{path}"

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

    @property
    def callback_secret(self) -> str | None:
        """HMAC secret for signing callbacks (``None``: unsigned)."""
        return self._callbacks.secret

    @callback_secret.setter
    def callback_secret(self, value: str | None) -> None:
        self._callbacks.secret = value

    @property
    def callback_delay(self) -> float:
        """Seconds waited before each callback POST."""
        return self._callbacks.delay

    @callback_delay.setter
    def callback_delay(self, value: float) -> None:
        if value < 0:
            raise ValueError("callback_delay must be >= 0")
        self._callbacks.delay = float(value)

    @property
    def callback_retry_delays(self) -> tuple[float, ...]:
        """Pauses between callback retries (one retry per entry)."""
        return self._callbacks.retry_delays

    @callback_retry_delays.setter
    def callback_retry_delays(self, value: Iterable[float]) -> None:
        delays = tuple(float(d) for d in value)
        if any(d < 0 for d in delays):
            raise ValueError("callback_retry_delays must be >= 0")
        self._callbacks.retry_delays = delays

    @property
    def key_id(self) -> str:
        """Access key id accepted by the token endpoint."""
        return self._oauth.key_id

    @key_id.setter
    def key_id(self, value: str) -> None:
        self._oauth.key_id = value

    @property
    def key_secret(self) -> str:
        """Access key secret accepted by the token endpoint."""
        return self._oauth.key_secret

    @key_secret.setter
    def key_secret(self, value: str) -> None:
        self._oauth.key_secret = value

    @property
    def token_ttl(self) -> float:
        """Lifetime of newly issued tokens, in seconds of the fake's clock."""
        return self._oauth.token_ttl

    @token_ttl.setter
    def token_ttl(self, value: float) -> None:
        if value <= 0:
            raise ValueError("token_ttl must be > 0")
        self._oauth.token_ttl = float(value)

    def expire_tokens(self) -> None:
        """Make every access token issued so far expired (new ones are valid again)."""
        self._oauth.expire_all()

    def add_fault(self, fault: Fault) -> FaultHandle:
        """Register ``fault`` (faults are tried in the order added)."""
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def set_outcome(self, msisdn: str, status: str = "Failed", code: int = 402) -> None:
        """Messages to ``msisdn`` (``+`` optional) in batches dispatched from now on end in
        ``status`` / ``code`` instead of ``Delivered`` / 0.

        An intermediate status (``Queued``, ``Dispatched``) leaves the recipient pending
        until its batch is cancelled (then ``Cancelled`` / 407).
        """
        self._reports.set_outcome(msisdn, status, code)

    def clear_outcomes(self) -> None:
        """Forget every [`set_outcome`][] (later batches are delivered again)."""
        self._reports.outcomes.clear()

    def dispatch_due(self) -> None:
        """Dispatch scheduled batches whose ``send_at`` has come (by the fake's clock).

        Done automatically before and after each API request and every few ms while
        running; call it after moving a test clock to fire their callbacks at once.
        """
        self._reports.sweep()

    # -- seeding and test-side arrivals ------------------------------------------------

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
        like a send (``ValueError`` if invalid) and dispatched like one (so they have
        delivery reports unless scheduled). Returns the stored dicts.
        """
        start = self._seed_start(n, start, spacing)
        created = self._store.seed(n, start=start, spacing=spacing, fields=fields)
        self._reports.sweep()
        return created

    def seed_delivery_reports(
        self,
        n: int,
        *,
        start: datetime | None = None,
        spacing: timedelta = timedelta(seconds=1),
        status: str | Callable[[int], str] = "Delivered",
        code: int | Callable[[int], int] = 0,
        **fields: Any,
    ) -> list[JSONObject]:
        """Store ``n`` recipient reports with ``at = start + i * spacing`` (oldest first).

        Each belongs to its own report-only batch (not in [`batches`][], but known to
        the batch report routes). ``status``, ``code`` and ``fields`` (report fields such
        as ``recipient``, ``client_reference``, ``type``; ``None`` removes one) may be
        callables of the index ``i``. ``start`` defaults to ``now - n * spacing``.
        Returns the stored dicts.
        """
        start = self._seed_start(n, start, spacing)
        return self._reports.seed(
            n, start=start, spacing=spacing, status=status, code=code, fields=fields
        )

    def add_group(
        self,
        name: str | None = None,
        members: Iterable[str] = (),
        *,
        child_groups: Iterable[str] = (),
        auto_update: Mapping[str, Any] | None = None,
    ) -> JSONObject:
        """Store a group as ``POST /groups`` would (``ValueError`` if invalid)."""
        return self._groups.add(
            name=name,
            members=members,
            child_groups=child_groups,
            auto_update=dict(auto_update) if auto_update is not None else None,
            now=self.now(),
        )

    def group_members(self, group_id: str) -> list[str]:
        """What ``GET /groups/{id}/members`` returns (child groups' members included)."""
        if not self._groups.exists(group_id):
            raise KeyError(group_id)
        return self._groups.members(group_id)

    def add_inbound(
        self,
        *,
        from_: str,
        to: str,
        body: str | Mapping[str, Any] = "hi",
        type: str = "mo_text",
        udh: str | None = None,
        received_at: datetime | str | None = None,
        sent_at: datetime | str | None = None,
        client_reference: str | None = None,
        operator_id: str | None = None,
    ) -> JSONObject:
        """Make an inbound (MO) message arrive; returns the stored dict.

        ``type``: ``mo_text`` (text ``body``), ``mo_binary`` (base64 ``body``, hex
        ``udh``) or ``mo_media`` (``body`` = ``{subject?, message?, media: [{url,
        content_type, status?, code?}]}``; a plain string becomes ``{"message": ...}``).
        ``received_at`` defaults to now. With ``inbound_callback_url`` set, the inbound is
        POSTed there (while running). ``ValueError`` if invalid.
        """
        fields: JSONObject = {
            "from": from_,
            "to": to,
            "body": dict(body) if isinstance(body, Mapping) else body,
            "type": type,
            "udh": udh,
            "received_at": received_at,
            "sent_at": sent_at,
            "client_reference": client_reference,
            "operator_id": operator_id,
        }
        try:
            return self._inbounds.add(fields, self.now())
        except ApiError as exc:
            raise ValueError(f"invalid inbound: {exc.text}") from None

    def seed_inbounds(
        self,
        n: int,
        *,
        start: datetime | None = None,
        spacing: timedelta = timedelta(seconds=1),
        **fields: Any,
    ) -> list[JSONObject]:
        """Store ``n`` inbounds received at ``start + i * spacing`` (oldest first).

        ``fields`` set inbound fields (``from_`` means ``from``; ``to``, ``body``,
        ``type``, ``client_reference``...), callables are called with the index ``i``.
        Seeds fire no callbacks. ``start`` defaults to ``now - n * spacing``.
        """
        start = self._seed_start(n, start, spacing)
        return self._inbounds.seed(n, start=start, spacing=spacing, fields=fields, now=self.now())

    def _seed_start(self, n: int, start: datetime | None, spacing: timedelta) -> datetime:
        if n < 0:
            raise ValueError("n must be >= 0")
        if start is None:
            return self.now() - n * spacing
        return aware_utc(start, "start")

    async def wait_for_callbacks(self, n: int, timeout: float = 5.0) -> list[CallbackAttempt]:  # noqa: ASYNC109
        """Wait until at least ``n`` callback attempts have completed (any outcome).

        Returns [`callbacks`][]; raises ``TimeoutError`` after ``timeout`` seconds.
        """
        return await self._callbacks.wait_for(n, timeout)

    async def post_numbers_event(
        self,
        url: str,
        event: Mapping[str, Any] | bytes | None = None,
        *,
        secret: str | None,
        retry_delays: Iterable[float] | None = None,
        **fields: Any,
    ) -> list[CallbackAttempt]:
        """POST a Numbers event to ``url`` as Sinch does; its attempts (also appended to
        [`numbers_events`][]).

        ``event`` is a body (``sinch_async.testing.numbers_event(...)``) or exact bytes;
        without it one is built from ``fields`` (``numbers_event``'s keywords: ``event_type``,
        ``resource_id``, ``status``, ``event_id``, ...; ``project_id`` and ``timestamp``
        default to the fake's). Signed with ``secret`` (the project's ``hmacSecret``: hex
        HMAC-SHA1 in ``X-Sinch-Signature``; ``None``: unsigned). 5xx, 429 and connection
        errors are retried after each of ``retry_delays`` (default
        [`callback_retry_delays`][], waited on the fake's clock).
        """
        if event is None:
            fields.setdefault("project_id", self.project_id)
            fields.setdefault("timestamp", self.now())
            event = numbers_event(**fields)
        elif fields:
            raise TypeError("give either an event or the fields to build one, not both")
        attempts = await post_numbers_event(
            url,
            event,
            secret,
            retry_delays=self.callback_retry_delays if retry_delays is None else retry_delays,
            sleep=self._callbacks.sleep,
        )
        self.numbers_events.extend(attempts)
        return attempts

    async def settle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once no request handler and no callback delivery of the fake is running:
        every request received so far has been fully processed (its batch stored, its
        callbacks delivered), so the test can compare stored state without sleeping.

        A handler parked on a ``FakeClock`` (``auto_advance = False``) runs until the test
        advances the clock: advance first. Raises ``TimeoutError`` after ``timeout``
        seconds of real time. (A request still on its way, not yet received, is not
        waited for: see [`wait_for_requests`][].)
        """
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while self._busy():
                    waiter = loop.create_future()
                    self._settle_waiters.append(waiter)
                    try:
                        await waiter
                    finally:
                        if waiter in self._settle_waiters:
                            self._settle_waiters.remove(waiter)
        except TimeoutError:
            raise TimeoutError(
                f"FakeSinch did not settle within {timeout} s: "
                f"{self._server.handlers} request handler(s) and "
                f"{self._callbacks.running} callback delivery job(s) still running"
            ) from None

    async def wait_for_requests(
        self,
        n: int,
        *,
        method: str | None = None,
        path: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until at least ``n`` matching requests have been received (recorded:
        before auth, routing and faults, as in [`requests`][]).

        ``method`` (any case) and ``path`` narrow the match; ``path`` means what
        ``Fault.path`` means (the path after ``/xms/v1/{owner}`` for API requests, e.g.
        ``"/batches"`` or a template ``"/batches/{id}"``, or an absolute path such as
        ``"/oauth2/token"``; ``"*"`` is every API request). Returns every matching
        request received so far; raises ``TimeoutError`` after ``timeout`` seconds of
        real time. Woken by each arrival: no polling.
        """
        waiter = _RequestWaiter(
            n,
            None if method is None and path is None else Fault(method=method, path=path or "*"),
            path is None,
        )
        self._scan(waiter)
        if len(waiter.matched) >= n:
            return list(waiter.matched)
        waiter.future = asyncio.get_running_loop().create_future()
        self._request_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter.future
        except TimeoutError:
            what = " ".join(x for x in (method, path) if x) or "any"
            raise TimeoutError(
                f"{len(waiter.matched)} matching request(s) ({what}) received within "
                f"{timeout} s, expected at least {n}"
            ) from None
        finally:
            self._request_waiters.remove(waiter)
        return list(waiter.matched)

    # -- SDK clients -------------------------------------------------------------------

    def client(self, **kwargs: Unpack[ClientOptions]) -> SinchClient:
        """A ``sinch_async.SinchClient`` pointed at this fake (``kwargs`` passed through and
        winning over the fake's credentials)."""
        sinch_async = importlib.import_module("sinch_async")
        options: dict[str, Any] = {
            "service_plan_id": self.service_plan_id,
            "api_token": self.api_token,
            "base_url": self.base_url,
        }
        client: SinchClient = sinch_async.SinchClient(**{**options, **kwargs})
        return client

    def project_client(self, **kwargs: Unpack[ClientOptions]) -> SinchClient:
        """A ``sinch_async.SinchClient`` using project (OAuth2) auth against this fake, the
        Numbers API included (``kwargs`` passed through, e.g. a wrong ``key_secret``, win)."""
        sinch_async = importlib.import_module("sinch_async")
        options: dict[str, Any] = {
            "project_id": self.project_id,
            "key_id": self.key_id,
            "key_secret": self.key_secret,
            "base_url": self.base_url,
            "auth_url": self.auth_url,
            "numbers_base_url": self.base_url,
        }
        client: SinchClient = sinch_async.SinchClient(**{**options, **kwargs})
        return client

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind ``host`` (default loopback) on ``port`` (default: a free one) and start
        serving (and delivering callbacks). ``base_url`` reaches a wildcard host
        (``0.0.0.0``) through ``127.0.0.1``; the SDK refuses plain ``http://`` to other
        hosts unless the client passes ``allow_insecure_http=True``."""
        await self._server.start(host, port)
        await self._callbacks.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        """Stop serving (in-flight requests are aborted) and cancel pending callbacks.

        Safe to call more than once.
        """
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await self._server.close()
        await self._callbacks.close()

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

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            # A misbehaving clock or a malformed batch is reported by the next request.
            with contextlib.suppress(Exception):
                self._reports.sweep()

    # -- hooks -------------------------------------------------------------------------

    def _authenticate(self, request: web.Request, owner: str) -> None:
        header = request.headers.get("Authorization", "")
        if owner == self.service_plan_id:
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token.strip() == self.api_token:
                return
            if owner != self.project_id:
                raise ApiError(
                    401,
                    "unauthorized",
                    "invalid API token for this service plan",
                    {"WWW-Authenticate": "Bearer"},
                )
        if owner == self.project_id:
            self._oauth.authenticate(header)
            return
        raise ApiError(
            401,
            "unauthorized",
            "invalid API token for this service plan",
            {"WWW-Authenticate": "Bearer"},
        )

    def _busy(self) -> bool:
        return self._server.handlers > 0 or self._callbacks.running > 0

    def _check_settled(self) -> None:
        if self._settle_waiters and not self._busy():
            for waiter in self._settle_waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _scan(self, waiter: _RequestWaiter) -> None:
        requests = self._server.requests
        if len(requests) < waiter.seen:  # the list was cleared or replaced: start over
            waiter.seen = 0
            waiter.matched.clear()
        for record in requests[waiter.seen :]:
            if self._matches(waiter, record):
                waiter.matched.append(record)
        waiter.seen = len(requests)

    def _matches(self, waiter: _RequestWaiter, record: RecordedRequest) -> bool:
        fault = waiter.fault
        if fault is None:
            return True
        if waiter.any_path:
            return fault.method is None or fault.method.upper() == record.method.upper()
        route = self._server.route(record.raw_path)
        template = route.match.template if route.match is not None else None
        return fault.matches(record.method, route.path, template, auxiliary=route.auxiliary)

    def _on_request(self, record: RecordedRequest) -> None:
        for waiter in self._request_waiters:
            self._scan(waiter)
            future = waiter.future
            if len(waiter.matched) >= waiter.count and future is not None and not future.done():
                future.set_result(None)

    def _on_aux(self, template: str) -> None:
        if template == TOKEN_PATH:
            self._oauth.requests += 1

    def _emit_report_callbacks(self, batch: JSONObject, payloads: list[JSONObject]) -> None:
        url = batch.get("callback_url") or self.default_callback_url
        if url:
            self._callbacks.submit(url, payloads)

    def _emit_inbound_callback(self, inbound: JSONObject) -> None:
        if self.inbound_callback_url:
            self._callbacks.submit(self.inbound_callback_url, [dict(inbound)])
