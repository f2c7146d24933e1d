"""SinchClient: the single entry point."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import aiohttp

from . import _constants as C
from ._auth import DEFAULT_AUTH_URL, Auth, ProjectAuth, ServicePlanAuth
from ._config import OAUTH_REGIONS, Secret, Timeouts, resolve_base_url
from ._errors import SinchConfigError
from ._limits import Limits, RateLimiter, SharedGroupSizes
from ._retry import RetryPolicy
from ._session import Engine, Hook, RequestOptions, Session
from ._validation import check_plain_id
from .resources.batches import BatchesResource
from .resources.delivery_reports import DeliveryReportsResource
from .resources.groups import GroupsResource
from .resources.inbounds import InboundsResource
from .resources.messages import MessagesResource

if TYPE_CHECKING:
    from .numbers import NumbersResource

__all__ = ["ClientOptions", "SinchClient"]


class ClientOptions(TypedDict, total=False):
    """Every keyword :class:`SinchClient` accepts (for ``from_env`` and
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
    session: aiohttp.ClientSession | None
    timeouts: Timeouts | None
    max_connections: int
    allow_insecure_http: bool
    user_agent: str
    max_concurrency: int | None
    messages_per_second: float | RateLimiter | None
    group_sizes: SharedGroupSizes | None
    retry: RetryPolicy | None
    reconcile_sends: bool
    default_headers: Mapping[str, str] | None
    hooks: Iterable[Hook]


class SinchClient:
    """Async client for the Sinch SMS REST API (xms v1).

    Use it as ``async with SinchClient(service_plan_id=..., api_token=..., region="eu") as
    client:``; the HTTP session is created on first use inside the running loop and closed
    on exit. Pass ``session=`` to borrow your own ``aiohttp.ClientSession`` (never closed
    by the client) and ``base_url=`` to talk to a local server such as FakeSinch.

    ``messages_per_second`` is the plan's limit: a number (this process only) or a
    :class:`RateLimiter`, e.g. ``sinch_async.redis.RedisRateLimiter`` to share the budget
    and 429 pauses between processes. A send to a group costs its size when a response
    has shown it; ``group_sizes`` (e.g. ``sinch_async.redis.RedisGroupSizes``) shares the
    sizes seen between processes, so a fresh worker charges a group send in full.
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
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int = C.DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        user_agent: str = C.USER_AGENT,
        max_concurrency: int | None = None,
        messages_per_second: float | RateLimiter | None = None,
        group_sizes: SharedGroupSizes | None = None,
        retry: RetryPolicy | None = None,
        reconcile_sends: bool = True,
        default_headers: Mapping[str, str] | None = None,
        hooks: Iterable[Hook] = (),
    ) -> None:
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or (max_connections < 1)
        ):
            raise SinchConfigError("max_connections must be a positive integer")
        project = any(v is not None for v in (project_id, key_id, key_secret))
        plan = any(v is not None for v in (service_plan_id, api_token))
        if project and plan:
            raise SinchConfigError(
                "pass either service_plan_id + api_token or project_id + key_id + key_secret"
            )
        auth: Auth
        if project:
            for name, value in (("project_id", project_id), ("key_id", key_id)):
                if not value or not isinstance(value, str):
                    raise SinchConfigError(f"{name} is required for project authentication")
            check_plain_id(project_id, "project_id")
            if region is not None and region.lower() not in OAUTH_REGIONS:
                raise SinchConfigError(
                    f"project (OAuth2) authentication is only available in "
                    f"{' and '.join(OAUTH_REGIONS)}, not {region!r}; use service plan "
                    "credentials for other regions"
                )
            self._base_url = resolve_base_url(
                region, base_url, allow_insecure_http=allow_insecure_http, project=True
            )
            token_url = auth_url or DEFAULT_AUTH_URL
            resolve_base_url(None, token_url, allow_insecure_http=allow_insecure_http)
            assert project_id is not None and key_id is not None
            auth = ProjectAuth(project_id, key_id, Secret(key_secret or ""), auth_url=token_url)
            self._owner = f"project_id={project_id!r}"
        else:
            if not service_plan_id or not isinstance(service_plan_id, str):
                raise SinchConfigError("service_plan_id is required")
            check_plain_id(service_plan_id, "service_plan_id")
            if api_token is None:
                raise SinchConfigError("api_token is required")
            self._base_url = resolve_base_url(
                region, base_url, allow_insecure_http=allow_insecure_http
            )
            auth = ServicePlanAuth(service_plan_id, Secret(api_token))
            self._owner = f"service_plan_id={service_plan_id!r}"
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise SinchConfigError("retry must be a RetryPolicy")
        self.limits = Limits(
            max_concurrency=max_concurrency, messages_per_second=messages_per_second
        )
        self._engine = Engine(
            base_url=self._base_url,
            auth=auth,
            timeouts=timeouts or Timeouts(),
            max_connections=max_connections,
            session=session,
            user_agent=user_agent,
            default_headers=default_headers,
            limits=self.limits,
            retry=retry,
            hooks=hooks,
        )
        self._reconcile_sends = reconcile_sends
        if group_sizes is not None and not isinstance(group_sizes, SharedGroupSizes):
            raise SinchConfigError("group_sizes must be a SharedGroupSizes (e.g. RedisGroupSizes)")
        self._group_sizes: dict[str, int] = {} if group_sizes is None else group_sizes
        from .numbers._resource import NumbersBackend

        if numbers_base_url is not None:
            numbers_base_url = resolve_base_url(
                None, numbers_base_url, allow_insecure_http=allow_insecure_http
            )
        self._numbers = NumbersBackend(
            self._engine, auth, project_id if project else None, numbers_base_url
        )
        self._attach(Session(self._engine))

    def _attach(self, session: Session) -> None:
        self._session = session
        self.batches = BatchesResource(
            session, self._group_sizes, reconcile_sends=self._reconcile_sends
        )
        self.delivery_reports = DeliveryReportsResource(session)
        self.groups = GroupsResource(session, self._group_sizes)
        self.inbounds = InboundsResource(session)
        self.messages = MessagesResource(self.batches, self.inbounds)
        from .numbers._resource import NumbersResource

        self.numbers: NumbersResource = NumbersResource(session, self._numbers)

    def with_options(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SinchClient:
        """A view of this client with per-call settings; it shares the session, limits,
        hooks and lifecycle (closing either closes both).

        ``deadline`` (seconds) bounds each whole call made through the view: retries, 429
        pauses and a send's reconciliation included; past it the call raises
        :class:`SinchTimeoutError`. ``headers`` are added to its requests.
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
        """Observe every operation and attempt (see :class:`HookEvent`); for metrics and
        tracing. A hook that raises is logged and ignored."""
        self._engine.hooks.append(hook)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Unpack[ClientOptions]
    ) -> SinchClient:
        """Build a client from the environment; keyword arguments win.

        Service plan: ``SINCH_SERVICE_PLAN_ID`` + ``SINCH_API_TOKEN``; or project keys:
        ``SINCH_PROJECT_ID`` + ``SINCH_KEY_ID`` + ``SINCH_KEY_SECRET`` (and optionally
        ``SINCH_AUTH_URL`` and ``SINCH_NUMBERS_BASE_URL``). Plus ``SINCH_REGION`` or
        ``SINCH_BASE_URL``.
        """
        env = os.environ if environ is None else environ
        names = {
            "service_plan_id": "SINCH_SERVICE_PLAN_ID",
            "api_token": "SINCH_API_TOKEN",
            "project_id": "SINCH_PROJECT_ID",
            "key_id": "SINCH_KEY_ID",
            "key_secret": "SINCH_KEY_SECRET",
            "region": "SINCH_REGION",
            "base_url": "SINCH_BASE_URL",
            "auth_url": "SINCH_AUTH_URL",
            "numbers_base_url": "SINCH_NUMBERS_BASE_URL",
        }
        kwargs: dict[str, Any] = {k: env.get(v) or None for k, v in names.items()}
        unknown = set(overrides) - set(ClientOptions.__annotations__)
        if unknown:
            raise SinchConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        kwargs.update(overrides)
        plan: tuple[str, ...] = ("service_plan_id", "api_token")
        project: tuple[str, ...] = ("project_id", "key_id", "key_secret")
        if any(kwargs.get(k) for k in project) and not any(kwargs.get(k) for k in plan):
            wanted = project
            for name in plan:
                kwargs.pop(name)
        else:
            wanted = plan
            for name in (*project, "auth_url", "numbers_base_url"):
                kwargs.pop(name)
        missing = [names[name] for name in wanted if not kwargs.get(name)]
        if missing:
            raise SinchConfigError(
                "missing credentials: set "
                + " and ".join(missing)
                + " (or SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET)"
            )
        return cls(**kwargs)

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
        :meth:`from_env`). For many accounts sharing one connection pool, use
        :class:`SinchAccounts`.
        """
        from ._accounts import account_options

        unknown = set(overrides) - set(ClientOptions.__annotations__)
        if unknown:
            raise SinchConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        options = account_options(
            name, config_path=config_path, environ=environ, overrides=overrides
        )
        try:
            return cls(**options)
        except SinchConfigError as exc:
            raise SinchConfigError(f"account {name!r}: {exc}") from None

    @property
    def base_url(self) -> str:
        """The origin requests go to."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._engine.closed

    async def aclose(self) -> None:
        """Close the HTTP session (if the client owns it). Later calls raise ClientClosedError."""
        await self._engine.aclose()

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
