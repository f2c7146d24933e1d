"""``sinch-async numbers ...`` against a FakeSinch in a thread, with project credentials
in the environment (the Numbers API does not accept a service plan)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sinch_async import SinchClient
from sinch_async.cli import app
from tests.support.cli import ThreadedFake, clean_env, project_env

runner = CliRunner()


def numbers_env(server: ThreadedFake) -> dict[str, str | None]:
    env = project_env(server)
    env["SINCH_NUMBERS_BASE_URL"] = server.fake.base_url
    return env


def invoke(server: ThreadedFake, *args: str) -> object:
    return runner.invoke(app, list(args), env=numbers_env(server))


def numbers_requests(server: ThreadedFake) -> list[tuple[str, str]]:
    prefix = f"/v1/projects/{server.fake.project_id}/"
    return [(r.method, r.path) for r in server.fake.requests if r.path.startswith(prefix)]


def json_keys(data: object) -> set[str]:
    """Every object key in a JSON document, at any depth."""
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in json_keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in json_keys(v)}
    return set()


def test_list_filters_and_max(served: ThreadedFake) -> None:
    us = served.call(served.fake.numbers.seed_active, 5)
    served.call(
        served.fake.numbers.seed_active, 2, start=447700900000, regionCode="GB", type="MOBILE"
    )
    result = runner.invoke(app, ["--json", "numbers", "list"], env=numbers_env(served))
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert len(listed) == 7 and {n["phone_number"] for n in listed} >= set(us)
    assert listed[0]["money"] == {"currency_code": "USD", "amount": "2.00"}
    assert json_keys(listed) and all(k == k.lower() for k in json_keys(listed))  # one key style

    args = ["--json", "numbers", "list", "--region-code", "GB", "--type", "MOBILE"]
    gb = runner.invoke(
        app, [*args, "--capability", "SMS", "--capability", "VOICE"], env=numbers_env(served)
    )
    assert gb.exit_code == 0, gb.output
    assert {n["region_code"] for n in json.loads(gb.stdout)} == {"GB"}
    assert len(json.loads(gb.stdout)) == 2
    wire = [r for r in served.fake.requests if r.path.endswith("/activeNumbers")][-1]
    assert ("capability", "SMS") in wire.query and ("capability", "VOICE") in wire.query
    assert wire.query_value("regionCode") == "GB" and wire.query_value("type") == "MOBILE"

    limited = runner.invoke(
        app, ["--json", "numbers", "list", "--max", "3"], env=numbers_env(served)
    )
    assert limited.exit_code == 0, limited.output
    assert len(json.loads(limited.stdout)) == 3

    table = runner.invoke(app, ["numbers", "list"], env=numbers_env(served))
    assert table.exit_code == 0, table.output
    assert "Active numbers" in table.stdout and us[0] in table.stdout
    assert served.fake.token_requests >= 1


def test_get_and_a_missing_number(served: ThreadedFake) -> None:
    (number,) = served.call(served.fake.numbers.seed_active, 1)
    got = runner.invoke(app, ["--json", "numbers", "get", number], env=numbers_env(served))
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["phone_number"] == number
    table = runner.invoke(app, ["numbers", "get", number], env=numbers_env(served))
    assert table.exit_code == 0 and "region_code" in table.stdout
    missing = runner.invoke(app, ["numbers", "get", "+19999999999"], env=numbers_env(served))
    assert missing.exit_code == 1 and "404" in missing.output
    assert "Traceback" not in missing.output
    bad = runner.invoke(app, ["numbers", "get", "12345-CALL"], env=numbers_env(served))
    assert bad.exit_code == 2 and "Invalid input" in bad.output


def test_search(served: ThreadedFake) -> None:
    available = served.call(served.fake.numbers.seed_available, 4)
    served.call(served.fake.numbers.seed_available, 2, start=12065559000, capability=["VOICE"])
    args = ["--json", "numbers", "search", "--region-code", "US", "--type", "LOCAL"]
    found = runner.invoke(
        app, [*args, "--capability", "SMS", "--size", "3"], env=numbers_env(served)
    )
    assert found.exit_code == 0, found.output
    numbers = json.loads(found.stdout)
    assert [n["phone_number"] for n in numbers] == available[:3]
    assert numbers[0]["monthly_price"] == {"currency_code": "USD", "amount": "2.00"}
    wire = [r for r in served.fake.requests if r.path.endswith("/availableNumbers")][-1]
    assert wire.query_value("capabilities") == "SMS" and wire.query_value("size") == "3"
    table = runner.invoke(app, args[1:], env=numbers_env(served))
    assert table.exit_code == 0, table.output
    assert "Available numbers" in table.stdout and available[0] in table.stdout
    usage = runner.invoke(
        app, ["numbers", "search", "--region-code", "US"], env=numbers_env(served)
    )
    assert usage.exit_code == 2  # --type is required


def test_rent_then_release(served: ThreadedFake) -> None:
    (number,) = served.call(served.fake.numbers.seed_available, 1)
    rented = runner.invoke(
        app,
        ["--json", "numbers", "rent", number, "--sms-service-plan-id", "plan-1"],
        env=numbers_env(served),
    )
    assert rented.exit_code == 0, rented.output
    record = json.loads(rented.stdout)
    assert record["phone_number"] == number
    assert record["sms_configuration"]["scheduled_provisioning"]["service_plan_id"] == "plan-1"
    assert number in served.fake.numbers.active
    rent_call = [r for r in served.fake.requests if r.path.endswith(":rent")][-1]
    assert json.loads(rent_call.body) == {"smsConfiguration": {"servicePlanId": "plan-1"}}
    again = runner.invoke(app, ["numbers", "rent", number], env=numbers_env(served))
    assert again.exit_code == 1 and "404" in again.output

    released = runner.invoke(app, ["numbers", "release", number], env=numbers_env(served))
    assert released.exit_code == 0, released.output
    assert f"Released {number}" in released.stdout
    assert number not in served.fake.numbers.active
    twice = runner.invoke(app, ["--json", "numbers", "release", number], env=numbers_env(served))
    assert twice.exit_code == 1 and "404" in twice.output
    assert ("POST", f"/v1/projects/{served.fake.project_id}/activeNumbers/{number}:release") in (
        numbers_requests(served)
    )


def test_numbers_base_url_option_wins_over_the_environment(served: ThreadedFake) -> None:
    served.call(served.fake.numbers.seed_active, 2)
    env = numbers_env(served)
    env["SINCH_NUMBERS_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens there
    args = ["--numbers-base-url", served.fake.base_url, "--json", "numbers", "list"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2


def test_service_plan_environment_is_a_config_error(served: ThreadedFake) -> None:
    fake = served.fake
    env = clean_env(
        SINCH_SERVICE_PLAN_ID=fake.service_plan_id,
        SINCH_API_TOKEN=fake.api_token,
        SINCH_BASE_URL=fake.base_url,
        SINCH_NUMBERS_BASE_URL=fake.base_url,
    )
    result = runner.invoke(app, ["numbers", "list"], env=env)
    assert result.exit_code == 2, result.output
    assert "Configuration error" in result.output
    assert "project credentials" in result.output and "Traceback" not in result.output
    assert not numbers_requests(served)


def test_from_env_reads_the_numbers_base_url_with_project_credentials_only() -> None:
    project = {
        "SINCH_PROJECT_ID": "p",
        "SINCH_KEY_ID": "k",
        "SINCH_KEY_SECRET": "s",
        "SINCH_REGION": "us",
        "SINCH_NUMBERS_BASE_URL": "https://numbers.example.test/",
    }
    client = SinchClient.from_env(project)
    assert client._numbers.base == "https://numbers.example.test/v1/projects/p"
    plan = {"SINCH_SERVICE_PLAN_ID": "plan", "SINCH_API_TOKEN": "t", "SINCH_REGION": "us"}
    plan["SINCH_NUMBERS_BASE_URL"] = "https://numbers.example.test"
    assert SinchClient.from_env(plan)._numbers.unavailable  # no project keys: no Numbers host
    override = SinchClient.from_env(project, numbers_base_url="https://other.example.test")
    assert override._numbers.base.startswith("https://other.example.test/v1/")


# --- issue 18: update, check, rent-any, regions, callback-config, all types, Basic ---------

SECRET = "0123456789abcdef-0123456789ABCDEF"


def test_update_with_voice_and_wait(served: ThreadedFake) -> None:
    (number,) = served.call(served.fake.numbers.seed_active, 1)
    args = ["--json", "numbers", "update", number, "--display-name", "Support"]
    result = invoke(served, *args, "--voice-trunk-id", "trunk-1", "--sms-service-plan-id", "p1")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["display_name"] == "Support"
    scheduled = record["voice_configuration"]["scheduled_voice_provisioning"]
    assert scheduled["type"] == "EST" and scheduled["trunk_id"] == "trunk-1"
    patch = [r for r in served.fake.requests if r.method == "PATCH"][-1]
    assert patch.json == {
        "displayName": "Support",
        "smsConfiguration": {"servicePlanId": "p1"},
        "voiceConfiguration": {"type": "EST", "trunkId": "trunk-1"},
    }
    waited = invoke(served, "--json", "numbers", "update", number, "--voice-app-id", "a", "--wait")
    assert waited.exit_code == 0, waited.output
    done = json.loads(waited.stdout)["voice_configuration"]
    assert done["type"] == "RTC" and done["app_id"] == "a"
    assert done.get("scheduled_voice_provisioning") is None  # done: no longer shown
    both = invoke(
        served, "numbers", "update", number, "--voice-app-id", "a", "--voice-trunk-id", "t"
    )
    assert both.exit_code == 2 and "--voice-trunk-id" in both.output
    nothing = invoke(served, "numbers", "update", number)
    assert nothing.exit_code == 2 and "nothing to update" in nothing.output


def test_wait_reports_a_failed_provisioning(served: ThreadedFake) -> None:
    (number,) = served.call(served.fake.numbers.seed_available, 1)
    served.fake.numbers.provisioning_failures["bad-plan"] = ["SMS_PROVISIONING_FAILED"]
    args = ["numbers", "rent", number, "--sms-service-plan-id", "bad-plan", "--wait"]
    result = invoke(served, *args)
    assert result.exit_code == 1, result.output
    assert "SMS_PROVISIONING_FAILED" in result.output and "Traceback" not in result.output


def test_check_and_rent_any(served: ThreadedFake) -> None:
    available = served.call(served.fake.numbers.seed_available, 3)
    checked = invoke(served, "--json", "numbers", "check", available[0])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["monthly_price"]["amount"] == "2.00"
    missing = invoke(served, "numbers", "check", "+19999999999")
    assert missing.exit_code == 1 and "404" in missing.output
    args = ["--json", "numbers", "rent-any", "--region-code", "us", "--type", "local"]
    rented = invoke(
        served, *args, "--capability", "sms", "--pattern", "2", "--search-pattern", "end"
    )
    assert rented.exit_code == 0, rented.output
    assert json.loads(rented.stdout)["phone_number"] == available[2]
    call = [r for r in served.fake.requests if r.path.endswith(":rentAny")][-1]
    assert call.json == {
        "regionCode": "US",
        "type": "LOCAL",
        "capabilities": ["SMS"],
        "numberPattern": {"pattern": "2", "searchPattern": "END"},
    }
    none_left = invoke(served, *args, "--pattern", "2", "--search-pattern", "END")
    assert none_left.exit_code == 1 and "404" in none_left.output


def test_regions(served: ThreadedFake) -> None:
    served.call(served.fake.numbers.seed_available, 2)
    served.call(served.fake.numbers.seed_available, 1, start=447700900100, regionCode="GB",
                type="MOBILE")  # fmt: skip
    result = invoke(served, "--json", "numbers", "regions")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"region_code": "GB", "region_name": "United Kingdom", "types": ["MOBILE"]},
        {"region_code": "US", "region_name": "United States", "types": ["LOCAL"]},
    ]
    mobile = invoke(served, "--json", "numbers", "regions", "--type", "mobile")
    assert [r["region_code"] for r in json.loads(mobile.stdout)] == ["GB"]
    table = invoke(served, "numbers", "regions")
    assert "Available regions" in table.stdout and "United Kingdom" in table.stdout


def test_callback_config_get_and_set(served: ThreadedFake) -> None:
    result = invoke(served, "numbers", "callback-config", "set", "--hmac-secret", SECRET)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and "********" in result.output
    assert served.fake.numbers.hmac_secret == SECRET
    masked = invoke(served, "--json", "numbers", "callback-config", "get")
    assert json.loads(masked.stdout) == {
        "project_id": served.fake.project_id,
        "hmac_secret": "********",
    }
    shown = invoke(served, "--json", "numbers", "callback-config", "get", "--show-secret")
    assert json.loads(shown.stdout)["hmac_secret"] == SECRET
    prompted = runner.invoke(
        app,
        ["numbers", "callback-config", "set"],
        env=numbers_env(served),
        input="x" * 40 + "\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert served.fake.numbers.hmac_secret == "x" * 40 and "x" * 40 not in prompted.output
    bad = invoke(served, "numbers", "callback-config", "set", "--hmac-secret", "too-short")
    assert bad.exit_code == 2 and "too-short" not in bad.output


def test_list_all_types_and_order(served: ThreadedFake) -> None:
    served.fake.numbers.untyped_list_type = "MOBILE"
    local = served.call(served.fake.numbers.seed_active, 2)
    mobile = served.call(served.fake.numbers.seed_active, 1, start=447700900000, type="MOBILE")
    untyped = invoke(served, "--json", "numbers", "list")
    assert [n["phone_number"] for n in json.loads(untyped.stdout)] == mobile
    every = invoke(served, "--json", "numbers", "list", "--all-types", "--order-by", "phone_number")
    assert every.exit_code == 0, every.output
    assert [n["phone_number"] for n in json.loads(every.stdout)] == mobile + local
    orders = {r.query_value("orderBy") for r in served.fake.requests if "activeNumbers" in r.path}
    assert "phoneNumber" in orders
    both = invoke(served, "numbers", "list", "--all-types", "--type", "LOCAL")
    assert both.exit_code == 2


def test_basic_auth_from_the_environment(served: ThreadedFake) -> None:
    served.call(served.fake.numbers.seed_active, 1)
    env = numbers_env(served)
    env["SINCH_NUMBERS_AUTH"] = "basic"
    result = runner.invoke(app, ["--json", "numbers", "list"], env=env)
    assert result.exit_code == 0, result.output
    listed = [r for r in served.fake.requests if r.path.endswith("/activeNumbers")][-1]
    assert listed.headers["Authorization"].startswith("Basic ")
    assert served.fake.token_requests == 0
    env["SINCH_NUMBERS_AUTH"] = "kerberos"
    bad = runner.invoke(app, ["numbers", "list"], env=env)
    assert bad.exit_code == 2 and "SINCH_NUMBERS_AUTH" in bad.output
