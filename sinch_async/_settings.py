"""The one configuration resolver: every setting a client reads from the environment, the
accounts file or the command line, in one table (`SETTINGS`), and the rules that
combine them. [`SinchClient.from_env`][], [`SinchClient.from_account`][],
[`SinchAccounts`][] and every ``sinch-async`` command resolve through this module; it
imports nothing that builds a client.

Each `Setting` is at once a [`SinchClient`][] keyword, a TOML key of an
``[accounts.NAME]`` table, the variable ``SINCH_<KEY>`` (the ``default`` account) or
``SINCH_<NAME>_<KEY>`` (account ``NAME``), and for some a global option of the command.

Layers, lowest first: the account's table in the file, its variables (key by key), then
keyword overrides (``from_env``/``from_account`` keywords, the command's options; ``None``
unsets a key). Credentials come in two kinds, either or both: a service plan
(``service_plan_id`` + ``api_token``: SMS) and project keys (``project_id`` + ``key_id`` +
``key_secret``: Numbers, and SMS when there is no service plan). A kind given at all must be
complete; the project-only keys (``auth_url``, ``numbers_base_url``, ``numbers_auth``) are
dropped when there are no project keys. The one place where a kind sets the other aside is
the command line: credential options of one kind (``--project-id ...``) replace the other
kind from the environment and the account (`cli_overrides`), so the credentials typed
are the ones used.

Bad configuration raises [`SinchSettingError`][] (a [`SinchConfigError`][]) naming the
file or variable, the account and the key, never a value.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from . import _constants as C
from ._config import Secret, redact_url, resolve_base_url
from ._errors import SinchConfigError
from ._validation import (
    check_numbers_auth,
    check_pause_scope,
    check_plain_id,
    parse_bool,
    parse_float,
    parse_int,
)

__all__ = [
    "ACCOUNT_KEYS",
    "DEFAULT_ACCOUNT",
    "KINDS",
    "PROJECT",
    "SERVICE_PLAN",
    "SETTINGS",
    "AccountInfo",
    "AccountsConfig",
    "Setting",
    "SinchSettingError",
    "account_options",
    "cli_overrides",
    "config_mode_problem",
    "credential_variables",
    "default_config_path",
    "env_options",
    "env_prefix",
    "load_accounts",
    "per_account_keys",
]

#: The account the unnamed ``SINCH_*`` variables describe.
DEFAULT_ACCOUNT = "default"
#: The kinds of credentials, in the order SMS prefers them.
SERVICE_PLAN = "service_plan"
PROJECT = "project"
KINDS = (SERVICE_PLAN, PROJECT)
_KEYWORD = "keyword"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


class SinchSettingError(SinchConfigError):
    """Bad configuration: ``account`` (``None`` outside accounts), ``key`` (a setting, or
    ``None`` for the file or the account as a whole) and ``source`` (the file's path, a
    ``$VARIABLE`` or ``"keyword"``) say where; the message never shows a value."""

    def __init__(
        self,
        message: str,
        *,
        account: str | None = None,
        key: str | None = None,
        source: str | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.account = account
        self.key = key
        self.source = source
        self.path = path


# -- value rules: ``parse`` when a value is read (its type), ``check`` when it is used -----


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _positive_int(value: object) -> int:
    text = isinstance(value, str)
    if isinstance(value, str):  # from the environment: ASCII digits ("٣" is no 3)
        value = parse_int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be a positive integer" + (" in ASCII digits" if text else ""))
    return value


def _positive_number(value: object) -> float:
    text = isinstance(value, str)
    if isinstance(value, str):  # from the environment: ASCII digits, no "inf" or "nan"
        value = parse_float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        raise ValueError("must be a positive number" + (" in ASCII digits" if text else ""))
    return float(value)


def _flag(value: object) -> bool:
    if isinstance(value, str):  # from the environment
        value = parse_bool(value)
    if not isinstance(value, bool):
        raise ValueError("must be true or false (or 1/0, yes/no, on/off)")
    return value


def _plain_id(value: str) -> None:
    try:
        check_plain_id(value, "id")
    except SinchConfigError:
        raise ValueError(
            "must be a plain id (letters, digits, '-' and '_', at most 128 characters)"
        ) from None


def _credential(value: str) -> None:
    try:
        Secret(value)
    except SinchConfigError:
        raise ValueError("must not contain spaces or control characters") from None


def _region(value: str) -> None:
    if value.lower() not in C.REGIONS:
        raise ValueError(f"unknown region; expected one of {', '.join(C.REGIONS)}")


def _numbers_auth(value: str) -> None:
    try:
        check_numbers_auth(value)
    except SinchConfigError:
        raise ValueError("must be 'oauth' or 'basic'") from None


def _pause_scope(value: str) -> None:
    try:
        check_pause_scope(value)
    except SinchConfigError:
        raise ValueError("must be 'shared', 'local' or 'off'") from None


def _url(value: str) -> None:
    try:
        # the shape only: plain http:// to another host is the client's call
        # (allow_insecure_http), made when it is built
        resolve_base_url(None, value, allow_insecure_http=True)
    except SinchConfigError:
        raise ValueError(
            "must be an http(s) URL without credentials, a query or a fragment"
        ) from None


@attrs.frozen
class Setting:
    """One setting: client keyword = TOML key = ``SINCH_[<NAME>_]<KEY>`` variable."""

    key: str
    #: ``service_plan`` or ``project`` (the credentials and what only they use), ``sms``
    #: (where SMS goes), ``limits`` or ``sends`` (how sends behave).
    group: str
    help: str
    #: The global option of ``sinch-async`` (``None``: not an option).
    cli: str | None = None
    #: Part of its kind's credentials: a kind given at all needs each of them.
    credential: bool = False
    #: Never shown (``accounts list``, errors, reprs).
    secret: bool = False
    #: Describes one account: a `SinchAccounts` default cannot set it.
    per_account: bool = True
    #: The value's type, checked when the file or variable is read (raises ``ValueError``).
    parse: Callable[[object], Any] = _text
    #: The value's shape, checked when a client is resolved (raises ``ValueError``).
    check: Callable[[Any], None] | None = None

    def variable(self, account: str = DEFAULT_ACCOUNT) -> str:
        """``SINCH_<KEY>`` for the default account, else ``SINCH_<NAME>_<KEY>``."""
        return env_prefix(account) + self.key.upper()


#: Every setting, once.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "service_plan_id",
        SERVICE_PLAN,
        "service plan id (SMS)",
        cli="--service-plan-id",
        credential=True,
        check=_plain_id,
    ),
    Setting(
        "api_token",
        SERVICE_PLAN,
        "the service plan's API token",
        cli="--api-token",
        credential=True,
        secret=True,
        check=_credential,
    ),
    Setting(
        "project_id",
        PROJECT,
        "project id (Numbers; SMS without a service plan)",
        cli="--project-id",
        credential=True,
        check=_plain_id,
    ),
    Setting(
        "key_id",
        PROJECT,
        "the project's access key id",
        cli="--key-id",
        credential=True,
        check=_credential,
    ),
    Setting(
        "key_secret",
        PROJECT,
        "the access key's secret",
        cli="--key-secret",
        credential=True,
        secret=True,
        check=_credential,
    ),
    Setting(
        "auth_url",
        PROJECT,
        "OAuth2 token endpoint (default Sinch's)",
        cli="--auth-url",
        check=_url,
    ),
    Setting(
        "numbers_base_url",
        PROJECT,
        "Numbers API origin (default https://numbers.api.sinch.com)",
        cli="--numbers-base-url",
        per_account=False,
        check=_url,
    ),
    Setting(
        "numbers_auth",
        PROJECT,
        "Numbers authentication: oauth (default) or basic (key id and secret)",
        check=_numbers_auth,
    ),
    Setting(
        "region",
        "sms",
        "SMS region: us, eu, au, br or ca (project keys: us or eu)",
        cli="--region",
        check=_region,
    ),
    Setting(
        "base_url",
        "sms",
        "SMS API origin instead of a region (e.g. a local FakeSinch)",
        cli="--base-url",
        check=_url,
    ),
    Setting(
        "max_concurrency",
        "limits",
        "requests in flight at once",
        per_account=False,
        parse=_positive_int,
    ),
    Setting(
        "messages_per_second",
        "limits",
        "the plan's send budget",
        per_account=False,
        parse=_positive_number,
    ),
    Setting(
        "pause_scope",
        "limits",
        "what a 429 pauses: shared (default: every process on the limiter), local, off",
        per_account=False,
        check=_pause_scope,
    ),
    Setting(
        "auto_client_reference",
        "sends",
        "give every send without a client_reference a generated one (sa-<uuid>)",
        per_account=False,
        parse=_flag,
    ),
)
_BY_KEY = {s.key: s for s in SETTINGS}
#: Every key an account table may hold.
ACCOUNT_KEYS = tuple(_BY_KEY)


def _credentials(kind: str) -> tuple[Setting, ...]:
    return tuple(s for s in SETTINGS if s.group == kind and s.credential)


def credential_variables(account: str = DEFAULT_ACCOUNT) -> tuple[str, ...]:
    """The variables that, set to anything, mean "credentials are configured"."""
    return tuple(s.variable(account) for kind in KINDS for s in _credentials(kind))


def per_account_keys() -> frozenset[str]:
    """The client keywords that describe one account (not a registry-wide default)."""
    return frozenset({*(s.key for s in SETTINGS if s.per_account), "session"})


def env_prefix(name: str) -> str:
    """``SINCH_`` for the default account, else ``SINCH_<NAME>_`` (``-`` as ``_``)."""
    if name == DEFAULT_ACCOUNT:
        return "SINCH_"
    return f"SINCH_{name.upper().replace('-', '_')}_"


def _kinds(values: Mapping[str, object]) -> tuple[list[str], list[Setting]]:
    """The kinds of credentials given (any of their keys) and the credentials they lack;
    nothing given at all lacks the service plan's."""
    given = [k for k in KINDS if any(values.get(s.key) for s in _credentials(k))]
    if not given:
        return [], list(_credentials(SERVICE_PLAN))
    missing = [s for k in given for s in _credentials(k) if not values.get(s.key)]
    return given, missing


