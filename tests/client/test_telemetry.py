"""Telemetry you can read (issue 17, section 4): OpenTelemetry spans named by route
template with the HTTP semantic-convention attributes and the batch id / client reference,
log levels that do not cry wolf, reconcile lines that name the reference, and one INFO
line per sync window."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from sinch_async import (
    MemoryCheckpoint,
    NotFoundError,
    RetryPolicy,
    SendOutcomeUnknown,
    ServerError,
    SinchConnectionError,
    TextBatchRequest,
)
from sinch_async.testing import FakeSinch, Fault
from sinch_async.tracing import opentelemetry_hook

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Tracer

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
TO = "+46701234567"

pytestmark = pytest.mark.fake_sinch(seed=17)


class Spans:
    """An in-memory OpenTelemetry pipeline: ``tracer`` in, finished spans out."""

    def __init__(self, exporter: InMemorySpanExporter, tracer: Tracer) -> None:
        self.exporter = exporter
        self.tracer = tracer

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def of_kind(self, kind: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.kind.name == kind]


@pytest.fixture
def otel() -> Iterator[Spans]:
    """A tracer whose spans end up in memory (skipped without opentelemetry-sdk)."""
    pytest.importorskip("opentelemetry.sdk", reason="pip install -e '.[dev]' (opentelemetry-sdk)")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Spans(exporter, provider.get_tracer("sinch-async-tests"))
    provider.shutdown()


def attrs_of(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def sinch_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("sinch_async")]


# --- OpenTelemetry ---------------------------------------------------------------------------


async def test_send_text_is_an_internal_span_over_client_spans(
    fake: FakeSinch, otel: Spans
) -> None:
    async with fake.client(retry=FAST, hooks=[opentelemetry_hook(otel.tracer)]) as client:
        batch = await client.batches.send_text(to=[TO], body="hi", client_reference="order-42")
    (internal,) = otel.of_kind("INTERNAL")
    (attempt,) = otel.of_kind("CLIENT")
    assert internal.name == "sinch batches.send_text"
    assert attempt.name == "POST /batches"
    assert attempt.parent is not None and attempt.parent.span_id == internal.context.span_id
    op = attrs_of(internal)
    assert op["sinch.batch_id"] == batch.id  # learnt from the response, set at the end
    assert op["sinch.client_reference"] == "order-42"
    assert op["sinch.attempts"] == 1
    http = attrs_of(attempt)
    assert http["http.request.method"] == "POST"
    assert http["url.template"] == "/batches"
    assert http["url.full"] == f"{fake.base_url}/xms/v1/{fake.service_plan_id}/batches"
    host, port = fake.base_url.removeprefix("http://").split(":")
    assert http["server.address"] == host and http["server.port"] == int(port)
    assert http["http.response.status_code"] == 201
    assert http["sinch.client_reference"] == "order-42"
    assert "http.request.resend_count" not in http and "error.type" not in http
    assert all(fake.api_token not in str(v) for s in otel.all() for v in attrs_of(s).values())


async def test_retries_are_client_spans_with_resend_count_and_error_type(
    fake: FakeSinch, otel: Spans
) -> None:
    async with fake.client(retry=FAST) as client:
        batch = await client.batches.send_text(to=[TO], body="hi")
        client.add_hook(opentelemetry_hook(otel.tracer))
        fake.add_fault(Fault(method="GET", path="/batches/{id}", status=503, times=2))
        await client.batches.get(batch.id)
    (internal,) = otel.of_kind("INTERNAL")
    attempts = otel.of_kind("CLIENT")
    assert internal.name == "sinch batches.get"
    assert [s.name for s in attempts] == ["GET /batches/{batch_id}"] * 3
    http = [attrs_of(s) for s in attempts]
    assert [h.get("http.request.resend_count") for h in http] == [None, 1, 2]
    assert [h["http.response.status_code"] for h in http] == [503, 503, 200]
    assert [h.get("error.type") for h in http] == ["503", "503", None]
    assert [s.status.status_code.name for s in attempts] == ["ERROR", "ERROR", "UNSET"]
    assert all(h["url.template"] == "/batches/{batch_id}" for h in http)
    assert all(h["url.full"].endswith(f"/batches/{batch.id}") for h in http)
    assert all(h["sinch.batch_id"] == batch.id for h in http)
    assert attrs_of(internal)["sinch.batch_id"] == batch.id
    assert attrs_of(internal)["sinch.attempts"] == 3


async def test_no_response_is_an_error_type_and_a_failed_operation(
    fake: FakeSinch, otel: Spans
) -> None:
    fake.add_fault(Fault(method="GET", path="/batches/{id}", drop=True))
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)
    async with fake.client(retry=policy, hooks=[opentelemetry_hook(otel.tracer)]) as client:
        with pytest.raises(SinchConnectionError):
            await client.batches.get("01ABSENT")
    (internal,) = otel.of_kind("INTERNAL")
    attempts = otel.of_kind("CLIENT")
    assert [attrs_of(s)["error.type"] for s in attempts] == ["SinchConnectionError"] * 2
    assert all("http.response.status_code" not in attrs_of(s) for s in attempts)
    assert attrs_of(attempts[1])["http.request.resend_count"] == 1
    assert attrs_of(internal)["error.type"] == "SinchConnectionError"
    assert internal.status.status_code.name == "ERROR"


async def test_a_reconciled_send_traces_its_post_and_lookup(fake: FakeSinch, otel: Spans) -> None:
    fake.add_fault(Fault(method="POST", path="/batches", status=503, phase="after", times=1))
    async with fake.client(retry=FAST, hooks=[opentelemetry_hook(otel.tracer)]) as client:
        batch = await client.batches.send_text(to=[TO], body="x", client_reference="otel")
    (internal,) = otel.of_kind("INTERNAL")
    attempts = otel.of_kind("CLIENT")
    assert [s.name for s in attempts] == ["POST /batches", "GET /batches"]
    assert {s.parent.span_id for s in attempts if s.parent} == {internal.context.span_id}
    assert [attrs_of(s).get("error.type") for s in attempts] == ["503", None]
    assert all(attrs_of(s)["sinch.client_reference"] == "otel" for s in attempts)
    assert internal.status.status_code.name == "UNSET"  # the send succeeded
    assert attrs_of(internal)["sinch.batch_id"] == batch.id


#: Every route the calls below make: a span name never carries an id.
ROUTES = {
    "POST /oauth2/token",
    "POST /batches",
    "GET /batches",
    "GET /batches/{batch_id}",
    "POST /batches/{batch_id}",
    "DELETE /batches/{batch_id}",
    "GET /batches/{batch_id}/delivery_report",
    "GET /batches/{batch_id}/delivery_report/{recipient}",
    "POST /groups",
    "GET /groups/{group_id}",
    "GET /groups/{group_id}/members",
    "GET /inbounds",
    "GET /activeNumbers",
    "GET /activeNumbers/{phone_number}",
    "GET /availableNumbers/{phone_number}",
}


async def test_span_names_are_route_templates_never_ids(fake: FakeSinch, otel: Spans) -> None:
    ids: set[str] = {TO}
    hook = opentelemetry_hook(otel.tracer)
    async with fake.project_client(retry=FAST, hooks=[hook]) as client:
        batch = await client.batches.send_text(to=[TO], body="hi", client_reference="ref-1")
        ids.add(batch.id)
        await client.batches.get(batch.id)
        await client.batches.update(batch.id, body="changed")
        async for _ in client.batches.list(max_items=1):
            pass
        await client.delivery_reports.get(batch.id, client_reference="ref-1")
        await client.delivery_reports.get_for_recipient(batch.id, TO)
        await client.batches.cancel(batch.id)
        group = await client.groups.create(name="team", members=[TO])
        ids.add(group.id)
        await client.groups.get(group.id)
        await client.groups.members(group.id)
        async for _ in client.inbounds.list(max_items=1):
            pass
        async for _ in client.numbers.list(number_type="MOBILE", max_items=1):
            pass
        with pytest.raises(NotFoundError):
            await client.numbers.get(TO)
        with pytest.raises(NotFoundError):
            await client.numbers.check_availability("+46700000001")
        ids.add("+46700000001")
    attempts = otel.of_kind("CLIENT")
    assert {s.name for s in attempts} == ROUTES
    assert all(attrs_of(s)["url.template"] == s.name.split(" ", 1)[1] for s in attempts)
    names = [s.name for s in otel.all()]
    assert not [n for n in names if any(i in n or i.lstrip("+") in n for i in ids)]
    token = next(s for s in attempts if s.name == "POST /oauth2/token")
    assert attrs_of(token)["url.full"] == fake.auth_url
    assert all(fake.key_secret not in str(v) for s in otel.all() for v in attrs_of(s).values())
    gets = [s for s in attempts if s.name == "GET /batches/{batch_id}/delivery_report"]
    assert attrs_of(gets[0])["sinch.batch_id"] == batch.id
    assert attrs_of(gets[0])["sinch.client_reference"] == "ref-1"


async def test_every_resource_method_is_an_operation_named_resource_dot_method(
    fake: FakeSinch, otel: Spans
) -> None:
    """``<resource>.<method>`` for every public call (a pager's pages: ``<resource>.list``),
    never ``GET /batches/{batch_id}``."""
    hook = opentelemetry_hook(otel.tracer)
    fake.numbers.seed_available(2)
    async with fake.project_client(retry=FAST, hooks=[hook]) as client:
        batch = await client.batches.send_text(to=[TO], body="hi", client_reference="ref-1")
        await client.batches.get(batch.id)
        await client.batches.update(batch.id, body="changed")
        await client.batches.replace_text(batch.id, to=[TO], body="again")
        await client.batches.replace(batch.id, TextBatchRequest(to=[TO], body="third"))
        await client.batches.dry_run_text(to=[TO], body="dry")
        await client.batches.dry_run(TextBatchRequest(to=[TO], body="dry"))
        feedback = await client.batches.send_text(to=[TO], body="f", feedback_enabled=True)
        await client.batches.send_delivery_feedback(feedback.id, [TO])
        async for _ in client.batches.list(max_items=1):
            pass
        await client.delivery_reports.get(batch.id)
        await client.delivery_reports.get_for_recipient(batch.id, TO)
        async for _ in client.delivery_reports.list(max_items=1):
            pass
        await client.batches.cancel(batch.id)
        group = await client.groups.create(name="team", members=[TO])
        await client.groups.get(group.id)
        await client.groups.update(group.id, add=["+46700000009"])
        await client.groups.replace(group.id, members=[TO])
        await client.groups.members(group.id)
        async for _ in client.groups.list(max_items=1):
            pass
        await client.groups.delete(group.id)
        async for _ in client.inbounds.list(max_items=1):
            pass
        with pytest.raises(NotFoundError):
            await client.inbounds.get("01ABSENT")
        async for _ in client.numbers.list(number_type="MOBILE", max_items=1):
            pass
        (available,) = await client.numbers.search(region_code="US", number_type="LOCAL", size=1)
        await client.numbers.check_availability(available.phone_number)
        await client.numbers.rent(available.phone_number)
        await client.numbers.get(available.phone_number)
        await client.numbers.update(available.phone_number, display_name="desk")
        await client.numbers.release(available.phone_number)
        await client.numbers.rent_any(region_code="US", number_type="LOCAL")
        await client.numbers.regions()
        await client.numbers.callback_configuration()
        await client.numbers.update_callback_configuration(hmac_secret="s" * 32)
    names = [s.name for s in otel.of_kind("INTERNAL") if s.name != "sinch oauth2 token"]
    assert names == [
        f"sinch {n}"
        for n in [
            "batches.send_text",
            "batches.get",
            "batches.update",
            "batches.replace_text",
            "batches.replace",
            "batches.dry_run_text",
            "batches.dry_run",
            "batches.send_text",
            "batches.send_delivery_feedback",
            "batches.list",
            "delivery_reports.get",
            "delivery_reports.get_for_recipient",
            "delivery_reports.list",
            "batches.cancel",
            "groups.create",
            "groups.get",
            "groups.update",
            "groups.replace",
            "groups.members",
            "groups.list",
            "groups.delete",
            "inbounds.list",
            "inbounds.get",
            "numbers.list",
            "numbers.search",
            "numbers.check_availability",
            "numbers.rent",
            "numbers.get",
            "numbers.update",
            "numbers.release",
            "numbers.rent_any",
            "numbers.regions",
            "numbers.callback_configuration",
            "numbers.update_callback_configuration",
        ]
    ]
    ops = {attrs_of(s)["sinch.operation"] for s in otel.of_kind("INTERNAL")}
    assert ops == {n.removeprefix("sinch ") for n in names} | {"oauth2 token"}


def test_opentelemetry_hook_without_opentelemetry_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No bare ``ModuleNotFoundError: No module named 'opentelemetry'``: an ImportError
    (``ModuleNotFoundError``) naming the extra."""
    for module in ("opentelemetry", "opentelemetry.trace"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModuleNotFoundError) as raised:
        opentelemetry_hook(object())  # type: ignore[arg-type]
    assert isinstance(raised.value, ImportError)
    assert "pip install 'sinch-async[otel]'" in str(raised.value)
    assert raised.value.name == "opentelemetry"


async def test_url_full_redacts_userinfo_and_secret_query_values(otel: Spans) -> None:
    from sinch_async._session import HookEvent, Operation

    hook = opentelemetry_hook(otel.tracer)
    op = Operation("probe", None)
    url = "https://user:pw@auth.example.com/oauth2/token?sig=abc&keep=1"
    hook(HookEvent(kind="operation_start", operation=op))
    hook(HookEvent(kind="request", operation=op, method="POST", url=url, route="/oauth2/token"))
    hook(HookEvent(kind="response", operation=op, method="POST", url=url, status=200))
    hook(HookEvent(kind="operation_end", operation=op))
    (attempt,) = otel.of_kind("CLIENT")
    http = attrs_of(attempt)
    assert http["url.full"] == (
        "https://REDACTED:REDACTED@auth.example.com/oauth2/token?sig=REDACTED&keep=1"
    )
    assert http["server.address"] == "auth.example.com" and http["server.port"] == 443


# --- logs ----------------------------------------------------------------------------------


async def test_a_reconciled_send_logs_no_give_up_warning_and_names_its_campaign_row(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 retried, then a 503 after the batch was stored: the send is reconciled. No
    WARNING: nothing failed."""
    caplog.set_level(logging.DEBUG, logger="sinch_async")
    fake.add_fault(
        Fault(method="POST", path="/batches", status=429, headers={"Retry-After": "0"}, times=1)
    )
    fake.add_fault(Fault(method="POST", path="/batches", status=503, phase="after", times=1))
    async with fake.client(retry=FAST) as client:
        batch = await client.batches.send_text(to=[TO], body="x", client_reference="spring:7")
    records = sinch_records(caplog)
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []
    assert not any("giving up" in r.getMessage() for r in records)
    (ended,) = [r for r in records if getattr(r, "sinch_event", None) == "retry_end"]
    assert ended.levelno == logging.INFO and ended.sinch_status == 503  # type: ignore[attr-defined]
    (reconciled,) = [r for r in records if getattr(r, "sinch_event", None) == "reconciled"]
    assert "'spring:7'" in reconciled.getMessage()
    assert "campaign 'spring' row 7" in reconciled.getMessage()
    assert reconciled.sinch_client_reference == "spring:7"  # type: ignore[attr-defined]
    assert reconciled.sinch_campaign == "spring"  # type: ignore[attr-defined]
    assert reconciled.sinch_row == 7  # type: ignore[attr-defined]
    assert reconciled.sinch_batch_id == batch.id  # type: ignore[attr-defined]


async def test_a_definite_answer_after_a_retry_is_not_giving_up(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sinch_async")
    fake.add_fault(Fault(method="GET", path="/batches/{id}", status=503, times=1))
    async with fake.client(retry=FAST) as client:
        with pytest.raises(NotFoundError):
            await client.batches.get("01ABSENT")
    records = sinch_records(caplog)
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []
    (retry,) = [r for r in records if getattr(r, "sinch_event", None) == "retry"]
    assert retry.levelno == logging.INFO
    (ended,) = [r for r in records if getattr(r, "sinch_event", None) == "retry_end"]
    assert ended.levelno == logging.INFO and "NotFoundError after 2 attempts" in ended.getMessage()
    assert ended.sinch_route == "/batches/{batch_id}"  # type: ignore[attr-defined]


async def test_running_out_of_attempts_is_a_warning_naming_the_route(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sinch_async")
    fake.add_fault(Fault(method="GET", path="/batches/{id}", status=503))
    async with fake.client(retry=FAST) as client:
        with pytest.raises(ServerError):
            await client.batches.get("01ANY")
    records = sinch_records(caplog)
    (warning,) = [r for r in records if r.levelno >= logging.WARNING]
    assert warning.sinch_event == "give_up"  # type: ignore[attr-defined]
    assert "giving up after 4 attempts: ServerError" in warning.getMessage()
    assert warning.sinch_route == "/batches/{batch_id}"  # type: ignore[attr-defined]
    assert warning.sinch_attempt == 4  # type: ignore[attr-defined]


async def test_a_resend_after_an_empty_lookup_names_the_reference(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sinch_async")
    # 503 before anything was stored: the lookup finds nothing and the send goes again
    fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
    async with fake.client(retry=FAST) as client:
        await client.batches.send_text(to=[TO], body="x", client_reference="invoice-9")
    records = sinch_records(caplog)
    (resend,) = [r for r in records if getattr(r, "sinch_event", None) == "resend"]
    assert "client_reference 'invoice-9'" in resend.getMessage()
    assert resend.sinch_client_reference == "invoice-9"  # type: ignore[attr-defined]
    assert not hasattr(resend, "sinch_row")  # not a campaign reference
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


async def test_an_ambiguous_reconciliation_warns_with_the_reference(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sinch_async")
    async with fake.client(retry=FAST) as earlier:  # another process, the same send
        await earlier.batches.send_text(to=[TO], body="x", client_reference="dup:1")
    fake.add_fault(Fault(method="POST", path="/batches", status=503, phase="after", times=1))
    async with fake.client(retry=FAST) as client:
        with pytest.raises(SendOutcomeUnknown):
            await client.batches.send_text(to=[TO], body="x", client_reference="dup:1")
    (warning,) = [r for r in sinch_records(caplog) if r.levelno >= logging.WARNING]
    assert warning.sinch_event == "reconcile_ambiguous"  # type: ignore[attr-defined]
    assert "client_reference 'dup:1' (campaign 'dup' row 1)" in warning.getMessage()


async def test_each_sync_window_is_one_info_line(
    fake: FakeSinch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sinch_async")
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=2)
    fake.seed_inbounds(30, start=start + timedelta(minutes=1), spacing=timedelta(minutes=3))
    async with fake.client(retry=FAST) as client:
        sync = client.inbounds.sync(
            since=start,
            until=now,
            chunk=timedelta(hours=1),
            page_size=10,
            checkpoint=MemoryCheckpoint(),
        )
        got = [item async for item in sync]
    assert len(got) == 30
    windows = [r for r in sinch_records(caplog) if getattr(r, "sinch_event", None) == "sync_window"]
    assert len(windows) == 2 and all(r.levelno == logging.INFO for r in windows)
    assert [r.sinch_items for r in windows] == [20, 10]  # type: ignore[attr-defined]
    assert all(r.sinch_pages >= 1 and r.sinch_commits >= 1 for r in windows)  # type: ignore[attr-defined]
    first, second = windows
    assert first.sinch_window_end == second.sinch_window_start  # type: ignore[attr-defined]
    assert first.sinch_kind == "inbounds"  # type: ignore[attr-defined]
    assert "inbounds" in first.getMessage() and "20 items" in first.getMessage()
