"""Delivery reports of the fake: per-recipient outcomes, the report routes (§5, §6) and the
delivery-report callbacks they trigger (§8.1).

A batch is *dispatched* once its send time (``send_at``, else ``created_at``) is not in
the future: its recipients (group ids expanded to the groups' members at that moment) get
their outcomes then, and those are fixed (``FakeSinch.set_outcome`` only affects batches
dispatched later). A recipient whose outcome is an intermediate status (``Queued``,
``Dispatched``) stays there until the batch is cancelled, which makes it ``Cancelled``
(407). A batch cancelled before it was dispatched never sends: its report stays empty.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .._validation import parse_int
from ._batches import DEFAULT_LIST_WINDOW, BatchEvent, BatchStore, render_message
from ._encoding import has_unmatched_parameter
from ._groups import GroupStore
from ._http import Reply, RequestContext, Router
from ._util import (
    JSONObject,
    bare_number,
    constraint_violation,
    format_timestamp,
    invalid_format,
    new_id,
    not_found,
    page_body,
)

__all__ = ["FINAL_STATUSES", "STATUSES", "ReportEngine"]

INTERMEDIATE_STATUSES = ("Queued", "Dispatched")
FINAL_STATUSES = (
    "Aborted",
    "Cancelled",
    "Rejected",
    "Deleted",
    "Delivered",
    "Failed",
    "Expired",
    "Unknown",
)
STATUSES = INTERMEDIATE_STATUSES + FINAL_STATUSES
_FINAL = frozenset(FINAL_STATUSES)
_CANONICAL = {status.lower(): status for status in STATUSES}
_CALLBACK_MODES = ("summary", "full", "per_recipient", "per_recipient_final")

#: ``emit(batch, payloads)``: POST ``payloads`` in order to the batch's callback URL.
Emit = Callable[[JSONObject, list[JSONObject]], None]


@dataclass
class _Dispatch:
    """The delivery state of one dispatched batch (or of seeded, report-only ones)."""

    batch_id: str
    seq: int
    at: datetime
    kind: str  # "sms" | "mms"
    reports: list[JSONObject]


def check_status(status: str) -> str:
    """The canonical spelling of a delivery status; ``ValueError`` if unknown."""
    canonical = _CANONICAL.get(status.lower()) if isinstance(status, str) else None
    if canonical is None:
        raise ValueError(f"unknown delivery status {status!r}; expected one of {STATUSES}")
    return canonical


def _with_status(report: JSONObject, status: str, code: int) -> JSONObject:
    step = dict(report)
    step["status"] = status
    step["code"] = code
    if status == "Queued":
        step.pop("operator_status_at", None)
    return step


def _status_chain(report: JSONObject) -> list[JSONObject]:
    """The ``per_recipient`` callbacks of one recipient: Queued → Dispatched → final."""
    status = report["status"]
    chain = [_with_status(report, "Queued", 400)]
    if status == "Queued":
        return chain
    if status not in ("Aborted", "Cancelled"):  # those never reached the operator
        chain.append(_with_status(report, "Dispatched", 401))
    if status != "Dispatched":
        chain.append(dict(report))
    return chain


class ReportEngine:
    """Derives, stores and serves delivery reports; hands callbacks to ``emit``."""

    def __init__(
        self,
        batches: BatchStore,
        groups: GroupStore,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        #: Configured outcomes: bare number → (status, code).
        self.outcomes: dict[str, tuple[str, int]] = {}
        self.dispatches: dict[str, _Dispatch] = {}
        self.emit: Emit | None = None
        self._unsent: set[str] = set()
        self._tracked: set[str] = set()
        self._heap: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._batches = batches
        self._groups = groups
        self._clock = clock
        self._rng = rng
        batches.listener = self.on_batch_event

    def register(self, router: Router) -> None:
        """Add the delivery-report routes to ``router``."""
        router.add("GET", "/batches/{batch_id}/delivery_report", self.batch_report_route)
        router.add(
            "GET",
            "/batches/{batch_id}/delivery_report/{recipient_msisdn}",
            self.recipient_report_route,
        )
        router.add("GET", "/delivery_reports", self.list_route)

    # -- configuration -----------------------------------------------------------------

    def set_outcome(self, msisdn: str, status: str, code: int) -> None:
        """Recipients ``msisdn`` (with or without ``+``) of later batches end in ``status``."""
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError("code must be an int")
        self.outcomes[bare_number(msisdn)] = (check_status(status), code)

    # -- dispatching -------------------------------------------------------------------

    def sweep(self) -> None:
        """Dispatch every stored batch whose send time has come.

        Cheap when nothing is due: batches wait in a heap ordered by send time (batches
        put straight into ``batches`` by a test are picked up when the count changes).
        """
        batches = self._batches.batches
        if len(batches) != len(self._tracked):
            self._reconcile()
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            _, _, batch_id = heapq.heappop(self._heap)
            if batch_id in self.dispatches or batch_id in self._unsent:
                continue
            batch = batches.get(batch_id)
            when = self._send_time(batch_id) if batch is not None else None
            if batch is None or when is None:
                continue
            if when > now:  # moved later by an update since it was queued
                self._queue(batch_id, when)
            elif batch.get("canceled"):  # stored already cancelled: it never went out
                self._unsent.add(batch_id)
            else:
                self._dispatch(batch_id, batch)

    def _reconcile(self) -> None:
        stored = self._batches.batches
        self._tracked.intersection_update(stored)
        for batch_id in stored:
            if batch_id not in self._tracked:
                self._track(batch_id)

    def _send_time(self, batch_id: str) -> datetime | None:
        try:
            return self._batches.send_time(batch_id)
        except (KeyError, TypeError, ValueError):  # malformed dict inserted by a test
            return None

    def _queue(self, batch_id: str, when: datetime) -> None:
        heapq.heappush(self._heap, (when, next(self._order), batch_id))

    def _track(self, batch_id: str) -> None:
        """Wait for the batch's send time (again, after an update or a replace)."""
        self._tracked.add(batch_id)
        when = self._send_time(batch_id)
        if when is not None:
            self._queue(batch_id, when)

    def on_batch_event(self, event: BatchEvent, batch_id: str) -> None:
        """A batch was created, updated, replaced (a new send) or cancelled."""
        undecided = batch_id not in self.dispatches and batch_id not in self._unsent
        if event == "created" or (event == "updated" and undecided):
            self._track(batch_id)
            return
        if event == "replaced":
            self.dispatches.pop(batch_id, None)
            self._unsent.discard(batch_id)
            self._track(batch_id)
            return
        if event != "canceled":
            return
        batch = self._batches.batches[batch_id]
        dispatch = self.dispatches.get(batch_id)
        when = self._send_time(batch_id)
        if dispatch is None and when is not None and when <= self._clock():
            dispatch = self._dispatch(batch_id, batch)
        if dispatch is None:
            self._unsent.add(batch_id)
        else:
            self._cancel(batch, dispatch)

    def _dispatch(self, batch_id: str, batch: JSONObject) -> _Dispatch:
        at = self._batches.created_time(batch_id)
        sent_at = self._batches.send_time(batch_id)
        kind = "mms" if batch.get("type") == "mt_media" else "sms"
        reports = []
        for recipient in self._groups.expand(batch.get("to") or ()):
            status, code, parts = self._decide(batch, recipient)
            report: JSONObject = {
                "type": f"recipient_delivery_report_{kind}",
                "batch_id": batch_id,
                "recipient": recipient,
                "code": code,
                "status": status,
                "at": format_timestamp(at),
            }
            if status != "Queued":
                report["operator_status_at"] = format_timestamp(sent_at)
            if batch.get("client_reference") is not None:
                report["client_reference"] = batch["client_reference"]
            if batch.get("from") is not None:
                report["applied_originator"] = batch["from"]
            if parts is not None:
                report["number_of_message_parts"] = parts
            reports.append(report)
        dispatch = _Dispatch(batch_id, self._batches.seq_of(batch_id), at, kind, reports)
        self.dispatches[batch_id] = dispatch

        mode = batch.get("delivery_report")
        if mode == "per_recipient":
            self._emit(batch, [step for r in reports for step in _status_chain(r)])
        elif mode == "per_recipient_final":
            self._emit(batch, [dict(r) for r in reports if r["status"] in _FINAL])
        elif mode in ("summary", "full") and all(r["status"] in _FINAL for r in reports):
            self._emit(batch, [self.batch_report(dispatch, batch, full=mode == "full")])
        return dispatch

    def _decide(self, batch: JSONObject, recipient: str) -> tuple[str, int, int | None]:
        """(status, code, number_of_message_parts) of one recipient's message."""
        kind = batch.get("type")
        parts: int | None = None
        try:
            parameters = batch.get("parameters") or {}
            text = batch["body"] if kind == "mt_text" else None
            if kind == "mt_media":
                text = batch["body"].get("message", "")
            if text is not None and has_unmatched_parameter(text, parameters, recipient):
                return "Aborted", 405, None
            limit = batch.get("max_number_of_message_parts")
            if limit is not None and kind in ("mt_text", "mt_binary"):
                parts = render_message(batch, recipient)[1]
                if parts > limit:
                    return "Aborted", 411, parts
        except (AttributeError, KeyError, TypeError):  # malformed dict inserted by a test
            pass
        status, code = self.outcomes.get(bare_number(recipient), ("Delivered", 0))
        return status, code, parts

    def _cancel(self, batch: JSONObject, dispatch: _Dispatch) -> None:
        stamp = format_timestamp(self._clock())
        changed = []
        for report in dispatch.reports:
            if report["status"] not in _FINAL:
                report.update(status="Cancelled", code=407, operator_status_at=stamp)
                changed.append(report)
        if not changed:  # cancelling a completed batch changes nothing
            return
        mode = batch.get("delivery_report")
        if mode in ("per_recipient", "per_recipient_final"):
            self._emit(batch, [dict(r) for r in changed])
        elif mode in ("summary", "full"):
            self._emit(batch, [self.batch_report(dispatch, batch, full=mode == "full")])

    def _emit(self, batch: JSONObject, payloads: list[JSONObject]) -> None:
        if payloads and self.emit is not None and batch.get("delivery_report") in _CALLBACK_MODES:
            self.emit(batch, payloads)

    # -- report shapes -----------------------------------------------------------------

    @staticmethod
    def batch_report(
        dispatch: _Dispatch | None,
        batch: JSONObject | None,
        *,
        full: bool,
        statuses: set[str] | None = None,
        codes: set[int] | None = None,
        client_reference: str | None = None,
    ) -> JSONObject:
        """``delivery_report_sms|mms``: one bucket per (code, status) with ≥ 1 recipient.

        ``total_message_count`` counts every recipient message, whatever the filters.
        """
        if dispatch is not None:
            kind, reports = dispatch.kind, dispatch.reports
        else:
            kind = "mms" if batch is not None and batch.get("type") == "mt_media" else "sms"
            reports = []
        reference = batch.get("client_reference") if batch is not None else None
        if reference is None and reports:
            reference = reports[0].get("client_reference")
        buckets: dict[tuple[int, str], list[str]] = {}
        if client_reference is None or client_reference == reference:
            for report in reports:
                if statuses is not None and report["status"] not in statuses:
                    continue
                if codes is not None and report["code"] not in codes:
                    continue
                key = (report["code"], report["status"])
                buckets.setdefault(key, []).append(bare_number(report["recipient"]))
        rows = []
        for (code, status), recipients in sorted(buckets.items()):
            row: JSONObject = {"code": code, "status": status, "count": len(recipients)}
            if full:
                row["recipients"] = recipients
            rows.append(row)
        body: JSONObject = {
            "type": f"delivery_report_{kind}",
            "batch_id": dispatch.batch_id if dispatch is not None else (batch or {}).get("id"),
            "total_message_count": len(reports),
            "statuses": rows,
        }
        if reference is not None:
            body["client_reference"] = reference
        return body

    # -- routes ------------------------------------------------------------------------

    def batch_report_route(self, ctx: RequestContext) -> Reply:
        """``GET /batches/{batch_id}/delivery_report?type=summary|full&status&code&...``."""
        batch_id = ctx.params["batch_id"]
        kind = ctx.query_value("type") or "summary"
        if kind not in ("summary", "full"):
            raise constraint_violation("query parameter 'type' must be summary or full")
        statuses, codes = _status_filter(ctx), _code_filter(ctx)
        dispatch = self.dispatches.get(batch_id)
        batch = self._batches.batches.get(batch_id)
        if dispatch is None and batch is None:
            raise not_found(f"batch '{batch_id}' not found")
        body = self.batch_report(
            dispatch,
            batch,
            full=kind == "full",
            statuses=statuses,
            codes=codes,
            client_reference=ctx.query_value("client_reference"),
        )
        return Reply(200, body)

    def recipient_report_route(self, ctx: RequestContext) -> Reply:
        """``GET /batches/{batch_id}/delivery_report/{recipient_msisdn}`` (``+`` optional)."""
        batch_id = ctx.params["batch_id"]
        wanted = bare_number(ctx.params["recipient_msisdn"].strip())
        dispatch = self.dispatches.get(batch_id)
        if dispatch is None and batch_id not in self._batches.batches:
            raise not_found(f"batch '{batch_id}' not found")
        for report in dispatch.reports if dispatch is not None else ():
            if bare_number(report["recipient"]) == wanted:
                return Reply(200, dict(report))
        raise not_found(f"no delivery report for recipient '{wanted}' in batch '{batch_id}'")

    def list_route(self, ctx: RequestContext) -> Reply:
        """``GET /delivery_reports`` → finished recipient reports, newest ``at`` first."""
        page, page_size = ctx.paging()
        start = ctx.query_datetime("start_date") or ctx.now - DEFAULT_LIST_WINDOW
        end = ctx.query_datetime("end_date")
        statuses, codes = _status_filter(ctx), _code_filter(ctx)
        client_reference = ctx.query_value("client_reference")
        rows: list[tuple[tuple[datetime, int, int], JSONObject]] = []
        for dispatch in self.dispatches.values():
            if dispatch.at < start or (end is not None and dispatch.at >= end):
                continue
            for index, report in enumerate(dispatch.reports):
                if report["status"] not in _FINAL:
                    continue
                if statuses is not None and report["status"] not in statuses:
                    continue
                if codes is not None and report["code"] not in codes:
                    continue
                reference = report.get("client_reference")
                if client_reference is not None and reference != client_reference:
                    continue
                rows.append(((dispatch.at, dispatch.seq, -index), report))
        rows.sort(key=lambda row: row[0], reverse=True)
        items = [report for _, report in rows]
        return Reply(200, page_body("delivery_reports", items, page, page_size))

    # -- seeding -----------------------------------------------------------------------

    def seed(
        self,
        n: int,
        *,
        start: datetime,
        spacing: timedelta,
        status: str | Callable[[int], str],
        code: int | Callable[[int], int],
        fields: Mapping[str, Any],
    ) -> list[JSONObject]:
        """``n`` report-only recipient reports at ``start + i * spacing`` (oldest first).

        Each gets its own batch id (not in ``batches``; the batch report routes know it)
        unless ``fields`` gives a ``batch_id`` of an earlier seeded report.
        """
        if "at" in fields:
            raise ValueError("'at' is given by start and spacing")
        created: list[JSONObject] = []
        for i in range(n):
            at = start + i * spacing
            report: JSONObject = {
                "type": "recipient_delivery_report_sms",
                "batch_id": self._fresh_id(at),
                "recipient": f"+1555{i:07d}",
                "code": code(i) if callable(code) else code,
                "status": check_status(status(i) if callable(status) else status),
                "at": format_timestamp(at),
                "operator_status_at": format_timestamp(at),
            }
            for key, value in fields.items():
                item = value(i) if callable(value) else value
                if item is None:
                    report.pop(key, None)
                else:
                    report[key] = item
            self._store_seeded(report, at)
            created.append(report)
        return created

    def _fresh_id(self, at: datetime) -> str:
        batch_id = new_id(at, self._rng)
        while batch_id in self.dispatches or batch_id in self._batches.batches:
            batch_id = new_id(at, self._rng)
        return batch_id

    def _store_seeded(self, report: JSONObject, at: datetime) -> None:
        batch_id = report["batch_id"]
        if batch_id in self._batches.batches:
            raise ValueError(f"batch_id {batch_id!r} belongs to a stored batch")
        dispatch = self.dispatches.get(batch_id)
        if dispatch is None:
            kind = "mms" if str(report.get("type", "")).endswith("_mms") else "sms"
            dispatch = _Dispatch(batch_id, self._batches.next_seq(), at, kind, [])
            self.dispatches[batch_id] = dispatch
        dispatch.reports.append(report)

    def view(self) -> dict[str, list[JSONObject]]:
        """batch id → its recipient reports (the live dicts), in dispatch order."""
        return {batch_id: d.reports for batch_id, d in self.dispatches.items()}


def _status_filter(ctx: RequestContext) -> set[str] | None:
    items = ctx.query_list("status")
    if items is None:
        return None
    try:
        return {check_status(item) for item in items}
    except ValueError:
        raise constraint_violation(f"query parameter 'status' must list {STATUSES}") from None


def _code_filter(ctx: RequestContext) -> set[int] | None:
    items = ctx.query_list("code")
    if items is None:
        return None
    codes = {parse_int(item) for item in items}  # ASCII digits, as the SDK writes them
    if None in codes:
        raise invalid_format("query parameter 'code' must list integers")
    return {code for code in codes if code is not None}
