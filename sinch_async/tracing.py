"""OpenTelemetry tracing through the client's hooks (needs ``opentelemetry-api``).

``client.add_hook(opentelemetry_hook(tracer))`` makes every SDK operation one span (a send
with its retries and reconciliation lookup included) with a child span per HTTP attempt,
its status, and an event per retry wait. Nothing here is imported by ``sinch_async``
itself: install OpenTelemetry only if you use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._session import Hook, HookEvent

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["opentelemetry_hook"]


def opentelemetry_hook(tracer: Tracer) -> Hook:
    """A hook that records operations and attempts as spans of ``tracer``."""
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    def hook(event: HookEvent) -> None:
        data: dict[str, Any] = event.operation.data
        if event.kind == "operation_start":
            span = tracer.start_span(f"sinch {event.operation.name}")
            span.set_attribute("sinch.operation_id", event.operation.id)
            data["otel_span"] = span
            return
        parent = data.get("otel_span")
        if parent is None:
            return
        if event.kind == "request":
            context = trace.set_span_in_context(parent)
            child = tracer.start_span(f"{event.method} attempt {event.attempt}", context=context)
            child.set_attribute("http.request.method", event.method or "")
            child.set_attribute("url.full", event.url or "")
            child.set_attribute("sinch.attempt", event.attempt)
            data["otel_attempt"] = child
        elif event.kind in ("response", "error"):
            child = data.pop("otel_attempt", None)
            if child is not None:
                if event.status is not None:
                    child.set_attribute("http.response.status_code", event.status)
                    if event.status >= 400:
                        child.set_status(Status(StatusCode.ERROR))
                if event.error is not None:
                    child.record_exception(event.error)
                    child.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
                child.end()
        elif event.kind == "retry":
            parent.add_event(
                "retry",
                {"sinch.wait_seconds": event.wait or 0.0, "sinch.attempt": event.attempt},
            )
        elif event.kind == "operation_end":
            if event.error is not None:
                parent.record_exception(event.error)
                parent.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
            parent.set_attribute("sinch.attempts", event.operation.attempts)
            parent.end()
            data.pop("otel_span", None)

    return hook
