"""The ``sinch-async`` typer app: the global options and the wiring of the commands."""

from __future__ import annotations

from typing import Annotated

import typer

from .._version import __version__
from ._commands_accounts import accounts_app
from ._commands_batches import batches_app, send
from ._commands_bulk import send_bulk
from ._commands_campaign import campaign_app
from ._commands_doctor import doctor
from ._commands_fake import fake_server
from ._commands_groups import groups_app
from ._commands_inbounds import inbounds_app
from ._commands_messages import messages_app
from ._commands_numbers import numbers_app
from ._commands_reports import reports_app
from ._demo import demo
from ._options import Options
from ._runner import EXIT_CODES_HELP

__all__ = ["app", "run"]

app = typer.Typer(
    rich_markup_mode=None,
    name="sinch-async",
    help="Sinch SMS (xms API) from the shell: send, inspect, and copy inbounds or delivery "
    "reports to files resumably. Credentials come from the SINCH_* environment variables "
    "or the options below. No account? Run: sinch-async demo",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
)
app.command()(send)
app.command("send-bulk")(send_bulk)
app.add_typer(campaign_app, name="campaign")
app.add_typer(batches_app, name="batches")
app.add_typer(groups_app, name="groups")
app.add_typer(inbounds_app, name="inbounds")
app.add_typer(messages_app, name="messages")
app.add_typer(reports_app, name="delivery-reports")
app.add_typer(accounts_app, name="accounts")
app.add_typer(numbers_app, name="numbers")
app.command()(demo)
app.command()(doctor)
app.command("fake-server")(fake_server)

_PLAN = "Service plan credentials"
_PROJECT = "Project (OAuth2) credentials"
_TARGET = "API endpoint"


def _print_version(value: bool) -> None:
    if value:
        print(f"sinch-async {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    service_plan_id: Annotated[
        str | None,
        typer.Option(help="Default: $SINCH_SERVICE_PLAN_ID.", rich_help_panel=_PLAN, metavar="ID"),
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN",
            help="Default: $SINCH_API_TOKEN (prefer it: options show up in process lists).",
            rich_help_panel=_PLAN,
        ),
    ] = None,
    project_id: Annotated[
        str | None,
        typer.Option(help="Default: $SINCH_PROJECT_ID.", rich_help_panel=_PROJECT, metavar="ID"),
    ] = None,
    key_id: Annotated[
        str | None,
        typer.Option(help="Default: $SINCH_KEY_ID.", rich_help_panel=_PROJECT, metavar="ID"),
    ] = None,
    key_secret: Annotated[
        str | None,
        typer.Option(
            metavar="SECRET",
            help="Default: $SINCH_KEY_SECRET (prefer it: options show up in process lists).",
            rich_help_panel=_PROJECT,
        ),
    ] = None,
    auth_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="OAuth2 token endpoint. Default: $SINCH_AUTH_URL, else Sinch's.",
            rich_help_panel=_PROJECT,
        ),
    ] = None,
    numbers_base_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Numbers API origin, e.g. a local FakeSinch. "
            "Default: $SINCH_NUMBERS_BASE_URL, else Sinch's.",
            rich_help_panel=_PROJECT,
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            metavar="REGION",
            help="us, eu, au, br or ca (project credentials: us or eu). Default: $SINCH_REGION.",
            rich_help_panel=_TARGET,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="API origin instead of a region, e.g. a local FakeSinch. "
            "Default: $SINCH_BASE_URL.",
            rich_help_panel=_TARGET,
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="A named account of the config file ($SINCH_CONFIG, else "
            "sinch-async/config.toml in your config directory); $SINCH_<NAME>_* variables "
            "override its keys, the options above win. Default: the SINCH_* variables.",
            rich_help_panel=_TARGET,
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json", help="Print results as JSON for scripts (progress stays on stderr)."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            expose_value=False,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Global options: give them before the command (sinch-async --json batches list)."""
    ctx.obj = Options(
        service_plan_id=service_plan_id,
        api_token=api_token,
        project_id=project_id,
        key_id=key_id,
        key_secret=key_secret,
        auth_url=auth_url,
        numbers_base_url=numbers_base_url,
        region=region,
        base_url=base_url,
        json=json_output,
        account=account,
    )


def run(prog_name: str = "sinch-async") -> None:
    """Run the command line (``sys.argv``)."""
    app(prog_name=prog_name)
