"""``inbounds sync`` and ``delivery-reports sync``: a window copied to a JSON-lines file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer

from .._client import SinchClient
from .._validation import parse_duration
from ._options import get_options
from ._output import Output
from ._runner import run_job
from ._sync import SyncResult, checkpoint_for, run_sync

__all__ = ["parse_lag", "parse_since", "sync_command"]


def parse_since(since: str | None, option: str = "--since") -> datetime | None:
    """``30m``/``12h``/``7d`` ago, or an ISO-8601 time (UTC when it has no offset);
    ``option`` names the option in the error (``--until`` reads by the same rule)."""
    if since is None:
        return None
    try:
        ago = parse_duration(since, option)  # ASCII digits only: "٣d" is no duration
        if ago is not None:
            return datetime.now(UTC) - ago
        value = datetime.fromisoformat(since)
    except (ValueError, OverflowError):  # SinchValidationError is a ValueError
        raise typer.BadParameter(
            f"use an ISO-8601 time or 30m/12h/7d, not {since!r}", param_hint=option
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_lag(lag: str | None) -> timedelta:
    """``--lag``: ``30m``/``12h``/``7d`` (ASCII digits; none: no lag)."""
    if lag is None:
        return timedelta(0)
    try:
        span = parse_duration(lag, "--lag")
    except ValueError:  # SinchValidationError: too long a duration
        span = None
    if span is None:
        raise typer.BadParameter(f"use 5m/2h/1d, not {lag!r}", param_hint="--lag")
    return span


def sync_command(kind: Literal["inbounds", "delivery_reports"]) -> Callable[..., None]:
    """The ``sync`` command of one resource."""
    what = kind.replace("_", " ")

    def command(
        ctx: typer.Context,
        out: Annotated[
            Path,
            typer.Option(
                metavar="FILE",
                help="JSON-lines file to append to (created if missing).",
                dir_okay=False,
            ),
        ],
        since: Annotated[
            str | None,
            typer.Option(
                metavar="WHEN",
                help="Start of the window on the first run: ISO-8601, or 30m/12h/7d ago "
                "(default 24h). Later runs go on from the checkpoint.",
            ),
        ] = None,
        checkpoint: Annotated[
            Path | None,
            typer.Option(
                metavar="FILE", help="Resume file (default: OUT.checkpoint.json).", dir_okay=False
            ),
        ] = None,
        prefetch: Annotated[
            int, typer.Option(min=1, help="Pages fetched ahead while writing.", metavar="N")
        ] = 4,
        lag: Annotated[
            str | None,
            typer.Option(
                metavar="DURATION",
                help="End the window this long before now (5m/2h/1d), for late indexing: "
                "what arrived since then comes in the next run.",
            ),
        ] = None,
    ) -> None:
        options = get_options(ctx)
        output = Output(json=options.json)
        start = parse_since(since)
        behind = parse_lag(lag)
        ckpt = checkpoint or checkpoint_for(out)

        async def job(client: SinchClient) -> SyncResult:
            resource = client.inbounds if kind == "inbounds" else client.delivery_reports
            sync = resource.sync(since=start, checkpoint=ckpt, prefetch=prefetch, lag=behind)
            return await run_sync(sync, out, label=what, console=output.errors, quiet=options.json)

        result = run_job(options, output, job)
        output.summary(
            {
                "written": result.written,
                "complete": result.complete,
                "out": str(out),
                "checkpoint": str(ckpt),
            },
            f"{result.written} {what} written to {out} (checkpoint {ckpt})"
            + ("" if result.complete else "; not finished, run again to resume"),
        )
        if result.exit_code:
            raise typer.Exit(result.exit_code)

    command.__doc__ = (
        f"Copy every {what[:-1]} of a time window to a JSON-lines file, resumably.\n\n"
        f"The window ends when the run starts (or --lag before that). Ctrl-C stops after a "
        f"whole line (exit 130); run the same command again to resume where it stopped."
    )
    return command
