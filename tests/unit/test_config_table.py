"""The resolver's table (``sinch_async._settings.SETTINGS``): one setting is one client
keyword, one TOML key, one ``SINCH_[<NAME>_]<KEY>`` variable and (for some) one global option
of the command, read the same way by every reader. (The documentation's table of them is
checked by ``tests/package/test_docs_site.py``.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from sinch_async import ClientOptions
from sinch_async._config import redact_url
from sinch_async._settings import (
    ACCOUNT_KEYS,
    SETTINGS,
    SinchSettingError,
    cli_overrides,
    env_options,
    load_accounts,
)
from sinch_async.cli import app
from sinch_async.cli._options import Options

#: One value per setting, as a client keyword takes it.
VALUES: dict[str, Any] = {
    "service_plan_id": "plan1",
    "api_token": "tok1",
    "project_id": "proj1",
    "key_id": "key1",
    "key_secret": "sec1",
    "auth_url": "https://auth.example.test/oauth2/token",
    "numbers_base_url": "https://numbers.example.test",
    "numbers_auth": "basic",
    "region": "eu",
    "base_url": "https://sms.example.test",
    "max_concurrency": 3,
    "messages_per_second": 7.5,
    "pause_scope": "local",
    "auto_client_reference": True,
}


def toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_the_table_covers_every_setting_once() -> None:
    assert set(VALUES) == set(ACCOUNT_KEYS) and len(ACCOUNT_KEYS) == len(SETTINGS)
    assert set(ACCOUNT_KEYS) <= set(ClientOptions.__annotations__)


def test_every_setting_reads_the_same_from_the_file_its_variable_and_the_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[accounts.a]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in VALUES.items()))
    path.chmod(0o600)
    from_file = load_accounts(path, {}).options("a")
    named = {f"SINCH_TEAM_A_{k.upper()}": str(v) for k, v in VALUES.items()}
    from_named = load_accounts(tmp_path / "c.toml", named).options("team-a")
    unnamed = {f"SINCH_{k.upper()}": str(v) for k, v in VALUES.items()}
    from_default = load_accounts(tmp_path / "c.toml", unnamed).options("default")
    assert from_file == from_named == from_default == env_options(unnamed) == VALUES
    assert [s.variable("team-a") for s in SETTINGS] == list(named)


def test_keywords_win_and_none_unsets() -> None:
    env = {f"SINCH_{k.upper()}": str(v) for k, v in VALUES.items()}
    options = env_options(env, {"region": "us", "base_url": None, "max_concurrency": None})
    assert options["region"] == "us" and "base_url" not in options
    assert "max_concurrency" not in options


def test_kinds_are_independent_and_each_complete() -> None:
    plan = {"SINCH_SERVICE_PLAN_ID": "p", "SINCH_API_TOKEN": "t", "SINCH_REGION": "us"}
    project = {"SINCH_PROJECT_ID": "q", "SINCH_KEY_ID": "k", "SINCH_KEY_SECRET": "s"}
    both = env_options({**plan, **project})
    assert {both["service_plan_id"], both["project_id"]} == {"p", "q"}
    # what only project keys use is dropped without them
    extra = {"SINCH_AUTH_URL": VALUES["auth_url"], "SINCH_NUMBERS_BASE_URL": "https://n.test"}
    assert "numbers_base_url" not in env_options({**plan, **extra})
    assert env_options({**project, **extra})["numbers_base_url"] == "https://n.test"
    with pytest.raises(SinchSettingError, match=r"set SINCH_KEY_SECRET$") as caught:
        env_options({**plan, "SINCH_PROJECT_ID": "q", "SINCH_KEY_ID": "k"})
    assert caught.value.key == "key_secret"
    with pytest.raises(SinchSettingError, match=r"SINCH_API_TOKEN \(or SINCH_PROJECT_ID, "):
        env_options({})


def test_cli_options_of_one_kind_set_the_other_aside() -> None:
    assert cli_overrides({"project_id": "q", "region": "eu", "api_token": None}) == {
        "project_id": "q",
        "region": "eu",
        "service_plan_id": None,
        "api_token": None,
    }
    assert cli_overrides({"api_token": "t"}) == {
        "api_token": "t",
        "project_id": None,
        "key_id": None,
        "key_secret": None,
    }
    both = cli_overrides({"api_token": "t", "key_id": "k"})
    assert both == {"api_token": "t", "key_id": "k"}
    assert cli_overrides({"base_url": "x"}) == {"base_url": "x"}  # no credentials: nothing aside


def test_every_cli_setting_is_a_global_option() -> None:
    fields = set(attrs.fields_dict(Options))
    cli = [s for s in SETTINGS if s.cli is not None]
    assert {s.key for s in cli} <= fields
    assert fields - {s.key for s in cli} == {"json", "account"}
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for setting in cli:
        assert str(setting.cli) in result.output, setting.cli
    secret = Options(**{s.key: "hush-hush" for s in cli})  # type: ignore[arg-type]
    assert "hush-hush" not in repr(secret)


def test_setting_errors_carry_account_key_and_source(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[accounts.a]\nmax_concurrency = 0\n")
    path.chmod(0o600)
    with pytest.raises(SinchSettingError) as caught:
        load_accounts(path, {})
    error = caught.value
    assert (error.account, error.key, error.path, error.source) == (
        "a",
        "max_concurrency",
        path,
        str(path),
    )
    with pytest.raises(SinchSettingError) as from_env:
        env_options({"SINCH_MESSAGES_PER_SECOND": "fast"})
    assert (from_env.value.account, from_env.value.key, from_env.value.source) == (
        None,
        "messages_per_second",
        "$SINCH_MESSAGES_PER_SECOND",
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@host.test/x", "https://***@host.test/x"),
        ("https://pa@ss:wo@rd@host.test:8080", "https://***@host.test:8080"),
        ("https://host.test/x?token=abc#frag", "https://host.test/x?***"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("user:pass@host.test", "***@host.test"),
        ("https://host.test/a@b", "https://host.test/a@b"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_an_account_name_whose_variables_are_the_defaults_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[accounts.numbers]\nbase_url = "https://sms.example.test"\n')
    path.chmod(0o600)
    with pytest.raises(SinchSettingError, match=r"'numbers'.*SINCH_NUMBERS_BASE_URL"):
        load_accounts(path, {})
    no_file = load_accounts(None, {"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    with pytest.raises(SinchSettingError, match="numbers_base_url"):
        no_file.options("numbers", {"service_plan_id": "p", "api_token": "t"})


def test_a_flag_reads_true_false_and_their_spellings(tmp_path: Path) -> None:
    plan = {"SINCH_SERVICE_PLAN_ID": "p", "SINCH_API_TOKEN": "t", "SINCH_REGION": "us"}
    for text, flag in [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False)]:
        options = env_options({**plan, "SINCH_AUTO_CLIENT_REFERENCE": text})
        assert options["auto_client_reference"] is flag
    assert "auto_client_reference" not in env_options({**plan, "SINCH_AUTO_CLIENT_REFERENCE": ""})
    with pytest.raises(SinchSettingError, match="must be true or false") as caught:
        env_options({**plan, "SINCH_AUTO_CLIENT_REFERENCE": "maybe"})
    assert (caught.value.key, caught.value.source) == (
        "auto_client_reference",
        "$SINCH_AUTO_CLIENT_REFERENCE",
    )
    path = tmp_path / "c.toml"
    path.write_text('[accounts.a]\nauto_client_reference = "yes please"\n')
    path.chmod(0o600)
    with pytest.raises(SinchSettingError, match="auto_client_reference"):
        load_accounts(path, {})
