"""Named accounts: several Sinch accounts side by side, from a TOML file and the environment.

The file (``$SINCH_CONFIG``, else ``config.toml`` in the user config directory, see
`default_config_path`) holds one ``[accounts.NAME]`` table per account::

    [accounts.work]
    service_plan_id = "..."
    api_token = "..."
    region = "eu"
    messages_per_second = 30

    [accounts.marketing]
    project_id = "..."
    key_id = "..."
    key_secret = "..."
    region = "us"

``SINCH_<NAME>_<KEY>`` variables (``NAME`` upper-cased, ``-`` as ``_``) override a named
account key by key; the unnamed ``SINCH_*`` variables are the ``default`` account, as
[`SinchClient.from_env`][] reads them. The keys, variables and the rules that combine
them are the resolver's (`sinch_async._settings`); this module holds the registry:
[`SinchAccounts`][] builds one client per account on demand, all sharing one aiohttp
connection pool.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Unpack

import aiohttp

from . import _constants as C
from ._client import ClientOptions, SinchClient
from ._errors import ClientClosedError, ClientLoopError, SinchConfigError
from ._settings import (
    ACCOUNT_KEYS,
    DEFAULT_ACCOUNT,
    AccountInfo,
    AccountsConfig,
    account_options,
    default_config_path,
    env_prefix,
    load_accounts,
    per_account_keys,
)
from ._validation import check_positive_int

__all__ = [
    "ACCOUNT_KEYS",
    "DEFAULT_ACCOUNT",
    "AccountInfo",
    "AccountsConfig",
    "SinchAccounts",
    "account_options",
    "default_config_path",
    "env_prefix",
    "load_accounts",
]

#: Options that describe one account; a registry's shared defaults cannot set them.
_PER_ACCOUNT = per_account_keys()


class _AccountClient(SinchClient):
    """A client the registry owns: leaving ``async with accounts.client(NAME)`` leaves it
    open for the next user (the registry closes it in [`SinchAccounts.aclose`][])."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class SinchAccounts:
    """Clients for named accounts, built on first use and sharing one connection pool.

    ::

        async with SinchAccounts() as accounts:
            await accounts.client("work").batches.send(...)
            await accounts.client("marketing").batches.send(...)

    Each client keeps its own limits (``max_concurrency``, ``messages_per_second``) and
    credentials and belongs to the registry: ``async with accounts.client("work")`` does
    not close it, and one closed with its own ``aclose()`` is built again on the next
    [`client`][] call; all borrow one ``aiohttp.ClientSession`` (``max_connections`` in total),
    created inside the running event loop by the first [`client`][] call. ``defaults``
    are [`SinchClient`][] options for every client (``timeouts``, ``retry``, ``hooks``,
    ...; not credentials); an account's own keys win over them. [`aclose`][] closes every
    client and the shared session.
    """

    def __init__(
        self,
        config_path: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **defaults: Unpack[ClientOptions],
    ) -> None:
        unknown = set(defaults) - set(ClientOptions.__annotations__)
        if unknown:
            raise SinchConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        per_account = set(defaults) & _PER_ACCOUNT
        if per_account:
            raise SinchConfigError(
                f"{', '.join(sorted(per_account))} cannot be shared by every account: set "
                "them per account"
            )
        self._max_connections = check_positive_int(
            defaults.pop("max_connections", C.DEFAULT_MAX_CONNECTIONS),
            "max_connections",
            config=True,
        )
        self._defaults: dict[str, Any] = dict(defaults)
        self.config = load_accounts(config_path, environ)
        self._clients: dict[str, SinchClient] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def names(self) -> list[str]:
        """The accounts configured (see `AccountsConfig.names`)."""
        return self.config.names()

    def info(self, name: str) -> AccountInfo:
        """What can be shown of account ``name`` (kind, region, limits; no secret)."""
        return self.config.info(name)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The shared aiohttp session (``None`` until the first [`client`][] call)."""
        return self._session

    def client(self, name: str = DEFAULT_ACCOUNT) -> SinchClient:
        """The client of account ``name`` (built once, then the same object).

        Call it inside the running event loop: the shared session belongs to it. After
        the loop that opened the pool has stopped (successive ``asyncio.run()`` calls),
        the next call opens a new pool and builds fresh clients.
        """
        if self._closed:
            raise ClientClosedError("these SinchAccounts are closed; create new ones")
        session = self._shared_session()
        client = self._clients.get(name)
        if client is None or client.closed:  # closed by its own aclose(): build it again
            options = {**self._defaults, **self.config.options(name)}
            options["session"] = session
            try:
                client = _AccountClient(**options)
            except SinchConfigError as exc:
                raise self.config.error(name, exc) from None
            self._clients[name] = client
        return client

    def _shared_session(self) -> aiohttp.ClientSession:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ClientLoopError(
                "SinchAccounts.client() needs a running event loop (call it in async code)"
            ) from None
        if self._loop is not None and loop is not self._loop:
            old = self._loop
            if not old.is_closed() and old.is_running():
                raise ClientLoopError(
                    "these SinchAccounts are in use by another running event loop; "
                    "create one SinchAccounts per loop (thread)"
                )
            # the old loop stopped: its session and clients cannot be used any more
            from ._session import _abandon

            if self._session is not None:
                _abandon(self._session)
            self._session = None
            self._clients.clear()
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector)
            self._clients.clear()  # clients bound to a closed session are useless
        self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close every client and the shared session. Idempotent."""
        if self._closed:
            return
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> SinchAccounts:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<SinchAccounts {str(self.config.path)!r} accounts={len(self.names())} "
            f"clients={len(self._clients)} {state}>"
        )
