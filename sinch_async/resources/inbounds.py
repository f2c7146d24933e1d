"""``client.inbounds``: messages your numbers received."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .. import _constants as C
from .._api import Cast
from .._checkpoint import PagerCheckpoint
from .._pagination import AsyncPager, OnUndecodable
from .._session import Session
from .._sync import CheckpointStore, CommitMode, Sync
from .._validation import check_recipients
from .._wire import QueryValue, quote_path_segment
from ..models.common import Page
from ..models.inbounds import Inbound
from ._common import as_list, as_store, check_window, encode_filters

__all__ = ["InboundsResource"]

_ANY_INBOUND: Cast[Inbound] = Cast(Inbound)


class InboundsResource:
    """Inbound (mobile-originated) messages: ``MoText``, ``MoBinary``, ``MoMedia``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def get(self, inbound_id: str) -> Inbound:
        """One inbound message by id."""
        path = f"/inbounds/{quote_path_segment(inbound_id, 'inbound_id')}"
        return await self._session.call(
            "GET", path, _ANY_INBOUND, name="inbounds.get", route="/inbounds/{inbound_id}"
        )

    def list(
        self,
        *,
        to: Iterable[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        client_reference: str | None = None,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        prefetch: int = 1,
        on_undecodable: OnUndecodable = "raise",
    ) -> AsyncPager[Inbound]:
        """Walk inbounds newest first; ``to`` filters on your numbers / short codes.

        Without ``start_date`` Sinch starts 24 h back; it keeps about 14 days.
        ``on_undecodable="skip"`` passes an inbound the SDK cannot decode (see
        [`Pager`][]).
        """
        check_window(start_date, end_date)
        numbers = as_list(to)
        if numbers is not None:
            numbers = list(check_recipients(numbers, "to", maximum=None, allow_groups=False))
        filters = encode_filters(
            {
                "to": numbers,
                "start_date": start_date,
                "end_date": end_date,
                "client_reference": client_reference,
            }
        )
        return AsyncPager(
            self._fetch_page,
            resource="inbounds",
            filters=filters,
            page_size=page_size,
            max_items=max_items,
            resume=resume,
            prefetch=prefetch,
            filter_names=("to", "start_date", "end_date", "client_reference"),
            on_undecodable=on_undecodable,
        )

    def sync(
        self,
        *,
        checkpoint: CheckpointStore | str | os.PathLike[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        to: Iterable[str] | None = None,
        client_reference: str | None = None,
        chunk: timedelta = timedelta(hours=1),
        page_size: int = C.MAX_PAGE_SIZE,
        prefetch: int = 4,
        commit: CommitMode = "auto",
        commit_every: int | Literal["page"] = 1,
        commit_interval: float | None = None,
        max_rewalks: int = 3,
        lag: timedelta = timedelta(0),
        on_undecodable: OnUndecodable = "raise",
    ) -> Sync[Inbound]:
        """Every inbound of a pinned window, resumable from ``checkpoint`` (a JSON file
        path or a [`CheckpointStore`][]): at least once with ``commit="auto"`` (the
        item in hand at a crash comes again), exactly once with ``commit="manual"`` and
        ``sync.position`` stored with each item.

        The window ends at ``until``, else ``lag`` before now (the client's clock): an
        inbound Sinch indexes late, with a ``received_at`` up to ``lag`` ago, is still
        found, by the next run. ``lag`` is a non-negative `timedelta`; giving both
        ``lag`` and ``until`` raises [`SinchValidationError`][] (they contradict).
        ``on_undecodable="skip"`` passes an inbound the SDK cannot decode (logged, counted
        in ``sync.stats.skipped``; the sync commits past it). See [`Sync`][]."""
        numbers = as_list(to)
        return Sync(
            kind="inbounds",
            list_fn=self.list,
            time_of=lambda item: getattr(item, "received_at", None),
            key_of=lambda item: str(item.id),
            filters={"to": numbers, "client_reference": client_reference},
            checkpoint=as_store(checkpoint),
            since=since,
            until=until,
            chunk=chunk,
            page_size=page_size,
            prefetch=prefetch,
            commit=commit,
            commit_every=commit_every,
            commit_interval=commit_interval,
            max_rewalks=max_rewalks,
            lag=lag,
            now=self._now,
            on_undecodable=on_undecodable,
        )

    def _now(self) -> datetime:
        """Now on the client's clock (a FakeClock in tests moves the sync's window)."""
        return datetime.fromtimestamp(self._session.clock.time(), UTC)

    async def _fetch_page(self, query: Mapping[str, QueryValue]) -> Page[Inbound]:
        page: Page[Inbound] = await self._session.page("/inbounds", "inbounds", Inbound, query)
        return page
