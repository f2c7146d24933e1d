"""One configuration resolver (issue 16, point 6): what ``from_env``, ``from_account`` and
``SinchAccounts`` read, and the defects of three separate readers, each against FakeSinch.

These tests import only the public package (and ``sinch_async._accounts``, which exists on
both sides of the change), so on the old tree they fail on their assertions, not on an
import.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import sinch_async
from sinch_async import RetryPolicy, SinchClient, SinchConfigError
from sinch_async._accounts import SinchAccounts, load_accounts
from sinch_async.testing import FakeSinch

#: A Numbers call aimed at the wrong host fails at once instead of retrying.
ONCE = RetryPolicy.disabled()
PASSWORD = "hunter2-url-pass"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def project_keys(fake: FakeSinch) -> str:
    return (
        f'project_id = "{fake.project_id}"\nkey_id = "{fake.key_id}"\n'
        f'key_secret = "{fake.key_secret}"\nauth_url = "{fake.auth_url}"\n'
    )


def numbers_paths(fake: FakeSinch) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/v1/projects/")]


async def listed(client: SinchClient) -> list[str]:
    return [n.phone_number async for n in client.numbers.list(page_size=10)]


# -- numbers_base_url: a TOML key, SINCH_NUMBERS_BASE_URL and SINCH_<NAME>_NUMBERS_BASE_URL --


@pytest.mark.parametrize("where", ["toml key", "named variable", "default variables"])
@pytest.mark.parametrize("how", ["from_account", "SinchAccounts"])
async def test_numbers_base_url_from_the_file_or_the_environment_is_honoured(
    tmp_path: Path, where: str, how: str
) -> None:
    async with FakeSinch() as fake:
        seeded = fake.numbers.seed_active(3)
        account = f'{project_keys(fake)}base_url = "{fake.base_url}"\n'
        env: dict[str, str] = {}
        name = "p"
        if where == "toml key":
            text = f'[accounts.p]\n{account}numbers_base_url = "{fake.base_url}"\n'
        elif where == "named variable":
            text = f"[accounts.p]\n{account}"
            env = {"SINCH_P_NUMBERS_BASE_URL": fake.base_url}
        else:  # the default account: the unnamed SINCH_* variables, as from_env reads them
            text, name = "", "default"
            env = {
                "SINCH_PROJECT_ID": fake.project_id,
                "SINCH_KEY_ID": fake.key_id,
                "SINCH_KEY_SECRET": fake.key_secret,
                "SINCH_AUTH_URL": fake.auth_url,
                "SINCH_BASE_URL": fake.base_url,
                "SINCH_NUMBERS_BASE_URL": fake.base_url,
            }
        path = write(tmp_path / "c.toml", text)
        if how == "from_account":
            async with SinchClient.from_account(
                name, config_path=path, environ=env, retry=ONCE
            ) as client:
                numbers = await listed(client)
        else:
            async with SinchAccounts(path, env, retry=ONCE) as accounts:
                numbers = await listed(accounts.client(name))
        assert numbers == seeded
        assert numbers_paths(fake)  # the test server's Numbers API, not Sinch's


def test_from_env_and_the_default_account_read_the_same_variables() -> None:
    env = {
        "SINCH_SERVICE_PLAN_ID": "plan1",
        "SINCH_API_TOKEN": "tok1",
        "SINCH_REGION": "eu",
        "SINCH_MAX_CONCURRENCY": "3",
        "SINCH_MESSAGES_PER_SECOND": "7.5",
    }
    from_env = SinchClient.from_env(env)
    default = SinchClient.from_account(environ={**env, "XDG_CONFIG_HOME": "/nonexistent"})
    for client in (from_env, default):
        assert client.base_url == "https://eu.sms.api.sinch.com"
        assert client.limits.max_concurrency == 3
        assert client.limits.rate_limiter is not None


# -- both kinds of credentials; Numbers without an SMS region ------------------------------


async def test_an_account_with_both_kinds_sends_with_the_plan_and_lists_with_the_keys(
    tmp_path: Path,
) -> None:
    async with FakeSinch(service_plan_id="plan-both", api_token="tok-plan-both") as fake:
        seeded = fake.numbers.seed_active(2)
        path = write(
            tmp_path / "c.toml",
            f'[accounts.both]\nservice_plan_id = "plan-both"\napi_token = "tok-plan-both"\n'
            f'{project_keys(fake)}base_url = "{fake.base_url}"\n'
            f'numbers_base_url = "{fake.base_url}"\n',
        )
        async with SinchClient.from_account("both", config_path=path, environ={}) as client:
            sent = await client.batches.send_text(to=["+46701234567"], body="hi")
            numbers = await listed(client)
        assert numbers == seeded and set(fake.batches) == {sent.id}
        sms = [r for r in fake.requests if r.path.startswith("/xms/v1/")]
        assert sms and all(r.path.startswith("/xms/v1/plan-both/") for r in sms)
        assert {r.headers["Authorization"] for r in sms} == {"Bearer tok-plan-both"}
        numbers_auth = {
            r.headers["Authorization"] for r in fake.requests if r.path.startswith("/v1/")
        }
        assert numbers_auth and "Bearer tok-plan-both" not in numbers_auth


async def test_a_numbers_only_account_needs_no_sms_region(tmp_path: Path) -> None:
    async with FakeSinch() as fake:
        seeded = fake.numbers.seed_active(2)
        path = write(
            tmp_path / "c.toml",
            f'[accounts.n]\n{project_keys(fake)}numbers_base_url = "{fake.base_url}"\n',
        )
        async with SinchClient.from_account("n", config_path=path, environ={}) as client:
            assert await listed(client) == seeded
        env = {
            "SINCH_PROJECT_ID": fake.project_id,
            "SINCH_KEY_ID": fake.key_id,
            "SINCH_KEY_SECRET": fake.key_secret,
            "SINCH_AUTH_URL": fake.auth_url,
            "SINCH_NUMBERS_BASE_URL": fake.base_url,
        }
        async with SinchClient.from_env(env) as client:
            assert await listed(client) == seeded


# -- bad configuration: typed, naming the file, the account and the key, never the value ---


BAD = [
    ("base_url", f'base_url = "ftp://user:{PASSWORD}@example.test"', {}),
    ("base_url", 'region = "eu"', {"SINCH_A_BASE_URL": f"https://u:{PASSWORD}@example.test"}),
    ("api_token", f'api_token = "{PASSWORD} x"', {}),
    ("service_plan_id", f'service_plan_id = "plan/{PASSWORD}"', {}),
    ("region", f'region = "{PASSWORD}"', {}),
    ("numbers_base_url", f'numbers_base_url = "{PASSWORD}"', {}),
    ("auth_url", f'auth_url = "https://{PASSWORD}@auth.example.test"', {}),
]


@pytest.mark.parametrize(
    ("key", "line", "env"), BAD, ids=[f"{k}-{i}" for i, (k, *_) in enumerate(BAD)]
)
def test_bad_config_is_typed_and_names_file_account_and_key_never_the_value(
    tmp_path: Path, key: str, line: str, env: dict[str, str]
) -> None:
    base = {
        "service_plan_id": 'service_plan_id = "plan1"',
        "api_token": 'api_token = "tok1"',
        "project_id": 'project_id = "proj1"',
        "key_id": 'key_id = "key1"',
        "key_secret": 'key_secret = "sec1"',
        "base_url": 'base_url = "https://sms.example.test"',
    }
    lines = [v for k, v in base.items() if k != key and not (k == "base_url" and env)]
    path = write(tmp_path / "c.toml", "[accounts.a]\n" + "\n".join([*lines, line]) + "\n")
    with pytest.raises(SinchConfigError) as caught:
        SinchClient.from_account("a", config_path=path, environ=env)
    error = caught.value
    message = str(error)
    assert PASSWORD not in message and PASSWORD not in repr(error)
    assert "account 'a'" in message and key in message
    variable = next(iter(env), None)
    assert (variable or str(path)) in message
    # the same facts as attributes, for programs
    assert getattr(error, "account", None) == "a" and getattr(error, "key", None) == key
    assert getattr(error, "path", None) == (None if variable else path)


def test_a_missing_region_is_advised_where_the_configuration_comes_from(
    tmp_path: Path,
) -> None:
    """From the environment: set SINCH_REGION or SINCH_BASE_URL; from a file: the file's
    keys or the account's variables; from keywords: pass region= or base_url=."""
    plan = {"SINCH_SERVICE_PLAN_ID": "p", "SINCH_API_TOKEN": "t1"}
    with pytest.raises(SinchConfigError) as from_env:
        SinchClient.from_env(plan)
    message = str(from_env.value)
    assert message.startswith("region is required")
    assert "set SINCH_REGION or SINCH_BASE_URL" in message and "base_url=" not in message
    assert getattr(from_env.value, "key", None) == "region"
    path = write(tmp_path / "c.toml", '[accounts.a]\nservice_plan_id = "p"\napi_token = "t1"\n')
    with pytest.raises(SinchConfigError) as from_file:
        SinchClient.from_account("a", config_path=path, environ={})
    assert f"set region or base_url in {path}" in str(from_file.value)
    assert "SINCH_A_REGION or SINCH_A_BASE_URL" in str(from_file.value)
    with pytest.raises(SinchConfigError, match=r"region is required .*or pass base_url="):
        SinchClient(service_plan_id="p", api_token="t1")
    # either variable (or a keyword over the environment) is enough
    assert SinchClient.from_env({**plan, "SINCH_REGION": "eu"}).base_url.startswith("https://eu.")
    assert SinchClient.from_env(plan, base_url="http://127.0.0.1:1").base_url.endswith(":1")
    # project keys alone need no region (Numbers only)
    keys = {"SINCH_PROJECT_ID": "pr", "SINCH_KEY_ID": "k", "SINCH_KEY_SECRET": "s"}
    assert SinchClient.from_env(keys).sms_owner_id is None


