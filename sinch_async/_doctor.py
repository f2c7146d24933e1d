"""What the guarantees rest on, checked before a campaign: [`run_checks`][] (and
``sinch-async doctor``, which runs the same function).

Each [`Check`][] is ``ok``, ``warning`` or ``error`` with one line of detail and one of
advice; nothing is sent and no secret is shown (URLs without their ``user:password@``).

* ``config_file``: the accounts file, readable only by its owner when it holds secrets
  (the warning `load_accounts` gives, in the same words);
* ``sms_credentials`` / ``numbers_credentials``: one cheap read through the client's own
  engine (the first page of one batch; of one active number), whatever API the client
  can call; refused credentials, a wrong plan or region and an unreachable API are errors;
* ``clock``: this host's clock against Sinch's, read from the ``Date`` header of those
  responses (the client's `SinchClock`): more than
  `CLOCK_TOLERANCE` seconds apart is a warning;
* ``limiter_key``: the Redis key of the SMS budget each account shares
  (``default_limiter_key``), one line per account;
* for each Redis given: ``redis`` (reachable), ``redis_time`` (``TIME``, the clock of the
  shared limiter and of ledger leases), ``redis_persistence`` (``appendonly`` /
  ``appendfsync`` / ``save``) and ``redis_eviction`` (``maxmemory-policy``: anything but
  ``noeviction`` may drop ledgers, checkpoints and leases).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._api import Api
from ._client import SinchClient
from ._config import redact_url
from ._errors import (
    AuthenticationError,
    ForbiddenError,
    NotFoundError,
    SinchAPIError,
    SinchConfigError,
    SinchError,
    SinchTransportError,
    TokenEndpointError,
)
from ._settings import DEFAULT_ACCOUNT, AccountsConfig, config_mode_problem, load_accounts

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CLOCK_TOLERANCE",
    "Check",
    "CheckStatus",
    "run_checks",
    "worst_status",
]

#: What a check found.
CheckStatus = Literal["ok", "warning", "error"]
_RANK: dict[str, int] = {"ok": 0, "warning": 1, "error": 2}

#: Seconds this host's clock may be off Sinch's before ``clock`` warns. ``Date`` has whole
#: seconds, so one response places the offset within about a second: 2 s is the
#: smallest threshold that never fires on an NTP-synced host. The SDK corrects for the
#: offset where it matters to it (matching a send to the batch Sinch stored), but times
#: you compute on this host (``since=`` windows, ``send_at``, expiries) land off by it.
CLOCK_TOLERANCE = 2.0
#: Seconds each network check may take (a Sinch read with its retries, a Redis command).
DEFAULT_DEADLINE = 10.0

_REDIS_EXTRA = "pip install 'sinch-async[redis]'"


@attrs.frozen
class Check:
    """One finding of [`run_checks`][].

    ``name`` says what was checked (``config_file``, ``credentials`` (the client could not
    be built), ``sms_credentials``, ``numbers_credentials``, ``clock``, ``limiter_key``,
    ``redis``, ``redis_time``, ``redis_persistence``, ``redis_eviction``), ``subject`` which
    one (an account, a file, a Redis URL without its password), ``detail`` what was found
    and ``advice`` what to do about it (``None`` when there is nothing to do). Never holds
    a secret.
    """

    name: str
    status: CheckStatus
    subject: str
    detail: str
    advice: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The check as JSON data (snake_case keys)."""
        return attrs.asdict(self)


def worst_status(checks: Iterable[Check]) -> CheckStatus:
    """``error`` if any check is one, else ``warning`` if any is, else ``ok``."""
    worst: CheckStatus = "ok"
    for check in checks:
        if _RANK[check.status] > _RANK[worst]:
            worst = check.status
    return worst


