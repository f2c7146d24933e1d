"""SinchClient: the single entry point."""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TypedDict, Unpack

import aiohttp

from . import _constants as C
from ._api import Api
from ._auth import DEFAULT_AUTH_URL, BasicAuth, ProjectAuth, ServicePlanAuth
from ._clock import SYSTEM_CLOCK, Clock, SinchClock
from ._config import OAUTH_REGIONS, Secret, Timeouts, resolve_base_url
from ._converter import decode
from ._errors import SinchConfigError
from ._limits import Limits, PauseScope, RateLimiter, SharedGroupSizes
from ._retry import RetryPolicy
from ._session import Engine, Hook, RequestOptions, Session
from ._validation import check_bool, check_numbers_auth, check_plain_id, check_positive_int
from .numbers._resource import NumbersResource, numbers_api
from .resources.batches import BatchesResource
from .resources.delivery_reports import DeliveryReportsResource
from .resources.groups import GroupsResource
from .resources.inbounds import InboundsResource
from .resources.messages import MessagesResource

__all__ = ["ClientOptions", "SinchClient"]


class ClientOptions(TypedDict, total=False):
    """Every keyword [`SinchClient`][] accepts (for ``from_env`` and
    ``FakeSinch.client``), so a misspelt option fails type checking."""

    service_plan_id: str | None
    api_token: str | None
    project_id: str | None
    key_id: str | None
    key_secret: str | None
    region: str | None
    base_url: str | None
    auth_url: str | None
    numbers_base_url: str | None
    numbers_auth: str | None
    session: aiohttp.ClientSession | None
    timeouts: Timeouts | None
    max_connections: int
    allow_insecure_http: bool
    user_agent: str
    max_concurrency: int | None
    messages_per_second: float | RateLimiter | None
    pause_scope: PauseScope | None
    group_sizes: SharedGroupSizes | None
    retry: RetryPolicy | None
    reconcile_sends: bool
    auto_client_reference: bool
    default_headers: Mapping[str, str] | None
    hooks: Iterable[Hook]
    clock: Clock | None


