"""Waiting for a number's provisioning: what an [`ActiveNumber`][] says of it, and the
errors of [`NumbersResource.wait_provisioned`][].

Linking a number to an SMS service plan (or campaign) or changing its voice configuration
is *scheduled* (reference §4.4, §7.4, §7.5): the response of ``rent``/``rent_any``/
``update`` shows the request under ``smsConfiguration.scheduledProvisioning`` /
``voiceConfiguration.scheduledVoiceProvisioning`` with ``status`` ``WAITING``, then
``IN_PROGRESS``; once done Sinch shows the new configuration and no scheduled object; when
it failed the scheduled object stays with ``status: FAILED`` (and, for SMS,
``errorCodes``).
"""

from __future__ import annotations

import attrs

from .._errors import SinchError
from ._models import ActiveNumber

__all__ = ["ProvisioningFailedError", "ProvisioningState", "ProvisioningTimeoutError"]


@attrs.frozen
class ProvisioningState:
    """Where a number's provisioning stands: the channels (``"sms"``, ``"voice"``) still
    pending and those that failed, with the SMS error codes."""

    pending: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, number: ActiveNumber) -> ProvisioningState:
        """The state ``number`` shows."""
        pending: list[str] = []
        failed: list[str] = []
        codes: tuple[str, ...] = ()
        sms_config, voice_config = number.sms_configuration, number.voice_configuration
        sms = sms_config.scheduled_provisioning if sms_config is not None else None
        if sms is not None:
            if sms.failed:
                failed.append("sms")
                codes = sms.error_codes
            elif sms.pending:
                pending.append("sms")
        voice = voice_config.scheduled_voice_provisioning if voice_config is not None else None
        if voice is not None:
            if voice.failed:
                failed.append("voice")
            elif voice.pending:
                pending.append("voice")
        return cls(tuple(pending), tuple(failed), codes)

    @property
    def done(self) -> bool:
        """Nothing pending and nothing failed."""
        return not (self.pending or self.failed)


class ProvisioningFailedError(SinchError):
    """Sinch reports that provisioning of ``phone_number`` failed: ``failed`` names the
    channels (``"sms"``, ``"voice"``), ``error_codes`` are Sinch's SMS error codes (e.g.
    ``SMS_PROVISIONING_FAILED``, ``CAMPAIGN_NOT_AVAILABLE``), ``number`` is the
    [`ActiveNumber`][] that said so."""

    def __init__(self, number: ActiveNumber, state: ProvisioningState) -> None:
        codes = f" ({', '.join(state.error_codes)})" if state.error_codes else ""
        super().__init__(
            f"provisioning of {number.phone_number} failed: {', '.join(state.failed)}{codes}"
        )
        self.number = number
        self.phone_number = number.phone_number
        self.failed = state.failed
        self.error_codes = state.error_codes


class ProvisioningTimeoutError(SinchError, TimeoutError):
    """Provisioning of ``phone_number`` had not finished after ``timeout`` seconds:
    ``pending`` names the channels still running, ``number`` is the last
    [`ActiveNumber`][] read. Nothing was undone; wait again or look later."""

    def __init__(self, number: ActiveNumber, state: ProvisioningState, timeout: float) -> None:
        super().__init__(
            f"provisioning of {number.phone_number} not finished after {timeout:g} s "
            f"(pending: {', '.join(state.pending)})"
        )
        self.number = number
        self.phone_number = number.phone_number
        self.pending = state.pending
        self.timeout = timeout
