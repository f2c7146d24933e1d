"""Typed records of the Sinch Numbers API (camelCase on the wire, snake_case here).

Enum-like fields (``type``, ``capability``, statuses) are plain strings: the API's enums
are open, so unknown future values arrive unchanged.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

__all__ = [
    "ActiveNumber",
    "AvailableNumber",
    "AvailableRegion",
    "Money",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "SmsConfiguration",
    "VoiceConfiguration",
]


@attrs.frozen
class Money:
    """A price: ISO-4217 currency code and a decimal amount (sent as a string, sometimes as
    a number). ``amount`` is ``None`` when Sinch sends a money object without one."""

    currency_code: str
    amount: Decimal | None = None


@attrs.frozen
class ScheduledSmsProvisioning:
    """A pending (or failed) link of a number to a service plan / campaign."""

    service_plan_id: str = ""
    campaign_id: str = ""
    status: str = ""
    last_updated_time: datetime | None = None
    error_codes: tuple[str, ...] = ()


@attrs.frozen
class SmsConfiguration:
    """The SMS service plan (and US 10DLC campaign) a number is linked to."""

    service_plan_id: str = ""
    campaign_id: str = ""
    scheduled_provisioning: ScheduledSmsProvisioning | None = None


@attrs.frozen
class ScheduledVoiceProvisioning:
    """A pending (or failed) voice configuration change."""

    type: str = ""
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    status: str = ""
    last_updated_time: datetime | None = None


@attrs.frozen
class VoiceConfiguration:
    """Voice routing of a number: ``type`` RTC (``app_id``), EST (``trunk_id``) or FAX
    (``service_id``)."""

    type: str = ""
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    last_updated_time: datetime | None = None
    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None


@attrs.frozen
class ActiveNumber:
    """A number the project rents."""

    phone_number: str
    project_id: str = ""
    display_name: str = ""
    region_code: str = ""
    type: str = ""
    capability: tuple[str, ...] = ()
    money: Money | None = None
    payment_interval_months: int | None = None
    next_charge_date: datetime | None = None
    expire_at: datetime | None = None
    sms_configuration: SmsConfiguration | None = None
    voice_configuration: VoiceConfiguration | None = None
    callback_url: str = ""


@attrs.frozen
class AvailableNumber:
    """A number that can be rented."""

    phone_number: str
    region_code: str = ""
    type: str = ""
    capability: tuple[str, ...] = ()
    setup_price: Money | None = None
    monthly_price: Money | None = None
    payment_interval_months: int | None = None
    supporting_documentation_required: bool = False


@attrs.frozen
class AvailableRegion:
    """A region where numbers can be rented, and the number types offered there."""

    region_code: str
    region_name: str = ""
    types: tuple[str, ...] = ()