def _and(names: Iterable[str]) -> str:
    items = list(names)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def cli_overrides(given: Mapping[str, object]) -> dict[str, object]:
    """Keyword overrides for the command's options (``given``: each option's key and value,
    ``None`` when not given).

    The options given win over the environment and the account key by key. Credential
    options of one kind set the other kind aside (``None``), so ``--project-id ...`` in a
    shell that exports someone's ``SINCH_SERVICE_PLAN_ID`` uses the project keys alone;
    options of both kinds give both.
    """
    unknown = [k for k in given if k not in _BY_KEY or _BY_KEY[k].cli is None]
    if unknown:
        raise SinchConfigError(f"not a command-line setting: {', '.join(sorted(unknown))}")
    overrides = {k: v for k, v in given.items() if v is not None}
    kinds, _missing = _kinds(overrides)
    if kinds:
        for kind in KINDS:
            if kind not in kinds:
                overrides.update(dict.fromkeys(s.key for s in _credentials(kind)))
    return overrides


# -- the accounts file ----------------------------------------------------------------


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


def _check_name(name: object, where: str, path: Path | None = None) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SinchSettingError(
            f"{where}: account names are letters, digits, '-' and '_' (up to 64), got {name!r}"[
                :200
            ],
            path=path,
            source=str(path) if path else None,
        )
    if name != DEFAULT_ACCOUNT:
        default = {s.variable(): s.key for s in SETTINGS}
        for setting in SETTINGS:
            taken = default.get(setting.variable(name))
            if taken is not None:  # e.g. "numbers": SINCH_NUMBERS_BASE_URL
                raise SinchSettingError(
                    f"{where}: account name {name!r} cannot be used: its variable "
                    f"{setting.variable(name)} is the default account's {taken}; rename it",
                    account=name,
                    key=setting.key,
                    path=path,
                    source=str(path) if path else None,
                )
    return name


