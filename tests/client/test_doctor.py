"""``run_checks`` (issue 17, section 6) from Python against FakeSinch: the credentials (one
cheap read through the client's engine), the clock (the ``Date`` header), the accounts
file's permissions and each account's limiter key. The Redis checks are in
``tests/redis/test_doctor_redis.py``, the command in ``tests/cli/test_doctor.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sinch_async import Check, RetryPolicy, SinchClient, run_checks
from sinch_async._doctor import CLOCK_TOLERANCE, worst_status
from sinch_async._settings import AccountsConfig, load_accounts
from sinch_async.testing import FakeSinch
from tests.support.net import free_port

#: No accounts file: only the client is checked.
NO_FILE = AccountsConfig(None, {}, {})


def by_name(checks: list[Check]) -> dict[str, Check]:
    found = {c.name: c for c in checks}
    assert len(found) == len(checks), checks
    return found


def ahead(seconds: float) -> Callable[[], datetime]:
    """A FakeSinch clock ``seconds`` ahead of this host's (behind when negative)."""
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


async def test_good_credentials_are_ok_with_one_read(fake: FakeSinch) -> None:
    async with fake.client() as client:
        checks = await run_checks(client, config=NO_FILE)
        assert not client.closed  # the caller's client stays open
    found = by_name(checks)
    assert list(found) == ["config_file", "sms_credentials", "clock", "limiter_key"]
    assert worst_status(checks) == "ok"
    assert found["sms_credentials"].detail.endswith(f"GET {fake.url('/batches')} answered")
    assert found["limiter_key"].detail.startswith("sinch-async:mps:test-plan:")
    assert [(r.method, r.path.split("?")[0]) for r in fake.requests] == [
        ("GET", "/xms/v1/test-plan/batches")
    ]
    assert fake.batches == {}  # nothing sent


async def test_a_bad_token_is_an_error_and_the_clock_still_read(fake: FakeSinch) -> None:
    async with fake.client(api_token="wrong-token") as client:
        checks = await run_checks(client, config=NO_FILE)
    found = by_name(checks)
    assert found["sms_credentials"].status == "error"
    assert "refused the credentials (HTTP 401)" in found["sms_credentials"].detail
    assert found["sms_credentials"].advice is not None
    assert found["clock"].status == "ok"  # the 401 carried a Date too
    assert worst_status(checks) == "error"
    assert "wrong-token" not in repr(checks)


async def test_an_unreachable_api_is_an_error_and_the_clock_unknown() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    async with SinchClient("plan-1", "tok", base_url=base, retry=RetryPolicy.disabled()) as c:
        found = by_name(await run_checks(c, config=NO_FILE))
    assert found["sms_credentials"].status == "error"
    assert found["sms_credentials"].detail.startswith("cannot reach Sinch")
    assert found["clock"].status == "warning"
    assert found["clock"].detail.startswith("not checked")


@pytest.mark.fake_sinch(now=ahead(10))
async def test_a_host_clock_10_s_behind_sinch_is_a_warning(fake: FakeSinch) -> None:
    async with fake.client() as client:
        found = by_name(await run_checks(client, config=NO_FILE))
    clock = found["clock"]
    assert clock.status == "warning"
    assert clock.detail.startswith("this host's clock is about 10 s behind Sinch's")
    assert clock.advice is not None and "NTP" in clock.advice
    assert found["sms_credentials"].status == "ok"


@pytest.mark.fake_sinch(now=ahead(-10))
async def test_a_host_clock_10_s_ahead_of_sinch_is_a_warning(fake: FakeSinch) -> None:
    async with fake.client() as client:
        found = by_name(await run_checks(client, config=NO_FILE))
    assert found["clock"].status == "warning"
    assert "10 s ahead of Sinch's" in found["clock"].detail


@pytest.mark.fake_sinch(now=ahead(CLOCK_TOLERANCE / 4))
async def test_a_clock_within_the_tolerance_is_ok(fake: FakeSinch) -> None:
    async with fake.client() as client:
        found = by_name(await run_checks(client, config=NO_FILE))
    assert found["clock"].status == "ok"


