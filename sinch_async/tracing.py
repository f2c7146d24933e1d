"""OpenTelemetry tracing through the client's hooks (needs ``opentelemetry-api``: ``pip
install 'sinch-async[otel]'``).

``client.add_hook(opentelemetry_hook(tracer))`` makes every SDK operation an INTERNAL span
(``sinch batches.send_text``: a send with its retries and reconciliation lookup included)
with a CLIENT span per HTTP attempt named ``{METHOD} {route}`` (``GET
/batches/{batch_id}``: never an id in a name) carrying the HTTP semantic-convention
attributes, and an event per retry wait. Nothing here is imported by ``sinch_async``
itself: install OpenTelemetry only if you use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._session import Hook, HookEvent, Operation

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["opentelemetry_hook"]

#: What to install when OpenTelemetry is missing.
_INSTALL_HINT = "pip install 'sinch-async[otel]'"

_OPERATION = "otel_span"
_ATTEMPTS = "otel_attempts"
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Query keys whose values never go into ``url.full``.
_SECRET_KEYS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "awsaccesskeyid",
        "client_secret",
        "key",
        "password",
        "secret",
        "sig",
        "signature",
        "token",
        "x-goog-signature",
    }
)


def _url_attributes(url: str) -> dict[str, Any]:
    """``url.full`` (userinfo and secret query values as ``REDACTED``), ``server.address``
    and ``server.port`` of ``url``."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED:REDACTED@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, "REDACTED" if k.lower() in _SECRET_KEYS else v) for k, v in pairs]
            )
    attributes: dict[str, Any] = {
        "url.full": urlunsplit((parts.scheme, netloc, parts.path, query, "")),
    }
    if host:
        attributes["server.address"] = host
    port = port or _DEFAULT_PORTS.get(parts.scheme)
    if port:
        attributes["server.port"] = port
    return attributes


def _set_ids(span: Span, op: Operation) -> None:
    """The batch and the reference the operation is about, where known."""
    if op.batch_id is not None:
        span.set_attribute("sinch.batch_id", op.batch_id)
    if op.client_reference is not None:
        span.set_attribute("sinch.client_reference", op.client_reference)


def opentelemetry_hook(tracer: Tracer) -> Hook:
    """A hook that records operations and attempts as spans of ``tracer``.

    * each operation: an INTERNAL span ``sinch {operation}``, the operation named
      ``<resource>.<method>`` (``sinch batches.send_text``, ``sinch batches.get``, each
      page of a list ``sinch batches.list``), a child of the span current when the call
      began; ``sinch.batch_id`` and ``sinch.client_reference`` where known (a send's
      batch id once it is known, at its end), ``sinch.attempts``, and on failure
      ``error.type`` (the exception's class name), the exception and an ERROR status;
    * each HTTP attempt: a CLIENT span ``{METHOD} {route}`` under it with
      ``http.request.method``, ``url.full`` (no userinfo, no query; secret query values
      would be ``REDACTED``), ``url.template`` (the route, relative to the API's base
      URL), ``server.address``, ``server.port``, ``http.response.status_code``,
      ``http.request.resend_count`` (from the first retry of the same request on),
      ``error.type`` (the status code for a 4xx/5xx, the exception's class name when no
      response came) with an ERROR status, and the ids as on the operation's span;
    * each retry wait: an event ``retry`` on the operation's span.

    Without OpenTelemetry installed it raises ``ModuleNotFoundError`` (an ``ImportError``)
    whose message says what to install: ``pip install 'sinch-async[otel]'``.
    """
    try:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"opentelemetry_hook needs OpenTelemetry (opentelemetry-api): {_INSTALL_HINT}",
            name=exc.name or "opentelemetry",
        ) from exc

    def hook(event: HookEvent) -> None:
        op = event.operation
        data: dict[str, Any] = op.data
        kind = event.kind
        if kind == "operation_start":
            span = tracer.start_span(
                f"sinch {op.name}",
                kind=SpanKind.INTERNAL,
                attributes={"sinch.operation": op.name, "sinch.operation_id": op.id},
            )
            _set_ids(span, op)
            data[_OPERATION] = span
            return
        parent = data.get(_OPERATION)
        if parent is None:
            return
        if kind == "request":
            method = event.method or "_OTHER"
            route = event.route or "/"
            attributes = _url_attributes(event.url or "")
            attributes["http.request.method"] = method
            attributes["url.template"] = route
            attributes["sinch.attempt"] = event.attempt
            if event.resend_count:
                attributes["http.request.resend_count"] = event.resend_count
            child = tracer.start_span(
                f"{method} {route}",
                context=trace.set_span_in_context(parent),
                kind=SpanKind.CLIENT,
                attributes=attributes,
            )
            _set_ids(child, op)
            data.setdefault(_ATTEMPTS, {})[event.request_id] = child
        elif kind in ("response", "error"):
            child = data.get(_ATTEMPTS, {}).pop(event.request_id, None)
            if child is None:
                return
            status = event.status
            if status is not None:
                child.set_attribute("http.response.status_code", status)
                if status >= 400:
                    child.set_attribute("error.type", str(status))
                    child.set_status(Status(StatusCode.ERROR))
            if event.error is not None:
                child.record_exception(event.error)
                child.set_attribute("error.type", type(event.error).__name__)
                child.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
            _set_ids(child, op)
            child.end()
        elif kind == "retry":
            parent.add_event(
                "retry",
                {"sinch.wait_seconds": event.wait or 0.0, "sinch.attempt": event.attempt},
            )
        elif kind == "operation_end":
            for child in data.pop(_ATTEMPTS, {}).values():  # never answered (cancelled)
                child.end()
            if event.error is not None:
                parent.record_exception(event.error)
                parent.set_attribute("error.type", type(event.error).__name__)
                parent.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
            _set_ids(parent, op)
            parent.set_attribute("sinch.attempts", op.attempts)
            parent.end()
            data.pop(_OPERATION, None)

    return hook