def test_an_error_the_client_raises_names_the_accounts_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[accounts.a]\nservice_plan_id = "p"\napi_token = "t1"\n')
    with pytest.raises(SinchConfigError, match="region is required") as caught:
        SinchClient.from_account("a", config_path=path, environ={})
    assert "account 'a'" in str(caught.value) and str(path) in str(caught.value)


# -- the registry's clients outlive ``async with`` ------------------------------------------


async def test_async_with_a_registry_client_leaves_the_account_usable(tmp_path: Path) -> None:
    async with FakeSinch() as fake:
        path = write(
            tmp_path / "c.toml",
            f'[accounts.work]\nservice_plan_id = "{fake.service_plan_id}"\n'
            f'api_token = "{fake.api_token}"\nbase_url = "{fake.base_url}"\n',
        )
        async with SinchAccounts(path, {}) as accounts:
            async with accounts.client("work") as client:
                await client.batches.send_text(to=["+46701234567"], body="one")
            again = accounts.client("work")
            assert not again.closed
            await again.batches.send_text(to=["+46701234567"], body="two")
            # a client closed with its own aclose() is built again on the next call
            await again.aclose()
            third = accounts.client("work")
            assert third is not again and not third.closed
            await third.batches.send_text(to=["+46701234567"], body="three")
            session = accounts.session
            assert session is not None and not session.closed
        assert third.closed and len(fake.batches) == 3


