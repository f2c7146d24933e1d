"""Authentication: service plan token, or project keys exchanged for OAuth2 access tokens."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp
import attrs
import orjson

from ._config import Secret
from ._errors import (
    AuthenticationError,
    RateLimitError,
    SinchConnectionError,
    SinchDecodeError,
    SinchTimeoutError,
)
from ._retry import RetryPolicy, retrying
from ._wire import api_error

__all__ = ["DEFAULT_AUTH_URL", "TOKEN_RETRY", "Auth", "ProjectAuth", "ServicePlanAuth"]

DEFAULT_AUTH_URL = "https://auth.sinch.com/oauth2/token"
#: The token endpoint is retried on 429 only (4 tries); other failures go to the caller,
#: whose own policy retries them as a request that never left.
TOKEN_RETRY = RetryPolicy(
    max_attempts=4,
    retry_statuses=frozenset({429}),
    retry_connection_errors=False,
    retry_timeouts=False,
    base_delay=1.0,
    factor=4.0,
    max_delay=60.0,
)


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


class ProjectAuth:
    """Project id + access key, exchanged for a Bearer token at the OAuth2 endpoint.

    One token request is in flight at a time however many requests wait for it; the token
    is refreshed shortly before it expires, and dropped when Sinch answers 401 "expired".
    """

    def __init__(
        self,
        project_id: str,
        key_id: str,
        key_secret: Secret,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._project_id = project_id
        self._key_id = key_id
        self._key_secret = key_secret
        self._auth_url = auth_url
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._header: str | None = None
        self._refresh_at = 0.0
        #: Number of token requests this client made (successful or not).
        self.token_requests = 0

    @property
    def owner_id(self) -> str:
        return self._project_id

    def __repr__(self) -> str:
        return f"ProjectAuth(project_id={self._project_id!r}, key_id={self._key_id!r}, ****)"

    def _valid(self) -> str | None:
        if self._header is not None and self._clock() < self._refresh_at:
            return self._header
        return None

    async def authorization(self, session: aiohttp.ClientSession) -> str:
        header = self._valid()
        if header is not None:
            return header
        async with self._lock:
            header = self._valid()  # someone else may have refreshed while we waited
            if header is None:
                header = await self._fetch(session)
        return header

    def rebind(self) -> None:
        """A fresh lock for a new event loop."""
        self._lock = asyncio.Lock()

    def invalidate(self, header: str) -> bool:
        """Forget ``header`` if it is still the current token (after a 401 "expired").

        Always True: either this call dropped it, or another request already did and a
        fresh token is (being) fetched, so replaying is worth it.
        """
        if self._header == header:
            self._header = None
        return True

    async def _fetch(self, session: aiohttp.ClientSession) -> str:
        fetch = retrying(self._fetch_once, TOKEN_RETRY, idempotent=True)
        try:
            token, expires_in = await fetch(session)
        except RateLimitError as exc:
            exc.no_retry = True  # already backed off here; the request must not retry it
            raise
        margin = min(self._refresh_margin, expires_in / 10)
        self._header = f"Bearer {token}"
        self._refresh_at = self._clock() + max(0.0, expires_in - margin)
        return self._header

    def _basic(self) -> str:
        raw = f"{self._key_id}:{self._key_secret.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    async def _fetch_once(self, session: aiohttp.ClientSession) -> tuple[str, float]:
        self.token_requests += 1
        url = self._auth_url
        try:
            async with session.post(
                url,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": self._basic()},
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                status = resp.status
                headers = resp.headers
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise SinchTimeoutError(
                f"POST {url}: token request timed out",
                method="POST",
                url=url,
                may_have_reached_sinch=True,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise SinchConnectionError(
                f"POST {url}: token request failed ({type(exc).__name__})",
                method="POST",
                url=url,
                may_have_reached_sinch=True,
            ) from exc
        if status >= 300:
            raise api_error(status, "POST", url, headers, body)
        try:
            data = orjson.loads(body)
            token = data["access_token"]
            expires_in = float(data.get("expires_in", 3600))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SinchDecodeError(
                "token endpoint answered without an access_token", status=status, body=b""
            ) from exc
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                status, None, "empty access token", method="POST", url=url, headers=headers
            )
        return token, expires_in
