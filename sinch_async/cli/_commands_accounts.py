"""``accounts list``: the named accounts of the config file and environment, no secret and
no URL userinfo."""

from __future__ import annotations

import typer

from .._errors import SinchConfigError
from .._settings import AccountInfo, load_accounts
from ._options import get_options
from ._output import Output
from ._runner import EXIT_USAGE

__all__ = ["accounts_app"]

accounts_app = typer.Typer(
    rich_markup_mode=None,
    help="Named accounts (the config file and SINCH_<NAME>_* variables): list.",
    no_args_is_help=True,
    add_completion=False,
)

_KINDS = {
    "service_plan": "service plan",
    "project": "project",
    "service_plan+project": "service plan + project",
    None: "-",
}


@accounts_app.command("list")
def accounts_list(ctx: typer.Context) -> None:
    """List the accounts: name, kinds of credentials, region or base URLs, limits.

    The config file is $SINCH_CONFIG, else sinch-async/config.toml in your config
    directory; each [accounts.NAME] table is one account. Secrets are never shown, nor the
    user:password@ part of a URL.
    """
    options = get_options(ctx)
    output = Output(json=options.json)
    try:
        with output.warnings():
            config = load_accounts()
            infos: list[AccountInfo] = [config.info(name) for name in config.names()]
    except SinchConfigError as exc:
        output.error("Configuration error", exc)
        raise typer.Exit(EXIT_USAGE) from None
    if output.json:
        output.data([info.as_dict() for info in infos])
        return
    if not infos:
        output.info(
            f"No accounts: add [accounts.NAME] tables to {config.path} "
            "or set the SINCH_* variables."
        )
        return
    output.table(
        f"Accounts ({config.path})",
        [
            "name",
            "kind",
            "region",
            "base_url",
            "numbers_base_url",
            "max_concurrency",
            "messages/s",
            "missing",
        ],
        [
            (
                i.name,
                _KINDS.get(i.kind, i.kind),
                i.region,
                i.base_url,
                i.numbers_base_url,
                i.max_concurrency,
                i.messages_per_second,
                ", ".join(i.missing),
            )
            for i in infos
        ],
    )
