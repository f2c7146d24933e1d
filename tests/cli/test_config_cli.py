"""The command line resolves through the one configuration resolver (issue 16, point 6):
``--account`` honours ``numbers_base_url``, an account or the options may hold both kinds
of credentials, and ``accounts list`` never shows a URL's userinfo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sinch_async.cli import app
from sinch_async.testing import FakeSinch
from tests.support.cli import ThreadedFake, clean_env

runner = CliRunner()
PASSWORD = "hunter2-url-pass"
pytestmark = pytest.mark.fake_sinch(service_plan_id="plan-cli", api_token="tok-cli", seed=5)


def project_keys(fake: FakeSinch) -> str:
    return (
        f'project_id = "{fake.project_id}"\nkey_id = "{fake.key_id}"\n'
        f'key_secret = "{fake.key_secret}"\nauth_url = "{fake.auth_url}"\n'
    )


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def numbers_paths(fake: FakeSinch) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/v1/projects/")]


@pytest.mark.parametrize("where", ["toml key", "named variable"])
def test_account_numbers_go_to_its_numbers_base_url(
    served: ThreadedFake, tmp_path: Path, where: str
) -> None:
    fake = served.fake
    seeded = served.call(fake.numbers.seed_active, 2)
    text = f'[accounts.p]\n{project_keys(fake)}base_url = "{fake.base_url}"\n'
    extra: dict[str, str] = {}
    if where == "toml key":
        text += f'numbers_base_url = "{fake.base_url}"\n'
    else:
        extra["SINCH_P_NUMBERS_BASE_URL"] = fake.base_url
    env = clean_env(SINCH_CONFIG=str(config(tmp_path, text)), **extra)
    result = runner.invoke(app, ["--account", "p", "--json", "numbers", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == len(seeded)
    assert all(number in result.stdout for number in seeded)
    assert numbers_paths(fake)


def test_an_account_with_both_kinds_sends_with_the_plan_and_lists_with_the_keys(
    served: ThreadedFake, tmp_path: Path
) -> None:
    fake = served.fake
    seeded = served.call(fake.numbers.seed_active, 2)
    path = config(
        tmp_path,
        f'[accounts.both]\nservice_plan_id = "plan-cli"\napi_token = "tok-cli"\n'
        f'{project_keys(fake)}base_url = "{fake.base_url}"\n'
        f'numbers_base_url = "{fake.base_url}"\n',
    )
    env = clean_env(SINCH_CONFIG=str(path))
    sent = runner.invoke(
        app, ["--account", "both", "--json", "send", "--to", "+46701234567", "--body", "x"], env=env
    )
    assert sent.exit_code == 0, sent.output
    listed = runner.invoke(app, ["--account", "both", "--json", "numbers", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)) == len(seeded)
    assert all(number in listed.stdout for number in seeded)
    sms = [r for r in fake.requests if r.path.startswith("/xms/v1/")]
    assert sms and {r.headers["Authorization"] for r in sms} == {"Bearer tok-cli"}
    assert all(r.path.startswith("/xms/v1/plan-cli/") for r in sms)
    info = runner.invoke(app, ["--json", "accounts", "list"], env=env)
    assert json.loads(info.stdout)[0]["kind"] == "service_plan+project"


def test_options_of_both_kinds_give_both(served: ThreadedFake) -> None:
    fake = served.fake
    seeded = served.call(fake.numbers.seed_active, 1)
    # someone else's project in the environment: the options' project keys replace it
    env = clean_env(SINCH_PROJECT_ID="other-project", SINCH_KEY_ID="k", SINCH_KEY_SECRET="s")
    options = [
        *("--service-plan-id", "plan-cli", "--api-token", "tok-cli"),
        *("--project-id", fake.project_id, "--key-id", fake.key_id),
        *("--key-secret", fake.key_secret, "--auth-url", fake.auth_url),
        *("--base-url", fake.base_url, "--numbers-base-url", fake.base_url),
    ]
    listed = runner.invoke(app, [*options, "--json", "numbers", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)) == len(seeded)
    assert all(number in listed.stdout for number in seeded)
    batches = runner.invoke(app, [*options, "--json", "batches", "list"], env=env)
    assert batches.exit_code == 0, batches.output
    sms = [r for r in fake.requests if r.path.startswith("/xms/v1/")]
    assert sms and all(r.path.startswith("/xms/v1/plan-cli/") for r in sms)


def test_service_plan_options_set_aside_the_project_of_the_environment(
    served: ThreadedFake,
) -> None:
    """The one place one kind sets the other aside: credential options on the command
    line against the environment's (or the account's) other kind."""
    fake = served.fake
    env = clean_env(
        SINCH_PROJECT_ID=fake.project_id,
        SINCH_KEY_ID=fake.key_id,
        SINCH_KEY_SECRET=fake.key_secret,
        SINCH_AUTH_URL=fake.auth_url,
        SINCH_NUMBERS_BASE_URL=fake.base_url,
    )
    plan = ["--service-plan-id", "plan-cli", "--api-token", "tok-cli", "--base-url", fake.base_url]
    result = runner.invoke(app, [*plan, "numbers", "list"], env=env)
    assert result.exit_code == 2, result.output
    assert "project credentials" in result.output and not numbers_paths(fake)


def test_accounts_list_never_shows_url_userinfo(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        f'[accounts.a]\nservice_plan_id = "p"\napi_token = "t1"\n'
        f'base_url = "https://me:{PASSWORD}@sms.example.test"\n\n'
        f'[accounts.b]\nproject_id = "p"\nkey_id = "k"\nkey_secret = "s"\n',
    )
    env = clean_env(
        SINCH_CONFIG=str(path),
        SINCH_B_BASE_URL=f"https://{PASSWORD}@zt.example.test",
        SINCH_B_NUMBERS_BASE_URL=f"https://me:{PASSWORD}@numbers.example.test",
    )
    as_json = runner.invoke(app, ["--json", "accounts", "list"], env=env)
    assert as_json.exit_code == 0, as_json.output
    rows = {r["name"]: r for r in json.loads(as_json.stdout)}
    assert rows["a"]["base_url"] == "https://***@sms.example.test"
    assert rows["b"]["base_url"] == "https://***@zt.example.test"
    table = runner.invoke(app, ["accounts", "list"], env={**env, "COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "sms.example.test" in table.output
    for result in (as_json, table):
        assert PASSWORD not in result.output
    assert rows["b"]["numbers_base_url"] == "https://***@numbers.example.test"


def test_send_bulk_account_with_both_kinds_sends_with_the_plan(
    served: ThreadedFake, tmp_path: Path
) -> None:
    fake = served.fake
    path = config(
        tmp_path,
        f'[accounts.both]\nservice_plan_id = "plan-cli"\napi_token = "tok-cli"\n'
        f'{project_keys(fake)}base_url = "{fake.base_url}"\n',
    )
    rows = tmp_path / "rows.csv"
    rows.write_text("to,name\n+46701234567,Ann\n+46701234568,Bo\n")
    args = ["--account", "both", "--json", "send-bulk", "--csv", str(rows), "--body", "Hi {name}"]
    args += ["--ledger", str(tmp_path / "ledger.db")]
    result = runner.invoke(app, args, env=clean_env(SINCH_CONFIG=str(path)))
    assert result.exit_code == 0, result.output
    assert len(fake.batches) == 2
    sms = [r for r in fake.requests if r.path.startswith("/xms/v1/")]
    assert {r.headers["Authorization"] for r in sms} == {"Bearer tok-cli"}


@pytest.mark.parametrize("mps", [[], ["--messages-per-second", "5"]])
def test_send_bulk_bad_redis_url_is_a_configuration_error_without_its_password(
    served: ThreadedFake, tmp_path: Path, mps: list[str]
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("to\n+46701234567\n")
    env = clean_env(
        SINCH_SERVICE_PLAN_ID="plan-cli",
        SINCH_API_TOKEN="tok-cli",
        SINCH_BASE_URL=served.fake.base_url,
    )
    args = ["send-bulk", "--csv", str(rows), "--body", "hi", *mps]
    result = runner.invoke(app, [*args, "--redis", f"http://me:{PASSWORD}@host"], env=env)
    assert result.exit_code == 2, result.output
    assert "Configuration error" in result.output and "Traceback" not in result.output
    assert PASSWORD not in result.output and not served.fake.requests