class SinchClient:
    """Async client for the Sinch SMS REST API (xms v1) and the Numbers API.

    Use it as ``async with SinchClient(service_plan_id=..., api_token=..., region="eu") as
    client:``; the HTTP session is created on first use inside the running loop and closed
    on exit. Pass ``session=`` to borrow your own ``aiohttp.ClientSession`` (never closed
    by the client) and ``base_url=`` to talk to a local server such as FakeSinch.

    Credentials, either or both: a service plan (``service_plan_id`` + ``api_token``) for
    SMS, and project keys (``project_id`` + ``key_id`` + ``key_secret``) for
    ``client.numbers``; with project keys only, SMS goes through them too when a
    ``region`` (us, eu) or ``base_url`` is given, and a client without either is a
    Numbers-only client (its SMS calls raise [`SinchConfigError`][]).
    ``numbers_auth="basic"`` sends the project key id and secret to the Numbers API as
    HTTP Basic instead of OAuth2 tokens (``"oauth"``, the default; Sinch says Basic is
    for tests: it is heavily rate-limited).

    ``messages_per_second`` is the plan's SMS limit: a number (this process only) or a
    [`RateLimiter`][], e.g. ``sinch_async.redis.RedisRateLimiter`` to share the budget
    and 429 pauses between processes. Each API has its own budget: a Numbers 429 never
    pauses SMS. A send to a group costs its size when a response has shown it;
    ``group_sizes`` (e.g. ``sinch_async.redis.RedisGroupSizes``) shares the sizes seen
    between processes, so a fresh worker charges a group send in full.

    ``pause_scope`` is how far a 429 pauses: ``"shared"`` (``None``, the default: every
    client and process using the same rate limiter), ``"local"`` (this client) or
    ``"off"`` (only the request that got it waits); a pause lasts at most
    ``retry.max_retry_after``. ``client.limits.stats`` counts the waits and pauses.

    ``auto_client_reference=True`` gives every send without a ``client_reference``
    (``send``, ``send_text``, ``send_binary``, ``send_media``, and ``send_many``'s default)
    a generated one, ``sa-`` and 32 hex digits, so that a send whose outcome is unknown (a
    5xx, a timeout or a reset after it was written) is reconciled instead of raising
    [`SendOutcomeUnknown`][]. Off by default: the reference is stored by Sinch and shows
    in its dashboard, delivery reports and callbacks.

    ``clock`` (default: the system's) is what every wait of the client passes through:
    retry backoff, 429 pauses, the messages-per-second budget, token expiry;
    ``sinch_async.testing.FakeClock`` runs them in virtual time.
    """

    def __init__(
        self,
        service_plan_id: str | None = None,
        api_token: str | None = None,
        *,
        project_id: str | None = None,
        key_id: str | None = None,
        key_secret: str | None = None,
        region: str | None = None,
        base_url: str | None = None,
        auth_url: str | None = None,
        numbers_base_url: str | None = None,
        numbers_auth: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int = C.DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        user_agent: str = C.USER_AGENT,
        max_concurrency: int | None = None,
        messages_per_second: float | RateLimiter | None = None,
        pause_scope: PauseScope | None = None,
        group_sizes: SharedGroupSizes | None = None,
        retry: RetryPolicy | None = None,
        reconcile_sends: bool = True,
        auto_client_reference: bool = False,
        default_headers: Mapping[str, str] | None = None,
        hooks: Iterable[Hook] = (),
        clock: Clock | None = None,
    ) -> None:
        check_positive_int(max_connections, "max_connections", config=True)
        check_bool(auto_client_reference, "auto_client_reference", config=True)
        if clock is not None and not isinstance(clock, Clock):
            raise SinchConfigError("clock must have monotonic(), time() and async sleep()")
        clk: Clock = SYSTEM_CLOCK if clock is None else clock
        project = any(v is not None for v in (project_id, key_id, key_secret))
        plan = any(v is not None for v in (service_plan_id, api_token))
        if not (project or plan):
            raise SinchConfigError(
                "service_plan_id is required (with api_token; or project_id, key_id and "
                "key_secret for project keys)"
            )
        project_auth: ProjectAuth | None = None
        owners: list[str] = []
        if project:
            for name, value in (("project_id", project_id), ("key_id", key_id)):
                if not value or not isinstance(value, str):
                    raise SinchConfigError(f"{name} is required for project authentication")
            check_plain_id(project_id, "project_id")
            token_url = auth_url or DEFAULT_AUTH_URL
            resolve_base_url(None, token_url, allow_insecure_http=allow_insecure_http)
            assert project_id is not None and key_id is not None
            project_auth = ProjectAuth(
                project_id, key_id, Secret(key_secret or ""), auth_url=token_url, clock=clk
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise SinchConfigError("retry must be a RetryPolicy")
        #: The SMS API's budget (concurrency, messages per second, 429 pause).
        scope: PauseScope = "shared" if pause_scope is None else pause_scope
        max_pause = (retry or RetryPolicy()).max_retry_after  # a pause never lasts longer
        self.limits = Limits(
            max_concurrency=max_concurrency,
            messages_per_second=messages_per_second,
            pause_scope=scope,
            max_pause=max_pause,
            clock=clk.monotonic,
            sleep=clk.sleep,
        )
        sinch_clock = SinchClock(monotonic=clk.monotonic, wall=clk.time)
        sms: Api
        if plan:
            if not service_plan_id or not isinstance(service_plan_id, str):
                raise SinchConfigError("service_plan_id is required")
            check_plain_id(service_plan_id, "service_plan_id")
            if api_token is None:
                raise SinchConfigError("api_token is required")
            sms = Api(
                name="sms",
                origin=resolve_base_url(region, base_url, allow_insecure_http=allow_insecure_http),
                prefix=f"{C.API_PATH}/{service_plan_id}",
                auth=ServicePlanAuth(service_plan_id, Secret(api_token)),
                decode=decode,
                limits=self.limits,
                sinch_clock=sinch_clock,
            )
            owners.append(f"service_plan_id={service_plan_id!r}")
        elif region is not None or base_url is not None:  # SMS through the project keys
            assert project_auth is not None
            if region is not None and region.lower() not in OAUTH_REGIONS:
                raise SinchConfigError(
                    f"project (OAuth2) authentication is only available in "
                    f"{' and '.join(OAUTH_REGIONS)}, not {region!r}; use service plan "
                    "credentials for other regions"
                )
            sms = Api(
                name="sms",
                origin=resolve_base_url(
                    region, base_url, allow_insecure_http=allow_insecure_http, project=True
                ),
                prefix=f"{C.API_PATH}/{project_id}",
                auth=project_auth,
                decode=decode,
                limits=self.limits,
                sinch_clock=sinch_clock,
            )
        else:
            sms = Api.missing(
                "sms",
                "this client has no SMS configuration: it has project keys only and no "
                "region or base_url (pass service_plan_id + api_token with region=, or "
                "region='us'/'eu' to send SMS with the project keys)",
                decode,
            )
        if project:
            owners.append(f"project_id={project_id!r}")
        if numbers_base_url is not None:
            numbers_base_url = resolve_base_url(
                None, numbers_base_url, allow_insecure_http=allow_insecure_http
            )
        # Numbers: the project's OAuth2 tokens, or HTTP Basic with its key (§1)
        numbers_auth = check_numbers_auth("oauth" if numbers_auth is None else numbers_auth)
        numbers_key: BasicAuth | ProjectAuth | None = project_auth
        if project_auth is not None and numbers_auth == "basic":
            assert key_id is not None
            numbers_key = BasicAuth(key_id, Secret(key_secret or ""))
        numbers = numbers_api(
            project_id=project_id if project else None,
            auth=numbers_key,
            base_url=numbers_base_url,
            limits=Limits(
                max_concurrency=max_concurrency,
                pause_scope=scope,
                max_pause=max_pause,
                clock=clk.monotonic,
                sleep=clk.sleep,
            ),
        )
        self._owner = " ".join(owners)
        #: the id in SMS paths (service plan, or project for SMS with project keys)
        self._sms_owner_id: str | None = (
            service_plan_id if plan else project_id if sms.origin else None
        )
        self._base_url = sms.origin or numbers.origin
        self._engine = Engine(
            apis=(sms, numbers),
            timeouts=timeouts or Timeouts(),
            max_connections=max_connections,
            session=session,
            user_agent=user_agent,
            default_headers=default_headers,
            retry=retry,
            hooks=hooks,
            clock=clk,
        )
        self._reconcile_sends = reconcile_sends
        self._auto_client_reference = auto_client_reference
        if group_sizes is not None and not isinstance(group_sizes, SharedGroupSizes):
            raise SinchConfigError("group_sizes must be a SharedGroupSizes (e.g. RedisGroupSizes)")
        self._group_sizes: dict[str, int] = {} if group_sizes is None else group_sizes
        if clock is not None:  # shared parts built without a clock wait on this one too
            for part in (group_sizes, self.limits.rate_limiter):
                adopt = getattr(part, "adopt_clock", None)
                if callable(adopt):
                    adopt(clock)
        self._sms = sms
        self._numbers = numbers
        # Batches this client's sends returned (shared by every with_options view):
        # reconciliation never hands one of them to another send.
        self._returned: OrderedDict[str, None] = OrderedDict()
        self._attach(Session(self._engine, sms))

    def _attach(self, session: Session) -> None:
        self._session = session
        self.batches = BatchesResource(
            session,
            self._group_sizes,
            reconcile_sends=self._reconcile_sends,
            returned=self._returned,
            auto_client_reference=self._auto_client_reference,
        )
        self.delivery_reports = DeliveryReportsResource(session)
        self.groups = GroupsResource(session, self._group_sizes)
        self.inbounds = InboundsResource(session)
        self.messages = MessagesResource(self.batches, self.inbounds)
        self.numbers = NumbersResource(session.for_api(self._numbers))

    def with_options(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SinchClient:
        """A view of this client with per-call settings; it shares the session, budgets,
        hooks, clock, the memory of batches its sends returned, ``reconcile_sends`` and
        ``auto_client_reference``, and the lifecycle (closing either closes both).

        ``deadline`` (seconds) bounds each whole call made through the view: retries, 429
        pauses and a send's reconciliation included; past it the call raises
        [`SinchTimeoutError`][]. ``headers`` are added to its requests.
        """
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise SinchConfigError("retry must be a RetryPolicy")
        if timeouts is not None and not isinstance(timeouts, Timeouts):
            raise SinchConfigError("timeouts must be a Timeouts")
        options = RequestOptions(
            timeouts=timeouts,
            retry=retry,
            deadline=deadline,
            headers=tuple((headers or {}).items()),
        )
        view = copy.copy(self)
        view._attach(self._session.with_options(options))
        return view

    def add_hook(self, hook: Hook) -> None:
        """Observe every operation and attempt (see [`HookEvent`][]); for metrics and
        tracing. A hook that raises is logged and ignored."""
        self._engine.hooks.append(hook)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Unpack[ClientOptions]
    ) -> SinchClient:
        """Build a client from the ``SINCH_*`` variables; keyword arguments win (``None``
        unsets one).

        Service plan: ``SINCH_SERVICE_PLAN_ID`` + ``SINCH_API_TOKEN``; project keys:
        ``SINCH_PROJECT_ID`` + ``SINCH_KEY_ID`` + ``SINCH_KEY_SECRET`` (optionally
        ``SINCH_AUTH_URL``, ``SINCH_NUMBERS_BASE_URL``, ``SINCH_NUMBERS_AUTH``); either
        or both (SMS then uses the service plan, Numbers the project keys). Plus
        ``SINCH_REGION`` or ``SINCH_BASE_URL``, ``SINCH_MAX_CONCURRENCY``,
        ``SINCH_MESSAGES_PER_SECOND``, ``SINCH_PAUSE_SCOPE``,
        ``SINCH_AUTO_CLIENT_REFERENCE`` (``1``/``0``, ``true``/``false``): the table of
        `sinch_async._settings`, the same as the ``default`` account's.
        """
        from ._settings import env_options

        unknown = set(overrides) - set(ClientOptions.__annotations__)
        if unknown:
            raise SinchConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return cls(**env_options(environ, overrides))

    @classmethod
    def from_account(
        cls,
        name: str = "default",
        *,
        config_path: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Unpack[ClientOptions],
    ) -> SinchClient:
        """Build a client for the named account of the config file; keyword arguments win.

        The file is ``config_path``, else ``$SINCH_CONFIG``, else ``sinch-async/config.toml``
        in the user config directory; ``SINCH_<NAME>_<KEY>`` variables override the
        account's keys, and ``default`` is the unnamed ``SINCH_*`` variables (as
        [`from_env`][]). For many accounts sharing one connection pool, use
        [`SinchAccounts`][].
        """
        from ._settings import load_accounts

        unknown = set(overrides) - set(ClientOptions.__annotations__)
        if unknown:
            raise SinchConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        config = load_accounts(config_path, environ)
        options = config.options(name, overrides)
        try:
            return cls(**options)
        except SinchConfigError as exc:
            raise config.error(name, exc) from None

    @property
    def base_url(self) -> str:
        """The origin SMS requests go to (the Numbers origin for a Numbers-only client)."""
        return self._base_url

    @property
    def sms_owner_id(self) -> str | None:
        """The service plan id SMS goes to (the project id for SMS with project keys;
        None for a Numbers-only client): name a shared rate budget after it with
        ``sinch_async.redis.default_limiter_key(client.sms_owner_id)``."""
        return self._sms_owner_id

    @property
    def closed(self) -> bool:
        """True after [`aclose`][]."""
        return self._engine.closed

    async def aclose(self) -> None:
        """Close the HTTP session (if the client owns it). Later calls raise ClientClosedError.

        The waits and 429 pauses not yet summarised are logged (INFO, ``sinch_async.limits``)."""
        await self._engine.aclose()
        for api in (self._sms, self._numbers):
            api.limits.report()

    async def __aenter__(self) -> SinchClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<SinchClient {self._owner} base_url={self._base_url!r} {state}>"
