"""Every default the SDK uses, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from ._version import __version__

__all__ = [
    "API_PATH",
    "BATCH_RETENTION",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TOTAL_TIMEOUT",
    "E164_MAX_DIGITS",
    "E164_MIN_DIGITS",
    "MAX_BATCH_RECIPIENTS",
    "MAX_BINARY_BYTES",
    "MAX_CALLBACK_URL",
    "MAX_CHILD_GROUPS",
    "MAX_CLIENT_REFERENCE",
    "MAX_DRY_RUN_RECIPIENTS",
    "MAX_EXPIRY_DAYS",
    "MAX_GROUP_MEMBERS",
    "MAX_GROUP_NAME",
    "MAX_KEYWORD",
    "MAX_NUMBERS_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_PREFETCH",
    "MAX_TEXT_BODY",
    "MAX_UPDATE_RECIPIENTS",
    "REGIONS",
    "SHORT_CODE_MAX_DIGITS",
    "SHORT_CODE_MIN_DIGITS",
    "USER_AGENT",
]

#: Regions of the classic service-plan API (``https://{region}.sms.api.sinch.com``).
REGIONS: Final = ("us", "eu", "au", "br", "ca")
API_PATH: Final = "/xms/v1"

DEFAULT_TOTAL_TIMEOUT: Final = 30.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_READ_TIMEOUT: Final[float | None] = None
DEFAULT_MAX_CONNECTIONS: Final = 100

DEFAULT_PAGE_SIZE: Final = 30
MAX_PAGE_SIZE: Final = 100
#: The Numbers API documents no maximum ``pageSize``; 1000 keeps requests sane.
MAX_NUMBERS_PAGE_SIZE: Final = 1000
#: Pages a page-number pager may fetch ahead once ``count`` is known.
MAX_PREFETCH: Final = 32

# Phone numbers. Both references (shared/docs/sinch-numbers-api.md §2 and §9,
# sinch-sms-api.md §2 and §8) say "E.164 with a leading '+'". ITU-T E.164 caps a number
# at 15 digits and no country code starts with 0; the shortest numbers in service have 7
# digits (e.g. Niue, +683 and 4 digits), so: '+', a first digit 1-9, 7..15 ASCII digits.
E164_MIN_DIGITS: Final = 7
E164_MAX_DIGITS: Final = 15
#: SMS short codes: 3..8 digits, never with a '+'.
SHORT_CODE_MIN_DIGITS: Final = 3
SHORT_CODE_MAX_DIGITS: Final = 8

MAX_BATCH_RECIPIENTS: Final = 1000
MAX_UPDATE_RECIPIENTS: Final = 100
MAX_TEXT_BODY: Final = 2000
MAX_BINARY_BYTES: Final = 140
MAX_CALLBACK_URL: Final = 2048
MAX_CLIENT_REFERENCE: Final = 2048
MAX_DRY_RUN_RECIPIENTS: Final = 1000
MAX_EXPIRY_DAYS: Final = 3
MAX_GROUP_NAME: Final = 20
MAX_GROUP_MEMBERS: Final = 10_000
MAX_CHILD_GROUPS: Final = 10
MAX_KEYWORD: Final = 15
#: How long Sinch lists batches (the edge of looking a send up by its reference).
BATCH_RETENTION: Final = timedelta(days=14)


USER_AGENT: Final = f"sinch-async/{__version__}"
