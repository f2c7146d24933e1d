"""The global options of one invocation, passed to the commands through the typer context.

Credentials and the API origin are resolved by :meth:`SinchClient.from_env`, with the
options given on the command line as overrides; this module does no credential handling
of its own beyond choosing which kind of credentials the options ask for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import attrs
import typer

from .._client import SinchClient

if TYPE_CHECKING:
    from .._client import ClientOptions

__all__ = ["CREDENTIAL_ENV", "Options", "get_options"]

_PLAN = ("service_plan_id", "api_token")
_PROJECT = ("project_id", "key_id", "key_secret")
_TARGET = ("region", "base_url", "auth_url", "numbers_base_url")

#: The variables that, set to anything, mean "credentials are configured".
CREDENTIAL_ENV = (
    "SINCH_SERVICE_PLAN_ID",
    "SINCH_API_TOKEN",
    "SINCH_PROJECT_ID",
    "SINCH_KEY_ID",
    "SINCH_KEY_SECRET",
)


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
        given = list(self._given((*_PLAN, *_PROJECT, *_TARGET)))
        account = f", account={self.account!r}" if self.account is not None else ""
        return f"Options(given={given}, json={self.json}{account})"

    def _given(self, names: tuple[str, ...]) -> dict[str, str]:
        return {n: v for n in names if (v := getattr(self, n)) is not None}

    def client_overrides(self) -> dict[str, str | None]:
        """Keyword overrides for :meth:`SinchClient.from_env`.

        The options given win over the environment. Options of one kind of credentials
        (service plan or project) also set the other kind's variables aside, so
        ``--project-id ...`` works in a shell that exports ``SINCH_SERVICE_PLAN_ID``.
        """
        plan, project = self._given(_PLAN), self._given(_PROJECT)
        if plan and project:
            raise typer.BadParameter(
                "pass either --service-plan-id/--api-token or "
                "--project-id/--key-id/--key-secret, not both"
            )
        overrides: dict[str, str | None] = {**plan, **project, **self._given(_TARGET)}
        if plan:
            overrides.update(dict.fromkeys(_PROJECT))
        elif project:
            overrides.update(dict.fromkeys(_PLAN))
        return overrides

    def credentials_configured(self, environ: Mapping[str, str] | None = None) -> bool:
        """Whether any credential was given, as an option or a ``SINCH_*`` variable."""
        env = os.environ if environ is None else environ
        if self.account is not None:
            return True
        return bool(self._given(_PLAN) or self._given(_PROJECT)) or any(
            env.get(name) for name in CREDENTIAL_ENV
        )

    def client(self) -> SinchClient:
        """``SinchClient.from_env(**overrides)`` (``from_account(NAME, **overrides)`` with
        ``--account NAME``); raises ``SinchConfigError``."""
        overrides = cast("ClientOptions", self.client_overrides())
        if self.account is not None:
            return SinchClient.from_account(self.account, **overrides)
        return SinchClient.from_env(None, **overrides)


def get_options(ctx: typer.Context) -> Options:
    """The :class:`Options` the root callback stored on the context."""
    options = ctx.find_object(Options)
    return options if options is not None else Options()
