"""``send`` and ``batches list|get|cancel``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._client import SinchClient
from ._options import get_options
from ._output import BATCH_COLUMNS, Output
from ._runner import run_job

__all__ = ["batches_app", "send"]

batches_app = typer.Typer(
    rich_markup_mode=None,
    help="Batches you sent: list, get, cancel.",
    no_args_is_help=True,
    add_completion=False,
)


def send(
    ctx: typer.Context,
    to: Annotated[
        list[str],
        typer.Option(
            "--to",
            help="Recipient: E.164 number, short code or group id (repeatable).",
            metavar="NUMBER",
        ),
    ],
    body: Annotated[
        str, typer.Option(help="Message text (up to 2000 characters).", metavar="TEXT")
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="Sender number, short code or alphanumeric id.", metavar="SENDER"
        ),
    ] = None,
    client_reference: Annotated[
        str | None, typer.Option(help="Your own reference, stored with the batch.", metavar="REF")
    ] = None,
    delivery_report: Annotated[
        str | None,
        typer.Option(
            help="none, summary, full, per_recipient or per_recipient_final.", metavar="KIND"
        ),
    ] = None,
) -> None:
    """Send a text message to one or more recipients."""
    options = get_options(ctx)
    output = Output(json=options.json)
    batch = run_job(
        options,
        output,
        lambda c: c.batches.send_text(
            to=to,
            body=body,
            from_=from_,
            client_reference=client_reference,
            delivery_report=delivery_report,
        ),
    )
    output.record(batch, "Sent")


@batches_app.command("list")
def batches_list(
    ctx: typer.Context,
    max_items: Annotated[
        int, typer.Option("--max", min=1, help="Show at most this many.", metavar="N")
    ] = 50,
    page_size: Annotated[
        int, typer.Option(min=1, max=100, help="Batches per request (1-100).", metavar="N")
    ] = 50,
    client_reference: Annotated[
        str | None, typer.Option(help="Only batches with this client reference.", metavar="REF")
    ] = None,
) -> None:
    """List recent batches, newest first."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[Any]:
        pager = c.batches.list(
            page_size=page_size, max_items=max_items, client_reference=client_reference
        )
        return [b async for b in pager]

    output.records(run_job(options, output, job), BATCH_COLUMNS, "Batches")


@batches_app.command("get")
def batches_get(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch id (from send or batches list).")],
) -> None:
    """Show one batch."""
    options = get_options(ctx)
    output = Output(json=options.json)
    output.record(run_job(options, output, lambda c: c.batches.get(batch_id)), f"Batch {batch_id}")


@batches_app.command("cancel")
def batches_cancel(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch id (from send or batches list).")],
) -> None:
    """Cancel a batch (messages not yet sent are not sent)."""
    options = get_options(ctx)
    output = Output(json=options.json)
    batch = run_job(options, output, lambda c: c.batches.cancel(batch_id))
    output.record(batch, f"Canceled {batch_id}")
