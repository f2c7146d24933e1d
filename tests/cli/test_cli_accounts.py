"""The CLI's named accounts: ``--account NAME`` on every command, ``accounts list``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sinch_async.cli import app
from sinch_async.testing import FakeSinch
from tests.support.cli import ThreadedFake, clean_env

runner = CliRunner()

SECRETS = ("tok-a-secret", "tok-b-secret", "tok-b-stale", "tok-unnamed", "sec-proj")


def fake_server(plan: str, token: str) -> ThreadedFake:
    server = ThreadedFake()
    server.fake = FakeSinch(service_plan_id=plan, api_token=token, seed=5)
    return server


@pytest.fixture
def two() -> Iterator[tuple[ThreadedFake, ThreadedFake]]:
    with (
        fake_server("plan-a", "tok-a-secret") as a,
        fake_server("plan-b", "tok-b-secret") as b,
    ):
        yield a, b


def config(tmp_path: Path, a: ThreadedFake, b: ThreadedFake, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[accounts.alpha]
service_plan_id = "plan-a"
api_token = "tok-a-secret"
base_url = "{a.fake.base_url}"

[accounts.beta-eu]
service_plan_id = "plan-b"
api_token = "tok-b-stale"
base_url = "{b.fake.base_url}"
messages_per_second = 10

[accounts.proj]
project_id = "p1"
key_id = "k1"
key_secret = "sec-proj"
region = "eu"
"""
    )
    path.chmod(mode)
    return path


def env_for(path: Path, **values: str) -> dict[str, str | None]:
    # the beta-eu token comes from the environment; unnamed SINCH_* are someone else's
    return clean_env(
        SINCH_CONFIG=str(path),
        SINCH_BETA_EU_API_TOKEN="tok-b-secret",
        SINCH_SERVICE_PLAN_ID="plan-unnamed",
        SINCH_API_TOKEN="tok-unnamed",
        SINCH_REGION="us",
        **values,
    )


def send(account: str, env: dict[str, str | None], *extra: str) -> dict[str, object]:
    args = ["--account", account, *extra, "--json", "send", "--to", "+46701234567", "--body", "x"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert not any(s in result.output for s in SECRETS)
    batch: dict[str, object] = json.loads(result.stdout)
    return batch


def auths(server: ThreadedFake) -> set[str]:
    return {r.headers["Authorization"] for r in server.fake.requests}


def test_account_picks_the_right_server_and_credentials(
    two: tuple[ThreadedFake, ThreadedFake], tmp_path: Path
) -> None:
    a, b = two
    env = env_for(config(tmp_path, a, b))
    on_a = send("alpha", env)
    on_b = send("beta-eu", env)
    assert set(a.fake.batches) == {on_a["id"]} and set(b.fake.batches) == {on_b["id"]}
    assert auths(a) == {"Bearer tok-a-secret"}
    assert auths(b) == {"Bearer tok-b-secret"}  # the env override, not the file's token
    listed = runner.invoke(app, ["--account", "beta-eu", "--json", "batches", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [x["id"] for x in json.loads(listed.stdout)] == [on_b["id"]]


def test_explicit_options_win_over_the_account(
    two: tuple[ThreadedFake, ThreadedFake], tmp_path: Path
) -> None:
    a, b = two
    env = env_for(config(tmp_path, a, b))
    # alpha's credentials, but sent to b's origin by --base-url: b refuses them (401)
    refused = runner.invoke(
        app, ["--account", "alpha", "--base-url", b.fake.base_url, "batches", "list"], env=env
    )
    assert refused.exit_code == 1, refused.output
    assert auths(b) == {"Bearer tok-a-secret"} and not a.fake.requests
    # explicit service plan options replace the account's credentials
    opts = ["--service-plan-id", "plan-b", "--api-token", "tok-b-secret"]
    on_b = send("alpha", env, *opts, "--base-url", b.fake.base_url)
    assert set(b.fake.batches) == {on_b["id"]}


def test_unknown_or_broken_account_exits_2_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[accounts.x]\nservice_plan_id = "p"\napi_token = "tok-a-secret"\n')
    path.chmod(0o600)
    unknown = runner.invoke(app, ["--account", "nope", "batches", "list"], env=env_for(path))
    assert unknown.exit_code == 2
    assert "unknown account 'nope'" in unknown.output and "Traceback" not in unknown.output
    no_region = runner.invoke(app, ["--account", "x", "batches", "list"], env=env_for(path))
    assert no_region.exit_code == 2 and "account 'x'" in no_region.output
    path.write_text('[accounts.x]\napi_tokn = "tok-a-secret"\n')
    typo = runner.invoke(app, ["--account", "x", "batches", "list"], env=env_for(path))
    assert typo.exit_code == 2 and "unknown key 'api_tokn'" in typo.output
    for result in (unknown, no_region, typo):
        assert not any(s in result.output for s in SECRETS)


def test_accounts_list_shows_kinds_and_targets_never_secrets(
    two: tuple[ThreadedFake, ThreadedFake], tmp_path: Path
) -> None:
    a, b = two
    env = env_for(config(tmp_path, a, b))
    as_json = runner.invoke(app, ["--json", "accounts", "list"], env=env)
    assert as_json.exit_code == 0, as_json.output
    rows = {r["name"]: r for r in json.loads(as_json.stdout)}
    assert list(rows) == ["alpha", "beta-eu", "proj", "default"]
    assert rows["alpha"]["kind"] == "service_plan"
    assert rows["alpha"]["base_url"] == a.fake.base_url
    assert rows["beta-eu"]["messages_per_second"] == 10
    assert rows["proj"]["kind"] == "project" and rows["proj"]["region"] == "eu"
    assert rows["default"]["region"] == "us" and rows["default"]["missing"] == []
    table = runner.invoke(app, ["accounts", "list"], env={**env, "COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "service plan" in table.output and "project" in table.output
    for result in (as_json, table):
        assert not any(s in result.output for s in SECRETS)
        assert "plan-unnamed" not in result.output


def test_accounts_list_warns_about_a_file_others_can_read(
    two: tuple[ThreadedFake, ThreadedFake], tmp_path: Path
) -> None:
    a, b = two
    env = env_for(config(tmp_path, a, b, mode=0o644))
    result = runner.invoke(app, ["--json", "accounts", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "readable by other users" in result.output
    assert json.loads(result.stdout)  # the warning stays off stdout
    # every command shows it in one format: one "Warning:" line, no Python warning dump
    listed = runner.invoke(app, ["--account", "alpha", "--json", "batches", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    for out in (result.output, listed.output):
        flat = " ".join(out.split())
        assert flat.count("Warning: ") == 1 and "UserWarning" not in out, out
        assert f"run: chmod 600 {tmp_path}" in flat


def test_help_shows_the_account_option() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--account" in result.output
    sub = runner.invoke(app, ["accounts", "list", "--help"])
    assert sub.exit_code == 0 and "SINCH_CONFIG" in sub.output
