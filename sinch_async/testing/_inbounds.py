"""The inbounds (MO messages) area of the fake: state, ``/inbounds`` routes (§9) and the
``POST /_admin/inbounds`` test-control route that makes an inbound arrive."""

from __future__ import annotations

import base64
import binascii
import itertools
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._http import Reply, RequestContext, Router
from ._util import (
    ApiError,
    JSONObject,
    aware_utc,
    bare_number,
    constraint_violation,
    format_timestamp,
    invalid_format,
    new_id,
    not_found,
    page_body,
    parse_timestamp,
)
from ._validation import require_object

__all__ = ["ADMIN_INBOUNDS_PATH", "INBOUND_TYPES", "InboundStore"]

ADMIN_INBOUNDS_PATH = "/_admin/inbounds"
INBOUND_TYPES = ("mo_text", "mo_binary", "mo_media")
DEFAULT_LIST_WINDOW = timedelta(hours=24)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


@dataclass
class _Meta:
    received_at: datetime
    seq: int


def _text(fields: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = fields.get(key)
    if value is None:
        if required:
            raise constraint_violation(f"'{key}' is required")
        return None
    if not isinstance(value, str) or (required and not value):
        raise constraint_violation(f"'{key}' must be a non-empty string")
    return value


def _time(fields: Mapping[str, Any], key: str) -> datetime | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return aware_utc(value, key)
        except ValueError as exc:
            raise constraint_violation(str(exc)) from None
    if not isinstance(value, str):
        raise constraint_violation(f"'{key}' must be an ISO-8601 date-time")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise invalid_format(f"'{key}' is not an ISO-8601 date-time: {value!r}") from None


def _media_body(value: Any) -> JSONObject:
    if isinstance(value, str):
        return {"message": value}
    body = require_object(value, "'body' of an mo_media inbound")
    out: JSONObject = {}
    for key in ("subject", "message"):
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise constraint_violation(f"'body.{key}' must be a string")
            out[key] = body[key]
    media = body.get("media")
    if media is not None:
        if not isinstance(media, list):
            raise constraint_violation("'body.media' must be an array")
        items = []
        for item in media:
            entry = require_object(item, "'body.media' entries")
            if not isinstance(entry.get("content_type"), str):
                raise constraint_violation("'body.media[].content_type' is required")
            row: JSONObject = {}
            if entry.get("url") is not None:
                row["url"] = entry["url"]
            row["content_type"] = entry["content_type"]
            row["status"] = entry.get("status", "Uploaded")
            row["code"] = entry.get("code", 0)
            items.append(row)
        out["media"] = items
    return out


def build_inbound(fields: Mapping[str, Any], inbound_id: str, now: datetime) -> JSONObject:
    """Validate inbound ``fields`` (API names: ``from``, ``to``, ...) → stored JSON.

    Raises ``ApiError`` (400) when invalid.
    """
    kind = fields.get("type") or "mo_text"
    if kind not in INBOUND_TYPES:
        raise constraint_violation(f"'type' must be one of {', '.join(INBOUND_TYPES)}")
    sender = _text(fields, "from", required=True)
    to = _text(fields, "to", required=True)
    body = fields.get("body", "hi")
    udh = fields.get("udh")
    if kind == "mo_media":
        body = _media_body(body)
    elif not isinstance(body, str):
        raise constraint_violation(f"'body' of an {kind} inbound must be a string")
    if kind == "mo_binary":
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise invalid_format("'body' of an mo_binary inbound must be base64") from None
        if not isinstance(udh, str) or _HEX.fullmatch(udh) is None:
            raise constraint_violation("an mo_binary inbound needs a hex 'udh'")
    elif udh is not None:
        raise constraint_violation("'udh' is only for mo_binary inbounds")
    received_at = _time(fields, "received_at") or now
    inbound: JSONObject = {"type": kind, "id": inbound_id, "from": sender, "to": to}
    inbound["body"] = body
    if kind == "mo_binary":
        inbound["udh"] = udh
    inbound["received_at"] = format_timestamp(received_at)
    sent_at = _time(fields, "sent_at")
    if sent_at is not None:
        inbound["sent_at"] = format_timestamp(sent_at)
    for key in ("operator_id", "client_reference"):
        value = _text(fields, key)
        if value is not None:
            inbound[key] = value
    return inbound


class InboundStore:
    """Stored inbound messages (JSON dicts, insertion order)."""

    def __init__(self, rng: random.Random) -> None:
        self.inbounds: dict[str, JSONObject] = {}
        self._meta: dict[str, _Meta] = {}
        self._seq = itertools.count()
        self._rng = rng
        #: Called with each inbound added through `add` (not seeds).
        self.on_arrival: Callable[[JSONObject], None] | None = None

    def register(self, router: Router) -> None:
        """Add the ``/inbounds`` routes to ``router`` (the xms API router)."""
        router.add("GET", "/inbounds", self.list_route)
        router.add("GET", "/inbounds/{inbound_id}", self.get)

    def register_admin(self, router: Router) -> None:
        """Add ``POST /_admin/inbounds`` to ``router`` (absolute paths, no auth)."""
        router.add("POST", ADMIN_INBOUNDS_PATH, self.admin_route, json_body=True)

    def add(self, fields: Mapping[str, Any], now: datetime, *, arrive: bool = True) -> JSONObject:
        """Store a new inbound from API-named ``fields`` (``ApiError`` if invalid)."""
        received = _time(fields, "received_at") or now
        inbound_id = new_id(received, self._rng)
        while inbound_id in self.inbounds:
            inbound_id = new_id(received, self._rng)
        inbound = build_inbound(fields, inbound_id, now)
        self.inbounds[inbound_id] = inbound
        self._meta[inbound_id] = _Meta(parse_timestamp(inbound["received_at"]), next(self._seq))
        if arrive and self.on_arrival is not None:
            self.on_arrival(inbound)
        return inbound

    def seed(
        self,
        n: int,
        *,
        start: datetime,
        spacing: timedelta,
        fields: Mapping[str, Any],
        now: datetime,
    ) -> list[JSONObject]:
        """``n`` inbounds received at ``start + i * spacing`` (oldest first, no callbacks)."""
        if "received_at" in fields:
            raise ValueError("'received_at' is given by start and spacing")
        created = []
        for i in range(n):
            body: JSONObject = {
                "from": f"+1666{i:07d}",
                "to": "+15550000000",
                "body": f"Seeded inbound {i}",
                "received_at": start + i * spacing,
            }
            for key, value in fields.items():
                name = "from" if key == "from_" else key
                body[name] = value(i) if callable(value) else value
            try:
                created.append(self.add(body, now, arrive=False))
            except ApiError as exc:
                raise ValueError(f"invalid seed inbound {i}: {exc.text}") from None
        return created

    def _meta_for(self, inbound_id: str) -> _Meta:
        meta = self._meta.get(inbound_id)
        if meta is None:  # inserted directly into ``inbounds`` by a test
            received = parse_timestamp(self.inbounds[inbound_id]["received_at"])
            meta = self._meta[inbound_id] = _Meta(received, next(self._seq))
        return meta

    # -- routes ------------------------------------------------------------------------

    def get(self, ctx: RequestContext) -> Reply:
        """``GET /inbounds/{inbound_id}`` → 200 + inbound, 404 if unknown."""
        inbound = self.inbounds.get(ctx.params["inbound_id"])
        if inbound is None:
            raise not_found(f"inbound '{ctx.params['inbound_id']}' not found")
        return Reply(200, dict(inbound))

    def list_route(self, ctx: RequestContext) -> Reply:
        """``GET /inbounds`` → page of inbounds, newest ``received_at`` first."""
        page, page_size = ctx.paging()
        start = ctx.query_datetime("start_date") or ctx.now - DEFAULT_LIST_WINDOW
        end = ctx.query_datetime("end_date")
        to = ctx.query_list("to")
        wanted = {bare_number(number) for number in to} if to is not None else None
        client_reference = ctx.query_value("client_reference")
        matching: list[tuple[_Meta, JSONObject]] = []
        for inbound_id, inbound in self.inbounds.items():
            meta = self._meta_for(inbound_id)
            if meta.received_at < start or (end is not None and meta.received_at >= end):
                continue
            if wanted is not None and bare_number(str(inbound.get("to"))) not in wanted:
                continue
            if client_reference is not None and inbound.get("client_reference") != client_reference:
                continue
            matching.append((meta, inbound))
        matching.sort(key=lambda item: (item[0].received_at, item[0].seq), reverse=True)
        items = [inbound for _, inbound in matching]
        return Reply(200, page_body("inbounds", items, page, page_size))

    def admin_route(self, ctx: RequestContext) -> Reply:
        """``POST /_admin/inbounds`` → 201 + the stored inbound (callback if configured)."""
        return Reply(201, dict(self.add(require_object(ctx.json), ctx.now)))
