"""``numbers list|get|search|rent|release`` (the Numbers API; project credentials)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from .._client import SinchClient
from ..numbers import ActiveNumber, AvailableNumber
from ._options import get_options
from ._output import ACTIVE_NUMBER_COLUMNS, AVAILABLE_NUMBER_COLUMNS, Column, Output
from ._runner import run_job

__all__ = ["numbers_app"]

numbers_app = typer.Typer(
    rich_markup_mode=None,
    help="Phone numbers of the project (Numbers API, project credentials): list, get, "
    "search, rent, release.",
    no_args_is_help=True,
    add_completion=False,
)

_NUMBER_HELP = "The phone number, E.164 with a leading '+' (e.g. +12025550100)."


def _show_many(
    output: Output, numbers: Sequence[Any], columns: Sequence[Column], title: str
) -> None:
    # --json keys are snake_case like every other command's (the records' field names);
    # prices are decimal strings
    output.records(numbers, columns, title)


def _show_one(output: Output, number: ActiveNumber, title: str) -> None:
    output.record(number, title)


@numbers_app.command("list")
def numbers_list(
    ctx: typer.Context,
    region_code: Annotated[
        str | None, typer.Option(help="Only this ISO 3166-1 region, e.g. US.")
    ] = None,
    number_type: Annotated[
        str | None, typer.Option("--type", help="Only this type: MOBILE, LOCAL or TOLL_FREE.")
    ] = None,
    capability: Annotated[
        list[str] | None, typer.Option(help="Only numbers with this capability (repeatable).")
    ] = None,
    max_items: Annotated[int, typer.Option("--max", min=1, help="Show at most this many.")] = 100,
) -> None:
    """List the project's active (rented) numbers."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[ActiveNumber]:
        pager = c.numbers.list(
            region_code=region_code,
            number_type=number_type,
            capabilities=capability or None,
            page_size=min(max_items, 100),
            max_items=max_items,
        )
        return [n async for n in pager]

    _show_many(output, run_job(options, output, job), ACTIVE_NUMBER_COLUMNS, "Active numbers")


@numbers_app.command("get")
def numbers_get(
    ctx: typer.Context,
    phone_number: Annotated[str, typer.Argument(help=_NUMBER_HELP)],
) -> None:
    """Show one active number."""
    options = get_options(ctx)
    output = Output(json=options.json)
    number = run_job(options, output, lambda c: c.numbers.get(phone_number))
    _show_one(output, number, number.phone_number)


@numbers_app.command("search")
def numbers_search(
    ctx: typer.Context,
    region_code: Annotated[str, typer.Option(help="ISO 3166-1 region, e.g. US.")],
    number_type: Annotated[str, typer.Option("--type", help="MOBILE, LOCAL or TOLL_FREE.")],
    capability: Annotated[
        list[str] | None, typer.Option(help="A capability needed, SMS or VOICE (repeatable).")
    ] = None,
    size: Annotated[
        int | None, typer.Option(min=1, help="Show at most this many (the API's default: 10).")
    ] = None,
) -> None:
    """Search numbers available to rent."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[AvailableNumber]:
        return await c.numbers.search(
            region_code=region_code,
            number_type=number_type,
            capabilities=capability or None,
            size=size,
        )

    _show_many(output, run_job(options, output, job), AVAILABLE_NUMBER_COLUMNS, "Available numbers")


@numbers_app.command("rent")
def numbers_rent(
    ctx: typer.Context,
    phone_number: Annotated[str, typer.Argument(help=_NUMBER_HELP + " From numbers search.")],
    sms_service_plan_id: Annotated[
        str | None, typer.Option(help="Link the number to this SMS service plan.")
    ] = None,
) -> None:
    """Rent a number (billable; not retried automatically)."""
    options = get_options(ctx)
    output = Output(json=options.json)
    number = run_job(
        options,
        output,
        lambda c: c.numbers.rent(phone_number, sms_service_plan_id=sms_service_plan_id),
    )
    _show_one(output, number, f"Rented {number.phone_number}")


@numbers_app.command("release")
def numbers_release(
    ctx: typer.Context,
    phone_number: Annotated[str, typer.Argument(help=_NUMBER_HELP)],
) -> None:
    """Release (stop renting) a number."""
    options = get_options(ctx)
    output = Output(json=options.json)
    number = run_job(options, output, lambda c: c.numbers.release(phone_number))
    _show_one(output, number, f"Released {number.phone_number}")
