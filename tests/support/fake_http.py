"""Raw HTTP against FakeSinch (independent of the SDK): its default credentials, a request
helper, and the values the FakeSinch tests share."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from sinch_async.testing import FakeSinch

#: The wall-clock start of every ``clock`` fixture (FakeSinch's "now" in most tests).
NOW = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
#: FakeSinch's default credentials as a request header.
AUTH = {"Authorization": "Bearer test-token"}
#: A minimal text batch body.
TEXT = {"to": ["+15551230001"], "from": "+15550000000", "body": "hello"}
#: FakeSinch's ids.
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


async def call(
    http: aiohttp.ClientSession, fake: FakeSinch, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    """One raw request to the fake: the status and the decoded JSON body (or None)."""
    async with http.request(method, fake.url(path), **kwargs) as resp:
        body = await resp.read()
        return resp.status, (await resp.json() if body else None)
