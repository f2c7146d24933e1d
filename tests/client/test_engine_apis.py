"""One engine for every API (issue 16, points 1, 7 and 11): SMS, Numbers and the OAuth2
token endpoint on one engine, each with its own credentials and its own budget.

* a client (and an account) holding a service plan and project keys together sends SMS with
  the plan's bearer token and lists numbers with the project's OAuth2 token;
* a Numbers-only client (project keys, no region, no base_url) works for ``client.numbers``
  and its SMS calls raise a clear :class:`SinchConfigError`;
* the token request is retried by its own loop, once per token, never inside each API
  attempt: a failing token endpoint does not multiply its attempts;
* a Numbers 429 pauses Numbers only, never SMS (in-process, and with a Redis limiter);
* headers that could not go out (CR/LF in ``user_agent``, a default header, or an access
  token the token endpoint handed out) are typed errors, the first two at construction.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from sinch_async import (
    AuthenticationError,
    RateLimitError,
    RetryPolicy,
    SinchClient,
    SinchConfigError,
    TokenEndpointError,
)
from sinch_async.testing import FakeClock, FakeSinch, Fault, RecordedRequest

TOKEN_PATH = "/oauth2/token"
NO_RETRY = RetryPolicy.disabled()


def _both(fake: FakeSinch, **kwargs: Any) -> SinchClient:
    """A client with the fake's service plan (SMS) and its project keys (Numbers)."""
    return fake.client(
        project_id=fake.project_id,
        key_id=fake.key_id,
        key_secret=fake.key_secret,
        auth_url=fake.auth_url,
        numbers_base_url=fake.base_url,
        **kwargs,
    )


def _numbers_only(fake: FakeSinch, **kwargs: Any) -> SinchClient:
    return SinchClient(
        project_id=fake.project_id,
        key_id=fake.key_id,
        key_secret=fake.key_secret,
        auth_url=fake.auth_url,
        numbers_base_url=fake.base_url,
        **kwargs,
    )


def _sms_posts(fake: FakeSinch) -> list[RecordedRequest]:
    prefix = f"/xms/v1/{fake.service_plan_id}/"
    return [r for r in fake.requests if r.method == "POST" and r.path.startswith(prefix)]


def _numbers_requests(fake: FakeSinch) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith(f"/v1/projects/{fake.project_id}/")]


def _token_requests(fake: FakeSinch) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == TOKEN_PATH]


def _assert_plan_for_sms_project_for_numbers(fake: FakeSinch) -> None:
    (post,) = _sms_posts(fake)
    assert post.headers["Authorization"] == f"Bearer {fake.api_token}"
    numbers = _numbers_requests(fake)
    assert numbers, "the numbers were listed"
    for request in numbers:
        scheme, _, token = request.headers["Authorization"].partition(" ")
        assert scheme == "Bearer" and token and token != fake.api_token  # an OAuth2 token
    (token_request,) = _token_requests(fake)  # one token, for Numbers only
    assert token_request.headers["Authorization"].startswith("Basic ")


async def test_client_with_both_kinds_uses_the_plan_for_sms_and_the_project_for_numbers() -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(3)
        async with _both(fake) as client:
            batch = await client.batches.send_text(to=["+46701234567"], body="both")
            numbers = [n async for n in client.numbers.list()]
        assert batch.id in fake.batches and len(numbers) == 3
        _assert_plan_for_sms_project_for_numbers(fake)


