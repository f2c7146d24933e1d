"""The exception hierarchy: everything the SDK raises derives from [`SinchError`][]."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CheckpointInUseError",
    "CheckpointLeaseLost",
    "ClientClosedError",
    "ClientLoopError",
    "ConflictError",
    "ForbiddenError",
    "LimiterUnavailableError",
    "NotFoundError",
    "RateLimitError",
    "RedirectError",
    "SendOutcomeUnknown",
    "ServerError",
    "SinchAPIError",
    "SinchConfigError",
    "SinchConnectionError",
    "SinchDecodeError",
    "SinchError",
    "SinchPagingError",
    "SinchTimeoutError",
    "SinchTransportError",
    "SinchValidationError",
    "TokenEndpointError",
    "UndecodableItem",
    "UndecodableSendResponse",
    "api_error_for_status",
]


class SinchError(Exception):
    """Base class of every error raised by sinch-async.

    ``checkpoint`` is set when the error interrupted a pager walk: a
    [`PagerCheckpoint`][] to pass to the same ``list(...)`` call as
    ``resume=`` to continue where the walk stopped. (Typed ``Any`` so that this module
    imports nothing from the SDK: every other module may import it.)
    """

    checkpoint: Any = None
    #: Set when the SDK already retried this failure as far as it should go.
    no_retry: bool = False


class SinchValidationError(SinchError, ValueError):
    """Bad input, detected before any request was sent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SinchConfigError(SinchError, ValueError):
    """Invalid client configuration (region, credentials, base URL)."""


class ClientClosedError(SinchError, RuntimeError):
    """The client was used after ``aclose()``."""


class ClientLoopError(SinchError, RuntimeError):
    """The client is in use by another, still running event loop.

    A client may move to a new loop once the loop it last used has stopped (successive
    ``asyncio.run()`` calls); using one client from two running loops at once is refused.
    """


class CheckpointInUseError(SinchError):
    """Another sync (in this or another process) holds this checkpoint."""


class LimiterUnavailableError(SinchError):
    """A shared rate limiter (for example on Redis) could not be asked: the request was
    *not* sent. Requests are never sent unlimited when the shared budget is unknown."""


