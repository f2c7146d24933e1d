"""``client.groups``: named sets of recipients that batches can be sent to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import _constants as C
from .._api import Cast
from .._checkpoint import PagerCheckpoint
from .._converter import dumps
from .._errors import UndecodableItem
from .._limits import SharedGroupSizes
from .._pagination import AsyncPager, OnUndecodable
from .._session import Session
from .._validation import check_group_request, check_group_update
from .._wire import QueryValue, quote_path_segment
from ..models.common import Page
from ..models.groups import (
    AutoUpdate,
    Clear,
    CreateGroupRequest,
    Group,
    ReplaceGroupRequest,
    UpdateGroupRequest,
)
from ._common import as_list, build_record

__all__ = ["GroupsResource"]


_MEMBERS: Cast[list[str]] = Cast(list[str])


#: Route templates (hooks, spans: never an id in a name).
_ONE = "/groups/{group_id}"
_MEMBERS_ROUTE = "/groups/{group_id}/members"


def _path(group_id: str) -> str:
    return f"/groups/{quote_path_segment(group_id, 'group_id')}"


class GroupsResource:
    """Groups: create, get, list, replace, update, delete, members."""

    def __init__(self, session: Session, group_sizes: dict[str, int] | None = None) -> None:
        self._session = session
        # Sizes seen in responses, so a send to a group can be costed by its size.
        self._sizes = {} if group_sizes is None else group_sizes

    async def _seen(self, group: Group) -> Group:
        if group.size is not None:
            if isinstance(self._sizes, SharedGroupSizes):  # also tell the other processes
                await self._sizes.record(group.id, group.size)
            else:
                self._sizes[group.id] = group.size
        return group

    async def create(
        self,
        *,
        name: str | None = None,
        members: Iterable[str] | None = None,
        child_groups: Iterable[str] | None = None,
        auto_update: AutoUpdate | None = None,
    ) -> Group:
        """Create a group (name up to 20 characters, up to 10,000 members, 10 child groups)."""
        request: CreateGroupRequest = build_record(
            CreateGroupRequest,
            name=name,
            members=as_list(members),
            child_groups=as_list(child_groups),
            auto_update=auto_update,
        )
        request = check_group_request(request)
        result = await self._session.call(
            "POST", "/groups", Group, body=dumps(request), name="groups.create"
        )
        return await self._seen(result)

    async def get(self, group_id: str) -> Group:
        """One group by id."""
        result = await self._session.call(
            "GET", _path(group_id), Group, name="groups.get", route=_ONE
        )
        return await self._seen(result)

    async def replace(
        self,
        group_id: str,
        *,
        members: Iterable[str],
        name: str | None = None,
        child_groups: Iterable[str] | None = None,
        auto_update: AutoUpdate | None = None,
    ) -> Group:
        """Replace the whole group: members, name, child groups and auto update."""
        request: ReplaceGroupRequest = build_record(
            ReplaceGroupRequest,
            members=as_list(members),
            name=name,
            child_groups=as_list(child_groups),
            auto_update=auto_update,
        )
        checked = check_group_request(request)
        result = await self._session.call(
            "PUT", _path(group_id), Group, body=dumps(checked), name="groups.replace", route=_ONE
        )
        return await self._seen(result)

    async def update(
        self,
        group_id: str,
        *,
        add: Iterable[str] | None = None,
        remove: Iterable[str] | None = None,
        name: str | Clear | None = None,
        add_from_group: str | None = None,
        remove_from_group: str | None = None,
        auto_update: AutoUpdate | None = None,
    ) -> Group:
        """Change a group: adds are applied before removes. ``name=CLEAR`` removes the name;
        ``name=None`` (the default) leaves it as it is."""
        request: UpdateGroupRequest = build_record(
            UpdateGroupRequest,
            add=as_list(add),
            remove=as_list(remove),
            name=name,
            add_from_group=add_from_group,
            remove_from_group=remove_from_group,
            auto_update=auto_update,
        )
        request = check_group_update(request)
        result = await self._session.call(
            "POST", _path(group_id), Group, body=dumps(request), name="groups.update", route=_ONE
        )
        return await self._seen(result)

    async def delete(self, group_id: str) -> None:
        """Delete a group (scheduled batches to it then reach nobody through it)."""
        await self._session.request("DELETE", _path(group_id), name="groups.delete", route=_ONE)
        if isinstance(self._sizes, SharedGroupSizes):
            await self._sizes.record(group_id, None)
        else:
            self._sizes.pop(group_id, None)

    async def members(self, group_id: str) -> list[str]:
        """Every member's number (the API returns them all at once, not paged)."""
        return await self._session.call(
            "GET",
            f"{_path(group_id)}/members",
            _MEMBERS,
            name="groups.members",
            route=_MEMBERS_ROUTE,
        )

    def list(
        self,
        *,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        prefetch: int = 1,
        on_undecodable: OnUndecodable = "raise",
    ) -> AsyncPager[Group]:
        """Walk groups, newest first. ``on_undecodable="skip"`` passes a group the SDK
        cannot decode (see [`Pager`][])."""
        return AsyncPager(
            self._fetch_page,
            resource="groups",
            filters={},
            page_size=page_size,
            max_items=max_items,
            resume=resume,
            prefetch=prefetch,
            filter_names=frozenset(),
            on_undecodable=on_undecodable,
        )

    async def _fetch_page(self, query: Mapping[str, QueryValue]) -> Page[Group]:
        page: Page[Group] = await self._session.page("/groups", "groups", Group, query)
        for group in page.items:
            if not isinstance(group, UndecodableItem):  # the pager raises or skips it
                await self._seen(group)
        return page
