"""``messages list``: sent batches and received inbounds, newest first."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import typer

from .._client import SinchClient
from ..resources.messages import Message
from ._commands_sync import parse_since
from ._options import get_options
from ._output import Column, Output, jsonable
from ._runner import run_job

__all__ = ["MESSAGE_COLUMNS", "messages_app"]

messages_app = typer.Typer(
    rich_markup_mode=None,
    help="Both directions at once: batches you sent and messages you received.",
    no_args_is_help=True,
    add_completion=False,
)


class DirectionChoice(StrEnum):
    """``messages list --direction``."""

    mt = "mt"
    mo = "mo"


def _body(message: Message) -> Any:
    body = getattr(message.record, "body", None)
    return body if isinstance(body, str) or body is None else getattr(body, "message", None)


def _to(message: Message) -> str:
    to = message.to
    return ", ".join(to[:3]) + (f" (+{len(to) - 3})" if len(to) > 3 else "")


MESSAGE_COLUMNS: list[Column] = [
    ("direction", lambda m: m.direction),
    ("at", lambda m: m.at),
    ("id", lambda m: m.id),
    ("type", lambda m: m.record.type),
    ("from", lambda m: m.from_),
    ("to", _to),
    ("body", _body),
]


def message_json(message: Message) -> dict[str, Any]:
    """A merged item for ``--json``: direction, time, id and the record as the API has it."""
    return {
        "direction": message.direction,
        "at": None if message.at is None else message.at.isoformat(),
        "id": message.id,
        "record": jsonable(message.record),
    }


@messages_app.command("list")
def messages_list(
    ctx: typer.Context,
    direction: Annotated[
        DirectionChoice | None,
        typer.Option(
            help="mt: only batches you sent; mo: only messages you received. Default: both.",
        ),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            help="Only messages to this number or group id (repeatable).", metavar="NUMBER"
        ),
    ] = None,
    from_: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            help="Only messages from this sender: a number, short code or alphanumeric "
            "sender id (repeatable).",
            metavar="SENDER",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="How far back: 30m, 12h, 7d or an ISO-8601 time. Default: 24 h.", metavar="WHEN"
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Only messages before this: 30m, 12h, 7d ago or an ISO-8601 time. Default: now.",
            metavar="WHEN",
        ),
    ] = None,
    client_reference: Annotated[
        str | None, typer.Option(help="Only messages with this client reference.", metavar="REF")
    ] = None,
    max_items: Annotated[
        int,
        typer.Option("--max-items", "--max", min=1, help="Show at most this many.", metavar="N"),
    ] = 50,
) -> None:
    """List sent batches and received messages together, newest first."""
    chosen: Literal["mt", "mo"] | None = None
    if direction is not None:
        chosen = "mt" if direction is DirectionChoice.mt else "mo"
    start = parse_since(since)
    end = parse_since(until, "--until")
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[Message]:
        pager = c.messages.list(
            direction=chosen,
            to=to,
            from_=from_,
            start_date=start,
            end_date=end,
            client_reference=client_reference,
            page_size=100,
            max_items=max_items,
            prefetch=2,
        )
        return [m async for m in pager]

    messages = run_job(options, output, job)
    if output.json:
        output.data([message_json(m) for m in messages])
    else:
        output.records(messages, MESSAGE_COLUMNS, "Messages")
