"""``delivery-reports get|list|sync``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import typer

from .._client import SinchClient
from ._commands_sync import sync_command
from ._options import get_options
from ._output import REPORT_COLUMNS, Output, jsonable
from ._runner import run_job

__all__ = ["reports_app"]

reports_app = typer.Typer(
    rich_markup_mode=None,
    help="Delivery reports: get, list, sync.",
    no_args_is_help=True,
    add_completion=False,
)


class ReportType(StrEnum):
    """``delivery-reports get --type``."""

    summary = "summary"
    full = "full"


@reports_app.command("get")
def reports_get(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch id (from send or batches list).")],
    type_: Annotated[
        ReportType,
        typer.Option("--type", help="summary: counts per status; full: also the recipients."),
    ] = ReportType.summary,
) -> None:
    """A batch's delivery report: how many messages reached each status."""
    options = get_options(ctx)
    output = Output(json=options.json)
    kind: Literal["summary", "full"] = "full" if type_ is ReportType.full else "summary"
    report = run_job(options, output, lambda c: c.delivery_reports.get(batch_id, type=kind))
    if output.json:
        output.data(jsonable(report))
        return
    output.table(
        f"Delivery report {batch_id}",
        ("status", "code", "count", "recipients"),
        ((b.status, b.code, b.count, ", ".join(b.recipients or ())) for b in report.statuses),
    )


@reports_app.command("list")
def reports_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this status, e.g. Delivered or Failed (repeatable).", metavar="STATUS"
        ),
    ] = None,
    max_items: Annotated[
        int, typer.Option("--max", min=1, help="Show at most this many.", metavar="N")
    ] = 50,
) -> None:
    """List recent per-recipient delivery reports, newest first."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[Any]:
        pager = c.delivery_reports.list(status=status, page_size=100, max_items=max_items)
        return [r async for r in pager]

    output.records(run_job(options, output, job), REPORT_COLUMNS, "Delivery reports")


reports_app.command("sync")(sync_command("delivery_reports"))
