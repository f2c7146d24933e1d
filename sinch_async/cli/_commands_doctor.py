"""``doctor``: what the guarantees rest on, checked before a campaign (the checks of
[`sinch_async._doctor.run_checks`][], printed as a table or JSON)."""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from typing import Annotated

import typer
from rich.text import Text

from .._doctor import Check, run_checks, worst_status
from .._settings import DEFAULT_ACCOUNT
from ._options import Options, get_options
from ._output import Output
from ._runner import EXIT_FAILED, EXIT_INTERRUPTED

__all__ = ["doctor"]

#: The account name the checks against the embedded FakeSinch carry.
DEMO = "demo"


def doctor(
    ctx: typer.Context,
    redis_urls: Annotated[
        list[str] | None,
        typer.Option(
            "--redis",
            help="A Redis URL the campaign uses (send-bulk --redis, RedisLedger, "
            "RedisRateLimiter); repeat for several. Its password is never shown.",
            metavar="URL",
        ),
    ] = None,
) -> None:
    """Check what the guarantees rest on, before a campaign; nothing is sent.

    The credentials (one cheap read per API: nothing sent), this host's clock against
    Sinch's (the Date header; more than 2 s apart is a warning), the config file's
    permissions, the Redis key of each account's SMS budget and, for each --redis,
    persistence (appendonly, appendfsync), maxmemory-policy (anything but noeviction
    may drop ledgers and leases) and TIME. Each check is ok, warning or error with one
    line of advice; exit 0 when none is an error, 1 otherwise. Without credentials it
    checks the embedded FakeSinch (as sinch-async demo) and says so.
    """
    options = get_options(ctx)
    output = Output(json=options.json)
    try:
        with warnings.catch_warnings():
            # the config_file check reports an unsafe file, in the same words
            warnings.filterwarnings(
                "ignore", message=".*readable by other users", category=UserWarning
            )
            checks = asyncio.run(_checks(options, redis_urls or []))
    except KeyboardInterrupt:
        output.error("Interrupted", "stopped before finishing")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    status = worst_status(checks)
    if output.json:
        output.data({"status": status, "checks": [c.as_dict() for c in checks]})
    else:
        _print(output, checks)
        counts = Counter(c.status for c in checks)
        output.info(
            f"{status}: {counts['error']} error(s), {counts['warning']} warning(s), "
            f"{counts['ok']} ok"
        )
    if status == "error":
        raise typer.Exit(EXIT_FAILED)


_STYLES = {"ok": "green", "warning": "yellow", "error": "bold red"}


def _print(output: Output, checks: list[Check]) -> None:
    """One line a check (status, check, subject: detail; never wrapped, so it greps),
    its advice on the next."""
    width = max(len(c.name) for c in checks) + 2
    for check in checks:
        line = Text()
        line.append(f"{check.status:<9}", style=_STYLES[check.status])
        line.append(f"{check.name:<{width}}{check.subject}: {check.detail}")
        output.console.print(line, soft_wrap=True, highlight=False)
        if check.advice:
            advice = Text(" " * (9 + width) + "-> " + check.advice)
            output.console.print(advice, soft_wrap=True, highlight=False)


async def _checks(options: Options, redis: list[str]) -> list[Check]:
    if options.credentials_configured():
        account = options.account or DEFAULT_ACCOUNT  # the SINCH_* variables' account
        return await run_checks(options.client, account=account, redis=redis)
    from ..testing import FakeSinch  # no credentials: the demo's server, as `demo` uses

    async with FakeSinch(seed=1) as fake:
        checks = await run_checks(fake.client, account=DEMO, redis=redis)
    note = Check(
        "credentials",
        "warning",
        DEMO,
        "no credentials configured: the checks of 'demo' ran against the embedded "
        "FakeSinch, as sinch-async demo does",
        "set SINCH_SERVICE_PLAN_ID and SINCH_API_TOKEN (or give --account NAME) to check "
        "your account",
    )
    return [*checks[:1], note, *checks[1:]]
