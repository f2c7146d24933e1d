"""Delivery reports: per batch (summary/full), per recipient, and as callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from .common import opt_str_tuple

__all__ = [
    "BatchDeliveryReport",
    "DeliveryStatus",
    "RecipientDeliveryReport",
    "StatusBucket",
    "UnknownDeliveryReport",
]


class DeliveryStatus(StrEnum):
    """Delivery status of a message. Unknown future values arrive as ``str``."""

    QUEUED = "Queued"
    DISPATCHED = "Dispatched"
    ABORTED = "Aborted"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    DELETED = "Deleted"
    DELIVERED = "Delivered"
    FAILED = "Failed"
    EXPIRED = "Expired"
    UNKNOWN = "Unknown"

    @property
    def is_final(self) -> bool:
        """False for the intermediate Queued and Dispatched."""
        return self not in (DeliveryStatus.QUEUED, DeliveryStatus.DISPATCHED)


@attrs.frozen(kw_only=True)
class StatusBucket:
    """One ``(code, status)`` group of a batch report; ``recipients`` only for ``full``."""

    code: int
    status: DeliveryStatus | str
    count: int
    recipients: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)


@attrs.frozen(kw_only=True)
class BatchDeliveryReport:
    """A batch's delivery report (``delivery_report_sms`` / ``delivery_report_mms``)."""

    type: str
    batch_id: str
    total_message_count: int | None = None
    statuses: tuple[StatusBucket, ...] = ()
    client_reference: str | None = None


@attrs.frozen(kw_only=True)
class RecipientDeliveryReport:
    """One recipient's report (``recipient_delivery_report_sms`` / ``_mms``)."""

    type: str
    batch_id: str
    recipient: str
    code: int
    status: DeliveryStatus | str
    at: datetime | None = None
    operator_status_at: datetime | None = None
    client_reference: str | None = None
    applied_originator: str | None = None
    number_of_message_parts: int | None = None
    encoding: str | None = None
    operator: str | None = None


@attrs.frozen(kw_only=True)
class UnknownDeliveryReport:
    """A report whose ``type`` this SDK version does not know; ``raw`` keeps every field."""

    type: str
    raw: Mapping[str, Any]
