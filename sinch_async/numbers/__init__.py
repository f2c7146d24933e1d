"""The Sinch Numbers API: ``client.numbers`` (project credentials required)."""

from ._models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    Money,
    ScheduledSmsProvisioning,
    ScheduledVoiceProvisioning,
    SmsConfiguration,
    VoiceConfiguration,
)
from ._pager import TokenPage, TokenPager, TokenPagerCheckpoint
from ._resource import DEFAULT_NUMBERS_BASE_URL, NumbersResource

__all__ = [
    "DEFAULT_NUMBERS_BASE_URL",
    "ActiveNumber",
    "AvailableNumber",
    "AvailableRegion",
    "Money",
    "NumbersResource",
    "ScheduledSmsProvisioning",
    "ScheduledVoiceProvisioning",
    "SmsConfiguration",
    "TokenPage",
    "TokenPager",
    "TokenPagerCheckpoint",
    "VoiceConfiguration",
]
