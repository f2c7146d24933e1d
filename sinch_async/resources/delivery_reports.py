"""``client.delivery_reports``: per batch, per recipient, and the paged list."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from .. import _constants as C
from .._checkpoint import PagerCheckpoint
from .._pagination import AsyncPager, OnUndecodable
from .._session import Session
from .._sync import CheckpointStore, CommitMode, Sync
from .._validation import (
    check_delivery_codes,
    check_delivery_statuses,
    check_recipients,
    check_report_type,
)
from .._wire import QueryValue, quote_path_segment
from ..models.common import Page
from ..models.delivery_reports import (
    BatchDeliveryReport,
    DeliveryStatus,
    RecipientDeliveryReport,
)
from ._common import as_store, check_window, encode_filters

__all__ = ["DeliveryReportsResource"]


class DeliveryReportsResource:
    """Delivery reports tell what happened to each message of a batch."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def get(
        self,
        batch_id: str,
        *,
        type: Literal["summary", "full"] = "summary",
        status: Iterable[DeliveryStatus | str] | None = None,
        code: Iterable[int] | None = None,
        client_reference: str | None = None,
    ) -> BatchDeliveryReport:
        """A batch's report: counts per (code, status); ``type="full"`` adds recipients."""
        check_report_type(type)
        query: dict[str, QueryValue] = {
            "type": type,
            "status": check_delivery_statuses(status),
            "code": check_delivery_codes(code),
            "client_reference": client_reference,
        }
        path = f"/batches/{quote_path_segment(batch_id, 'batch_id')}/delivery_report"
        return await self._session.call(
            "GET",
            path,
            BatchDeliveryReport,
            query=query,
            name="delivery_reports.get",
            route="/batches/{batch_id}/delivery_report",
            batch_id=batch_id,
            client_reference=client_reference,
        )

    async def get_for_recipient(self, batch_id: str, recipient: str) -> RecipientDeliveryReport:
        """One recipient's report for a batch."""
        (recipient,) = check_recipients([recipient], "recipient", allow_groups=False)
        path = (
            f"/batches/{quote_path_segment(batch_id, 'batch_id')}/delivery_report/"
            f"{quote_path_segment(recipient, 'recipient')}"
        )
        return await self._session.call(
            "GET",
            path,
            RecipientDeliveryReport,
            name="delivery_reports.get_for_recipient",
            route="/batches/{batch_id}/delivery_report/{recipient}",
            batch_id=batch_id,
        )

    def list(
        self,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        status: Iterable[DeliveryStatus | str] | None = None,
        code: Iterable[int] | None = None,
        client_reference: str | None = None,
        page_size: int = C.DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
        prefetch: int = 1,
        on_undecodable: OnUndecodable = "raise",
    ) -> AsyncPager[RecipientDeliveryReport]:
        """Walk recipient reports, newest first (without ``start_date`` Sinch starts 24 h back).

        ``on_undecodable="skip"`` passes a report the SDK cannot decode (see
        [`Pager`][])."""
        check_window(start_date, end_date)
        filters = encode_filters(
            {
                "start_date": start_date,
                "end_date": end_date,
                "status": check_delivery_statuses(status),
                "code": check_delivery_codes(code),
                "client_reference": client_reference,
            }
        )
        return AsyncPager(
            self._fetch_page,
            resource="delivery_reports",
            filters=filters,
            page_size=page_size,
            max_items=max_items,
            resume=resume,
            prefetch=prefetch,
            filter_names=("start_date", "end_date", "status", "code", "client_reference"),
            on_undecodable=on_undecodable,
        )

    def sync(
        self,
        *,
        checkpoint: CheckpointStore | str | os.PathLike[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: Iterable[DeliveryStatus | str] | None = None,
        code: Iterable[int] | None = None,
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
    ) -> Sync[RecipientDeliveryReport]:
        """Every finished recipient report of a pinned window, resumable from
        ``checkpoint`` (a JSON file path or a [`CheckpointStore`][]); delivery as in
        [`InboundsResource.sync`][], and so are ``lag`` (the window ends that long before
        now, unless ``until`` is given; both together raise [`SinchValidationError`][])
        and ``on_undecodable``. See [`Sync`][]."""
        return Sync(
            kind="delivery_reports",
            list_fn=self.list,
            time_of=lambda item: getattr(item, "at", None),
            # one final report per recipient of a batch
            key_of=lambda item: f"{item.batch_id}/{item.recipient}",
            filters={
                "status": check_delivery_statuses(status),
                "code": check_delivery_codes(code),
                "client_reference": client_reference,
            },
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

    async def _fetch_page(self, query: Mapping[str, QueryValue]) -> Page[RecipientDeliveryReport]:
        page: Page[RecipientDeliveryReport] = await self._session.page(
            "/delivery_reports", "delivery_reports", RecipientDeliveryReport, query
        )
        return page