async def test_account_with_both_kinds_uses_the_plan_for_sms_and_the_project_for_numbers(
    tmp_path: Path,
) -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(2)
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[accounts.both]
service_plan_id = "{fake.service_plan_id}"
api_token = "{fake.api_token}"
base_url = "{fake.base_url}"
project_id = "{fake.project_id}"
key_id = "{fake.key_id}"
key_secret = "{fake.key_secret}"
auth_url = "{fake.auth_url}"
numbers_base_url = "{fake.base_url}"
"""
        )
        config.chmod(0o600)
        async with SinchClient.from_account("both", config_path=config, environ={}) as client:
            await client.batches.send_text(to=["+46701234567"], body="both")
            assert len([n async for n in client.numbers.list()]) == 2
        _assert_plan_for_sms_project_for_numbers(fake)


async def test_numbers_only_client_needs_no_region() -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        async with _numbers_only(fake) as client:
            got = await client.numbers.get(number)
            assert got.phone_number == number
            with pytest.raises(SinchConfigError, match=r"no SMS configuration.*region"):
                await client.batches.send_text(to=["+46701234567"], body="x")
            with pytest.raises(SinchConfigError, match="region"):
                await client.batches.get("01ANY")
        assert not [r for r in fake.requests if r.path.startswith("/xms/")]
        assert fake.token_requests == 1


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([(500, None)] * 40, id="always-500"),
        pytest.param([(429, "0")] * 40, id="always-429"),
        pytest.param([(429, "0"), (429, "0"), (429, "0"), (503, None)] * 10, id="3x429-then-503"),
        pytest.param([(503, None)] * 2, id="503-twice-then-ok"),
    ],
)
async def test_a_failing_token_endpoint_is_not_retried_inside_each_api_attempt(
    answers: list[tuple[int, str | None]],
) -> None:
    async with FakeSinch() as fake:
        for status, retry_after in answers:
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            fake.add_fault(Fault(path=TOKEN_PATH, status=status, headers=headers, times=1))
        policy = RetryPolicy(base_delay=0.001, max_delay=0.005)
        async with _numbers_only(fake, retry=policy) as client:
            if len(answers) < policy.max_attempts:  # the token loop gets past them
                await client.numbers.regions()
                ok = 1
            else:
                with pytest.raises(TokenEndpointError) as err:
                    await client.numbers.regions()
                assert err.value.may_have_reached_sinch is False
                ok = 0
        tokens = len(_token_requests(fake))
        api = len(_numbers_requests(fake))
    # one loop of at most max_attempts token requests, whatever the API's own retries
    assert tokens == min(len(answers) + 1, policy.max_attempts)
    assert api == ok


async def test_token_waiters_share_one_failed_fetch() -> None:
    """Twenty calls waiting for the same token see the one fetch fail: the token endpoint
    is not asked twenty times over."""
    async with FakeSinch() as fake:
        fake.add_fault(Fault(path=TOKEN_PATH, status=503))
        policy = RetryPolicy(base_delay=0.001, max_delay=0.005)
        async with _numbers_only(fake, retry=policy) as client:
            results = await asyncio.gather(
                *(client.numbers.regions() for _ in range(20)), return_exceptions=True
            )
        assert all(isinstance(r, TokenEndpointError) for r in results)
        assert fake.token_requests == policy.max_attempts


async def test_a_numbers_429_does_not_pause_sms() -> None:
    async with FakeSinch() as fake:
        fake.add_fault(
            Fault(
                path=f"/v1/projects/{fake.project_id}/availableRegions",
                status=429,
                headers={"Retry-After": "30"},
            )
        )
        async with _both(fake, retry=NO_RETRY) as client:
            with pytest.raises(RateLimitError):
                await client.numbers.regions()
            assert client.limits.paused_for == 0  # the SMS budget
            started = time.monotonic()
            await asyncio.wait_for(
                client.batches.send_text(to=["+46701234567"], body="not paused"), 5
            )
            assert time.monotonic() - started < 5


async def test_a_numbers_429_pauses_numbers_on_the_clients_clock(clock: FakeClock) -> None:
    async with FakeSinch() as fake:
        fake.add_fault(
            Fault(
                path=f"/v1/projects/{fake.project_id}/availableRegions",
                status=429,
                headers={"Retry-After": "30"},
                times=1,
            )
        )
        async with _both(fake, retry=NO_RETRY, clock=clock) as client:
            with pytest.raises(RateLimitError):
                await client.numbers.regions()
            await client.batches.send_text(to=["+46701234567"], body="not paused")
            assert clock.elapsed == 0  # SMS did not wait
            await client.numbers.regions()  # Numbers waits its pause out, on the clock
            assert clock.elapsed == pytest.approx(30)


async def test_a_numbers_429_does_not_pause_sms_of_any_process(redis_client: Any) -> None:
    """With the Redis limiter a Numbers 429 used to publish a shared pause: every process
    stopped sending SMS. The limiter is the SMS budget's alone."""
    from sinch_async.redis import RedisRateLimiter, default_limiter_key

    async with FakeSinch() as fake:
        fake.add_fault(
            Fault(
                path=f"/v1/projects/{fake.project_id}/availableRegions",
                status=429,
                headers={"Retry-After": "30"},
                times=1,
            )
        )
        key = default_limiter_key(fake.service_plan_id)
        limiter = RedisRateLimiter(redis_client, key, 100)
        async with _both(fake, retry=NO_RETRY, messages_per_second=limiter) as client:
            with pytest.raises(RateLimitError):
                await client.numbers.regions()
            await client.limits.flush_pauses()
            assert await limiter.paused_for() == 0
            other = RedisRateLimiter(redis_client, key, 100)  # another process's limiter
            await asyncio.wait_for(other.acquire(1), 2)
            await asyncio.wait_for(
                client.batches.send_text(to=["+46701234567"], body="not paused"), 5
            )
    assert key == f"sinch-async:mps:{fake.service_plan_id}"  # the CLI's key, unchanged


def test_default_limiter_key() -> None:
    from sinch_async.redis import default_limiter_key

    assert default_limiter_key("plan-1") == "sinch-async:mps:plan-1"
    assert default_limiter_key("plan-1", api="sms") == "sinch-async:mps:plan-1"
    assert default_limiter_key("p-9", api="numbers") == "sinch-async:mps:numbers:p-9"
    for bad in ("", "a b", "x\n"):
        with pytest.raises(SinchConfigError):
            default_limiter_key(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user_agent": "mine/1.0\r\nX-Injected: 1"},
        {"user_agent": "mine/1.0\n"},
        {"default_headers": {"X-Team": "growth\r\nX-Injected: 1"}},
        {"default_headers": {"X Bad": "v"}},
    ],
)
def test_a_header_with_cr_lf_is_refused_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(SinchConfigError):
        SinchClient("plan", "token", region="eu", **kwargs)


def test_a_with_options_header_with_cr_lf_is_refused_at_once() -> None:
    client = SinchClient("plan", "token", region="eu")
    with pytest.raises(SinchConfigError):
        client.with_options(headers={"X-Request-Id": "a\r\nb"})


@pytest.mark.parametrize("token", ["tok\r\nX-Injected: 1", "tok\n", "to ken"])
async def test_an_access_token_with_cr_lf_is_an_authentication_error(token: str) -> None:
    async with FakeSinch() as fake:
        fake.add_fault(
            Fault(
                path=TOKEN_PATH,
                status=200,
                body={"access_token": token, "token_type": "bearer", "expires_in": 3600},
            )
        )
        async with _numbers_only(fake) as client:
            with pytest.raises(AuthenticationError, match="control characters"):
                await client.numbers.regions()
        assert not _numbers_requests(fake)
