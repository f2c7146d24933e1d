"""``fake-server``: FakeSinch as a local server for programs that are not tests (a web
service or a worker reading the ``SINCH_*`` variables), serving until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from ._options import get_options
from ._output import Output
from ._runner import EXIT_INTERRUPTED, EXIT_USAGE

if TYPE_CHECKING:
    from ..testing import FakeSinch

__all__ = ["fake_server", "fake_server_env"]


def fake_server_env(fake: FakeSinch) -> dict[str, str]:
    """The ``SINCH_*`` variables that point ``SinchClient.from_env`` at ``fake``: its
    service plan for SMS and its project keys for Numbers."""
    return {
        "SINCH_BASE_URL": fake.base_url,
        "SINCH_SERVICE_PLAN_ID": fake.service_plan_id,
        "SINCH_API_TOKEN": fake.api_token,
        "SINCH_PROJECT_ID": fake.project_id,
        "SINCH_KEY_ID": fake.key_id,
        "SINCH_KEY_SECRET": fake.key_secret,
        "SINCH_AUTH_URL": fake.auth_url,
        "SINCH_NUMBERS_BASE_URL": fake.base_url,
    }


def fake_server(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST",
            help="Address to listen on (0.0.0.0: every interface; clients of another "
            "host need allow_insecure_http=True).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(min=0, max=65535, metavar="PORT", help="Port to listen on (0: a free one)."),
    ] = 0,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed the fake's ids, for repeatable runs.", metavar="N"),
    ] = None,
) -> None:
    """Run FakeSinch as a local server until Ctrl-C, for a program that is not a test.

    Prints export lines on stdout (SINCH_BASE_URL and the service plan for SMS; the
    project keys, SINCH_AUTH_URL and SINCH_NUMBERS_BASE_URL for Numbers) and nothing
    else: source them (sinch-async fake-server > fake.env &) in the shell of your
    service, whose SinchClient.from_env() then talks to the fake. Make an inbound
    arrive with POST /_admin/inbounds (JSON: from, to, body). Nothing leaves the
    machine. Ctrl-C stops it (exit 130); SIGTERM too (exit 0).
    """
    output = Output(json=get_options(ctx).json)
    try:
        stopped = asyncio.run(_serve(output, host=host, port=port, seed=seed))
    except KeyboardInterrupt:
        _note(output, "FakeSinch stopped (Ctrl-C)")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OSError as exc:
        output.error("Cannot listen", f"{host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None
    _note(output, f"FakeSinch stopped ({stopped})")


def _note(output: Output, *lines: str) -> None:
    """Messages on stderr as shell comments: stdout holds only the export lines."""
    for line in lines:
        output.errors.print(f"# {line}", markup=False, highlight=False, soft_wrap=True)


async def _serve(output: Output, *, host: str, port: int, seed: int | None) -> str:
    """Serve until SIGTERM (returns) or Ctrl-C (``KeyboardInterrupt`` from asyncio.run)."""
    from ..testing import FakeSinch  # the fake server: only for this command

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    fake = FakeSinch(seed=seed)
    await fake.start(host=host, port=port)
    try:
        env = fake_server_env(fake)
        if output.json:
            output.data({"env": env, "admin_inbounds_url": f"{fake.base_url}/_admin/inbounds"})
        else:
            for name, value in env.items():
                print(f"export {name}={shlex.quote(value)}", flush=True)
        body = '{"from": "+46701234567", "to": "12345", "body": "Hi"}'
        _note(
            output,
            f"FakeSinch serving on {fake.base_url} (SMS and Numbers; nothing leaves this machine)",
            "Make an inbound arrive:",
            f"  curl -X POST {fake.base_url}/_admin/inbounds "
            f"-H 'Content-Type: application/json' -d '{body}'",
            "Ctrl-C stops it.",
        )
        await stop.wait()
        return "SIGTERM"
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)
        await fake.close()
