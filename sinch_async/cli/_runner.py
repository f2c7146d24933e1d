"""Running one command's async job: build the client, run it, map failures to exit codes.

The exit codes of every command are the constants below (`EXIT_CODES_HELP` is the
table shown in ``--help``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from .._client import SinchClient
from .._errors import CheckpointInUseError, SinchConfigError, SinchError, SinchValidationError
from ._options import Options
from ._output import Output

__all__ = [
    "EXIT_API",
    "EXIT_BUSY",
    "EXIT_CODES_HELP",
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STORE_UNAVAILABLE",
    "EXIT_USAGE",
    "make_client",
    "run_job",
]

T = TypeVar("T")

#: Done: every row (``send-bulk``) or the whole request succeeded.
EXIT_OK = 0
#: ``send-bulk``: complete, but some rows failed.
EXIT_FAILED = 1
#: The other commands: an API or network error.
EXIT_API = EXIT_FAILED
#: Bad input, usage or configuration; nothing was sent.
EXIT_USAGE = 2
#: Stopped because a shared store (rate limiter or ledger) is unavailable; rows left pending.
EXIT_STORE_UNAVAILABLE = 3
#: Incomplete: rows in doubt (``unknown``) or held by another worker; run again.
EXIT_INCOMPLETE = 4
#: Busy: the ledger or checkpoint is held by another process.
EXIT_BUSY = 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

#: The exit-code table, as ``--help`` shows it (one code a line).
EXIT_CODES_HELP = (
    "\b\n"  # click: keep this paragraph's lines as they are
    "Exit codes:\n"
    "  0  ok (send-bulk: complete, every row ok)\n"
    "  1  send-bulk: complete, some rows failed; doctor: a check is an error;\n"
    "     other commands: an API or network error\n"
    "  2  bad input or usage: nothing sent\n"
    "  3  stopped: a shared store (rate limiter or ledger) is unavailable,\n"
    "     rows left pending; run again\n"
    "  4  incomplete: rows of the campaign in doubt, held by a worker or not\n"
    "     started; run again\n"
    "  5  busy: the ledger or checkpoint is held by another process\n"
    "130  interrupted (Ctrl-C); run again to resume"
)

CREDENTIALS_HINT = (
    "Or pass the matching options (sinch-async --help). "
    "To try everything without an account: sinch-async demo"
)


def make_client(options: Options, output: Output, **extra: Any) -> SinchClient:
    """The client the options and environment describe (``--account`` included), with
    ``extra`` client keywords (e.g. ``messages_per_second``); exit 2 if they do not add up.

    Every command builds its client here, through the one resolver
    (`sinch_async._settings`): ``from_account(NAME)`` with ``--account NAME``, else
    ``from_env``, the global options and ``extra`` as overrides."""
    try:
        with output.warnings():
            return options.client(**extra)
    except SinchConfigError as exc:
        hint = CREDENTIALS_HINT if "credential" in str(exc).lower() else None
        output.error("Configuration error", exc, hint)
        raise typer.Exit(EXIT_USAGE) from None


def run_job(options: Options, output: Output, job: Callable[[SinchClient], Awaitable[T]]) -> T:
    """Run ``job(client)`` in a fresh event loop, the client closed afterwards."""
    client = make_client(options, output)

    async def go() -> T:
        async with client:
            return await job(client)

    try:
        return asyncio.run(go())
    except SinchConfigError as exc:  # e.g. a project-only API with service-plan credentials
        output.error("Configuration error", exc)
        raise typer.Exit(EXIT_USAGE) from None
    except SinchValidationError as exc:
        output.error("Invalid input", exc)
        raise typer.Exit(EXIT_USAGE) from None
    except CheckpointInUseError as exc:  # e.g. a second sync on the same checkpoint
        output.error("Busy", exc)
        raise typer.Exit(EXIT_BUSY) from None
    except SinchError as exc:
        output.error("Error", exc)
        raise typer.Exit(EXIT_API) from None
    except KeyboardInterrupt:
        output.error("Interrupted", "stopped before finishing")
        raise typer.Exit(EXIT_INTERRUPTED) from None
