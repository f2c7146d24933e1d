"""One small frozen record per API the engine serves (SMS, Numbers, the OAuth2 token
endpoint), and what the engine asks of authentication.

An `Api` is data: where requests go (``origin`` + ``prefix``), how they are
authenticated (``auth``), how bodies decode (``decode``), and the API's own budget
(``limits``: its concurrency bound, messages per second and 429 pause, so a Numbers 429
never pauses SMS sends). The one `Engine` of a client sends
every request of every API; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs
from yarl import URL

from ._clock import SinchClock
from ._errors import SinchConfigError
from ._limits import Limits

__all__ = ["JSON", "Api", "Auth", "Cast", "Decoder", "Response", "Transport"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

JSON = "application/json"
#: ``decode(body, cls, *, status)``: the body as a ``cls`` record, or a typed decode error.
Decoder = Callable[..., Any]


@attrs.define(eq=False)  # not frozen: one per request, built as cheaply as possible
class Response:
    """A successful HTTP response, body fully read."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Cast(Generic[T_co]):
    """A decode target that is not a class (a union of records such as ``Batch``), for
    ``Session.call(..., cast_to=Cast(Batch))`` to stay typed."""

    __slots__ = ("target",)

    def __init__(self, target: object) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"Cast({self.target!r})"


class Transport(Protocol):
    """What an `Auth` may ask of the engine: send one request to another API (the
    token endpoint) with the same transport, retry loop and error mapping."""

    async def request(
        self,
        api: Api,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = JSON,
        idempotent: bool | None = None,
        name: str | None = None,
        route: str | None = None,
    ) -> Response: ...


class Auth(Protocol):
    """Supplies the ``Authorization`` header of an API's requests."""

    @property
    def static(self) -> str | None:
        """The header when it never changes (no request needed to get it), else None."""
        ...

    async def authorization(self, transport: Transport) -> str:
        """The header to send now (may fetch a token through ``transport``)."""
        ...

    def invalidate(self, header: str) -> bool:
        """Drop ``header`` after Sinch said it expired; True if a fresh one can be fetched."""
        ...

    def rebind(self) -> None:
        """Forget loop-bound state (locks) when the client moves to a new event loop."""
        ...


class NoAuth:
    """For an API this client cannot call (`Api.unavailable`)."""

    static = ""

    async def authorization(self, transport: Transport) -> str:
        return ""

    def invalidate(self, header: str) -> bool:
        return False

    def rebind(self) -> None:
        return None


@attrs.frozen(kw_only=True, eq=False)
class Api:
    """One API as the engine sees it.

    * ``name``: ``"sms"``, ``"numbers"``, ``"oauth2"`` (logs, budgets, limiter keys);
    * ``origin`` + ``prefix``: every path is relative to ``base = origin + prefix``
      (``https://eu.sms.api.sinch.com`` + ``/xms/v1/{service_plan_id}``);
    * ``auth``: the ``Authorization`` header (a bearer token, OAuth2 tokens, Basic);
    * ``decode``: ``decode(body, cls, *, status)`` of this API's JSON;
    * ``limits``: this API's budget (concurrency, messages per second, 429 pause);
    * ``sinch_clock``: learns Sinch's clock from this API's ``Date`` headers;
    * ``unavailable``: why this client cannot call the API (every request then raises
      [`SinchConfigError`][] with it, before anything is sent).
    """

    name: str
    origin: str
    prefix: str
    auth: Auth
    decode: Decoder
    limits: Limits
    sinch_clock: SinchClock = attrs.field(factory=SinchClock)
    unavailable: str | None = None
    base: str = attrs.field(init=False)
    #: Encoded URLs of query-less paths (a send's ``/batches``), built once.
    urls: dict[str, URL] = attrs.field(init=False, factory=dict, repr=False)

    @base.default
    def _base(self) -> str:
        return self.origin + self.prefix

    def __attrs_post_init__(self) -> None:
        if not self.limits.name:  # its logs and stats say which API's budget they are
            self.limits.name = self.name

    @classmethod
    def missing(cls, name: str, reason: str, decode: Decoder) -> Api:
        """An API this client has no configuration for: calls raise ``reason``."""
        return cls(
            name=name,
            origin="",
            prefix="",
            auth=NoAuth(),
            decode=decode,
            limits=Limits(),
            unavailable=reason,
        )

    def check(self) -> None:
        """Raise [`SinchConfigError`][] if this client cannot call the API."""
        if self.unavailable is not None:
            raise SinchConfigError(self.unavailable)
