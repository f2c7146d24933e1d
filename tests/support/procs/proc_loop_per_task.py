"""Child process for ``tests/process/test_process_loop_per_task.py``: a task-queue worker
(Celery, RQ, Dramatiq) with one module-level client and one event loop per task, the
pattern of docs/getting-started.md, "One client, a loop per task".

Usage: ``proc_loop_per_task.py BASE_URL SERVICE_PLAN_ID API_TOKEN MODE [TASKS]``

``MODE`` is ``run`` (each task under ``asyncio.run()``) or ``close`` (each task on
``asyncio.new_event_loop()``, closed with ``loop.close()`` alone, no
``shutdown_asyncgens()``). Prints ``TASK <i> <batch id>`` per task, then ``DONE``, then
waits for a line on stdin before exiting, without ever closing the client.
"""

from __future__ import annotations

import asyncio
import sys

from sinch_async import SinchClient

BASE_URL, PLAN, TOKEN, MODE = sys.argv[1:5]
TASKS = int(sys.argv[5]) if len(sys.argv) > 5 else 3

client = SinchClient(service_plan_id=PLAN, api_token=TOKEN, base_url=BASE_URL)


async def task(i: int) -> str:
    batch = await client.batches.send_text(to=["+46701234567"], body=f"task {i}")
    return batch.id


def run(i: int) -> str:
    if MODE == "run":
        return asyncio.run(task(i))
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(task(i))
    finally:
        loop.close()


if __name__ == "__main__":
    for i in range(TASKS):
        print(f"TASK {i} {run(i)}", flush=True)
    print("DONE", flush=True)
    sys.stdin.readline()  # the parent counts the connections still open, then lets us go
