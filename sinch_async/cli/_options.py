"""The global options of one invocation, passed to the commands through the typer context.

Credentials and the API origins are resolved by `sinch_async._settings` (through
[`SinchClient.from_env`][], or [`SinchClient.from_account`][] with ``--account``), the
options given on the command line as overrides (`cli_overrides`:
credential options of one kind set the other kind of the environment and the account
aside). This module does no credential handling of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import attrs
import typer

from .._client import SinchClient
from .._settings import SETTINGS, cli_overrides, credential_variables

if TYPE_CHECKING:
    from .._client import ClientOptions

__all__ = ["CLI_SETTINGS", "CREDENTIAL_ENV", "Options", "get_options"]

#: The settings that are global options of the command, in the resolver's order.
CLI_SETTINGS = tuple(s.key for s in SETTINGS if s.cli is not None)

#: The variables that, set to anything, mean "credentials are configured".
CREDENTIAL_ENV = credential_variables()
CREDENTIAL_KEYS = frozenset(s.key for s in SETTINGS if s.credential)


@attrs.frozen(repr=False)
class Options:
    """What the global options said (``None``: not given, the environment decides)."""

    service_plan_id: str | None = None
    api_token: str | None = None
    project_id: str | None = None
    key_id: str | None = None
    key_secret: str | None = None
    region: str | None = None
    base_url: str | None = None
    auth_url: str | None = None
    numbers_base_url: str | None = None
    json: bool = False
    account: str | None = None

    def __repr__(self) -> str:  # never show secrets
        given = list(self._given())
        account = f", account={self.account!r}" if self.account is not None else ""
        return f"Options(given={given}, json={self.json}{account})"

    def _given(self) -> dict[str, str]:
        return {n: v for n in CLI_SETTINGS if (v := getattr(self, n)) is not None}

    def client_overrides(self) -> dict[str, Any]:
        """Keyword overrides for [`SinchClient.from_env`][] / ``from_account``.

        The options given win over the environment and the account, key by key.
        Credential options of one kind (service plan or project) also set the other
        kind aside, so ``--project-id ...`` works in a shell that exports
        ``SINCH_SERVICE_PLAN_ID``; options of both kinds give both (SMS then uses the
        service plan, Numbers the project keys).
        """
        return cli_overrides(self._given())

    def credentials_configured(self, environ: Mapping[str, str] | None = None) -> bool:
        """Whether any credential was given, as an option or a ``SINCH_*`` variable."""
        env = os.environ if environ is None else environ
        if self.account is not None:
            return True
        given = self._given()
        return any(k in given for k in CREDENTIAL_KEYS) or any(
            env.get(name) for name in CREDENTIAL_ENV
        )

    def client(self, **extra: Any) -> SinchClient:
        """``SinchClient.from_env(**overrides)`` (``from_account(NAME, **overrides)`` with
        ``--account NAME``), ``extra`` client keywords over the options; raises
        ``SinchConfigError``."""
        overrides = cast("ClientOptions", {**self.client_overrides(), **extra})
        if self.account is not None:
            return SinchClient.from_account(self.account, **overrides)
        return SinchClient.from_env(None, **overrides)


def get_options(ctx: typer.Context) -> Options:
    """The `Options` the root callback stored on the context."""
    options = ctx.find_object(Options)
    return options if options is not None else Options()
