"""``groups list|get|create|members``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._client import SinchClient
from ._options import get_options
from ._output import GROUP_COLUMNS, Output
from ._runner import run_job

__all__ = ["groups_app"]

groups_app = typer.Typer(
    rich_markup_mode=None,
    help="Recipient groups: list, get, create, members.",
    no_args_is_help=True,
    add_completion=False,
)


@groups_app.command("list")
def groups_list(
    ctx: typer.Context,
    max_items: Annotated[
        int, typer.Option("--max", min=1, help="Show at most this many.", metavar="N")
    ] = 100,
) -> None:
    """List groups."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[Any]:
        return [g async for g in c.groups.list(page_size=100, max_items=max_items)]

    output.records(run_job(options, output, job), GROUP_COLUMNS, "Groups")


@groups_app.command("get")
def groups_get(
    ctx: typer.Context,
    group_id: Annotated[str, typer.Argument(help="The group id (from groups list).")],
) -> None:
    """Show one group."""
    options = get_options(ctx)
    output = Output(json=options.json)
    output.record(run_job(options, output, lambda c: c.groups.get(group_id)), f"Group {group_id}")


@groups_app.command("create")
def groups_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Group name, up to 20 characters.", metavar="NAME")],
    member: Annotated[
        list[str] | None,
        typer.Option(help="A member's phone number (repeatable).", metavar="NUMBER"),
    ] = None,
) -> None:
    """Create a group."""
    options = get_options(ctx)
    output = Output(json=options.json)
    group = run_job(options, output, lambda c: c.groups.create(name=name, members=member or None))
    output.record(group, "Created")


@groups_app.command("members")
def groups_members(
    ctx: typer.Context,
    group_id: Annotated[str, typer.Argument(help="The group id (from groups list).")],
) -> None:
    """List a group's members' phone numbers."""
    options = get_options(ctx)
    output = Output(json=options.json)
    output.values(run_job(options, output, lambda c: c.groups.members(group_id)))
