"""Inbound (mobile-originated) messages: ``mo_text``, ``mo_binary``, ``mo_media``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

import attrs

__all__ = [
    "Inbound",
    "MoBinary",
    "MoMedia",
    "MoMediaBody",
    "MoMediaItem",
    "MoText",
    "UnknownInbound",
]


@attrs.frozen(kw_only=True)
class MoText:
    """An inbound SMS."""

    type: ClassVar[Literal["mo_text"]] = "mo_text"
    id: str
    from_: str
    to: str
    body: str | None = None
    received_at: datetime | None = None
    sent_at: datetime | None = None
    operator_id: str | None = None
    client_reference: str | None = None


@attrs.frozen(kw_only=True)
class MoBinary:
    """An inbound binary SMS: Base64 ``body`` and hex ``udh``."""

    type: ClassVar[Literal["mo_binary"]] = "mo_binary"
    id: str
    from_: str
    to: str
    body: str | None = None
    udh: str | None = None
    received_at: datetime | None = None
    sent_at: datetime | None = None
    operator_id: str | None = None
    client_reference: str | None = None


@attrs.frozen(kw_only=True)
class MoMediaItem:
    """One media attachment of an inbound MMS (``code`` 0 = uploaded)."""

    url: str | None = None
    content_type: str | None = None
    status: str | None = None
    code: int | None = None


@attrs.frozen(kw_only=True)
class MoMediaBody:
    """The body of an inbound MMS."""

    subject: str | None = None
    message: str | None = None
    media: tuple[MoMediaItem, ...] | None = None


@attrs.frozen(kw_only=True)
class MoMedia:
    """An inbound MMS."""

    type: ClassVar[Literal["mo_media"]] = "mo_media"
    id: str
    from_: str
    to: str
    body: MoMediaBody | None = None
    received_at: datetime | None = None
    sent_at: datetime | None = None
    operator_id: str | None = None
    client_reference: str | None = None


@attrs.frozen(kw_only=True)
class UnknownInbound:
    """An inbound whose ``type`` this SDK version does not know: the fields every inbound
    has, decoded, and ``raw``, every field as Sinch sent it (what is encoded back)."""

    type: str
    id: str
    raw: Mapping[str, Any] = attrs.field(factory=dict)
    from_: str | None = None
    to: str | None = None
    received_at: datetime | None = None
    sent_at: datetime | None = None
    operator_id: str | None = None
    client_reference: str | None = None


Inbound = MoText | MoBinary | MoMedia | UnknownInbound
