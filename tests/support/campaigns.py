"""Helpers of the campaign tests: numbered text requests, one campaign run, stored refs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sinch_async import TextBatchRequest
from sinch_async._fanout import SendOutcome
from sinch_async.testing import FakeSinch


def reqs(n: int, *, body: str = "hi") -> list[TextBatchRequest]:
    """``n`` single-recipient texts, ``+4670000000i`` / ``"{body} i"``."""
    return [TextBatchRequest(to=[f"+4670{i:07d}"], body=f"{body} {i}") for i in range(n)]


async def run_campaign(client: Any, requests: Any, ledger: Any, **kw: Any) -> list[SendOutcome]:
    """One ``send_many`` run (concurrency 8; ``campaign=`` among ``kw``); the outcomes
    by index."""
    async with client.batches.send_many(requests, ledger=ledger, concurrency=8, **kw) as sm:
        return sorted([o async for o in sm], key=lambda o: o.index)


def stored_refs(fake: FakeSinch) -> Counter[str]:
    """How many batches the fake stores per client_reference."""
    return Counter(b.get("client_reference") for b in fake.batches.values())
