"""``numbers list|get|update|release|search|check|rent|rent-any|regions`` and
``numbers callback-config get|set`` (the Numbers API; project credentials)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import typer

from .._client import SinchClient
from ..numbers import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    EstVoiceConfiguration,
    FaxVoiceConfiguration,
    RtcVoiceConfiguration,
    VoiceTarget,
)
from ._options import get_options
from ._output import (
    ACTIVE_NUMBER_COLUMNS,
    AVAILABLE_NUMBER_COLUMNS,
    REGION_COLUMNS,
    Column,
    Output,
)
from ._runner import run_job

__all__ = ["callback_config_app", "numbers_app"]

numbers_app = typer.Typer(
    rich_markup_mode=None,
    help="Phone numbers of the project (Numbers API, project credentials): list, get, "
    "update, release, search, check, rent, rent-any, regions, callback-config.",
    no_args_is_help=True,
    add_completion=False,
)
callback_config_app = typer.Typer(
    rich_markup_mode=None,
    help="The project's callback configuration: the HMAC secret that signs the events "
    "Sinch posts to each number's callback URL.",
    no_args_is_help=True,
    add_completion=False,
)
numbers_app.add_typer(callback_config_app, name="callback-config")

_NUMBER_HELP = "The phone number, E.164 with a leading '+' (e.g. +12025550100)."
_TYPE_HELP = "MOBILE, LOCAL or TOLL_FREE (any case)."
_MASK = "********"

# what to look for, shared by search and rent-any
RegionOption = Annotated[str, typer.Option(help="ISO 3166-1 region, e.g. US.", metavar="CODE")]
TypeOption = Annotated[str, typer.Option("--type", help=_TYPE_HELP, metavar="TYPE")]
CapabilitiesOption = Annotated[
    list[str] | None,
    typer.Option(help="A capability needed, SMS or VOICE (repeatable).", metavar="CAPABILITY"),
]
PatternOption = Annotated[
    str | None, typer.Option(help="Digits to search for, e.g. 2020.", metavar="DIGITS")
]
SearchPatternOption = Annotated[
    str | None,
    typer.Option(help="Where --pattern is: START, CONTAINS or END.", metavar="WHERE"),
]

# configuration options shared by update, rent and rent-any
PlanOption = Annotated[
    str | None,
    typer.Option(
        "--sms-service-plan-id", help="Link the number to this SMS service plan.", metavar="ID"
    ),
]
CampaignOption = Annotated[
    str | None,
    typer.Option(
        "--sms-campaign-id",
        help="US 10DLC only: link to this campaign (with the plan).",
        metavar="ID",
    ),
]
AppOption = Annotated[
    str | None,
    typer.Option("--voice-app-id", help="Voice: the RTC app with this id.", metavar="ID"),
]
TrunkOption = Annotated[
    str | None,
    typer.Option("--voice-trunk-id", help="Voice: the EST trunk with this id.", metavar="ID"),
]
FaxOption = Annotated[
    str | None,
    typer.Option(
        "--voice-fax-service-id", help="Voice: the FAX service with this id.", metavar="ID"
    ),
]
CallbackOption = Annotated[
    str | None,
    typer.Option("--callback-url", help="Where Sinch posts the number's events.", metavar="URL"),
]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Then wait until the SMS and voice provisioning has finished (exit 1 if it "
        "failed or the wait timed out).",
    ),
]
WaitTimeoutOption = Annotated[
    float,
    typer.Option("--wait-timeout", min=0, help="Seconds --wait waits at most.", metavar="SECONDS"),
]


def _voice(app_id: str | None, trunk_id: str | None, service_id: str | None) -> VoiceTarget | None:
    given = [
        (name, value)
        for name, value in (
            ("--voice-app-id", app_id),
            ("--voice-trunk-id", trunk_id),
            ("--voice-fax-service-id", service_id),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise typer.BadParameter(
            "give one of --voice-app-id, --voice-trunk-id, --voice-fax-service-id",
            param_hint=given[1][0],
        )
    if app_id is not None:
        return RtcVoiceConfiguration(app_id)
    if trunk_id is not None:
        return EstVoiceConfiguration(trunk_id)
    if service_id is not None:
        return FaxVoiceConfiguration(service_id)
    return None


def _then_wait(
    c: SinchClient, number: ActiveNumber, wait: bool, timeout: float
) -> Awaitable[ActiveNumber] | None:
    if not wait:
        return None
    return c.numbers.wait_provisioned(number.phone_number, timeout=timeout)


def _show_many(
    output: Output, numbers: Sequence[Any], columns: Sequence[Column], title: str
) -> None:
    # --json keys are snake_case like every other command's (the records' field names);
    # prices are decimal strings
    output.records(numbers, columns, title)


def _show_one(output: Output, number: Any, title: str) -> None:
    output.record(number, title)


def _configure(
    ctx: typer.Context,
    call: Callable[[SinchClient], Awaitable[ActiveNumber]],
    wait: bool,
    wait_timeout: float,
    title: str,
) -> None:
    """Run ``call`` (update, rent, rent any), then ``--wait`` for its provisioning."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> ActiveNumber:
        number = await call(c)
        waited = _then_wait(c, number, wait, wait_timeout)
        return number if waited is None else await waited

    number = run_job(options, output, job)
    _show_one(output, number, title.format(number.phone_number))


