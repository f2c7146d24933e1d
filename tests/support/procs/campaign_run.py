"""Shared by the campaign child scripts: run a ``send_many`` campaign, print ``STARTED``
after the first outcome and a final ``{"summary": ...}`` line (what the tests parse)."""

from __future__ import annotations

import json
from typing import Any


async def run_and_report(sm: Any) -> None:
    started = False
    async with sm:
        async for _ in sm:
            if not started:
                started = True
                print("STARTED", flush=True)
    p = sm.progress
    summary = {
        "submitted": p.submitted,
        "succeeded": p.succeeded,
        "failed": p.failed,
        "resumed": p.resumed,
        "reconciled": p.reconciled,
        "claimed_elsewhere": p.claimed_elsewhere,
    }
    print(json.dumps({"summary": summary}), flush=True)
