"""``sinch-async demo``: fan-out and sync against an in-process FakeSinch (no account, no
network), or, with credentials configured, a read-only sync of your account's inbounds."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._client import SinchClient
from .._errors import SinchError
from .._retry import RetryPolicy
from ..models.batches import TextBatchRequest
from ._options import Options, get_options
from ._output import Output
from ._runner import EXIT_API, EXIT_INTERRUPTED, run_job
from ._sync import SyncResult, checkpoint_for, run_sync

__all__ = ["demo", "run_demo"]


def demo(
    ctx: typer.Context,
    inbounds: Annotated[
        int, typer.Option(min=0, help="Inbound messages to seed the fake server with.", metavar="N")
    ] = 50_000,
    sends: Annotated[
        int, typer.Option(min=0, help="Batches to send (fan-out).", metavar="N")
    ] = 2_000,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Keep the synced inbounds in this JSON-lines file (default: a temporary "
            "file, removed at the end; with credentials: ./inbounds.jsonl, kept).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Try everything offline: fan-out sends and an inbound sync against a local fake.

    Without credentials it starts FakeSinch in this process, sends SENDS batches through
    injected 500s and 429s (no duplicates, none lost) and syncs INBOUNDS inbounds; nothing
    leaves the machine. With credentials configured it runs read-only against your
    account instead: it syncs the last 24 h of inbounds to a file and sends nothing.
    """
    options = get_options(ctx)
    output = Output(json=options.json)
    if options.credentials_configured():
        _account_demo(options, output, out or Path("inbounds.jsonl"))
        return
    try:
        summary = asyncio.run(run_demo(output, inbounds=inbounds, sends=sends, out=out))
    except SinchError as exc:
        output.error("Error", exc)
        raise typer.Exit(EXIT_API) from None
    except KeyboardInterrupt:
        output.error("Interrupted", "stopped before finishing")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if summary["exit_code"]:
        raise typer.Exit(summary["exit_code"])


def _account_demo(options: Options, output: Output, target: Path) -> None:
    """The demo with credentials: read-only, the last 24 h of inbounds to ``target``."""
    output.info(f"Credentials found: syncing the last 24 h of inbounds to {target}")
    output.info("(read-only: no message is sent)")

    async def job(client: SinchClient) -> SyncResult:
        sync = client.inbounds.sync(
            since=datetime.now(UTC) - timedelta(hours=24), checkpoint=checkpoint_for(target)
        )
        return await run_sync(
            sync, target, label="inbound sync", console=output.errors, quiet=options.json
        )

    result = run_job(options, output, job)
    output.summary(
        {"written": result.written, "complete": result.complete, "out": str(target)},
        f"{result.written} inbounds written to {target}",
    )
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _requests(n: int) -> Iterator[TextBatchRequest]:
    for i in range(n):
        yield TextBatchRequest(
            to=[f"+4670{i:07d}"], from_="+12025550134", body=f"Your code is {100000 + i}"
        )


async def run_demo(
    output: Output, *, inbounds: int, sends: int, out: Path | None
) -> dict[str, Any]:
    """Seed a FakeSinch, fan out ``sends`` batches, sync ``inbounds`` inbounds to ``out``
    (a temporary file, removed afterwards, when ``None``); print and return a summary."""
    from ..testing import FakeSinch, Fault  # the fake server: only for the offline demo

    now = datetime.now(UTC)
    with contextlib.ExitStack() as cleanup:
        if out is None:
            tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="sinch-async-demo-"))
            target = Path(tmp) / "inbounds.jsonl"
        else:
            target = out
        async with FakeSinch(seed=1) as fake:
            output.info(
                f"FakeSinch on {fake.base_url} (no credentials configured: nothing leaves "
                "this machine)"
            )
            spacing = timedelta(hours=20) / max(inbounds, 1)
            fake.seed_inbounds(
                inbounds, start=now - timedelta(hours=21), spacing=spacing, to="12345"
            )
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
                    console=output.errors,
                    disable=output.json,
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

                started = time.perf_counter()
                sync = client.inbounds.sync(
                    since=now - timedelta(days=1), checkpoint=checkpoint_for(target), prefetch=8
                )
                result = await run_sync(
                    sync,
                    target,
                    label="inbound sync",
                    console=output.errors,
                    quiet=output.json,
                    resumable=False,  # the fake server goes away with this process
                )
                sync_secs = time.perf_counter() - started

    summary: dict[str, Any] = {
        "batches_sent": kinds["sent"],
        "batches_requested": sends,
        "outcome_unknown_or_failed": sends - kinds["sent"],
        "batches_stored": stored,
        "duplicate_sends": duplicates,
        "send_rate": sends / max(send_secs, 1e-6),
        "inbounds_synced": result.written,
        "inbounds_seeded": inbounds,
        "sync_rate": result.written / max(sync_secs, 1e-6),
        "output": None if out is None else str(target),
        "exit_code": result.exit_code,
    }
    if output.json:
        output.data(summary)
    else:
        output.table(
            "sinch-async demo",
            ("what", "result"),
            [
                ("batches sent", f"{kinds['sent']} of {sends}"),
                ("outcome unknown / failed", sends - kinds["sent"]),
                ("batches stored by the server", stored),
                ("duplicate sends", duplicates),
                ("send rate", f"{summary['send_rate']:,.0f} batches/s"),
                ("inbounds synced", f"{result.written} of {inbounds}"),
                ("sync rate", f"{summary['sync_rate']:,.0f} items/s"),
                ("output", target if out else "temporary file, removed (--out FILE keeps it)"),
            ],
            right=("result",),
        )
    return summary
