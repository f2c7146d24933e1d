"""Groups of recipients, and the requests that create and change them."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from .common import opt_str_tuple, str_tuple

__all__ = [
    "CLEAR",
    "AutoUpdate",
    "Clear",
    "CreateGroupRequest",
    "Group",
    "GroupKeyword",
    "ReplaceGroupRequest",
    "UpdateGroupRequest",
]


class Clear:
    """Sentinel type: send an explicit JSON ``null`` (to clear a group's name)."""

    _instance: Clear | None = None

    def __new__(cls) -> Clear:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "CLEAR"


#: Pass as ``name=CLEAR`` to ``groups.update`` to remove the group's name.
CLEAR: Final = Clear()


@attrs.frozen(kw_only=True)
class GroupKeyword:
    """An SMS keyword (first word, and second word for shared short codes)."""

    first_word: str
    second_word: str | None = None


@attrs.frozen(kw_only=True)
class AutoUpdate:
    """Let recipients join/leave the group by texting keywords to ``to``."""

    to: str
    add: GroupKeyword | None = None
    remove: GroupKeyword | None = None


@attrs.frozen(kw_only=True)
class Group:
    """A group as Sinch returns it."""

    id: str
    name: str | None = None
    size: int | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    child_groups: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    auto_update: AutoUpdate | None = None


@attrs.frozen(kw_only=True)
class CreateGroupRequest:
    """Body of ``POST /groups``."""

    name: str | None = None
    members: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    child_groups: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    auto_update: AutoUpdate | None = None


@attrs.frozen(kw_only=True)
class ReplaceGroupRequest:
    """Body of ``PUT /groups/{id}``: the group's whole new content."""

    members: tuple[str, ...] = attrs.field(converter=str_tuple)
    name: str | None = None
    child_groups: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    auto_update: AutoUpdate | None = None


@attrs.frozen(kw_only=True)
class UpdateGroupRequest:
    """Body of ``POST /groups/{id}``: only set fields change (adds before removes)."""

    name: str | Clear | None = None
    add: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    remove: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    add_from_group: str | None = None
    remove_from_group: str | None = None
    auto_update: AutoUpdate | None = None
