"""Project (OAuth2) authentication against FakeSinch's token endpoint, over loopback."""

from __future__ import annotations

import asyncio

import pytest

from sinch_async import (
    AuthenticationError,
    RateLimitError,
    SinchClient,
    SinchConfigError,
    TokenEndpointError,
)
from sinch_async._auth import ProjectAuth
from sinch_async.testing import FakeSinch, Fault


def _auth(client: SinchClient) -> ProjectAuth:
    auth = client._sms.auth  # SMS through the project keys (no service plan)
    assert isinstance(auth, ProjectAuth)
    return auth


async def _one_batch(client: SinchClient) -> str:
    batch = await client.batches.send_text(to=["+46701234567"], body="x")
    return batch.id


async def test_first_burst_makes_one_token_request(fake: FakeSinch) -> None:
    async with fake.project_client(max_connections=100) as client:
        batch_id = await _one_batch(client)
        assert fake.token_requests == 1
        got = await asyncio.gather(*(client.batches.get(batch_id) for _ in range(1000)))
    assert len(got) == 1000 and fake.token_requests == 1


async def test_cold_burst_of_1000_makes_one_token_request(fake: FakeSinch) -> None:
    batch_id = next(iter(fake.seed_batches(1)))["id"]
    async with fake.project_client() as client:
        got = await asyncio.gather(*(client.batches.get(batch_id) for _ in range(1000)))
    assert len(got) == 1000
    assert fake.token_requests == 1


async def test_token_about_to_expire_is_refreshed_once(fake: FakeSinch) -> None:
    batch_id = fake.seed_batches(1)[0]["id"]
    async with fake.project_client() as client:
        await client.batches.get(batch_id)
        auth = _auth(client)
        auth._refresh_at = 0.0  # the client's clock says the token is inside its refresh margin
        got = await asyncio.gather(*(client.batches.get(batch_id) for _ in range(1000)))
    assert len(got) == 1000
    assert fake.token_requests == 2  # the first token, then exactly one refresh


async def test_server_side_expiry_refreshes_once_and_replays(fake: FakeSinch) -> None:
    batch_id = fake.seed_batches(1)[0]["id"]
    async with fake.project_client() as client:
        await client.batches.get(batch_id)
        fake.expire_tokens()  # Sinch now answers 401 ... "expired" to the cached token
        got = await asyncio.gather(*(client.batches.get(batch_id) for _ in range(1000)))
    assert len(got) == 1000
    assert fake.token_requests == 2


async def test_send_is_replayed_after_expired_token_without_duplicating(fake: FakeSinch) -> None:
    async with fake.project_client() as client:
        await _one_batch(client)
        fake.expire_tokens()
        await _one_batch(client)
    assert len(fake.batches) == 2  # the 401 was not processed, the replay stored one batch


async def test_token_endpoint_429_is_retried(fake: FakeSinch) -> None:
    fake.add_fault(
        Fault(path="/oauth2/token", status=429, headers={"Retry-After": "0.05"}, times=2)
    )
    async with fake.project_client() as client:
        await _one_batch(client)
    assert fake.token_requests == 3


async def test_token_endpoint_429_gives_up(fake: FakeSinch) -> None:
    fake.add_fault(Fault(path="/oauth2/token", status=429, headers={"Retry-After": "0"}))
    async with fake.project_client() as client:
        with pytest.raises(TokenEndpointError) as err:  # the send itself never left
            await _one_batch(client)
    assert isinstance(err.value.cause, RateLimitError)
    assert err.value.may_have_reached_sinch is False
    assert fake.token_requests == 4


async def test_wrong_key_secret_is_authentication_error_without_secret(fake: FakeSinch) -> None:
    async with fake.project_client(key_secret="not-the-secret-123") as client:
        with pytest.raises(AuthenticationError) as err:
            await _one_batch(client)
        assert "not-the-secret-123" not in str(err.value)
        assert "not-the-secret-123" not in repr(client)


def test_project_auth_config() -> None:
    client = SinchClient(project_id="p", key_id="k", key_secret="s", region="eu")
    assert client.base_url == "https://zt.eu.sms.api.sinch.com"
    for region in ("au", "br", "ca"):
        with pytest.raises(SinchConfigError, match="us and eu"):
            SinchClient(project_id="p", key_id="k", key_secret="s", region=region)
    both = SinchClient("plan", "token", project_id="p", key_id="k", key_secret="s", region="au")
    assert both.base_url == "https://au.sms.api.sinch.com"  # SMS: the plan (any region)
    env = {"SINCH_PROJECT_ID": "p", "SINCH_KEY_ID": "k", "SINCH_KEY_SECRET": "s"}
    assert SinchClient.from_env({**env, "SINCH_REGION": "us"}).base_url == (
        "https://zt.us.sms.api.sinch.com"
    )
    with pytest.raises(SinchConfigError, match="SINCH_KEY_SECRET"):
        SinchClient.from_env({"SINCH_PROJECT_ID": "p", "SINCH_KEY_ID": "k", "SINCH_REGION": "us"})