async def run_checks(
    client: SinchClient | Callable[[], SinchClient] | None = None,
    *,
    account: str | None = None,
    redis: Iterable[str | Redis] = (),
    config: AccountsConfig | str | os.PathLike[str] | None = None,
    clock_tolerance: float = CLOCK_TOLERANCE,
    deadline: float = DEFAULT_DEADLINE,
) -> list[Check]:
    """Check whether this environment keeps the SDK's promises (see the module's list);
    the checks ``sinch-async doctor`` prints, in that order.

    ``client`` is the client to check, or a function that builds one (its
    [`SinchConfigError`][] becomes the credentials check's error; the client it built
    is closed afterwards); ``None`` builds it like the command does: the ``account``
    of the configuration, else [`SinchClient.from_env`][]. ``account`` names it in the
    checks. ``redis``: Redis URLs (or ``redis.asyncio`` clients, not closed) to inspect.
    ``config``: the accounts file's configuration (``SinchAccounts.config``, or a path;
    ``None``: the default file, as `load_accounts`).

    Sends nothing and raises nothing for what it finds; each network check gives up
    after ``deadline`` seconds.
    """
    checks: list[Check] = []
    loaded, config_check = _load_config(config)
    checks.append(config_check)

    label = account or (DEFAULT_ACCOUNT if client is None else "client")
    if isinstance(client, SinchClient):
        target, owned = client, False
    else:
        build = client if client is not None else _default_client(loaded, account)
        try:
            target, owned = build(), True
        except SinchConfigError as exc:
            target, owned = None, False
            checks.append(
                Check(
                    "credentials",
                    "error",
                    label,
                    f"configuration error: {exc}",
                    "fix the configuration: the message names the variable or the file's key",
                )
            )
    try:
        if target is not None:
            checks.extend(await _credential_checks(target, label, deadline))
            checks.append(_clock_check(target, label, clock_tolerance))
        checks.extend(await _limiter_key_checks(target, label, loaded))
    finally:
        if owned and target is not None:
            await target.aclose()
    for each in redis:
        checks.extend(await _redis_checks(each, deadline))
    return checks


# -- the configuration ----------------------------------------------------------------


def _load_config(
    config: AccountsConfig | str | os.PathLike[str] | None,
) -> tuple[AccountsConfig | None, Check]:
    if isinstance(config, AccountsConfig):
        return config, _config_file_check(config)
    try:
        with warnings.catch_warnings():  # the check below says it (in the same words)
            warnings.filterwarnings("ignore", ".*readable by other users", UserWarning)
            loaded = load_accounts(config)
    except SinchConfigError as exc:
        subject = str(getattr(exc, "path", None) or config or "config file")
        return None, Check(
            "config_file",
            "error",
            subject,
            str(exc),
            "fix the file: the message names the account and the key",
        )
    return loaded, _config_file_check(loaded)


def _config_file_check(config: AccountsConfig) -> Check:
    path = config.path
    if path is None:
        return Check("config_file", "ok", "-", "no accounts file: settings from the environment")
    subject = str(path)
    if not path.exists():
        return Check(
            "config_file", "ok", subject, "no accounts file (settings from the environment)"
        )
    if os.name != "posix":
        return Check(
            "config_file",
            "ok",
            subject,
            "permissions not checked on this system",
            "make sure only you can read it if it holds secrets",
        )
    secrets = config.file_secrets()
    problem = config_mode_problem(path)
    if problem is not None and secrets:
        return Check("config_file", "warning", subject, problem[0], problem[1])
    if problem is not None:
        return Check(
            "config_file",
            "ok",
            subject,
            "readable by other users, but it holds no secret",
            f"{problem[1]} before putting a secret in it",
        )
    held = f"holds {len(secrets)} secret(s), " if secrets else ""
    return Check("config_file", "ok", subject, f"{held}readable only by its owner")


def _default_client(
    config: AccountsConfig | None, account: str | None
) -> Callable[[], SinchClient]:
    def build() -> SinchClient:
        if account is None:
            return SinchClient.from_env()
        if config is None:
            raise SinchConfigError(f"account {account!r}: the config file cannot be read")
        try:
            return SinchClient(**config.options(account))
        except SinchConfigError as exc:
            raise config.error(account, exc) from None

    return build


# -- Sinch: credentials and clock -----------------------------------------------------


async def _credential_checks(client: SinchClient, label: str, deadline: float) -> list[Check]:
    view = client.with_options(deadline=deadline)
    sms: Api = client._sms
    numbers: Api = client._numbers
    checks: list[Check] = []
    if sms.unavailable is None:

        async def read_sms() -> None:
            async for _ in view.batches.list(page_size=1, max_items=1):
                pass

        checks.append(await _read("sms_credentials", label, sms, "/batches", read_sms))
    if numbers.unavailable is None:

        async def read_numbers() -> None:
            async for _ in view.numbers.list(page_size=1, max_items=1):
                pass

        checks.append(
            await _read("numbers_credentials", label, numbers, "/activeNumbers", read_numbers)
        )
    return checks


