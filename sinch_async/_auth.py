"""Authentication: a service plan's bearer token, or project keys exchanged for OAuth2
access tokens at the token endpoint.

The token endpoint is one more `Api` (HTTP Basic with the project
keys): its requests go through the client's engine like every other, with the same
transport-error mapping and the same retry loop (its own, once per token: an API request
waiting for a token that cannot be had is not retried on top).
"""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import urlsplit

import attrs
import orjson

from ._api import Api, Transport
from ._clock import SYSTEM_CLOCK, Clock
from ._config import Secret
from ._errors import AuthenticationError, SinchDecodeError
from ._limits import Limits

__all__ = [
    "DEFAULT_AUTH_URL",
    "FORM",
    "BasicAuth",
    "ProjectAuth",
    "ServicePlanAuth",
    "token_api",
]

DEFAULT_AUTH_URL = "https://auth.sinch.com/oauth2/token"
FORM = "application/x-www-form-urlencoded"
_GRANT = b"grant_type=client_credentials"


def _has_control(text: str) -> bool:
    return any(ord(ch) < 33 or ord(ch) == 127 for ch in text)


@attrs.frozen(repr=False)
class ServicePlanAuth:
    """Service plan id + API token (``Authorization: Bearer <token>``)."""

    service_plan_id: str
    api_token: Secret
    static: str = attrs.field(init=False)

    @static.default
    def _header(self) -> str:
        return f"Bearer {self.api_token.reveal()}"

    @property
    def owner_id(self) -> str:
        return self.service_plan_id

    async def authorization(self, transport: Transport) -> str:
        return self.static

    def invalidate(self, header: str) -> bool:
        return False  # a static token cannot be refreshed

    def rebind(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"ServicePlanAuth(service_plan_id={self.service_plan_id!r}, api_token=********)"


@attrs.frozen(repr=False)
class BasicAuth:
    """HTTP Basic with a key id and secret (the OAuth2 token endpoint)."""

    key_id: str
    key_secret: Secret
    static: str = attrs.field(init=False)

    @static.default
    def _header(self) -> str:
        raw = f"{self.key_id}:{self.key_secret.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    async def authorization(self, transport: Transport) -> str:
        return self.static

    def invalidate(self, header: str) -> bool:
        return False

    def rebind(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"BasicAuth(key_id={self.key_id!r}, ****)"


@attrs.frozen
class _Token:
    value: str
    expires_in: float


def _decode_token(
    body: bytes, cls: object = None, *, status: int = 200, url: str = DEFAULT_AUTH_URL
) -> _Token:
    """The token endpoint's answer (``access_token``, ``expires_in``), checked: a token
    that could not travel in a header is an [`AuthenticationError`][] here, not a
    ``ValueError`` from aiohttp on the next request."""
    try:
        data = orjson.loads(body)
        token = data["access_token"]
        expires_in = float(data.get("expires_in", 3600))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SinchDecodeError(
            "token endpoint answered without an access_token", status=status, body=b""
        ) from exc
    if not isinstance(token, str) or not token:
        raise AuthenticationError(status, None, "empty access token", method="POST", url=url)
    if _has_control(token):
        raise AuthenticationError(
            status,
            None,
            "the token endpoint answered an access token with spaces or control characters "
            "(CR/LF), which cannot be sent in a header",
            method="POST",
            url=url,
        )
    return _Token(token, expires_in)


def token_api(auth_url: str, key_id: str, key_secret: Secret, clock: Clock) -> Api:
    """The OAuth2 token endpoint as an API of its own: Basic credentials, its own budget
    (a 429 there pauses token requests only)."""
    return Api(
        name="oauth2",
        origin=auth_url,
        prefix="",
        auth=BasicAuth(key_id, key_secret),
        decode=_decode_token,
        limits=Limits(clock=clock.monotonic, sleep=clock.sleep),
    )


class ProjectAuth:
    """Project id + access key, exchanged for a Bearer token at the OAuth2 endpoint.

    One token request is in flight at a time however many requests wait for it, and when
    it fails for good every request that waited for it fails with it (the endpoint is not
    asked again once per waiter); the token is refreshed shortly before it expires (on
    ``clock``), and dropped when Sinch answers 401 "expired".
    """

    static = None

    def __init__(
        self,
        project_id: str,
        key_id: str,
        key_secret: Secret,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        refresh_margin: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._project_id = project_id
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._header: str | None = None
        self._refresh_at = 0.0
        self._fetches = 0  # token fetches finished (ok or not)
        self._failure: Exception | None = None  # how the last one failed
        #: The token endpoint (its requests go through the client's engine).
        self.api = token_api(auth_url, key_id, key_secret, clock)
        # its path (``/oauth2/token``): the route of its requests in hooks and spans
        try:
            self._route = urlsplit(auth_url).path or "/"
        except ValueError:  # not a URL: its requests fail with a clearer error
            self._route = "/"

    @property
    def owner_id(self) -> str:
        return self._project_id

    def __repr__(self) -> str:
        return f"ProjectAuth(project_id={self._project_id!r}, ****)"

    def _valid(self) -> str | None:
        if self._header is not None and self._clock.monotonic() < self._refresh_at:
            return self._header
        return None

    async def authorization(self, transport: Transport) -> str:
        header = self._valid()
        if header is not None:
            return header
        seen = self._fetches
        async with self._lock:
            header = self._valid()  # someone else may have refreshed while we waited
            if header is None:
                failure = self._failure
                if failure is not None and self._fetches != seen:
                    raise failure  # the fetch this request waited for failed
                header = await self._fetch(transport)
        return header

    def rebind(self) -> None:
        """A fresh lock for a new event loop."""
        self._lock = asyncio.Lock()
        self.api.limits.rebind()

    def invalidate(self, header: str) -> bool:
        """Forget ``header`` if it is still the current token (after a 401 "expired").

        Always True: either this call dropped it, or another request already did and a
        fresh token is (being) fetched, so replaying is worth it.
        """
        if self._header == header:
            self._header = None
        return True

    async def _fetch(self, transport: Transport) -> str:
        try:
            resp = await transport.request(
                self.api,
                "POST",
                "",
                body=_GRANT,
                content_type=FORM,
                idempotent=True,
                name="oauth2 token",
                route=self._route,
            )
            token = _decode_token(resp.body, status=resp.status, url=self.api.origin)
        except Exception as exc:
            self._fetches += 1
            self._failure = exc
            raise
        self._fetches += 1
        self._failure = None
        margin = min(self._refresh_margin, token.expires_in / 10)
        self._header = f"Bearer {token.value}"
        self._refresh_at = self._clock.monotonic() + max(0.0, token.expires_in - margin)
        return self._header
