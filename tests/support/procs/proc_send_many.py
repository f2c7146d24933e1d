"""Child process for ``tests/process/test_process_send_many.py``: a ``send_many`` run that records
every outcome, the way docs/campaigns.md tells users to, and is meant to be hit by Ctrl-C.

Usage: ``proc_send_many.py BASE_URL SERVICE_PLAN_ID API_TOKEN OUT_FILE [COUNT]``

Writes one JSON line per outcome to OUT_FILE (flushed per line): ``index``,
``client_reference``, ``batch_id``, ``ok``, ``unknown``, ``failed``, ``unreported``.
On stdout: ``STARTED`` once the first outcome was recorded, then a final JSON summary
line (``{"summary": ...}``) with the run's progress counters. Exits 0 when the run
completed, 130 on KeyboardInterrupt (after every outcome was recorded).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Iterator
from typing import IO, Any

from sinch_async import SendOutcome, SinchClient, TextBatchRequest

CONCURRENCY = 32
GRACE = 10.0


def requests(count: int) -> Iterator[TextBatchRequest]:
    for i in range(count):
        yield TextBatchRequest(to=[f"+4670{i:07d}"], body=f"bulk {i}")


class Recorder:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.started = False

    def record(self, outcome: SendOutcome, *, unreported: bool = False) -> None:
        line = {
            "index": outcome.index,
            "client_reference": getattr(outcome.request, "client_reference", None),
            "batch_id": outcome.batch_id,
            "ok": outcome.ok,
            "unknown": outcome.unknown,
            "failed": outcome.failed,
            "unreported": unreported,
            "error": None if outcome.error is None else repr(outcome.error),
        }
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        if not self.started:
            self.started = True
            print("STARTED", flush=True)


async def main(base_url: str, plan: str, token: str, recorder: Recorder, count: int) -> Any:
    async with SinchClient(service_plan_id=plan, api_token=token, base_url=base_url) as client:
        sm = client.batches.send_many(
            requests(count), concurrency=CONCURRENCY, auto_client_reference=True, grace=GRACE
        )
        try:
            async with sm as outcomes:
                async for outcome in outcomes:
                    recorder.record(outcome)
        finally:
            for outcome in sm.unreported_outcomes:
                recorder.record(outcome, unreported=True)
            summary = {
                "submitted": sm.progress.submitted,
                "succeeded": sm.progress.succeeded,
                "failed": sm.progress.failed,
                "unknown": sm.progress.unknown,
                "unreported": sm.progress.unreported,
            }
            print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    base_url, plan, token, out_file = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
    # A process started in the background by a non-interactive shell inherits SIGINT as
    # ignored, and asyncio.run only installs its Ctrl-C handling over the default handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with open(out_file, "w", encoding="utf-8") as out:
        try:
            asyncio.run(main(base_url, plan, token, Recorder(out), count))
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
            sys.exit(130)
    print("COMPLETED", flush=True)
