"""The sinch-async command's global options: credentials as ``SinchClient.from_env`` takes
them (project keys included), options over the environment, ``--version``, help, and the
demo's temporary files."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import sinch_async
from sinch_async.cli import app
from sinch_async.cli._options import Options
from tests.support.cli import ThreadedFake, clean_env, project_env

runner = CliRunner()


def project_paths(server: ThreadedFake) -> list[str]:
    prefix = f"/xms/v1/{server.fake.project_id}/"
    return [r.path for r in server.fake.requests if r.path.startswith(prefix)]


def test_project_credentials_from_the_environment(served: ThreadedFake) -> None:
    """Only SINCH_PROJECT_ID/KEY_ID/KEY_SECRET (+ AUTH_URL): past credential checking, an
    OAuth2 token, and the requests go to the project's paths."""
    sent = runner.invoke(
        app,
        ["--json", "send", "--to", "+46701234567", "--body", "hi"],
        env=project_env(served),
    )
    assert sent.exit_code == 0, sent.output
    batch = json.loads(sent.stdout)
    listed = runner.invoke(app, ["--json", "batches", "list"], env=project_env(served))
    assert listed.exit_code == 0, listed.output
    assert [b["id"] for b in json.loads(listed.stdout)] == [batch["id"]]
    assert served.fake.token_requests >= 1
    assert project_paths(served)


def test_project_credentials_as_options_win_over_a_service_plan_in_the_environment(
    served: ThreadedFake,
) -> None:
    fake = served.fake
    env = clean_env(
        SINCH_SERVICE_PLAN_ID="someone-elses-plan",
        SINCH_API_TOKEN="someone-elses-token",
        SINCH_BASE_URL=fake.base_url,
    )
    args = [
        "--project-id",
        fake.project_id,
        "--key-id",
        fake.key_id,
        "--key-secret",
        fake.key_secret,
        "--auth-url",
        fake.auth_url,
        "--json",
        "batches",
        "list",
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert project_paths(served)
    assert not any("someone-elses-plan" in r.path for r in fake.requests)


def test_service_plan_options_win_over_project_variables(served: ThreadedFake) -> None:
    fake = served.fake
    env = clean_env(SINCH_PROJECT_ID="other-project", SINCH_KEY_ID="k", SINCH_KEY_SECRET="s")
    args = [
        "--service-plan-id",
        fake.service_plan_id,
        "--api-token",
        fake.api_token,
        "--base-url",
        fake.base_url,
        "--json",
        "batches",
        "list",
    ]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert fake.token_requests == 0


def test_an_incomplete_kind_of_credential_options_is_a_usage_error(served: ThreadedFake) -> None:
    # both kinds may be given (SMS then uses the service plan, Numbers the project keys:
    # tests/cli/test_config_cli.py), but each kind given must be complete
    args = ["--service-plan-id", "p", "--api-token", "t", "--project-id", "x", "batches", "list"]
    result = runner.invoke(app, args, env=clean_env(SINCH_BASE_URL=served.fake.base_url))
    assert result.exit_code == 2
    assert "SINCH_KEY_ID and SINCH_KEY_SECRET" in result.output
    assert not served.fake.requests


def test_missing_or_partial_credentials_exit_2_with_a_hint() -> None:
    nothing = runner.invoke(app, ["batches", "list"], env=clean_env())
    assert nothing.exit_code == 2
    assert "sinch-async demo" in nothing.output and "Traceback" not in nothing.output
    partial = runner.invoke(
        app, ["batches", "list"], env=clean_env(SINCH_PROJECT_ID="p", SINCH_REGION="eu")
    )
    assert partial.exit_code == 2
    assert "SINCH_KEY_ID" in partial.output


def test_wrong_project_secret_is_an_api_error_not_a_traceback(served: ThreadedFake) -> None:
    env = project_env(served)
    env["SINCH_KEY_SECRET"] = "wrong"
    result = runner.invoke(app, ["batches", "list"], env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"], env=clean_env())
    assert result.exit_code == 0
    assert result.stdout.strip() == f"sinch-async {sinch_async.__version__}"


def test_help_names_every_credential_variable_and_the_exit_codes() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in (
        "SINCH_SERVICE_PLAN_ID",
        "SINCH_API_TOKEN",
        "SINCH_PROJECT_ID",
        "SINCH_KEY_ID",
        "SINCH_KEY_SECRET",
        "SINCH_AUTH_URL",
        "SINCH_REGION",
        "SINCH_BASE_URL",
        "--version",
        "130",
    ):
        assert name in result.output, name
    for command in (["batches"], ["groups"], ["inbounds", "sync"], ["delivery-reports", "get"]):
        sub = runner.invoke(app, [*command, "--help"])
        assert sub.exit_code == 0, (command, sub.output)


def test_options_never_show_secrets() -> None:
    options = Options(api_token="tok-hush", key_secret="key-hush", project_id="p")
    assert "hush" not in repr(options) and "key_secret" in repr(options)


def test_demo_removes_its_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = runner.invoke(
        app, ["--json", "demo", "--inbounds", "300", "--sends", "20"], env=clean_env()
    )
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["inbounds_synced"] == 300 and summary["batches_sent"] == 20
    assert summary["duplicate_sends"] == 0 and summary["output"] is None
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_demo_writes_where_out_says(tmp_path: Path) -> None:
    out = tmp_path / "kept" / "inbounds.jsonl"
    out.parent.mkdir()
    result = runner.invoke(
        app, ["demo", "--inbounds", "200", "--sends", "10", "--out", str(out)], env=clean_env()
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 200
    assert "200 of 200" in result.stdout


def test_demo_with_project_credentials_syncs_the_account_read_only(
    served: ThreadedFake, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    served.call(
        served.fake.seed_inbounds, 40, start=start, spacing=timedelta(seconds=30), to="12345"
    )
    out = tmp_path / "mine.jsonl"
    result = runner.invoke(app, ["--json", "demo", "--out", str(out)], env=project_env(served))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["written"] == 40
    assert len(out.read_text().splitlines()) == 40
    assert served.fake.batches == {}  # read-only: nothing sent
    assert project_paths(served)
