"""SinchClient: the single entry point."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType

import aiohttp

from . import _constants as C
from ._config import Secret, Timeouts, resolve_base_url
from ._errors import SinchConfigError
from ._session import ServicePlanAuth, Session
from .resources.batches import BatchesResource

__all__ = ["SinchClient"]


class SinchClient:
    """Async client for the Sinch SMS REST API (xms v1).

    Use it as ``async with SinchClient(service_plan_id=..., api_token=..., region="eu") as
    client:``; the HTTP session is created on first use inside the running loop and closed
    on exit. Pass ``session=`` to borrow your own ``aiohttp.ClientSession`` (never closed
    by the client) and ``base_url=`` to talk to a local server such as FakeSinch.
    """

    def __init__(
        self,
        service_plan_id: str | None = None,
        api_token: str | None = None,
        *,
        region: str | None = None,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int = C.DEFAULT_MAX_CONNECTIONS,
        allow_insecure_http: bool = False,
        user_agent: str = C.USER_AGENT,
    ) -> None:
        if not service_plan_id or not isinstance(service_plan_id, str):
            raise SinchConfigError("service_plan_id is required")
        if api_token is None:
            raise SinchConfigError("api_token is required")
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or (max_connections < 1)
        ):
            raise SinchConfigError("max_connections must be a positive integer")
        self._base_url = resolve_base_url(region, base_url, allow_insecure_http=allow_insecure_http)
        self._service_plan_id = service_plan_id
        self._session = Session(
            base_url=self._base_url,
            auth=ServicePlanAuth(service_plan_id, Secret(api_token)),
            timeouts=timeouts or Timeouts(),
            max_connections=max_connections,
            session=session,
            user_agent=user_agent,
        )
        self.batches = BatchesResource(self._session)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> SinchClient:
        """Build a client from ``SINCH_SERVICE_PLAN_ID``, ``SINCH_API_TOKEN``,
        ``SINCH_REGION`` and ``SINCH_BASE_URL``; keyword arguments win."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {
            "service_plan_id": env.get("SINCH_SERVICE_PLAN_ID"),
            "api_token": env.get("SINCH_API_TOKEN"),
            "region": env.get("SINCH_REGION"),
            "base_url": env.get("SINCH_BASE_URL"),
        }
        kwargs.update(overrides)
        missing = [
            name
            for name, var in (
                ("service_plan_id", "SINCH_SERVICE_PLAN_ID"),
                ("api_token", "SINCH_API_TOKEN"),
            )
            if not kwargs.get(name) and var
        ]
        if missing:
            env_names = {"service_plan_id": "SINCH_SERVICE_PLAN_ID", "api_token": "SINCH_API_TOKEN"}
            raise SinchConfigError(
                "missing credentials: set " + " and ".join(env_names[m] for m in missing)
            )
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        """The origin requests go to."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._session.closed

    async def aclose(self) -> None:
        """Close the HTTP session (if the client owns it). Later calls raise ClientClosedError."""
        await self._session.aclose()

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
        return (
            f"<SinchClient service_plan_id={self._service_plan_id!r} "
            f"base_url={self._base_url!r} {state}>"
        )
