"""Input that must never reach the wire, and decoding as tolerant as Sinch's own SDK."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sinch_async import SinchClient, SinchConfigError, SinchDecodeError, TextBatch
from sinch_async._converter import decode, decode_page
from sinch_async.cli import app
from sinch_async.models.batches import Batch


@pytest.mark.parametrize(
    "plan", ["plan#", "../../admin", "plan/x", "plan?x=1", "pl an", "plan\n", "", ".."]
)
def test_12_service_plan_id_must_be_a_plain_id(plan: str) -> None:
    with pytest.raises(SinchConfigError):
        SinchClient(plan, "token", region="eu")


@pytest.mark.parametrize("project", ["proj#", "../admin", "p/q"])
def test_12_project_id_must_be_a_plain_id(project: str) -> None:
    with pytest.raises(SinchConfigError):
        SinchClient(project_id=project, key_id="k", key_secret="s", region="eu")


def test_12_real_ids_are_accepted() -> None:
    SinchClient("7b4d1e0a9f1c4e2ba3c1d2e3f4a5b6c7", "token", region="eu")
    SinchClient(
        project_id="37b62a7b-0177-429a-bb0b-e10f848de0b8", key_id="k", key_secret="s", region="us"
    )


@pytest.mark.parametrize("token", ["tok\nen", "token\r", "to ken", "tok\x00"])
def test_13_a_token_with_control_characters_is_refused(token: str) -> None:
    with pytest.raises(SinchConfigError) as err:
        SinchClient("plan", token, region="eu")
    assert token not in str(err.value)


@pytest.mark.parametrize(
    "url", ["http://[::1", "https://host:99999", "https://u:p@host", "ftp://host", " https://h"]
)
def test_13_a_malformed_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(SinchConfigError):
        SinchClient("plan", "token", base_url=url)


def test_13_cli_since_overflow_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        app,
        ["inbounds", "sync", "--since", "99999999999d", "--out", "/tmp/never.jsonl"],
        env={"SINCH_SERVICE_PLAN_ID": "p", "SINCH_API_TOKEN": "t", "SINCH_REGION": "eu"},
    )
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.com",
        "http://127.evil.com",
        "http://localhost.evil.com",
        "http://0x7f000001.evil.com",
        "http://10.0.0.1",
    ],
)
def test_14_plain_http_only_to_real_loopback(url: str) -> None:
    with pytest.raises(SinchConfigError, match="plain http"):
        SinchClient("plan", "token", base_url=url)
    with pytest.raises(SinchConfigError, match="plain http"):
        SinchClient(project_id="p", key_id="k", key_secret="s", base_url="https://x", auth_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://127.0.0.2", "http://[::1]:9", "http://localhost"]
)
def test_14_loopback_may_use_plain_http(url: str) -> None:
    assert SinchClient("plan", "token", base_url=url).base_url == url


def test_10_a_batch_without_to_decodes_and_a_string_to_is_a_decode_error() -> None:
    batch = decode(b'{"id": "01B", "type": "mt_text", "body": "x"}', Batch)
    assert isinstance(batch, TextBatch) and batch.to == ()
    with pytest.raises(SinchDecodeError, match="expected a list"):
        decode(b'{"id": "01B", "type": "mt_text", "to": "+46701234567"}', Batch)
    page = decode_page(
        b'{"count": 2, "page": 0, "batches": [{"id": "a", "type": "mt_text"},'
        b' {"id": "b", "type": "mt_text", "to": ["+4670"]}]}',
        "batches",
        Batch,
    )
    assert [b.id for b in page.items] == ["a", "b"]
