"""``campaign status``: how a campaign stands in its ledger, across every worker.

Read-only: it takes no claim and no lock, so it runs while workers send (a SQLite ledger
is read while the run that holds it goes on). No Sinch credentials are needed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from .._errors import SinchConfigError
from .._ledger import CampaignStatus, LedgerError, LedgerFormatError, campaign_status
from ._commands_bulk import (
    OpenRow,
    _check_redis_url,
    _fail,
    _open_ledger,
    show_status,
    status_json,
)
from ._options import get_options
from ._output import Output
from ._runner import EXIT_INCOMPLETE, EXIT_OK, EXIT_STORE_UNAVAILABLE, EXIT_USAGE

__all__ = ["campaign_app", "campaign_status_command"]

campaign_app = typer.Typer(
    help="Campaigns (send-bulk, or send_many with a ledger): how they stand.",
    no_args_is_help=True,
)


@campaign_app.command("status")
def campaign_status_command(
    ctx: typer.Context,
    campaign: Annotated[
        str,
        typer.Option(help="Campaign id (send-bulk prints it in its summary).", metavar="ID"),
    ],
    ledger_file: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            dir_okay=False,
            help="The campaign's SQLite ledger file (read without its lock: fine while "
            "a run holds it).",
            metavar="FILE",
        ),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis", help="The Redis URL of the campaign's shared ledger.", metavar="URL"
        ),
    ] = None,
) -> None:
    """Rows per state (sent, failed, claimed by a worker, in doubt, not started), the
    workers holding claims (and the lease left on them), and up to 20 rows without a
    final outcome.

    Exit codes: 0 complete (every row sent or failed); 4 not complete (rows claimed, in
    doubt or not started: run the campaign again, or wait for its workers); 2 bad usage,
    or nothing recorded for the campaign; 3 the ledger cannot be read.
    """
    options = get_options(ctx)
    output = Output(json=options.json)
    if (ledger_file is None) == (redis_url is None):
        raise typer.BadParameter("give --ledger FILE or --redis URL", param_hint="--ledger")
    if redis_url is not None:
        _check_redis_url(output, redis_url)

    async def go() -> CampaignStatus:
        ledger = await _open_ledger(ledger_file, redis_url)
        try:
            return await campaign_status(ledger, campaign)
        finally:
            await ledger.aclose()
            redis = getattr(ledger, "_redis", None)
            if redis is not None:
                await redis.aclose()

    try:
        status = asyncio.run(go())
    except LedgerFormatError as exc:
        _fail(output, EXIT_USAGE, "Ledger format", exc)
    except LedgerError as exc:
        _fail(output, EXIT_STORE_UNAVAILABLE, "Ledger unavailable", exc)
    except SinchConfigError as exc:
        _fail(output, EXIT_USAGE, "Configuration error", exc)
    if not status.exists:
        where = ledger_file if ledger_file is not None else "this Redis"
        _fail(
            output, EXIT_USAGE, "Unknown campaign", f"nothing recorded for {campaign!r} in {where}"
        )
    if output.json:
        output.data(status_json(status))
    else:
        rows = [OpenRow.of(r, "") for r in status.rows]
        output.info(f"Campaign {status.campaign}")
        show_status(output, status, rows, title="Every worker")
    raise typer.Exit(EXIT_OK if status.complete else EXIT_INCOMPLETE)
