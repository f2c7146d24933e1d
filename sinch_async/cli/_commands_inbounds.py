"""``inbounds list|sync``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._client import SinchClient
from ._commands_sync import sync_command
from ._options import get_options
from ._output import INBOUND_COLUMNS, Output
from ._runner import run_job

__all__ = ["inbounds_app"]

inbounds_app = typer.Typer(
    rich_markup_mode=None,
    help="Messages sent to your numbers: list, sync.",
    no_args_is_help=True,
    add_completion=False,
)


@inbounds_app.command("list")
def inbounds_list(
    ctx: typer.Context,
    to: Annotated[
        list[str] | None,
        typer.Option(help="Only messages to this number of yours (repeatable).", metavar="NUMBER"),
    ] = None,
    max_items: Annotated[
        int, typer.Option("--max", min=1, help="Show at most this many.", metavar="N")
    ] = 50,
) -> None:
    """List recent inbound messages, newest first."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[Any]:
        return [m async for m in c.inbounds.list(to=to, page_size=100, max_items=max_items)]

    output.records(run_job(options, output, job), INBOUND_COLUMNS, "Inbounds")


inbounds_app.command("sync")(sync_command("inbounds"))