async def _read(
    name: str, label: str, api: Api, path: str, read: Callable[[], Awaitable[None]]
) -> Check:
    where = redact_url(api.base + path)
    try:
        await read()
    except AuthenticationError as exc:
        return Check(
            name,
            "error",
            label,
            f"Sinch refused the credentials (HTTP {exc.status}) at {where}",
            _CREDENTIALS_ADVICE[api.name],
        )
    except ForbiddenError as exc:
        return Check(
            name,
            "error",
            label,
            f"the credentials may not use {where} (HTTP {exc.status})",
            "check that they belong to this region or project, and their permissions",
        )
    except NotFoundError:
        return Check(
            name,
            "error",
            label,
            f"{where} does not exist (HTTP 404)",
            "check the id and the region or base_url",
        )
    except TokenEndpointError as exc:
        return Check(
            name,
            "error",
            label,
            f"the OAuth2 token endpoint failed: {exc}",
            "check auth_url and the network; try again",
        )
    except SinchTransportError as exc:
        return Check(
            name,
            "error",
            label,
            f"cannot reach Sinch: {exc}",
            "check the network, the region or base_url, and any proxy or firewall",
        )
    except SinchAPIError as exc:
        return Check(
            name,
            "error",
            label,
            f"Sinch answered HTTP {exc.status} at {where}",
            "try again; if it persists, see https://status.sinch.com",
        )
    except SinchError as exc:
        return Check(name, "error", label, f"{type(exc).__name__}: {exc}", "see the message")
    return Check(name, "ok", label, f"the credentials work: GET {where} answered")


_CREDENTIALS_ADVICE = {
    "sms": "check the service_plan_id and api_token (or the project's key_id and key_secret)",
    "numbers": "check the project_id, key_id and key_secret",
}


def _clock_check(client: SinchClient, label: str, tolerance: float) -> Check:
    offset = None
    for api in (client._sms, client._numbers):
        if api.unavailable is None:
            offset = api.sinch_clock.offset
            if offset is not None:
                break
    if offset is None:
        return Check(
            "clock",
            "warning",
            label,
            "not checked: no response from Sinch carried a Date header",
            "run again once Sinch answers",
        )
    lo, hi = offset
    mid = (lo + hi) / 2
    measured = f"Sinch's clock minus this host's: {lo:+.1f} to {hi:+.1f} s (Date header)"
    if abs(mid) <= tolerance:
        return Check("clock", "ok", label, f"within {tolerance:g} s; {measured}")
    way = "behind" if mid > 0 else "ahead of"
    return Check(
        "clock",
        "warning",
        label,
        f"this host's clock is about {abs(mid):.0f} s {way} Sinch's; {measured}",
        "synchronise this host's clock (NTP: chrony, systemd-timesyncd)",
    )


# -- limiter keys ---------------------------------------------------------------------


async def _limiter_key_checks(
    client: SinchClient | None, label: str, config: AccountsConfig | None
) -> list[Check]:
    try:
        from .redis._limiter import default_limiter_key
    except ImportError:
        return [
            Check(
                "limiter_key",
                "ok",
                "-",
                "no shared limiter: the redis extra is not installed (limits are per process)",
                f"to share one budget between processes: {_REDIS_EXTRA}",
            )
        ]

    def check(name: str, owner: str | None) -> Check:
        if owner is None:
            return Check("limiter_key", "ok", name, "no SMS (Numbers only): no SMS limiter key")
        key = default_limiter_key(owner)
        return Check(
            "limiter_key",
            "ok",
            name,
            f"{key}: the SMS budget every process sending for {owner} shares",
        )

    checks: list[Check] = []
    if client is not None:
        checks.append(check(label, client.sms_owner_id))
    if config is None:
        return checks
    for name in config.names():
        if name == label:
            continue
        try:
            other = SinchClient(**config.options(name))
        except SinchConfigError as exc:
            checks.append(
                Check(
                    "limiter_key",
                    "warning",
                    name,
                    str(config.error(name, exc)),
                    "complete the account or remove it",
                )
            )
            continue
        try:
            checks.append(check(name, other.sms_owner_id))
        finally:
            await other.aclose()
    return checks


# -- Redis ----------------------------------------------------------------------------


async def _redis_checks(target: str | Redis, deadline: float) -> list[Check]:
    subject = redact_url(target) if isinstance(target, str) else _redis_subject(target)
    try:
        import redis.asyncio as redis_asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        return [Check("redis", "error", subject, "the redis extra is not installed", _REDIS_EXTRA)]
    if not isinstance(target, str):
        return await _inspect_redis(target, subject)
    try:
        client = redis_asyncio.from_url(
            target,
            socket_connect_timeout=deadline,
            socket_timeout=deadline,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        return [Check("redis", "error", subject, f"not a Redis URL: {exc}", "fix the URL")]
    try:
        return await _inspect_redis(client, subject)
    finally:
        await client.aclose()


def _redis_subject(client: Redis) -> str:
    kwargs: dict[str, Any] = getattr(client.connection_pool, "connection_kwargs", {})
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "?"), kwargs.get("port", "?")
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"


