"""The batches area of the fake: state and the ``/batches`` routes (§4)."""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from .. import _constants as C
from ._encoding import count_parts, substitute, truncate_to_single_part
from ._http import Reply, RequestContext, Router
from ._util import (
    ApiError,
    JSONObject,
    constraint_violation,
    format_timestamp,
    new_id,
    parse_timestamp,
)
from ._validation import (
    check_recipient,
    is_group_id,
    is_msisdn,
    require_object,
    validate_batch,
    validate_update,
)

__all__ = ["BatchEvent", "BatchStore", "GroupDirectory", "render_message"]

DEFAULT_EXPIRY = timedelta(days=3)
DEFAULT_LIST_WINDOW = timedelta(hours=24)


@dataclass
class _Meta:
    created_at: datetime
    seq: int
    expire_defaulted: bool


def _bare(number: str) -> str:
    return number.removeprefix("+")


class GroupDirectory(Protocol):
    """What batches need to know about groups (implemented by the group store)."""

    def exists(self, group_id: str) -> bool: ...

    def expand(self, recipients: Iterable[str]) -> list[str]: ...


BatchEvent = Literal["created", "updated", "replaced", "canceled"]


class MessageLimit:
    """The plan's messages-per-second limit: a token bucket holding one second of budget.

    A batch is accepted when the bucket holds its message count (or is full, for a batch
    larger than one second's budget, which then leaves it in debt); otherwise 429 with a
    ``Retry-After`` in whole seconds, as HTTP defines it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.messages_per_second: float | None = None
        self.rejected = 0
        self.accepted_messages = 0
        self._clock = clock
        self._tokens = 0.0
        self._updated: float | None = None

    def charge(self, cost: int) -> None:
        rate = self.messages_per_second
        if rate is None:
            self.accepted_messages += cost
            return
        now = self._clock()
        if self._updated is None:
            self._tokens, self._updated = rate, now
        self._tokens = min(rate, self._tokens + (now - self._updated) * rate)
        self._updated = now
        need = min(cost, rate)
        if self._tokens + 1e-9 < need:
            self.rejected += 1
            wait = math.ceil((need - self._tokens) / rate)
            raise ApiError(
                429,
                "too_many_requests",
                f"more than {rate:g} messages per second",
                headers={"Retry-After": str(max(1, wait))},
            )
        self._tokens -= cost
        self.accepted_messages += cost


class BatchStore:
    """Stored batches (raw JSON dicts, insertion order) and delivery feedback.

    With ``groups``, group ids among the recipients must exist (403 ``unknown_group``)
    and dry runs count group members. ``listener`` hears of every created, updated,
    replaced or canceled batch.
    """

    def __init__(self, rng: random.Random, groups: GroupDirectory | None = None) -> None:
        self.batches: dict[str, JSONObject] = {}
        self.feedback: dict[str, list[str]] = {}
        self._meta: dict[str, _Meta] = {}
        self._seq = itertools.count()
        self._rng = rng
        self._groups = groups
        self.listener: Callable[[BatchEvent, str], None] | None = None
        #: The service plan's messages-per-second limit (None = unlimited).
        self.limit = MessageLimit()

    def register(self, router: Router) -> None:
        """Add the batch routes to ``router``."""
        router.add("GET", "/batches", self.list_batches)
        router.add("POST", "/batches", self.send, json_body=True)
        router.add("POST", "/batches/dry_run", self.dry_run, json_body=True)
        router.add("GET", "/batches/{batch_id}", self.get)
        router.add("PUT", "/batches/{batch_id}", self.replace, json_body=True)
        router.add("POST", "/batches/{batch_id}", self.update, json_body=True)
        router.add("DELETE", "/batches/{batch_id}", self.cancel)
        router.add(
            "POST",
            "/batches/{batch_id}/delivery_feedback",
            self.delivery_feedback,
            json_body=True,
        )

    # -- state helpers -------------------------------------------------------------

    def create(self, fields: JSONObject, created_at: datetime) -> JSONObject:
        """Store a new batch from validated ``fields``; returns the stored dict."""
        batch_id = new_id(created_at, self._rng)
        while batch_id in self.batches:
            batch_id = new_id(created_at, self._rng)
        batch = self._build(batch_id, fields, created_at, created_at)
        self.batches[batch_id] = batch
        self._meta[batch_id] = _Meta(created_at, next(self._seq), "expire_at" not in fields)
        self._notify("created", batch_id)
        return batch

    def _build(
        self, batch_id: str, fields: JSONObject, created_at: datetime, modified_at: datetime
    ) -> JSONObject:
        kind = fields["type"]
        batch: JSONObject = {"id": batch_id}
        batch.update((k, v) for k, v in fields.items() if k != "type")
        batch["type"] = kind
        batch["created_at"] = format_timestamp(created_at)
        batch["modified_at"] = format_timestamp(modified_at)
        batch["canceled"] = False
        self._fill_defaults(batch, created_at)
        return batch

    @staticmethod
    def _fill_defaults(batch: JSONObject, created_at: datetime) -> None:
        batch.setdefault("delivery_report", "none")
        if "expire_at" not in batch:
            start = parse_timestamp(batch["send_at"]) if "send_at" in batch else created_at
            batch["expire_at"] = format_timestamp(start + DEFAULT_EXPIRY)
        batch.setdefault("feedback_enabled", False)
        if batch["type"] in ("mt_text", "mt_binary"):
            batch.setdefault("flash_message", False)

    def next_seq(self) -> int:
        """A fresh insertion sequence number (shared with report-only seeded batches)."""
        return next(self._seq)

    def seq_of(self, batch_id: str) -> int:
        """Insertion order of a stored batch."""
        return self._meta_for(batch_id).seq

    def created_time(self, batch_id: str) -> datetime:
        """The batch's ``created_at`` as a datetime."""
        return self._meta_for(batch_id).created_at

    def send_time(self, batch_id: str) -> datetime:
        """When the batch is (or was) sent: ``send_at`` if given, else ``created_at``."""
        batch = self.batches[batch_id]
        if "send_at" in batch:
            return parse_timestamp(batch["send_at"])
        return self._meta_for(batch_id).created_at

    def _notify(self, event: BatchEvent, batch_id: str) -> None:
        if self.listener is not None:
            self.listener(event, batch_id)

    def _check_groups(self, recipients: Iterable[str], known: Iterable[str] = ()) -> None:
        """403 ``unknown_group`` for a group id that is not stored (``known`` are exempt)."""
        if self._groups is None:
            return
        exempt = set(known)
        for recipient in recipients:
            unknown = is_group_id(recipient) and not self._groups.exists(recipient)
            if unknown and recipient not in exempt:
                raise ApiError(403, "unknown_group", f"group '{recipient}' in 'to' does not exist")

    def _expand(self, recipients: list[str]) -> list[str]:
        if self._groups is None:
            return list(recipients)
        return self._groups.expand(recipients)

    def _meta_for(self, batch_id: str) -> _Meta:
        meta = self._meta.get(batch_id)
        if meta is None:  # inserted directly into ``batches`` by a test
            created = parse_timestamp(self.batches[batch_id]["created_at"])
            meta = self._meta[batch_id] = _Meta(created, next(self._seq), False)
        return meta

    def _lookup(self, batch_id: str) -> JSONObject:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, "not_found", f"batch '{batch_id}' not found")
        return batch

    @staticmethod
    def _ensure_not_canceled(batch: JSONObject) -> None:
        if batch.get("canceled"):
            raise constraint_violation("batch is canceled")

    def seed(
        self,
        n: int,
        *,
        start: datetime,
        spacing: timedelta,
        fields: Mapping[str, Any],
    ) -> list[JSONObject]:
        """Create ``n`` batches created at ``start + i * spacing`` (see ``FakeSinch``)."""
        created: list[JSONObject] = []
        for i in range(n):
            body: JSONObject = {
                "to": [f"+1555{i:07d}"],
                "from": "+15550000000",
                "body": f"Seeded message {i}",
            }
            for key, value in fields.items():
                name = "from" if key == "from_" else key
                body[name] = value(i) if callable(value) else value
            try:
                validated = validate_batch(body)
            except ApiError as exc:
                raise ValueError(f"invalid seed batch {i}: {exc.text}") from None
            created.append(self.create(validated, start + i * spacing))
        return created

    # -- routes -------------------------------------------------------------------

    def send(self, ctx: RequestContext) -> Reply:
        """``POST /batches`` → 201 + batch."""
        fields = validate_batch(ctx.json)
        self._check_groups(fields["to"])
        self.limit.charge(self._message_count(fields["to"]))
        batch = self.create(fields, ctx.now)
        return Reply(201, dict(batch))

    def _message_count(self, recipients: list[str]) -> int:
        """Messages a batch sends: one per number, a group by its members."""
        if self._groups is None:
            return len(recipients)
        return len(set(self._groups.expand(recipients)))

    def get(self, ctx: RequestContext) -> Reply:
        """``GET /batches/{batch_id}`` → 200 + batch, 404 if unknown."""
        return Reply(200, dict(self._lookup(ctx.params["batch_id"])))

    def list_batches(self, ctx: RequestContext) -> Reply:
        """``GET /batches`` → page of batches, newest first."""
        page, page_size = ctx.paging()
        senders = ctx.query_list("from")
        start = ctx.query_datetime("start_date") or ctx.now - DEFAULT_LIST_WINDOW
        end = ctx.query_datetime("end_date")
        client_reference = ctx.query_value("client_reference")
        sender_set = set(senders) if senders is not None else None

        matching: list[tuple[_Meta, JSONObject]] = []
        for batch_id, batch in self.batches.items():
            meta = self._meta_for(batch_id)
            if meta.created_at < start or (end is not None and meta.created_at >= end):
                continue
            if sender_set is not None and batch.get("from") not in sender_set:
                continue
            if client_reference is not None and batch.get("client_reference") != client_reference:
                continue
            matching.append((meta, batch))
        matching.sort(key=lambda item: (item[0].created_at, item[0].seq), reverse=True)
        items = [dict(batch) for _, batch in matching[page * page_size : (page + 1) * page_size]]
        return Reply(
            200,
            {"count": len(matching), "page": page, "page_size": len(items), "batches": items},
        )

    def replace(self, ctx: RequestContext) -> Reply:
        """``PUT /batches/{batch_id}`` → same id and ``created_at``, everything else new."""
        batch_id = ctx.params["batch_id"]
        stored = self._lookup(batch_id)
        self._ensure_not_canceled(stored)
        fields = validate_batch(ctx.json)
        self._check_groups(fields["to"])
        self.limit.charge(self._message_count(fields["to"]))
        meta = self._meta_for(batch_id)
        new = self._build(batch_id, fields, meta.created_at, ctx.now)
        stored.clear()
        stored.update(new)
        meta.expire_defaulted = "expire_at" not in fields
        self._notify("replaced", batch_id)
        return Reply(200, dict(stored))

    def update(self, ctx: RequestContext) -> Reply:
        """``POST /batches/{batch_id}`` → partial update (``to_add`` before ``to_remove``)."""
        batch_id = ctx.params["batch_id"]
        stored = self._lookup(batch_id)
        self._ensure_not_canceled(stored)
        meta = self._meta_for(batch_id)
        updated = validate_update(ctx.json, stored, expire_defaulted=meta.expire_defaulted)
        self._check_groups(updated["to"], known=stored["to"])
        meta.expire_defaulted = "expire_at" not in updated
        updated["modified_at"] = format_timestamp(ctx.now)
        self._fill_defaults(updated, meta.created_at)
        stored.clear()
        stored.update(updated)
        self._notify("updated", batch_id)
        return Reply(200, dict(stored))

    def cancel(self, ctx: RequestContext) -> Reply:
        """``DELETE /batches/{batch_id}`` → ``canceled: true`` (idempotent)."""
        stored = self._lookup(ctx.params["batch_id"])
        if not stored.get("canceled"):
            stored["canceled"] = True
            stored["modified_at"] = format_timestamp(ctx.now)
            self._notify("canceled", ctx.params["batch_id"])
        return Reply(200, dict(stored))

    def delivery_feedback(self, ctx: RequestContext) -> Reply:
        """``POST /batches/{batch_id}/delivery_feedback`` → 202, recorded in ``feedback``."""
        batch_id = ctx.params["batch_id"]
        stored = self._lookup(batch_id)
        body = require_object(ctx.json)
        recipients = body.get("recipients")
        if recipients is None:
            raise constraint_violation("'recipients' is required")
        if not isinstance(recipients, list):
            raise constraint_violation("'recipients' must be an array")
        numbers = [check_recipient("recipients", r) for r in recipients]
        if not stored.get("feedback_enabled"):
            raise constraint_violation("delivery feedback is not enabled for this batch")
        has_groups = any(is_group_id(r) for r in stored["to"])
        if has_groups and not numbers:
            raise constraint_violation("a batch sent to a group needs at least one recipient")
        known = {_bare(r) for r in stored["to"] if is_msisdn(r)}
        for number in numbers:
            if not is_msisdn(number):
                raise constraint_violation(f"{number!r} is not a phone number")
            if not has_groups and _bare(number) not in known:
                raise constraint_violation(f"{number!r} is not a recipient of this batch")
        self.feedback.setdefault(batch_id, []).extend(numbers)
        return Reply(202)

    def dry_run(self, ctx: RequestContext) -> Reply:
        """``POST /batches/dry_run`` → recipients, total parts, optional per-recipient rows."""
        per_recipient = ctx.query_bool("per_recipient", False)
        limit = ctx.query_int("number_of_recipients", 100, 0, C.MAX_DRY_RUN_RECIPIENTS)
        fields = validate_batch(ctx.json)
        self._check_groups(fields["to"])
        recipients = self._expand(fields["to"])
        total = 0
        rows: list[JSONObject] = []
        for recipient in recipients:
            body, parts, encoding = render_message(fields, recipient)
            total += parts
            if per_recipient and len(rows) < limit:
                rows.append(
                    {
                        "recipient": recipient,
                        "number_of_parts": parts,
                        "body": body,
                        "encoding": encoding,
                    }
                )
        result: JSONObject = {
            "number_of_recipients": len(recipients),
            "number_of_messages": total,
        }
        if per_recipient:
            result["per_recipient"] = rows
        return Reply(200, result)


def render_message(fields: JSONObject, recipient: str) -> tuple[str, int, str]:
    """Body, number of parts and encoding of one recipient's message."""
    kind = fields["type"]
    if kind == "mt_binary":
        return fields["body"], 1, "text"
    parameters = fields.get("parameters") or {}
    if kind == "mt_media":
        text = substitute(fields["body"].get("message", ""), parameters, recipient)
        return text, 1, count_parts(text).encoding
    text = substitute(fields["body"], parameters, recipient)
    counted = count_parts(text)
    if counted.parts > 1 and fields.get("truncate_concat"):
        text = truncate_to_single_part(text)
        return text, 1, counted.encoding
    return text, counted.parts, counted.encoding
