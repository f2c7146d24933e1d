"""Running one command's async job: build the client, run it, map failures to exit codes.

Exit codes: 0 ok, 1 API (or transport) error, 2 usage or configuration, 130 interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from .._client import SinchClient
from .._errors import SinchConfigError, SinchError, SinchValidationError
from ._options import Options
from ._output import Output

__all__ = ["EXIT_API", "EXIT_INTERRUPTED", "EXIT_USAGE", "make_client", "run_job"]

T = TypeVar("T")

EXIT_API = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

CREDENTIALS_HINT = (
    "Or pass the matching options (sinch-async --help). "
    "To try everything without an account: sinch-async demo"
)


def make_client(options: Options, output: Output) -> SinchClient:
    """The client the options and environment describe; exit 2 if they do not add up."""
    try:
        return options.client()
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
    except SinchError as exc:
        output.error("Error", exc)
        raise typer.Exit(EXIT_API) from None
    except KeyboardInterrupt:
        output.error("Interrupted", "stopped before finishing")
        raise typer.Exit(EXIT_INTERRUPTED) from None
