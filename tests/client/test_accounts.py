"""Named accounts: a TOML file plus SINCH_<NAME>_* overrides, SinchClient.from_account, and
the SinchAccounts registry (one connection pool, limits per account)."""

from __future__ import annotations

import asyncio
import os
import warnings
from pathlib import Path

import pytest

from sinch_async import SinchClient
from sinch_async._accounts import SinchAccounts, default_config_path, load_accounts
from sinch_async._errors import ClientClosedError, SinchConfigError
from sinch_async.testing import FakeSinch

SECRETS = ("tok-work-file", "tok-ops-env", "tok-ops-file", "sec-proj")


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def two_accounts(tmp_path: Path, work: FakeSinch, ops: FakeSinch) -> Path:
    """``work`` complete in the file; ``ops`` with a stale token the environment fixes."""
    return write(
        tmp_path / "config.toml",
        f"""
[accounts.work]
service_plan_id = "{work.service_plan_id}"
api_token = "{work.api_token}"
base_url = "{work.base_url}"
max_concurrency = 4
messages_per_second = 50

[accounts.ops-team]
service_plan_id = "{ops.service_plan_id}"
api_token = "tok-ops-file"
base_url = "{ops.base_url}"
max_concurrency = 2
""",
    )


async def test_two_accounts_side_by_side_one_pool(tmp_path: Path) -> None:
    async with (
        FakeSinch(service_plan_id="plan-work", api_token="tok-work-file") as work,
        FakeSinch(service_plan_id="plan-ops", api_token="tok-ops-env") as ops,
    ):
        path = two_accounts(tmp_path, work, ops)
        env = {"SINCH_OPS_TEAM_API_TOKEN": "tok-ops-env"}
        async with SinchAccounts(path, env) as accounts:
            assert accounts.names() == ["work", "ops-team"]
            w, o = accounts.client("work"), accounts.client("ops-team")
            assert accounts.client("work") is w  # cached per name
            sent = await asyncio.gather(
                w.batches.send_text(to=["+46701234567"], body="from work"),
                o.batches.send_text(to=["+46701234568"], body="from ops"),
            )
            # one aiohttp session for both, each client its own limits
            assert w._engine._session is o._engine._session is accounts.session
            assert w.limits is not o.limits
            assert (w.limits.max_concurrency, o.limits.max_concurrency) == (4, 2)
            assert w.limits.rate_limiter is not None and o.limits.rate_limiter is None
            shown = repr(accounts) + repr(w) + repr(o)
            assert not any(s in shown for s in SECRETS)
        assert w.closed and o.closed and accounts.closed
        assert accounts.session is None
        with pytest.raises(ClientClosedError):
            accounts.client("work")
        assert set(work.batches) == {sent[0].id}
        assert set(ops.batches) == {sent[1].id}
        assert [r.headers["Authorization"] for r in ops.requests] == ["Bearer tok-ops-env"]
        assert [r.headers["Authorization"] for r in work.requests] == ["Bearer tok-work-file"]


async def test_closing_the_registry_closes_the_shared_session(tmp_path: Path) -> None:
    async with FakeSinch() as fake:
        path = write(
            tmp_path / "c.toml",
            f'[accounts.a]\nservice_plan_id = "{fake.service_plan_id}"\n'
            f'api_token = "{fake.api_token}"\nbase_url = "{fake.base_url}"\n',
        )
        accounts = SinchAccounts(path, {})
        client = accounts.client("a")
        await client.batches.send_text(to=["+46701234567"], body="hi")
        session = accounts.session
        assert session is not None and not session.closed
        await client.aclose()  # a client alone never closes the borrowed pool
        assert not session.closed
        await accounts.aclose()
        assert session.closed
        await accounts.aclose()  # idempotent


def test_from_account_with_overrides_and_env(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[accounts.work]\nservice_plan_id = "plan1"\napi_token = "tok-work-file"\n'
        'region = "eu"\n\n[accounts.proj]\nproject_id = "p1"\nkey_id = "k1"\n'
        'key_secret = "sec-proj"\nregion = "us"\n',
    )
    client = SinchClient.from_account("work", config_path=path, environ={})
    assert client.base_url == "https://eu.sms.api.sinch.com"
    moved = SinchClient.from_account(
        "work", config_path=path, environ={"SINCH_WORK_REGION": "au"}, region="ca"
    )
    assert moved.base_url == "https://ca.sms.api.sinch.com"  # keyword wins over env
    env_region = SinchClient.from_account(
        "work", config_path=path, environ={"SINCH_WORK_REGION": "au"}
    )
    assert env_region.base_url == "https://au.sms.api.sinch.com"
    project = SinchClient.from_account("proj", config_path=path, environ={})
    assert "project_id='p1'" in repr(project) and "zt.us" in project.base_url
    # project keys in the environment join the file's service plan (SMS uses the plan,
    # Numbers the project keys; see tests/client/test_config_resolver.py): they no longer set it
    # aside
    both = load_accounts(
        path,
        {
            "SINCH_WORK_PROJECT_ID": "p9",
            "SINCH_WORK_KEY_ID": "k",
            "SINCH_WORK_KEY_SECRET": "s",
        },
    ).options("work")
    assert (both["service_plan_id"], both["project_id"]) == ("plan1", "p9")