async def _inspect_redis(client: Redis, subject: str) -> list[Check]:
    from redis.exceptions import RedisError, ResponseError

    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return [
            Check(
                "redis",
                "error",
                subject,
                f"cannot reach it: {_one_line(exc)}",
                "check the URL, the password and that redis-server runs",
            )
        ]
    checks = [Check("redis", "ok", subject, "reachable (PING)")]
    try:
        seconds, micros = await client.time()
        skew = seconds + micros / 1e6 - time.time()
        checks.append(
            Check(
                "redis_time",
                "ok",
                subject,
                f"TIME works (server clock {skew:+.3f} s from this host's; "
                "the shared limiter and leases use the server's only)",
            )
        )
    except (RedisError, OSError) as exc:
        checks.append(
            Check(
                "redis_time",
                "error",
                subject,
                f"TIME failed: {_one_line(exc)}",
                "allow TIME (rename-command, ACL): the shared limiter and ledger leases run on it",
            )
        )
    values: dict[str, str] = {}
    try:
        for name in ("appendonly", "appendfsync", "save", "maxmemory-policy", "maxmemory"):
            values.update(_decoded(await client.config_get(name)))
    except ResponseError as exc:
        refused = f"cannot read the configuration: CONFIG GET refused ({_one_line(exc)})"
        checks.append(
            Check(
                "redis_persistence",
                "warning",
                subject,
                refused,
                "make sure it persists writes (appendonly yes, appendfsync everysec)",
            )
        )
        checks.append(
            Check(
                "redis_eviction",
                "warning",
                subject,
                refused,
                "make sure maxmemory-policy is noeviction",
            )
        )
        return checks
    except (RedisError, OSError) as exc:
        checks.append(
            Check(
                "redis_persistence",
                "error",
                subject,
                f"CONFIG GET failed: {_one_line(exc)}",
                "check the server and run again",
            )
        )
        return checks
    checks.append(_persistence_check(subject, values))
    checks.append(_eviction_check(subject, values))
    return checks


def _decoded(reply: Any) -> dict[str, str]:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    return {text(k).lower(): text(v) for k, v in dict(reply).items()}


_PERSIST_ADVICE = (
    "turn on the append-only file: CONFIG SET appendonly yes, appendfsync everysec "
    "(and the same in redis.conf)"
)


def _persistence_check(subject: str, values: dict[str, str]) -> Check:
    if "appendonly" not in values:
        return Check(
            "redis_persistence",
            "warning",
            subject,
            "cannot read the configuration: CONFIG GET appendonly gave nothing",
            "make sure it persists writes (appendonly yes, appendfsync everysec)",
        )
    fsync = values.get("appendfsync", "?")
    save = values.get("save", "").strip()
    if values["appendonly"] == "yes":
        if fsync in ("always", "everysec"):
            lost = "no write" if fsync == "always" else "at most about a second of writes"
            return Check(
                "redis_persistence",
                "ok",
                subject,
                f"appendonly yes, appendfsync {fsync}: a crash loses {lost}",
            )
        return Check(
            "redis_persistence",
            "warning",
            subject,
            f"appendonly yes but appendfsync {fsync}: the OS decides when writes reach the "
            "disk; a crash can lose the last ledger records and leases",
            "CONFIG SET appendfsync everysec (and the same in redis.conf)",
        )
    if save:
        return Check(
            "redis_persistence",
            "warning",
            subject,
            f"appendonly no, RDB snapshots only (save {save}): a crash loses the writes "
            "since the last snapshot (ledger records, checkpoints, leases)",
            _PERSIST_ADVICE,
        )
    return Check(
        "redis_persistence",
        "warning",
        subject,
        "no persistence (appendonly no, no RDB snapshot): a restart loses every ledger, "
        "checkpoint and lease",
        _PERSIST_ADVICE,
    )


def _eviction_check(subject: str, values: dict[str, str]) -> Check:
    policy = values.get("maxmemory-policy")
    if policy is None:
        return Check(
            "redis_eviction",
            "warning",
            subject,
            "cannot read the configuration: CONFIG GET maxmemory-policy gave nothing",
            "make sure maxmemory-policy is noeviction",
        )
    if policy == "noeviction":
        return Check(
            "redis_eviction",
            "ok",
            subject,
            "maxmemory-policy noeviction: when full, Redis refuses writes instead of dropping keys",
        )
    which = (
        "keys with a TTL (leases, nonces, limiter schedules)"
        if policy.startswith("volatile")
        else "any key (ledgers, checkpoints, leases)"
    )
    limit = values.get("maxmemory", "0")
    when = "once maxmemory is reached" if limit != "0" else "once a maxmemory is set"
    return Check(
        "redis_eviction",
        "warning",
        subject,
        f"maxmemory-policy {policy} drops {which} {when}",
        "CONFIG SET maxmemory-policy noeviction (and the same in redis.conf), or give "
        "sinch-async a Redis of its own",
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