async def test_project_keys_check_sms_and_numbers(fake: FakeSinch) -> None:
    async with fake.project_client() as client:
        found = by_name(await run_checks(client, account="proj", config=NO_FILE))
    assert found["sms_credentials"].status == "ok"
    assert found["numbers_credentials"].status == "ok"
    assert found["numbers_credentials"].subject == "proj"
    assert found["limiter_key"].detail.startswith("sinch-async:mps:test-project:")

    async with fake.project_client(key_secret="wrong-secret") as client:
        found = by_name(await run_checks(client, config=NO_FILE))
    assert found["numbers_credentials"].status == "error"
    assert found["sms_credentials"].status == "error"
    assert "wrong-secret" not in repr(found)


async def test_a_numbers_only_client_has_no_sms_check_nor_key(fake: FakeSinch) -> None:
    async with fake.project_client(base_url=None) as client:
        found = by_name(await run_checks(client, config=NO_FILE))
    assert "sms_credentials" not in found
    assert found["numbers_credentials"].status == "ok"
    assert found["limiter_key"].detail.startswith("no SMS")


async def test_a_client_that_cannot_be_built_is_a_credentials_error() -> None:
    found = by_name(await run_checks(lambda: SinchClient.from_env({}), config=NO_FILE))
    assert found["credentials"].status == "error"
    assert "missing credentials" in found["credentials"].detail
    assert "clock" not in found


def write_config(path: Path, fake: FakeSinch, mode: int, *, token: bool = True) -> Path:
    secret = f'api_token = "{fake.api_token}"\n' if token else ""
    path.write_text(
        f'[accounts.alpha]\nservice_plan_id = "{fake.service_plan_id}"\n{secret}'
        f'base_url = "{fake.base_url}"\n\n'
        '[accounts.proj]\nproject_id = "p1"\nkey_id = "k1"\nkey_secret = "s1"\nregion = "eu"\n\n'
        '[accounts.numbers-only]\nproject_id = "p2"\nkey_id = "k2"\nkey_secret = "s2"\n\n'
        '[accounts.broken]\nservice_plan_id = "plan-x"\n'
    )
    path.chmod(mode)
    return path


async def test_an_account_from_the_file_and_every_accounts_limiter_key(
    fake: FakeSinch, tmp_path: Path
) -> None:
    path = write_config(tmp_path / "config.toml", fake, 0o600)
    checks = await run_checks(account="alpha", config=path)
    assert [(c.name, c.subject, c.status) for c in checks] == [
        ("config_file", str(path), "ok"),
        ("sms_credentials", "alpha", "ok"),
        ("clock", "alpha", "ok"),
        ("limiter_key", "alpha", "ok"),
        ("limiter_key", "proj", "ok"),
        ("limiter_key", "numbers-only", "ok"),
        ("limiter_key", "broken", "warning"),
    ]
    keys = [c.detail.split(":")[:3] for c in checks[3:5]]
    assert keys == [["sinch-async", "mps", "test-plan"], ["sinch-async", "mps", "p1"]]
    assert checks[5].detail.startswith("no SMS")
    assert "missing credentials" in checks[6].detail
    assert checks[0].detail == "holds 3 secret(s), readable only by its owner"


async def test_a_file_with_secrets_others_can_read_is_a_warning_in_the_loads_words(
    fake: FakeSinch, tmp_path: Path
) -> None:
    path = write_config(tmp_path / "config.toml", fake, 0o644)
    with pytest.warns(UserWarning) as loaded:
        load_accounts(path)
    checks = await run_checks(account="alpha", config=path)  # its own load: no warning
    config_file = by_name(checks[:1])["config_file"]
    assert config_file.status == "warning"
    assert f"{config_file.detail}; {config_file.advice}" == str(loaded[0].message)
    assert config_file.advice == f"run: chmod 600 {path}"
    assert worst_status(checks) == "warning"


async def test_a_readable_file_without_secrets_is_ok(fake: FakeSinch, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[accounts.alpha]\nservice_plan_id = "plan-1"\nbase_url = "{fake.base_url}"\n')
    path.chmod(0o644)
    async with fake.client() as client:
        checks = await run_checks(client, config=path)
    assert checks[0].status == "ok"
    assert checks[0].detail == "readable by other users, but it holds no secret"


async def test_a_broken_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[accounts.alpha\n")
    checks = await run_checks(account="alpha", config=path)
    assert [(c.name, c.status) for c in checks] == [
        ("config_file", "error"),
        ("credentials", "error"),
    ]
    assert "not valid TOML" in checks[0].detail
