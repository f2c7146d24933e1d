"""The groups area of the fake: state and the ``/groups`` routes (§10)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import _constants as C
from ._http import Reply, RequestContext, Router
from ._util import (
    ApiError,
    JSONObject,
    bare_number,
    constraint_violation,
    format_timestamp,
    invalid_format,
    new_id,
    not_found,
    page_body,
    parse_timestamp,
)
from ._validation import is_group_id, is_msisdn, require_object

__all__ = ["MAX_CHILD_GROUPS", "MAX_GROUP_MEMBERS", "MAX_GROUP_NAME", "GroupStore"]

# The SDK's limits (one definition: a group the SDK accepts is one the fake accepts).
MAX_GROUP_NAME = C.MAX_GROUP_NAME
MAX_GROUP_MEMBERS = C.MAX_GROUP_MEMBERS
MAX_CHILD_GROUPS = C.MAX_CHILD_GROUPS


@dataclass
class _State:
    seq: int
    created_at: datetime
    members: list[str] = field(default_factory=list)


def unknown_group(group_id: str) -> ApiError:
    """403 ``unknown_group``: a referenced group does not exist."""
    return ApiError(403, "unknown_group", f"group '{group_id}' does not exist")


def _add_members(members: list[str], new: Iterable[str]) -> None:
    """Append numbers not yet present (a number is in a group once, ``+`` or not)."""
    present = {bare_number(m) for m in members}
    for number in new:
        key = bare_number(number)
        if key not in present:
            present.add(key)
            members.append(number)


# -- validation ------------------------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise constraint_violation("'name' must be a string")
    if len(value) > MAX_GROUP_NAME:
        raise constraint_violation(f"'name' must be at most {MAX_GROUP_NAME} characters")
    return value


def _numbers(field_name: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise constraint_violation(f"'{field_name}' must be an array")
    if len(value) > MAX_GROUP_MEMBERS:
        raise constraint_violation(f"'{field_name}' must have at most {MAX_GROUP_MEMBERS} numbers")
    for item in value:
        if not isinstance(item, str):
            raise constraint_violation(f"'{field_name}' entries must be strings")
        if not is_msisdn(item):
            raise invalid_format(f"'{field_name}' contains an invalid phone number: {item!r}")
    return list(value)


def _group_ref(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise constraint_violation(f"'{field_name}' must be a group id")
    return value


def _child_groups(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise constraint_violation("'child_groups' must be an array")
    if len(value) > MAX_CHILD_GROUPS:
        raise constraint_violation(f"'child_groups' must have at most {MAX_CHILD_GROUPS} ids")
    return list(dict.fromkeys(_group_ref("child_groups", item) for item in value))


def _keyword(field_name: str, value: Any) -> JSONObject:
    body = require_object(value, f"'{field_name}'")
    out: JSONObject = {}
    for key in ("first_word", "second_word"):
        word = body.get(key)
        if word is None:
            if key == "first_word":
                raise constraint_violation(f"'{field_name}.first_word' is required")
            continue
        if not isinstance(word, str) or not word:
            raise constraint_violation(f"'{field_name}.{key}' must be a non-empty string")
        out[key] = word
    return out


def _auto_update(value: Any) -> JSONObject:
    """``{to, add?, remove?}``; ``to`` may be a string or (as in Sinch fixtures) a number."""
    body = require_object(value, "'auto_update'")
    to = body.get("to")
    if to is None:
        raise constraint_violation("'auto_update.to' is required")
    if isinstance(to, bool) or not isinstance(to, str | int) or to == "":
        raise constraint_violation("'auto_update.to' must be a phone number or short code")
    out: JSONObject = {"to": to}
    for key in ("add", "remove"):
        if body.get(key) is not None:
            out[key] = _keyword(f"auto_update.{key}", body[key])
    return out


def _group_fields(value: Any, *, members_required: bool) -> JSONObject:
    """Create (``POST /groups``) or replace (``PUT /groups/{id}``) body → known fields."""
    body = require_object(value)
    fields: JSONObject = {}
    if body.get("name") is not None:
        fields["name"] = _name(body["name"])
    if body.get("members") is not None:
        fields["members"] = _numbers("members", body["members"])
    elif members_required:
        raise constraint_violation("'members' is required")
    if body.get("child_groups") is not None:
        fields["child_groups"] = _child_groups(body["child_groups"])
    if body.get("auto_update") is not None:
        fields["auto_update"] = _auto_update(body["auto_update"])
    return fields


class GroupStore:
    """Stored groups (response-shaped JSON dicts, insertion order) and their members."""

    def __init__(self, rng: random.Random) -> None:
        #: id → group JSON as the API returns it (``size`` kept up to date).
        self.groups: dict[str, JSONObject] = {}
        self._state: dict[str, _State] = {}
        self._seq = itertools.count()
        self._rng = rng

    def register(self, router: Router) -> None:
        """Add the group routes to ``router``."""
        router.add("GET", "/groups", self.list_groups)
        router.add("POST", "/groups", self.create_route, json_body=True)
        router.add("GET", "/groups/{group_id}", self.get)
        router.add("PUT", "/groups/{group_id}", self.replace, json_body=True)
        router.add("POST", "/groups/{group_id}", self.update, json_body=True)
        router.add("DELETE", "/groups/{group_id}", self.delete)
        router.add("GET", "/groups/{group_id}/members", self.members_route)

    # -- lookups used by batches and reports -------------------------------------------

    def exists(self, group_id: str) -> bool:
        """Is ``group_id`` a stored group?"""
        return group_id in self.groups

    def members(self, group_id: str) -> list[str]:
        """The group's members, child groups' members included (each number once).

        Own members come first, then each child group's (recursively, in ``child_groups``
        order); deleted child groups count as empty; cycles are cut.
        """
        out: list[str] = []
        self._collect(group_id, out, set())
        return out

    def _collect(self, group_id: str, out: list[str], seen: set[str]) -> None:
        group = self.groups.get(group_id)
        if group is None or group_id in seen:
            return
        seen.add(group_id)
        _add_members(out, self._state_for(group_id).members)
        for child in group.get("child_groups") or ():
            self._collect(child, out, seen)

    def expand(self, recipients: Iterable[str]) -> list[str]:
        """Batch recipients with group ids replaced by their members; each number once.

        A group id that is not stored (e.g. deleted since) expands to nothing.
        """
        out: list[str] = []
        for recipient in recipients:
            if is_group_id(recipient):
                _add_members(out, self.members(recipient))
            else:
                _add_members(out, [recipient])
        return out

    # -- state helpers -----------------------------------------------------------------

    def _state_for(self, group_id: str) -> _State:
        state = self._state.get(group_id)
        if state is None:  # inserted directly into ``groups`` by a test: no members
            try:
                created = parse_timestamp(self.groups[group_id]["created_at"])
            except (KeyError, TypeError, ValueError):
                created = datetime.min.replace(tzinfo=UTC)
            state = self._state[group_id] = _State(next(self._seq), created)
        return state

    def _lookup(self, group_id: str) -> JSONObject:
        group = self.groups.get(group_id)
        if group is None:
            raise not_found(f"group '{group_id}' not found")
        return group

    def _require_groups(self, ids: Iterable[str], own_id: str | None = None) -> None:
        for group_id in ids:
            if group_id == own_id:
                raise constraint_violation("a group cannot be its own child group")
            if group_id not in self.groups:
                raise unknown_group(group_id)

    def _refresh_sizes(self) -> None:
        for group_id, group in self.groups.items():
            group["size"] = len(self.members(group_id))

    def _render(
        self, group_id: str, fields: JSONObject, created_at: datetime, modified_at: datetime
    ) -> JSONObject:
        group: JSONObject = {"id": group_id}
        if fields.get("name") is not None:
            group["name"] = fields["name"]
        group["size"] = 0
        group["created_at"] = format_timestamp(created_at)
        group["modified_at"] = format_timestamp(modified_at)
        if fields.get("child_groups"):
            group["child_groups"] = list(fields["child_groups"])
        if fields.get("auto_update") is not None:
            group["auto_update"] = fields["auto_update"]
        return group

    def create(self, fields: JSONObject, now: datetime) -> JSONObject:
        """Store a group from validated ``fields`` (children must exist); returns it."""
        self._require_groups(fields.get("child_groups", ()))
        group_id = new_id(now, self._rng)
        while group_id in self.groups:
            group_id = new_id(now, self._rng)
        state = _State(next(self._seq), now)
        _add_members(state.members, fields.get("members", ()))
        self._state[group_id] = state
        self.groups[group_id] = self._render(group_id, fields, now, now)
        self._refresh_sizes()
        return self.groups[group_id]

    def add(
        self,
        *,
        name: str | None,
        members: Iterable[str],
        child_groups: Iterable[str],
        auto_update: JSONObject | None,
        now: datetime,
    ) -> JSONObject:
        """``FakeSinch.add_group``: validate like ``POST /groups`` (``ValueError``)."""
        body: JSONObject = {"name": name, "members": list(members)}
        body["child_groups"] = list(child_groups)
        body["auto_update"] = auto_update
        try:
            return self.create(_group_fields(body, members_required=False), now)
        except ApiError as exc:
            raise ValueError(f"invalid group: {exc.text}") from None

    # -- routes ------------------------------------------------------------------------

    def create_route(self, ctx: RequestContext) -> Reply:
        """``POST /groups`` → 201 + group."""
        group = self.create(_group_fields(ctx.json, members_required=False), ctx.now)
        return Reply(201, dict(group))

    def list_groups(self, ctx: RequestContext) -> Reply:
        """``GET /groups`` → page of groups, newest first."""
        page, page_size = ctx.paging()
        order = sorted(
            self.groups,
            key=lambda gid: (self._state_for(gid).created_at, self._state_for(gid).seq),
            reverse=True,
        )
        return Reply(200, page_body("groups", [self.groups[g] for g in order], page, page_size))

    def get(self, ctx: RequestContext) -> Reply:
        """``GET /groups/{group_id}`` → 200 + group, 404 if unknown."""
        return Reply(200, dict(self._lookup(ctx.params["group_id"])))

    def members_route(self, ctx: RequestContext) -> Reply:
        """``GET /groups/{group_id}/members`` → bare JSON array of numbers."""
        group_id = ctx.params["group_id"]
        self._lookup(group_id)
        return Reply(200, self.members(group_id))

    def replace(self, ctx: RequestContext) -> Reply:
        """``PUT /groups/{group_id}`` → same id and ``created_at``, everything else new."""
        group_id = ctx.params["group_id"]
        group = self._lookup(group_id)
        fields = _group_fields(ctx.json, members_required=True)
        self._require_groups(fields.get("child_groups", ()), group_id)
        state = self._state_for(group_id)
        state.members = []
        _add_members(state.members, fields["members"])
        new = self._render(group_id, fields, state.created_at, ctx.now)
        group.clear()
        group.update(new)
        self._refresh_sizes()
        return Reply(200, dict(group))

    def update(self, ctx: RequestContext) -> Reply:
        """``POST /groups/{group_id}`` → partial update; adds are applied before removes."""
        group_id = ctx.params["group_id"]
        group = self._lookup(group_id)
        body = require_object(ctx.json)
        add = _numbers("add", body["add"]) if body.get("add") is not None else []
        remove = _numbers("remove", body["remove"]) if body.get("remove") is not None else []
        refs: dict[str, str] = {}
        for key in ("add_from_group", "remove_from_group"):
            if body.get(key) is not None:
                refs[key] = _group_ref(key, body[key])
        name = _name(body["name"]) if body.get("name") is not None else None
        auto_update = (
            _auto_update(body["auto_update"]) if body.get("auto_update") is not None else None
        )
        self._require_groups(refs.values())

        state = self._state_for(group_id)
        members = list(state.members)
        _add_members(members, add)
        if "add_from_group" in refs:
            _add_members(members, self.members(refs["add_from_group"]))
        removed = {bare_number(n) for n in remove}
        if "remove_from_group" in refs:
            removed.update(bare_number(n) for n in self.members(refs["remove_from_group"]))
        state.members = [m for m in members if bare_number(m) not in removed]

        if "name" in body:  # explicit null clears the name, omission keeps it
            if name is None:
                group.pop("name", None)
            else:
                rest = {k: v for k, v in group.items() if k not in ("id", "name")}
                group.clear()
                group.update({"id": group_id, "name": name, **rest})
        if auto_update is not None:
            group["auto_update"] = auto_update
        group["modified_at"] = format_timestamp(ctx.now)
        self._refresh_sizes()
        return Reply(200, dict(group))

    def delete(self, ctx: RequestContext) -> Reply:
        """``DELETE /groups/{group_id}`` → 200 with an empty body."""
        group_id = ctx.params["group_id"]
        self._lookup(group_id)
        del self.groups[group_id]
        self._state.pop(group_id, None)
        self._refresh_sizes()
        return Reply(200)