class SinchTransportError(SinchError):
    """The request failed below HTTP: no usable response arrived.

    ``may_have_reached_sinch`` is False only when the request certainly was not
    delivered (for example the connection was refused); when True, Sinch may have
    processed it, so a non-idempotent call (a send) must not be blindly repeated.
    """

    def __init__(
        self, message: str, *, method: str, url: str, may_have_reached_sinch: bool
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.may_have_reached_sinch = may_have_reached_sinch


class SinchConnectionError(SinchTransportError):
    """The connection could not be made, or broke before a response was read."""


class SinchTimeoutError(SinchTransportError, TimeoutError):
    """A configured timeout expired."""


class SinchDecodeError(SinchError):
    """Sinch answered with a body the SDK cannot decode into the expected record."""

    def __init__(self, message: str, *, status: int, body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class SinchPagingError(SinchDecodeError):
    """A list endpoint broke the paging contract: a page other than the one asked for,
    or more pages than its ``count`` allows. The walk stops instead of looping."""


class UndecodableItem(SinchDecodeError):
    """One item of a list page that the SDK cannot decode (the rest of the page decoded).

    A pager raises it when its walk reaches the item (``on_undecodable="raise"``, the
    default), with ``checkpoint`` positioned *at* the item: resuming from it reaches the
    item again (and raises again, or passes it with ``on_undecodable="skip"``). With
    ``on_undecodable="skip"`` the pager logs it at WARNING instead, counts it in
    ``pager.skipped`` and goes on. ``index`` is the item's place on its page, ``raw`` its
    JSON as received; ``body`` is the whole page."""

    def __init__(self, message: str, *, status: int, body: bytes, index: int, raw: Any) -> None:
        super().__init__(message, status=status, body=body)
        self.index = index
        self.raw = raw


class UndecodableSendResponse(SinchDecodeError):
    """Sinch answered a send with 2xx (the batch **was created**) but a body the SDK cannot
    decode. ``batch_id`` is the id when it could still be read; ``request`` is what was sent.
    Do not resend: the messages are on their way."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: bytes,
        request: Any,
        batch_id: str | None,
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.request = request
        self.batch_id = batch_id


class TokenEndpointError(SinchTransportError):
    """The OAuth2 token endpoint failed (5xx, 429 after retries, timeout, no connection),
    so the API request itself was never sent (``may_have_reached_sinch`` is False).
    ``cause`` is the token endpoint's error."""

    def __init__(self, message: str, *, url: str, cause: BaseException) -> None:
        super().__init__(message, method="POST", url=url, may_have_reached_sinch=False)
        self.cause = cause


class SinchAPIError(SinchError):
    """Sinch answered with an HTTP error status.

    ``code`` and ``text`` are Sinch's own (``{"code": ..., "text": ...}``) when the body
    carries them; ``body`` holds the raw bytes whatever their shape.

    ``details`` is the error's ``details`` list as Sinch sent it, a tuple of dicts (the
    Numbers API's ``{"error": {"details": [...]}}``: ``{"type": "ResourceInfo",
    "resourceName": ...}`` for a 404, ``{"type": "BadRequest", "fieldViolations": [...]}``
    for a 400); empty when the body has none (SMS errors never do).
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        text: str | None,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        details: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        detail = f"{code}: {text}" if code and text else (code or text or "no error detail")
        super().__init__(f"{method} {url} -> HTTP {status} ({detail})")
        self.status = status
        self.code = code
        self.text = text
        self.method = method
        self.url = url
        # case-insensitive, like HTTP header names
        self.headers: Mapping[str, str] = CIMultiDictProxy(CIMultiDict(headers or {}))
        self.body = body
        #: Sinch's ``error.details`` entries (dicts, as sent); empty when none.
        self.details: tuple[dict[str, Any], ...] = tuple(dict(d) for d in details)


class BadRequestError(SinchAPIError):
    """HTTP 400: the request does not conform to the API."""


class AuthenticationError(SinchAPIError):
    """HTTP 401: the token is not valid for this service plan (or has expired)."""


class ForbiddenError(SinchAPIError):
    """HTTP 403: valid syntax, refused (unknown group, blocked account, ...)."""


class NotFoundError(SinchAPIError):
    """HTTP 404: unknown path or id."""


class ConflictError(SinchAPIError):
    """HTTP 409: conflict (for example cancelling a batch that can no longer be cancelled)."""


class RateLimitError(SinchAPIError):
    """HTTP 429: too many requests. ``retry_after`` is in seconds when Sinch said."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class RedirectError(SinchAPIError):
    """HTTP 3xx: the SDK never follows redirects (the token would travel to another host).
    ``location`` is where the server pointed. A send answered 3xx was not accepted."""

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


class ServerError(SinchAPIError):
    """HTTP 5xx: Sinch failed. A send may or may not have been processed."""


class SendOutcomeUnknown(SinchError):
    """A send failed in a way that leaves open whether Sinch created the batch.

    ``request`` is what was sent, ``cause`` the failure (a 5xx, a read timeout, a connection
    reset after the request was written). The SDK did not send it again. Give sends a
    unique ``client_reference`` to let the SDK reconcile (look the batch up) instead.
    """

    def __init__(self, request: Any, cause: BaseException, detail: str = "") -> None:
        super().__init__(
            f"send outcome unknown: {type(cause).__name__}: {cause}"
            + (f" ({detail})" if detail else "")
        )
        self.request = request
        self.cause = cause


_BY_STATUS: dict[int, type[SinchAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def api_error_for_status(status: int) -> type[SinchAPIError]:
    """The error class for an HTTP status (3xx or >= 400)."""
    if 300 <= status < 400:
        return RedirectError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, SinchAPIError)


class CheckpointLeaseLost(SinchError):
    """The sync does not hold its checkpoint's lease (any more), so it stops.

    A shared checkpoint (``sinch_async.redis._checkpoint.RedisCheckpoint``) is held under a
    lease that expires if its holder stops renewing it. ``reason`` says why:

    * ``"expired"``: the lease ran out (the process stalled, or could not renew it in
      time) and another sync may hold it now;
    * ``"fenced"``: another sync took the checkpoint over; this sync's save was refused,
      so the newer state was not overwritten;
    * ``"unavailable"``: the store could not be reached to take, renew or write the lease
      (fail closed: nothing is handed out without a checkpoint).

    Items this sync handed out but had not committed are handed out again by the next
    holder (at least once); run the sync again to continue.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
