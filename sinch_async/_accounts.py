"""Named accounts: several Sinch accounts side by side, from a TOML file and the environment.

The file (``$SINCH_CONFIG``, else ``config.toml`` in the user config directory, see
:func:`default_config_path`) holds one ``[accounts.NAME]`` table per account::

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
:meth:`SinchClient.from_env` reads them. :class:`SinchAccounts` builds one client per
account on demand, all sharing one aiohttp connection pool.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import sys
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack

import aiohttp
import attrs

from . import _constants as C
from ._client import ClientOptions, SinchClient
from ._errors import ClientClosedError, ClientLoopError, SinchConfigError

__all__ = [
    "DEFAULT_ACCOUNT",
    "AccountInfo",
    "SinchAccounts",
    "account_options",
    "default_config_path",
    "load_accounts",
]

#: The account the unnamed ``SINCH_*`` variables describe.
DEFAULT_ACCOUNT = "default"

_PLAN = ("service_plan_id", "api_token")
_PROJECT = ("project_id", "key_id", "key_secret")
_SECRETS = frozenset({"api_token", "key_secret"})
_STRINGS = (*_PLAN, *_PROJECT, "region", "base_url", "auth_url")
_NUMBERS = ("max_concurrency", "messages_per_second")
#: Every key an account table may hold.
ACCOUNT_KEYS = (*_STRINGS, *_NUMBERS)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
#: Options that describe one account; a registry's shared defaults cannot set them.
_PER_ACCOUNT = frozenset({*_STRINGS, "session"})


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$SINCH_CONFIG``, else ``sinch-async/config.toml`` in the user config directory:
    ``$XDG_CONFIG_HOME`` or ``~/.config`` (Linux and other Unixes), ``~/Library/Application
    Support`` (macOS), ``%APPDATA%`` (Windows)."""
    env = os.environ if environ is None else environ
    explicit = env.get("SINCH_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else Path.home() / "AppData" / "Roaming"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "sinch-async" / "config.toml"


def env_prefix(name: str) -> str:
    """``SINCH_`` for the default account, else ``SINCH_<NAME>_`` (``-`` as ``_``)."""
    if name == DEFAULT_ACCOUNT:
        return "SINCH_"
    return f"SINCH_{name.upper().replace('-', '_')}_"


def _check_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SinchConfigError(
            f"{where}: account names are letters, digits, '-' and '_' (up to 64), got {name!r}"[
                :200
            ]
        )
    return name


def _check_value(account: str, key: str, value: object, source: str) -> Any:
    """``value`` as the type ``key`` wants; the error names account and key, never a
    value (it may be a secret)."""
    where = f"account {account!r}, {key} ({source})"
    if key in _STRINGS:
        if not isinstance(value, str) or not value.strip():
            raise SinchConfigError(f"{where}: must be a non-empty string")
        return value
    if isinstance(value, str):  # from the environment
        try:
            value = int(value) if key == "max_concurrency" else float(value)
        except ValueError:
            value = None
    if key == "max_concurrency":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SinchConfigError(f"{where}: must be a positive integer")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        raise SinchConfigError(f"{where}: must be a positive number")
    return float(value)


def _file_mode_warning(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        warnings.warn(
            f"{path} holds credentials but is readable by other users (mode {mode:o}); "
            f"run: chmod 600 {path}",
            UserWarning,
            stacklevel=4,
        )


def _read_file(path: Path, *, required: bool) -> dict[str, dict[str, Any]]:
    """The ``[accounts.*]`` tables of ``path``, checked (``{}`` if absent and optional)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise SinchConfigError(f"config file not found: {path} (from SINCH_CONFIG)") from None
        return {}
    except OSError as exc:
        raise SinchConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    _file_mode_warning(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # tomllib's message names a line and column, never the text there
        raise SinchConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"accounts"}
    if unknown:
        raise SinchConfigError(
            f"{path}: unknown top-level key(s) {', '.join(map(repr, sorted(unknown)))}; "
            "put each account in an [accounts.NAME] table"
        )
    tables = data.get("accounts", {})
    if not isinstance(tables, dict):
        raise SinchConfigError(f"{path}: 'accounts' must be a table of [accounts.NAME] tables")
    accounts: dict[str, dict[str, Any]] = {}
    prefixes: dict[str, str] = {}
    for name, table in tables.items():
        _check_name(name, str(path))
        if not isinstance(table, dict):
            raise SinchConfigError(f"{path}: account {name!r} must be a table")
        prefix = env_prefix(name)
        if prefix in prefixes:
            raise SinchConfigError(
                f"{path}: accounts {prefixes[prefix]!r} and {name!r} share the environment "
                f"prefix {prefix}; rename one"
            )
        prefixes[prefix] = name
        source = f"in {path}"
        for key in table:
            if key not in ACCOUNT_KEYS:
                raise SinchConfigError(
                    f"account {name!r}: unknown key {key!r} ({source}); expected "
                    + ", ".join(ACCOUNT_KEYS)
                )
        values = {k: _check_value(name, k, v, source) for k, v in table.items()}
        if any(k in values for k in _PLAN) and any(k in values for k in _PROJECT):
            raise SinchConfigError(
                f"account {name!r} ({source}): give either service_plan_id + api_token or "
                "project_id + key_id + key_secret, not both"
            )
        accounts[name] = values
    return accounts


@attrs.frozen(repr=False)
class AccountInfo:
    """What can be shown of an account: never a secret."""

    name: str
    kind: str | None  # "service_plan", "project", or None (no credentials yet)
    region: str | None
    base_url: str | None
    max_concurrency: int | None
    messages_per_second: float | None
    missing: tuple[str, ...]  # the variables still needed for a complete account

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False) | {"missing": list(self.missing)}

    def __repr__(self) -> str:
        return f"AccountInfo(name={self.name!r}, kind={self.kind!r})"


class AccountsConfig:
    """The accounts of one config file and environment (see :func:`load_accounts`)."""

    def __init__(
        self, path: Path, file_accounts: dict[str, dict[str, Any]], env: Mapping[str, str]
    ):
        self.path = path
        self._file = file_accounts
        self._env = env

    def __repr__(self) -> str:
        return f"<AccountsConfig {str(self.path)!r} accounts={self.names()!r}>"

    def names(self) -> list[str]:
        """The file's accounts, plus ``default`` when ``SINCH_*`` credentials are set."""
        names = list(self._file)
        if DEFAULT_ACCOUNT not in self._file and any(
            self._env.get(f"SINCH_{k.upper()}") for k in (*_PLAN, *_PROJECT)
        ):
            names.append(DEFAULT_ACCOUNT)
        return names

    def _env_values(self, name: str) -> dict[str, Any]:
        prefix = env_prefix(name)
        found: dict[str, Any] = {}
        for key in ACCOUNT_KEYS:
            value = self._env.get(prefix + key.upper())
            if value:  # empty means unset, as in from_env
                found[key] = _check_value(name, key, value, f"${prefix}{key.upper()}")
        return found

    def values(self, name: str) -> dict[str, Any]:
        """The account's keys: the file's, then its variables (one kind of credentials
        in the environment sets the file's other kind aside)."""
        _check_name(name, "account")
        env = self._env_values(name)
        if name not in self._file and name != DEFAULT_ACCOUNT and not env:
            known = ", ".join(self.names()) or "none"
            raise SinchConfigError(
                f"unknown account {name!r} (known: {known}); add an [accounts.{name}] table "
                f"to {self.path} or set {env_prefix(name)}API_TOKEN and friends"
            )
        return _overlay(self._file.get(name, {}), env, f"account {name!r}: environment")

    def info(self, name: str) -> AccountInfo:
        values = self.values(name)
        kind, missing = _kind(values)
        return AccountInfo(
            name=name,
            kind=kind,
            region=values.get("region"),
            base_url=values.get("base_url"),
            max_concurrency=values.get("max_concurrency"),
            messages_per_second=values.get("messages_per_second"),
            missing=tuple(env_prefix(name) + k.upper() for k in missing),
        )

    def options(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for :class:`SinchClient` (``overrides`` win; ``None`` unsets)."""
        values = _overlay(self.values(name), overrides or {}, "overrides")
        values = {k: v for k, v in values.items() if v is not None}
        kind, missing = _kind(values)
        if missing:
            wanted = " and ".join(env_prefix(name) + k.upper() for k in missing)
            raise SinchConfigError(
                f"account {name!r}: missing credentials: set {wanted} "
                f"(or the account's keys in {self.path})"
            )
        if kind == "service_plan":
            values.pop("auth_url", None)
        return values


def _overlay(base: Mapping[str, Any], top: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``top`` over ``base``; credentials of one kind in ``top`` drop ``base``'s other kind."""
    plan = any(top.get(k) is not None for k in _PLAN)
    project = any(top.get(k) is not None for k in _PROJECT)
    if plan and project:
        raise SinchConfigError(
            f"{what}: give either service_plan_id + api_token or project_id + key_id + "
            "key_secret, not both"
        )
    merged = dict(base)
    if plan:
        for k in (*_PROJECT, "auth_url"):
            merged.pop(k, None)
    elif project:
        for k in _PLAN:
            merged.pop(k, None)
    merged.update(top)
    return merged


def _kind(values: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """The kind of credentials and the keys it still lacks."""
    if any(values.get(k) for k in _PROJECT) and not any(values.get(k) for k in _PLAN):
        return "project", tuple(k for k in _PROJECT if not values.get(k))
    if any(values.get(k) for k in _PLAN):
        return "service_plan", tuple(k for k in _PLAN if not values.get(k))
    return None, _PLAN


def load_accounts(
    config_path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> AccountsConfig:
    """Read and check the config file (``None``: :func:`default_config_path`, which may be
    absent unless ``SINCH_CONFIG`` names it) and pair it with the environment."""
    env = os.environ if environ is None else environ
    if config_path is None:
        path = default_config_path(env)
        required = bool(env.get("SINCH_CONFIG"))
    else:
        path, required = Path(config_path).expanduser(), True
    return AccountsConfig(path, _read_file(path, required=required), env)


def account_options(
    name: str,
    *,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The :class:`SinchClient` keywords of account ``name`` (used by ``from_account``)."""
    return load_accounts(config_path, environ).options(name, overrides)


def _build(name: str, options: dict[str, Any]) -> SinchClient:
    try:
        return SinchClient(**options)
    except SinchConfigError as exc:
        raise SinchConfigError(f"account {name!r}: {exc}") from None


class SinchAccounts:
    """Clients for named accounts, built on first use and sharing one connection pool.

    ::

        async with SinchAccounts() as accounts:
            await accounts.client("work").batches.send(...)
            await accounts.client("marketing").batches.send(...)

    Each client keeps its own limits (``max_concurrency``, ``messages_per_second``) and
    credentials; all borrow one ``aiohttp.ClientSession`` (``max_connections`` in total),
    created inside the running event loop by the first :meth:`client` call. ``defaults``
    are :class:`SinchClient` options for every client (``timeouts``, ``retry``, ``hooks``,
    ...; not credentials); an account's own keys win over them. :meth:`aclose` closes every
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
        max_connections = defaults.pop("max_connections", C.DEFAULT_MAX_CONNECTIONS)
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise SinchConfigError("max_connections must be a positive integer")
        self._max_connections = max_connections
        self._defaults: dict[str, Any] = dict(defaults)
        self.config = load_accounts(config_path, environ)
        self._clients: dict[str, SinchClient] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def names(self) -> list[str]:
        """The accounts configured (see :meth:`AccountsConfig.names`)."""
        return self.config.names()

    def info(self, name: str) -> AccountInfo:
        """What can be shown of account ``name`` (kind, region, limits; no secret)."""
        return self.config.info(name)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The shared aiohttp session (``None`` until the first :meth:`client` call)."""
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
        if client is None:
            options = {**self._defaults, **self.config.options(name)}
            options["session"] = session
            client = _build(name, options)
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