def test_an_account_from_the_environment_only_and_the_default(tmp_path: Path) -> None:
    env = {
        "SINCH_CONFIG": str(tmp_path / "absent.toml"),
        "SINCH_SERVICE_PLAN_ID": "plan0",
        "SINCH_API_TOKEN": "tok0",
        "SINCH_REGION": "us",
    }
    with pytest.raises(SinchConfigError, match="config file not found"):
        load_accounts(environ=env)
    del env["SINCH_CONFIG"]
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no file there: fine
    assert load_accounts(environ=env).names() == ["default"]
    assert "plan0" in repr(SinchClient.from_account(environ=env))
    env |= {
        "SINCH_EU_SERVICE_PLAN_ID": "plan-eu",
        "SINCH_EU_API_TOKEN": "t",
        "SINCH_EU_REGION": "eu",
    }
    assert "plan-eu" in repr(SinchClient.from_account("eu", environ=env))
    with pytest.raises(SinchConfigError, match=r"unknown account 'nope'.*known: default"):
        SinchClient.from_account("nope", environ=env)


def test_default_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_config_path({"SINCH_CONFIG": "/x/y.toml"}) == Path("/x/y.toml")
    monkeypatch.setattr("sys.platform", "linux")
    assert default_config_path({"XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/sinch-async/config.toml")
    assert default_config_path({}) == Path.home() / ".config/sinch-async/config.toml"
    monkeypatch.setattr("sys.platform", "darwin")
    assert default_config_path({}) == (
        Path.home() / "Library/Application Support/sinch-async/config.toml"
    )
    monkeypatch.setattr("sys.platform", "win32")
    assert default_config_path({"APPDATA": "/appdata"}) == Path("/appdata/sinch-async/config.toml")


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('[accounts.a]\napi_tokn = "tok-ops-file"\n', {}, r"account 'a': unknown key 'api_tokn'"),
        ("[accounts.a]\nmax_concurrency = 0\n", {}, r"account 'a', max_concurrency .*positive"),
        ('[accounts.a]\nmessages_per_second = "x"\n', {}, r"account 'a', messages_per_second"),
        ("[accounts.a]\napi_token = 5\n", {}, r"account 'a', api_token .*non-empty string"),
        (
            '[accounts.a]\nservice_plan_id = "p"\napi_token = "tok-ops-file"\nkey_id = "k"\n',
            {},
            r"account 'a': missing credentials: set SINCH_A_PROJECT_ID and SINCH_A_KEY_SECRET",
        ),
        ('[accounts.a]\nservice_plan_id = "p"\n', {}, r"account 'a': missing .*SINCH_A_API_TOKEN"),
        (
            '[accounts.a]\nservice_plan_id = "p"\napi_token = "tok-ops-file"\n',
            {},
            r"account 'a': region is required",
        ),
        (
            '[accounts.a]\nservice_plan_id = "p"\napi_token = "tok-ops-file"\nregion="eu"\n',
            {"SINCH_A_MAX_CONCURRENCY": "many"},
            r"account 'a', max_concurrency \(\$SINCH_A_MAX_CONCURRENCY\)",
        ),
        ('[work]\napi_token = "tok-ops-file"\n', {}, r"unknown top-level key\(s\) 'work'"),
        ('[accounts.a]\napi_token = "tok-ops-file\n', {}, r"not valid TOML"),
        ('[accounts."a b"]\n', {}, r"account names"),
        ("[accounts.a-b]\n[accounts.a_b]\n", {}, r"share the environment prefix SINCH_A_B_"),
    ],
)
def test_bad_config_names_account_and_key_never_the_secret(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(SinchConfigError, match=message) as caught:
        SinchClient.from_account("a", config_path=path, environ=env)
    assert "tok-ops-file" not in str(caught.value)


def test_a_file_others_can_read_warns(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX file modes")
    text = '[accounts.a]\nservice_plan_id = "p"\napi_token = "tok-ops-file"\nregion = "eu"\n'
    loose = write(tmp_path / "loose.toml", text, mode=0o644)
    with pytest.warns(UserWarning, match=r"readable by other users \(mode 644\).*chmod 600"):
        SinchAccounts(loose, {})
    tight = write(tmp_path / "tight.toml", text, mode=0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SinchAccounts(tight, {})


def test_shared_defaults_and_refused_options(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "")
    with pytest.raises(SinchConfigError, match="api_token cannot be shared"):
        SinchAccounts(path, {}, api_token="x")
    with pytest.raises(SinchConfigError, match="max_connections"):
        SinchAccounts(path, {}, max_connections=0)
    assert SinchAccounts(path, {}).names() == []


def test_client_needs_a_running_loop_and_survives_successive_loops(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[accounts.a]\nservice_plan_id = "p"\napi_token = "tok-ops-file"\nregion = "eu"\n',
    )
    accounts = SinchAccounts(path, {})
    with pytest.raises(Exception, match="running event loop"):
        accounts.client("a")

    async def first() -> object:
        return accounts.client("a")._engine._session

    one, two = asyncio.run(first()), asyncio.run(first())
    assert one is not two  # a new pool (and clients) for the new loop
    asyncio.run(accounts.aclose())
