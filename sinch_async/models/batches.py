"""Batch records: send requests, updates, batches as Sinch returns them, dry runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

import attrs

from .common import DeliveryReportType, Encoding, opt_str_tuple, str_tuple

__all__ = [
    "Batch",
    "BatchRequest",
    "BatchUpdate",
    "BinaryBatch",
    "BinaryBatchRequest",
    "BinaryBatchUpdate",
    "DeliveryFeedback",
    "DryRunRecipient",
    "DryRunResult",
    "MediaBatch",
    "MediaBatchRequest",
    "MediaBatchUpdate",
    "MediaBody",
    "Parameters",
    "TextBatch",
    "TextBatchRequest",
    "TextBatchUpdate",
    "UnknownBatch",
]

#: ``{param_key: {msisdn_or_"default": value}}`` for ``${param_key}`` placeholders.
Parameters = Mapping[str, Mapping[str, str]]
DeliveryReport = DeliveryReportType | str


@attrs.frozen
class MediaBody:
    """The body of an MMS (``mt_media``): a media URL plus optional text and subject."""

    url: str
    message: str | None = None
    subject: str | None = None


# --- send requests --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TextBatchRequest:
    """Send an SMS (``mt_text``). Unset (``None``) fields are left out of the request."""

    type: ClassVar[Literal["mt_text"]] = "mt_text"
    to: tuple[str, ...] = attrs.field(converter=str_tuple)
    body: str
    from_: str | None = None
    parameters: Parameters | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    flash_message: bool | None = None
    truncate_concat: bool | None = None
    max_number_of_message_parts: int | None = None
    from_ton: int | None = None
    from_npi: int | None = None


@attrs.frozen(kw_only=True)
class BinaryBatchRequest:
    """Send a binary SMS (``mt_binary``): Base64 ``body`` and hex ``udh``, 140 bytes together."""

    type: ClassVar[Literal["mt_binary"]] = "mt_binary"
    to: tuple[str, ...] = attrs.field(converter=str_tuple)
    body: str
    udh: str
    from_: str | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    # Not in the current spec for binary, but sent by Sinch's own SDK fixtures: kept so
    # nothing a caller (or Sinch) hands us is dropped.
    flash_message: bool | None = None
    truncate_concat: bool | None = None
    max_number_of_message_parts: int | None = None
    from_ton: int | None = None
    from_npi: int | None = None


@attrs.frozen(kw_only=True)
class MediaBatchRequest:
    """Send an MMS (``mt_media``; US only, enabled per account)."""

    type: ClassVar[Literal["mt_media"]] = "mt_media"
    to: tuple[str, ...] = attrs.field(converter=str_tuple)
    body: MediaBody
    from_: str | None = None
    parameters: Parameters | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    strict_validation: bool | None = None


BatchRequest = TextBatchRequest | BinaryBatchRequest | MediaBatchRequest


# --- updates ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TextBatchUpdate:
    """Partial update of a text batch: only fields that are set change."""

    type: ClassVar[Literal["mt_text"]] = "mt_text"
    to_add: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    to_remove: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    from_: str | None = None
    body: str | None = None
    parameters: Parameters | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    flash_message: bool | None = None
    truncate_concat: bool | None = None
    max_number_of_message_parts: int | None = None
    from_ton: int | None = None
    from_npi: int | None = None


@attrs.frozen(kw_only=True)
class BinaryBatchUpdate:
    """Partial update of a binary batch."""

    type: ClassVar[Literal["mt_binary"]] = "mt_binary"
    to_add: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    to_remove: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    from_: str | None = None
    body: str | None = None
    udh: str | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    from_ton: int | None = None
    from_npi: int | None = None


@attrs.frozen(kw_only=True)
class MediaBatchUpdate:
    """Partial update of a media batch."""

    type: ClassVar[Literal["mt_media"]] = "mt_media"
    to_add: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    to_remove: tuple[str, ...] | None = attrs.field(default=None, converter=opt_str_tuple)
    from_: str | None = None
    body: MediaBody | None = None
    parameters: Parameters | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    strict_validation: bool | None = None


BatchUpdate = TextBatchUpdate | BinaryBatchUpdate | MediaBatchUpdate


# --- batches as returned ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TextBatch:
    """A text batch as Sinch returns it (send, get, list, replace, update, cancel)."""

    type: ClassVar[Literal["mt_text"]] = "mt_text"
    id: str
    to: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    body: str | None = None
    from_: str | None = None
    canceled: bool | None = None
    parameters: Parameters | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    flash_message: bool | None = None
    truncate_concat: bool | None = None
    max_number_of_message_parts: int | None = None
    from_ton: int | None = None
    from_npi: int | None = None


@attrs.frozen(kw_only=True)
class BinaryBatch:
    """A binary batch as Sinch returns it."""

    type: ClassVar[Literal["mt_binary"]] = "mt_binary"
    id: str
    to: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    body: str | None = None
    udh: str | None = None
    from_: str | None = None
    canceled: bool | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    flash_message: bool | None = None
    truncate_concat: bool | None = None
    max_number_of_message_parts: int | None = None
    from_ton: int | None = None
    from_npi: int | None = None


@attrs.frozen(kw_only=True)
class MediaBatch:
    """A media (MMS) batch as Sinch returns it."""

    type: ClassVar[Literal["mt_media"]] = "mt_media"
    id: str
    to: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    body: MediaBody | None = None
    from_: str | None = None
    canceled: bool | None = None
    parameters: Parameters | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    delivery_report: DeliveryReport | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    feedback_enabled: bool | None = None
    strict_validation: bool | None = None


@attrs.frozen(kw_only=True)
class UnknownBatch:
    """A batch whose ``type`` this SDK version does not know: the fields every batch has,
    decoded, and ``raw``, every field as Sinch sent it (what is encoded back)."""

    type: str
    id: str
    raw: Mapping[str, Any] = attrs.field(factory=dict)
    to: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    from_: str | None = None
    canceled: bool | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    send_at: datetime | None = None
    expire_at: datetime | None = None
    client_reference: str | None = None


Batch = TextBatch | BinaryBatch | MediaBatch | UnknownBatch


# --- dry run and feedback -----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DryRunRecipient:
    """How one recipient's message would be sent."""

    recipient: str
    number_of_parts: int | None = None
    body: str | None = None
    encoding: Encoding | str | None = None


@attrs.frozen(kw_only=True)
class DryRunResult:
    """Result of ``batches.dry_run``: recipients, total message parts, optional detail."""

    number_of_recipients: int
    number_of_messages: int
    per_recipient: tuple[DryRunRecipient, ...] | None = None


@attrs.frozen
class DeliveryFeedback:
    """Body of ``POST /batches/{id}/delivery_feedback``."""

    recipients: tuple[str, ...] = attrs.field(converter=str_tuple)
