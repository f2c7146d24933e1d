"""``sinch-async demo``: everything against an in-process FakeSinch, no account, no network."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._retry import RetryPolicy
from ..models.batches import TextBatchRequest
from ..testing import FakeSinch, Fault
from ._app import run_sync

__all__ = ["run_demo"]


def _requests(n: int) -> Iterator[TextBatchRequest]:
    for i in range(n):
        yield TextBatchRequest(
            to=[f"+4670{i:07d}"], from_="+12025550134", body=f"Your code is {100000 + i}"
        )


async def run_demo(
    console: Console, errors: Console, *, inbounds: int, sends: int, out: Path | None
) -> None:
    """Seed a FakeSinch, fan out ``sends`` batches, sync ``inbounds`` inbounds, summarise."""
    now = datetime.now(UTC)
    async with FakeSinch(seed=1) as fake:
        console.print(
            f"FakeSinch on {fake.base_url} (no credentials configured: nothing leaves this machine)"
        )
        spacing = timedelta(hours=20) / max(inbounds, 1)
        fake.seed_inbounds(inbounds, start=now - timedelta(hours=21), spacing=spacing, to="12345")
        # A little trouble, to show sends that never duplicate and never get lost.
        fake.add_fault(
            Fault(method="POST", path="/batches", status=500, phase="after", probability=0.01)
        )
        fake.add_fault(
            Fault(
                method="POST",
                path="/batches",
                status=429,
                headers={"Retry-After": "0"},
                probability=0.02,
            )
        )
        retry = RetryPolicy(base_delay=0.01, max_delay=0.1)
        async with fake.client(retry=retry, messages_per_second=None) as client:
            kinds: Counter[str] = Counter()
            started = time.perf_counter()
            with Progress(
                TextColumn("[bold]fan-out"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=errors,
            ) as progress:
                task = progress.add_task("send", total=sends)
                async with client.batches.send_many(
                    _requests(sends), concurrency=32, auto_client_reference=True
                ) as outcomes:
                    async for outcome in outcomes:
                        kinds["sent" if outcome.ok else type(outcome.error).__name__] += 1
                        progress.advance(task)
            send_secs = time.perf_counter() - started
            stored = len(fake.batches)
            refs = Counter(b.get("client_reference") for b in fake.batches.values())
            duplicates = sum(c - 1 for c in refs.values() if c > 1)

            target = out or Path(tempfile.mkdtemp(prefix="sinch-demo-")) / "inbounds.jsonl"
            started = time.perf_counter()
            sync = client.inbounds.sync(
                since=now - timedelta(days=1),
                checkpoint=target.with_name(target.name + ".checkpoint.json"),
                prefetch=8,
            )
            synced = await run_sync(sync, target, label="inbound sync")
            sync_secs = time.perf_counter() - started

    table = Table(title="sinch-async demo")
    table.add_column("what")
    table.add_column("result", justify="right")
    table.add_row("batches sent", f"{kinds['sent']} of {sends}")
    table.add_row("outcome unknown / failed", str(sends - kinds["sent"]))
    table.add_row("batches stored by the server", str(stored))
    table.add_row("duplicate sends", str(duplicates))
    table.add_row("send rate", f"{sends / send_secs:,.0f} batches/s")
    table.add_row("inbounds synced", f"{synced} of {inbounds}")
    table.add_row("sync rate", f"{synced / max(sync_secs, 1e-6):,.0f} items/s")
    table.add_row("output", str(target))
    console.print(table)