def config_mode_problem(path: Path) -> tuple[str, str] | None:
    """``(problem, fix)`` when other users can read the config file at ``path``: the one
    wording of the warning `load_accounts` gives and of ``doctor``'s check. ``None``
    when only its owner can, when it cannot be read, or off POSIX (no modes to check)."""
    if os.name != "posix":
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"{path} holds credentials but is readable by other users (mode {mode:o})",
        f"run: chmod 600 {path}",
    )


def _file_mode_warning(path: Path) -> None:
    problem = config_mode_problem(path)
    if problem is not None:
        warnings.warn("; ".join(problem), UserWarning, stacklevel=4)


def _read_file(path: Path, *, required: bool) -> dict[str, dict[str, Any]]:
    """The ``[accounts.*]`` tables of ``path``, each value parsed (``{}`` if absent and
    optional)."""

    def bad(message: str, account: str | None = None, key: str | None = None) -> Exception:
        return SinchSettingError(message, account=account, key=key, source=str(path), path=path)

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise bad(f"config file not found: {path} (from SINCH_CONFIG)") from None
        return {}
    except OSError as exc:
        raise bad(f"cannot read config file {path}: {exc.strerror}") from None
    _file_mode_warning(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # tomllib's message names a line and column, never the text there
        raise bad(f"{path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"accounts"}
    if unknown:
        raise bad(
            f"{path}: unknown top-level key(s) {', '.join(map(repr, sorted(unknown)))}; "
            "put each account in an [accounts.NAME] table"
        )
    tables = data.get("accounts", {})
    if not isinstance(tables, dict):
        raise bad(f"{path}: 'accounts' must be a table of [accounts.NAME] tables")
    accounts: dict[str, dict[str, Any]] = {}
    prefixes: dict[str, str] = {}
    for name, table in tables.items():
        _check_name(name, str(path), path)
        if not isinstance(table, dict):
            raise bad(f"{path}: account {name!r} must be a table", name)
        prefix = env_prefix(name)
        if prefix in prefixes:
            raise bad(
                f"{path}: accounts {prefixes[prefix]!r} and {name!r} share the environment "
                f"prefix {prefix}; rename one",
                name,
            )
        prefixes[prefix] = name
        for key in table:
            if key not in _BY_KEY:
                raise bad(
                    f"account {name!r}: unknown key {str(key)[:64]!r} (in {path}); expected "
                    + ", ".join(ACCOUNT_KEYS),
                    name,
                    str(key)[:64],
                )
        accounts[name] = {k: _parse(name, k, v, str(path), path) for k, v in table.items()}
    return accounts


def _where(account: str | None, key: str, source: str) -> str:
    origin = f"in {source}" if source != _KEYWORD and not source.startswith("$") else source
    return f"account {account!r}, {key} ({origin})" if account else f"{key} ({origin})"


def _parse(account: str | None, key: str, value: object, source: str, path: Path | None) -> Any:
    """``value`` as the type ``key`` wants; the error names account and key, never the
    value (it may be a secret)."""
    try:
        return _BY_KEY[key].parse(value)
    except ValueError as exc:
        raise SinchSettingError(
            f"{_where(account, key, source)}: {exc}",
            account=account,
            key=key,
            source=source,
            path=path,
        ) from None


@attrs.frozen(repr=False)
class AccountInfo:
    """What can be shown of an account: never a secret, URLs without their userinfo."""

    name: str
    kind: str | None  # "service_plan", "project", "service_plan+project", None (none yet)
    region: str | None
    base_url: str | None
    max_concurrency: int | None
    messages_per_second: float | None
    missing: tuple[str, ...]  # the variables still needed for a complete account
    numbers_base_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False) | {"missing": list(self.missing)}

    def __repr__(self) -> str:
        return f"AccountInfo(name={self.name!r}, kind={self.kind!r})"


class AccountsConfig:
    """The accounts of one config file and environment (see `load_accounts`);
    ``path=None`` is the environment alone (`env_options`)."""

    def __init__(
        self,
        path: Path | None,
        file_accounts: dict[str, dict[str, Any]],
        env: Mapping[str, str],
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
            self._env.get(v) for v in credential_variables()
        ):
            names.append(DEFAULT_ACCOUNT)
        return names

    def file_secrets(self) -> list[str]:
        """The secrets the file itself holds, as ``NAME.KEY`` (never a value)."""
        secret = {s.key for s in SETTINGS if s.secret}
        return [
            f"{name}.{key}" for name, table in self._file.items() for key in table if key in secret
        ]

    def _label(self, name: str) -> str | None:
        """How errors name the account (``None``: ``from_env``, no accounts)."""
        return None if self.path is None else name

    def _env_values(self, name: str) -> dict[str, tuple[Any, str]]:
        found: dict[str, tuple[Any, str]] = {}
        for setting in SETTINGS:
            variable = setting.variable(name)
            value = self._env.get(variable)
            if value:  # empty means unset
                source = "$" + variable
                found[setting.key] = (
                    _parse(self._label(name), setting.key, value, source, None),
                    source,
                )
        return found

    def _layers(self, name: str) -> dict[str, tuple[Any, str]]:
        """The account's keys with where each came from: the file's, then its variables."""
        _check_name(name, "account")
        env = self._env_values(name)
        if name not in self._file and name != DEFAULT_ACCOUNT and not env:
            known = ", ".join(self.names()) or "none"
            raise SinchSettingError(
                f"unknown account {name!r} (known: {known}); add an [accounts.{name}] table "
                f"to {self.path} or set {env_prefix(name)}API_TOKEN and friends",
                account=name,
                source=str(self.path),
                path=self.path,
            )
        source = str(self.path)
        layered = {k: (v, source) for k, v in self._file.get(name, {}).items()}
        layered.update(env)
        return layered

    def values(self, name: str) -> dict[str, Any]:
        """The account's keys: the file's, then its variables, key by key."""
        return {k: v for k, (v, _source) in self._layers(name).items()}

    def info(self, name: str) -> AccountInfo:
        """What ``accounts list`` shows of account ``name``: kinds, targets, limits, the
        variables still missing; URLs without userinfo, never a secret."""
        values = self.values(name)
        kinds, missing = _kinds(values)

        def url(key: str) -> str | None:
            value = values.get(key)
            return None if value is None else redact_url(value)

        return AccountInfo(
            name=name,
            kind="+".join(kinds) or None,
            region=values.get("region"),
            base_url=url("base_url"),
            max_concurrency=values.get("max_concurrency"),
            messages_per_second=values.get("messages_per_second"),
            missing=tuple(s.variable(name) for s in missing),
            numbers_base_url=url("numbers_base_url") if PROJECT in kinds else None,
        )

    def origin(self, name: str) -> str:
        """Where account ``name`` comes from, for messages."""
        if self.path is not None and name in self._file:
            return f"in {self.path}"
        return f"from the {env_prefix(name)}* variables"

    def options(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for [`SinchClient`][]: the account's keys, ``overrides`` over
        them (``None`` unsets a key; other client keywords pass through), credentials
        complete, each value from the file or the environment checked."""
        layered = self._layers(name)
        for key, value in (overrides or {}).items():
            if value is None:
                layered.pop(key, None)
            else:
                layered[key] = (value, _KEYWORD)
        values = {k: v for k, (v, _source) in layered.items()}
        kinds, missing = _kinds(values)
        label = self._label(name)
        if missing:
            wanted = _and(s.variable(name) for s in missing)
            if label is None:
                project = (s.variable() for s in _credentials(PROJECT))
                hint = "" if kinds else f" (or {_and(project)})"
                message = f"missing credentials: set {wanted}{hint}"
            else:
                message = (
                    f"account {name!r}: missing credentials: set {wanted} "
                    f"(or the account's keys in {self.path})"
                )
            raise SinchSettingError(message, account=label, key=missing[0].key, path=self.path)
        if SERVICE_PLAN in kinds and "region" not in values and "base_url" not in values:
            # the client would say "pass base_url=": say where this account is configured
            where = [_BY_KEY[k].variable(name) for k in ("region", "base_url")]
            regions = ", ".join(C.REGIONS)
            if label is None:
                message = f"region is required (one of {regions}): set {' or '.join(where)}"
            else:
                message = (
                    f"account {name!r}: region is required (one of {regions}): set region "
                    f"or base_url in {self.path} (or {' or '.join(where)})"
                )
            raise SinchSettingError(message, account=label, key="region", path=self.path)
        if PROJECT not in kinds:  # what only project keys use
            for dropped in SETTINGS:
                if dropped.group == PROJECT:
                    layered.pop(dropped.key, None)
        for key, (value, source) in layered.items():
            setting = _BY_KEY.get(key)
            if setting is None or setting.check is None or source == _KEYWORD:
                continue  # keywords are the client's to check (and may be any type)
            try:
                setting.check(value)
            except ValueError as exc:
                path = self.path if source == str(self.path) else None
                raise SinchSettingError(
                    f"{_where(label, key, source)}: {exc}",
                    account=label,
                    key=key,
                    source=source,
                    path=path,
                ) from None
        return {k: v for k, (v, _source) in layered.items()}

    def error(self, name: str, exc: SinchConfigError) -> SinchSettingError:
        """``exc`` (raised by the client built from account ``name``) naming the account
        and where it comes from."""
        if isinstance(exc, SinchSettingError) and exc.account is not None:
            return exc
        return SinchSettingError(
            f"account {name!r}: {exc} (account {self.origin(name)})",
            account=name,
            key=exc.key if isinstance(exc, SinchSettingError) else None,
            source=str(self.path) if name in self._file else env_prefix(name) + "*",
            path=self.path if name in self._file else None,
        )


def load_accounts(
    config_path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> AccountsConfig:
    """Read and check the config file (``None``: `default_config_path`, which may be
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
    """The [`SinchClient`][] keywords of account ``name`` (as ``from_account``)."""
    return load_accounts(config_path, environ).options(name, overrides)


def env_options(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The [`SinchClient`][] keywords of the ``SINCH_*`` variables, no file (as
    ``from_env``); ``overrides`` win (``None`` unsets)."""
    env = os.environ if environ is None else environ
    return AccountsConfig(None, {}, env).options(DEFAULT_ACCOUNT, overrides)
