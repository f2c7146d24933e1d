"""``sinch-async doctor`` (issue 17, section 6) against a FakeSinch in its own thread: exit 0
when no check is an error (warnings included), 1 otherwise; ``--json`` for scripts; no
secret in the output. The checks themselves: ``tests/client/test_doctor.py`` and
``tests/redis/test_doctor_redis.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sinch_async.cli import app
from tests.support.cli import ThreadedFake, clean_env, env
from tests.support.net import free_port

runner = CliRunner()


def doctor(environ: dict[str, str | None], *args: str) -> Any:
    """``sinch-async ARGS doctor ...`` (global options before ``doctor``)."""
    if "doctor" not in args:
        args = (*args, "doctor")
    return runner.invoke(app, list(args), env=environ)


def plan_env(served: ThreadedFake, tmp_path: Path, **values: str) -> dict[str, str | None]:
    """The fake's service plan in the SINCH_* variables, no accounts file."""
    return clean_env(**{**env(served), "XDG_CONFIG_HOME": str(tmp_path), **values})


def checks_of(result: Any) -> tuple[str, dict[str, dict[str, Any]]]:
    data = json.loads(result.stdout)
    return data["status"], {c["name"]: c for c in data["checks"]}


def test_good_credentials_exit_0(served: ThreadedFake, tmp_path: Path) -> None:
    result = doctor(plan_env(served, tmp_path), "--json")
    assert result.exit_code == 0, result.output
    status, found = checks_of(result)
    assert status == "ok"
    assert list(found) == ["config_file", "sms_credentials", "clock", "limiter_key"]
    assert found["sms_credentials"]["subject"] == "default"
    assert set(found["clock"]) == {"name", "status", "subject", "detail", "advice"}
    assert served.fake.batches == {}  # nothing sent


def test_people_get_one_line_a_check(served: ThreadedFake, tmp_path: Path) -> None:
    result = doctor(plan_env(served, tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split()[:3] == ["ok", "sms_credentials", "default:"]
    assert lines[-1] == "ok: 0 error(s), 0 warning(s), 4 ok"


def test_bad_credentials_are_an_error_exit_1(served: ThreadedFake, tmp_path: Path) -> None:
    result = doctor(plan_env(served, tmp_path, SINCH_API_TOKEN="wrong-token"), "--json")
    assert result.exit_code == 1, result.output
    status, found = checks_of(result)
    assert status == "error"
    assert found["sms_credentials"]["status"] == "error"
    assert "HTTP 401" in found["sms_credentials"]["detail"]
    assert "wrong-token" not in result.output

    text = doctor(plan_env(served, tmp_path, SINCH_API_TOKEN="wrong-token"))
    assert text.exit_code == 1
    assert "error    sms_credentials" in text.stdout
    assert "-> check the service_plan_id and api_token" in text.stdout


@pytest.mark.fake_sinch(now=lambda: datetime.now(UTC) + timedelta(seconds=10))
def test_a_clock_10_s_off_is_a_warning_exit_0(served: ThreadedFake, tmp_path: Path) -> None:
    result = doctor(plan_env(served, tmp_path), "--json")
    assert result.exit_code == 0, result.output
    status, found = checks_of(result)
    assert status == "warning"
    assert found["clock"]["status"] == "warning"
    assert "10 s behind Sinch's" in found["clock"]["detail"]


def accounts_file(tmp_path: Path, served: ThreadedFake, mode: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[accounts.alpha]\nservice_plan_id = "{served.fake.service_plan_id}"\n'
        f'api_token = "{served.fake.api_token}"\nbase_url = "{served.fake.base_url}"\n\n'
        '[accounts.beta]\nservice_plan_id = "plan-b"\napi_token = "tok-b-secret"\n'
        'region = "eu"\n'
    )
    path.chmod(mode)
    return path


def test_a_config_file_others_can_read_is_a_warning_said_once(
    served: ThreadedFake, tmp_path: Path
) -> None:
    path = accounts_file(tmp_path, served, 0o644)
    environ = clean_env(SINCH_CONFIG=str(path))
    result = doctor(environ, "--account", "alpha", "--json")
    assert result.exit_code == 0, result.output
    status, found = checks_of(result)
    assert status == "warning"
    assert found["config_file"]["status"] == "warning"
    assert found["config_file"]["advice"] == f"run: chmod 600 {path}"
    assert result.output.count("readable by other users") == 1  # not the load warning too
    assert "tok-b-secret" not in result.output and served.fake.api_token not in result.output

    data = json.loads(result.stdout)["checks"]
    keys = [(c["subject"], c["detail"].split(":")[2]) for c in data if c["name"] == "limiter_key"]
    assert keys == [("alpha", served.fake.service_plan_id), ("beta", "plan-b")]

    path.chmod(0o600)
    result = doctor(environ, "--account", "alpha", "--json")
    assert result.exit_code == 0 and checks_of(result)[0] == "ok", result.output


def test_an_unknown_account_is_an_error(served: ThreadedFake, tmp_path: Path) -> None:
    path = accounts_file(tmp_path, served, 0o600)
    result = doctor(clean_env(SINCH_CONFIG=str(path)), "--account", "gamma", "--json")
    assert result.exit_code == 1, result.output
    _status, found = checks_of(result)
    assert "unknown account 'gamma'" in found["credentials"]["detail"]


def test_without_credentials_it_checks_the_demo_and_says_so(tmp_path: Path) -> None:
    result = doctor(clean_env(XDG_CONFIG_HOME=str(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    status, found = checks_of(result)
    assert status == "warning"
    assert found["credentials"]["status"] == "warning"
    assert "embedded FakeSinch" in found["credentials"]["detail"]
    assert found["sms_credentials"]["subject"] == "demo"
    assert found["sms_credentials"]["status"] == "ok"


def test_an_unreachable_redis_is_an_error_without_its_password(
    served: ThreadedFake, tmp_path: Path
) -> None:
    url = f"redis://worker:hunter2@127.0.0.1:{free_port()}/0"
    result = doctor(plan_env(served, tmp_path), "--json", "doctor", "--redis", url)
    assert result.exit_code == 1, result.output
    _status, found = checks_of(result)
    assert found["redis"]["status"] == "error"
    assert found["redis"]["subject"].startswith("redis://***@127.0.0.1:")
    assert "hunter2" not in result.output


def test_a_redis_without_persistence_is_a_warning_exit_0(
    served: ThreadedFake, tmp_path: Path, redis_url: str
) -> None:
    result = doctor(plan_env(served, tmp_path), "--json", "doctor", "--redis", redis_url)
    assert result.exit_code == 0, result.output
    status, found = checks_of(result)
    assert status == "warning"
    assert found["redis_persistence"]["status"] == "warning"
    assert found["redis_eviction"]["status"] == "ok"
    assert found["redis_time"]["status"] == "ok"