# -- URLs are shown without their userinfo -------------------------------------------------


def test_account_info_never_shows_url_userinfo(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        f'[accounts.a]\nservice_plan_id = "p"\napi_token = "t1"\n'
        f'base_url = "https://me:{PASSWORD}@sms.example.test/x?token={PASSWORD}"\n',
    )
    info = load_accounts(path, {}).info("a")
    assert PASSWORD not in str(info.as_dict()) + repr(info)
    assert info.base_url is not None and "sms.example.test" in info.base_url


def test_a_bad_url_in_an_error_is_shown_without_userinfo() -> None:
    with pytest.raises(SinchConfigError) as caught:
        SinchClient("p", "t", base_url=f"ftp://me:{PASSWORD}@sms.example.test")
    assert PASSWORD not in str(caught.value)


# -- no import circle between the client and the accounts -----------------------------------


def _imports(module: str) -> set[str]:
    """Every sinch_async module ``module`` imports: module level, in functions and under
    ``TYPE_CHECKING`` alike."""
    package = Path(sinch_async.__file__).parent
    parts = module.split(".")[1:]
    file = package.joinpath(*parts).with_suffix(".py")
    if not file.exists():
        file = package.joinpath(*parts, "__init__.py")
    here = module.split(".") if file.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            if node.level == 0 and not target.startswith("sinch_async"):
                continue
            submodules = {f"{target}.{a.name}" for a in node.names} - {f"{target}.*"}
            # ``from . import _x`` imports the submodule, not what the package re-exports
            found.update({m for m in submodules if _exists(m)} or {target})
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sinch_async"))
    return {m for m in found if _exists(m)}


def _exists(module: str) -> bool:
    package = Path(sinch_async.__file__).parent
    parts = module.split(".")[1:]
    return package.joinpath(*parts).with_suffix(".py").exists() or (
        package.joinpath(*parts, "__init__.py").exists()
    )


def _reaches(start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for imported in _imports(module):
            if imported == goal:
                return True
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return False


def test_the_client_does_not_import_the_accounts_registry() -> None:
    assert _reaches("sinch_async._accounts", "sinch_async._client")
    assert not _reaches("sinch_async._client", "sinch_async._accounts")


def test_unknown_keyword_still_refused(tmp_path: Path) -> None:
    bad: dict[str, Any] = {"max_concurency": 5}
    with pytest.raises(SinchConfigError, match="unknown option"):
        SinchClient.from_env({}, **bad)
    with pytest.raises(SinchConfigError, match="unknown option"):
        SinchClient.from_account(config_path=write(tmp_path / "c.toml", ""), environ={}, **bad)
