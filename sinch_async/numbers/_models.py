"""Typed records of the Sinch Numbers API (camelCase on the wire, snake_case here).

Enum-like fields (``type``, ``capability``, statuses) are plain strings: the API's enums
are open, so unknown future values arrive unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, TypeAlias

import attrs

__all__ = [
    "ActiveNumber",
    "AvailableNumber",
    "AvailableRegion",
    "CallbackConfiguration",
    "EstVoiceConfiguration",
    "FaxVoiceConfiguration",
    "Money",
    "RtcVoiceConfiguration",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "SmsConfiguration",
    "UnknownVoiceConfiguration",
    "VoiceConfiguration",
    "VoiceTarget",
]

# Provisioning statuses (§7.4): ``WAITING``, ``IN_PROGRESS`` and
# ``PROVISIONING_STATUS_UNSPECIFIED`` mean "not finished yet", ``FAILED`` is final, and a
# finished provisioning is no longer shown at all. Other (future) statuses count as pending
# too: waiting longer is safer than calling a number ready.
FAILED = "FAILED"


# --- voice configuration: what a number's calls go to ---------------------------------------


@attrs.frozen
class RtcVoiceConfiguration:
    """Voice calls go to a Sinch Voice (RTC) application: ``{"type": "RTC", "appId": ...}``
    on the wire."""

    app_id: str
    type: ClassVar[str] = "RTC"


@attrs.frozen
class EstVoiceConfiguration:
    """Voice calls go to an Elastic SIP Trunk: ``{"type": "EST", "trunkId": ...}``."""

    trunk_id: str
    type: ClassVar[str] = "EST"


@attrs.frozen
class FaxVoiceConfiguration:
    """The number receives faxes for a Fax service: ``{"type": "FAX", "serviceId": ...}``."""

    service_id: str
    type: ClassVar[str] = "FAX"


@attrs.frozen
class UnknownVoiceConfiguration:
    """A voice configuration of a type this SDK does not know (Sinch's enums are open):
    ``type`` and the wire fields that go with it (camelCase, e.g. ``{"appId": ...}``),
    sent as given. Read from a response, ``fields`` holds the ids the SDK decodes
    (``appId``, ``trunkId``, ``serviceId``) that were set."""

    type: str
    fields: Mapping[str, str] = attrs.field(factory=dict)


#: What a number's voice calls go to: one of the three types of the reference, or one
#: it does not list yet. Pass one as ``voice_configuration=`` to ``update``, ``rent`` and
#: ``rent_any``; read one from `VoiceConfiguration.target`.
VoiceTarget: TypeAlias = (
    RtcVoiceConfiguration
    | EstVoiceConfiguration
    | FaxVoiceConfiguration
    | UnknownVoiceConfiguration
)


def _voice_target(
    kind: str | None, app_id: str | None, trunk_id: str | None, service_id: str | None
) -> VoiceTarget | None:
    # §7.5: older responses omit ``type``; it then means RTC
    kind = kind or "RTC"
    if kind == "RTC":
        return RtcVoiceConfiguration(app_id) if app_id else None
    if kind == "EST":
        return EstVoiceConfiguration(trunk_id) if trunk_id else None
    if kind == "FAX":
        return FaxVoiceConfiguration(service_id) if service_id else None
    ids = {"appId": app_id, "trunkId": trunk_id, "serviceId": service_id}
    return UnknownVoiceConfiguration(kind, {k: v for k, v in ids.items() if v})


@attrs.frozen
class Money:
    """A price: ISO-4217 currency code and a decimal amount (sent as a string, sometimes as
    a number). ``amount`` is ``None`` when Sinch sends a money object without one."""

    currency_code: str
    amount: Decimal | None = None


@attrs.frozen
class ScheduledSmsProvisioning:
    """A pending (or failed) link of a number to a service plan / campaign.

    ``status``: ``WAITING``, ``IN_PROGRESS`` or ``PROVISIONING_STATUS_UNSPECIFIED`` while
    it runs, ``FAILED`` with ``error_codes`` (e.g.
    ``SMS_PROVISIONING_FAILED``, ``CAMPAIGN_NOT_AVAILABLE``) when it failed; once done
    Sinch no longer shows it."""

    service_plan_id: str = ""
    campaign_id: str = ""
    status: str | None = None
    last_updated_time: datetime | None = None
    error_codes: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        """Still running: any status but ``FAILED`` (a missing status too, unless the
        object names no plan and no campaign: then nothing is scheduled)."""
        if self.status == FAILED:
            return False
        return bool(self.status or self.service_plan_id or self.campaign_id)

    @property
    def failed(self) -> bool:
        """Sinch gave up (``FAILED``): see ``error_codes``."""
        return self.status == FAILED


@attrs.frozen
class SmsConfiguration:
    """The SMS service plan (and US 10DLC campaign) a number is linked to;
    ``scheduled_provisioning`` while a (re)link is pending or after it failed."""

    service_plan_id: str = ""
    campaign_id: str = ""
    scheduled_provisioning: ScheduledSmsProvisioning | None = None


@attrs.frozen
class ScheduledVoiceProvisioning:
    """A pending (or failed) voice configuration change: the configuration being applied
    (``type`` and its id; [`target`][] as a typed record) and its ``status`` (as for
    SMS: pending, or ``FAILED``). ``type`` is ``None`` when Sinch sent none (RTC, for
    [`target`][]), so encoding the record again adds no ``type``."""

    type: str | None = None
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    status: str | None = None
    last_updated_time: datetime | None = None

    @property
    def target(self) -> VoiceTarget | None:
        """The configuration being applied, typed by ``type`` (None without its id)."""
        return _voice_target(self.type, self.app_id, self.trunk_id, self.service_id)

    @property
    def pending(self) -> bool:
        """Still running: any status but ``FAILED`` (a missing status too, unless the
        object names no id: then nothing is scheduled)."""
        if self.status == FAILED:
            return False
        return bool(self.status) or self.target is not None

    @property
    def failed(self) -> bool:
        """Sinch gave up (``FAILED``)."""
        return self.status == FAILED


@attrs.frozen
class VoiceConfiguration:
    """Voice routing of a number as Sinch reports it: ``type`` RTC (``app_id``), EST
    (``trunk_id``) or FAX (``service_id``); ``scheduled_voice_provisioning`` while a change
    is pending or after it failed. [`target`][] is the same as a typed record.

    To *change* it, pass an [`RtcVoiceConfiguration`][],
    [`EstVoiceConfiguration`][] or [`FaxVoiceConfiguration`][] as
    ``voice_configuration=`` to ``update``, ``rent`` or ``rent_any``. ``type`` is ``None``
    when Sinch sent none (older responses: RTC, for [`target`][]), so encoding the record
    again adds no ``type``."""

    type: str | None = None
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    last_updated_time: datetime | None = None
    scheduled_voice_provisioning: ScheduledVoiceProvisioning | None = None

    @property
    def target(self) -> VoiceTarget | None:
        """What calls go to, typed by ``type`` (a missing type is RTC, as the reference
        says of older responses); None when the id of its type is empty (nothing set)::

            match number.voice_configuration and number.voice_configuration.target:
                case RtcVoiceConfiguration(app_id=app):
                    ...
        """
        return _voice_target(self.type, self.app_id, self.trunk_id, self.service_id)


@attrs.frozen
class CallbackConfiguration:
    """The project's Numbers callback settings: ``hmac_secret`` signs the events Sinch
    POSTs to each number's ``callback_url`` (never shown in the repr)."""

    project_id: str = ""
    hmac_secret: str = attrs.field(default="", repr=False)


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