@numbers_app.command("list")
def numbers_list(
    ctx: typer.Context,
    region_code: Annotated[
        str | None, typer.Option(help="Only this ISO 3166-1 region, e.g. US.", metavar="CODE")
    ] = None,
    number_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Only this type: " + _TYPE_HELP + " Without it, which types Sinch returns "
            "is an open question (its guide says MOBILE only): see --all-types.",
            metavar="TYPE",
        ),
    ] = None,
    all_types: Annotated[
        bool,
        typer.Option("--all-types", help="List each type in turn (MOBILE, LOCAL, TOLL_FREE)."),
    ] = False,
    capability: Annotated[
        list[str] | None,
        typer.Option(help="Only numbers with this capability (repeatable).", metavar="CAPABILITY"),
    ] = None,
    order_by: Annotated[
        str | None, typer.Option(help="Sort by phoneNumber or displayName.", metavar="FIELD")
    ] = None,
    max_items: Annotated[
        int, typer.Option("--max", min=1, help="Show at most this many.", metavar="N")
    ] = 100,
) -> None:
    """List the project's active (rented) numbers."""
    if all_types and number_type is not None:
        raise typer.BadParameter("give --type or --all-types, not both", param_hint="--all-types")
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[ActiveNumber]:
        if all_types:
            walk = c.numbers.list_all_types(
                region_code=region_code,
                capabilities=capability or None,
                order_by=order_by,
                page_size=min(max_items, 100),
                max_items=max_items,
            )
            return [n async for n in walk]
        pager = c.numbers.list(
            region_code=region_code,
            number_type=number_type,
            capabilities=capability or None,
            order_by=order_by,
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


@numbers_app.command("update")
def numbers_update(
    ctx: typer.Context,
    phone_number: Annotated[str, typer.Argument(help=_NUMBER_HELP)],
    display_name: Annotated[
        str | None, typer.Option(help="A name for the number.", metavar="NAME")
    ] = None,
    sms_service_plan_id: PlanOption = None,
    sms_campaign_id: CampaignOption = None,
    voice_app_id: AppOption = None,
    voice_trunk_id: TrunkOption = None,
    voice_fax_service_id: FaxOption = None,
    callback_url: CallbackOption = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600.0,
) -> None:
    """Change an active number: only the options given are sent.

    An empty plan id unlinks the plan (Sinch wants a number unlinked before it is linked
    to another). Plan and voice changes are scheduled: the answer shows them under
    scheduled_provisioning until they are done (see --wait)."""
    voice = _voice(voice_app_id, voice_trunk_id, voice_fax_service_id)
    _configure(
        ctx,
        lambda c: c.numbers.update(
            phone_number,
            display_name=display_name,
            sms_service_plan_id=sms_service_plan_id,
            sms_campaign_id=sms_campaign_id,
            voice_configuration=voice,
            callback_url=callback_url,
        ),
        wait,
        wait_timeout,
        "Updated {}",
    )


@numbers_app.command("search")
def numbers_search(
    ctx: typer.Context,
    region_code: RegionOption,
    number_type: TypeOption,
    capability: CapabilitiesOption = None,
    pattern: PatternOption = None,
    search_pattern: SearchPatternOption = None,
    size: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many (Sinch documents no default).", metavar="N"),
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
            number_pattern=pattern,
            search_pattern=search_pattern,
            size=size,
        )

    _show_many(output, run_job(options, output, job), AVAILABLE_NUMBER_COLUMNS, "Available numbers")


@numbers_app.command("check")
def numbers_check(
    ctx: typer.Context,
    phone_number: Annotated[str, typer.Argument(help=_NUMBER_HELP)],
) -> None:
    """Show a number that can be rented (exit 1 with 404 if it cannot)."""
    options = get_options(ctx)
    output = Output(json=options.json)
    number = run_job(options, output, lambda c: c.numbers.check_availability(phone_number))
    _show_one(output, number, f"Available: {number.phone_number}")


@numbers_app.command("rent")
def numbers_rent(
    ctx: typer.Context,
    phone_number: Annotated[str, typer.Argument(help=_NUMBER_HELP + " From numbers search.")],
    sms_service_plan_id: PlanOption = None,
    sms_campaign_id: CampaignOption = None,
    voice_app_id: AppOption = None,
    voice_trunk_id: TrunkOption = None,
    voice_fax_service_id: FaxOption = None,
    callback_url: CallbackOption = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600.0,
) -> None:
    """Rent a number (billable: retried only after a 429 or a connection never made)."""
    voice = _voice(voice_app_id, voice_trunk_id, voice_fax_service_id)
    _configure(
        ctx,
        lambda c: c.numbers.rent(
            phone_number,
            sms_service_plan_id=sms_service_plan_id,
            sms_campaign_id=sms_campaign_id,
            voice_configuration=voice,
            callback_url=callback_url,
        ),
        wait,
        wait_timeout,
        "Rented {}",
    )


@numbers_app.command("rent-any")
def numbers_rent_any(
    ctx: typer.Context,
    region_code: RegionOption,
    number_type: TypeOption,
    capability: CapabilitiesOption = None,
    pattern: PatternOption = None,
    search_pattern: SearchPatternOption = None,
    sms_service_plan_id: PlanOption = None,
    sms_campaign_id: CampaignOption = None,
    voice_app_id: AppOption = None,
    voice_trunk_id: TrunkOption = None,
    voice_fax_service_id: FaxOption = None,
    callback_url: CallbackOption = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600.0,
) -> None:
    """Rent any one number that matches (billable: retried only after a 429 or a
    connection never made). Sinch's guides say this works for US LOCAL numbers only."""
    voice = _voice(voice_app_id, voice_trunk_id, voice_fax_service_id)
    _configure(
        ctx,
        lambda c: c.numbers.rent_any(
            region_code=region_code,
            number_type=number_type,
            capabilities=capability or None,
            number_pattern=pattern,
            search_pattern=search_pattern,
            sms_service_plan_id=sms_service_plan_id,
            sms_campaign_id=sms_campaign_id,
            voice_configuration=voice,
            callback_url=callback_url,
        ),
        wait,
        wait_timeout,
        "Rented {}",
    )


@numbers_app.command("regions")
def numbers_regions(
    ctx: typer.Context,
    number_type: Annotated[
        list[str] | None,
        typer.Option(
            "--type", help="Only regions offering this type (repeatable).", metavar="TYPE"
        ),
    ] = None,
) -> None:
    """List the regions where numbers can be rented, with the types offered there."""
    options = get_options(ctx)
    output = Output(json=options.json)

    async def job(c: SinchClient) -> list[AvailableRegion]:
        return await c.numbers.regions(types=number_type or None)

    _show_many(output, run_job(options, output, job), REGION_COLUMNS, "Available regions")


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


def _show_callbacks(output: Output, config: CallbackConfiguration, reveal: bool) -> None:
    secret = config.hmac_secret if reveal or not config.hmac_secret else _MASK
    data = {"project_id": config.project_id, "hmac_secret": secret}
    if output.json:
        output.data(data)
    else:
        output.table("Callback configuration", ["setting", "value"], list(data.items()))


@callback_config_app.command("get")
def callback_config_get(
    ctx: typer.Context,
    show_secret: Annotated[
        bool, typer.Option("--show-secret", help="Print the HMAC secret (masked otherwise).")
    ] = False,
) -> None:
    """Show the project's callback configuration."""
    options = get_options(ctx)
    output = Output(json=options.json)
    config = run_job(options, output, lambda c: c.numbers.callback_configuration())
    _show_callbacks(output, config, show_secret)


@callback_config_app.command("set")
def callback_config_set(
    ctx: typer.Context,
    hmac_secret: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            help="The new secret: 32 to 64 ASCII letters, digits and '-' (asked for, "
            "unechoed, when not given).",
            metavar="SECRET",
        ),
    ],
) -> None:
    """Set the HMAC secret that signs the project's Numbers events."""
    options = get_options(ctx)
    output = Output(json=options.json)
    config = run_job(
        options,
        output,
        lambda c: c.numbers.update_callback_configuration(hmac_secret=hmac_secret),
    )
    _show_callbacks(output, config, False)
