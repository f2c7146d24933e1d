"""FakeSinch project (OAuth2) authentication (§1.2), driven with a raw aiohttp session."""

from __future__ import annotations

import sys
import types
from typing import Any

import aiohttp
import pytest

from sinch_async.testing import FakeClock, FakeSinch, Fault
from tests.support.fake_http import AUTH, TEXT

pytestmark = pytest.mark.fake_sinch(on_clock=True, token_ttl=60)
FORM = {"grant_type": "client_credentials"}
KEY = aiohttp.BasicAuth("test-key-id", "test-key-secret")


async def token_call(
    anon_http: aiohttp.ClientSession, fake: FakeSinch, **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    kwargs.setdefault("data", FORM)
    if "headers" not in kwargs:
        kwargs.setdefault("auth", KEY)
    async with anon_http.post(fake.auth_url, **kwargs) as resp:
        body = await resp.json() if await resp.read() else None
        return resp.status, dict(resp.headers), body


async def get_token(anon_http: aiohttp.ClientSession, fake: FakeSinch) -> str:
    status, _, body = await token_call(anon_http, fake)
    assert status == 200, body
    return str(body["access_token"])


async def api(
    anon_http: aiohttp.ClientSession, url: str, token: str, method: str = "GET", **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with anon_http.request(method, url, headers=headers, **kwargs) as resp:
        body = await resp.json() if await resp.read() else None
        return resp.status, dict(resp.headers), body


async def test_token_issue_and_use(fake: FakeSinch, anon_http: aiohttp.ClientSession) -> None:
    assert fake.auth_url == f"{fake.base_url}/oauth2/token"
    status, headers, body = await token_call(anon_http, fake)
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 60, "")
    assert headers["Cache-Control"] == "no-store"
    token = body["access_token"]
    assert token != await get_token(anon_http, fake)  # every request gets a fresh token
    assert fake.token_requests == 2

    status, _, batch = await api(anon_http, fake.project_url("/batches"), token, "POST", json=TEXT)
    assert status == 201
    assert fake.project_url("/batches").endswith("/xms/v1/test-project/batches")
    # one store for both owners: the plan sees the batch the project sent
    async with anon_http.get(fake.url(f"/batches/{batch['id']}"), headers=AUTH) as resp:
        assert (resp.status, (await resp.json())["id"]) == (200, batch["id"])


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"headers": {}}, 401, "invalid_client"),
        ({"auth": aiohttp.BasicAuth("test-key-id", "wrong")}, 401, "invalid_client"),
        ({"auth": aiohttp.BasicAuth("other-key", "test-key-secret")}, 401, "invalid_client"),
        ({"headers": {"Authorization": "Basic !!notbase64"}}, 401, "invalid_client"),
        ({"headers": {"Authorization": "Bearer test-token"}}, 401, "invalid_client"),
        ({"data": {"grant_type": "password"}}, 400, "unsupported_grant_type"),
        ({"data": {}}, 400, "invalid_request"),
        ({"json": FORM, "data": None}, 400, "invalid_request"),  # JSON, not a form
    ],
)
async def test_token_failures(
    fake: FakeSinch,
    anon_http: aiohttp.ClientSession,
    kwargs: dict[str, Any],
    status: int,
    error: str,
) -> None:
    got_status, headers, body = await token_call(anon_http, fake, **kwargs)
    assert (got_status, body["error"]) == (status, error)
    assert "access_token" not in body
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Basic")
    assert fake.token_requests == 1  # failed requests count too


async def test_bearer_checks(fake: FakeSinch, anon_http: aiohttp.ClientSession) -> None:
    url = fake.project_url("/batches")
    token = await get_token(anon_http, fake)
    assert (await api(anon_http, url, token))[0] == 200
    status, headers, body = await api(anon_http, url, "made-up-token")
    assert (status, body["code"]) == (401, "unauthorized")
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "expired" not in headers["WWW-Authenticate"]
    # the plan's API token is not a project token, and a project token is not a plan token
    assert (await api(anon_http, url, "test-token"))[0] == 401
    assert (await api(anon_http, fake.url("/batches"), token))[0] == 401
    async with anon_http.get(url) as resp:
        assert (resp.status, resp.headers["WWW-Authenticate"]) == (401, "Bearer")
    # unknown owners are refused whatever the token
    other = url.replace("test-project", "other-project")
    assert (await api(anon_http, other, token))[0] == 401


async def test_expiry_by_clock_and_expire_tokens(
    fake: FakeSinch, anon_http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    url = fake.project_url("/batches")
    token = await get_token(anon_http, fake)
    clock.advance(seconds=59)
    assert (await api(anon_http, url, token))[0] == 200
    clock.advance(seconds=1)  # token_ttl=60 by the fake's clock
    status, headers, body = await api(anon_http, url, token)
    assert status == 401
    assert headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="token expired"'
    )
    assert body["code"] == "unauthorized"
    fresh = await get_token(anon_http, fake)
    assert (await api(anon_http, url, fresh))[0] == 200
    fake.expire_tokens()
    assert "expired" in (await api(anon_http, url, fresh))[1]["WWW-Authenticate"]
    assert (await api(anon_http, url, await get_token(anon_http, fake)))[0] == 200  # new ones work


async def test_token_endpoint_faults(fake: FakeSinch, anon_http: aiohttp.ClientSession) -> None:
    handle = fake.add_fault(
        Fault(path="/oauth2/token", status=429, headers={"Retry-After": "1"}, times=1)
    )
    status, headers, body = await token_call(anon_http, fake)
    assert (status, headers["Retry-After"], body["code"]) == (429, "1", "too_many_requests")
    assert handle.fired == 1
    token = await get_token(anon_http, fake)
    assert fake.token_requests == 2  # the faulted request counts

    fake.add_fault(Fault(status=503))  # '*': every API request, not the token endpoint
    assert (await token_call(anon_http, fake))[0] == 200
    assert (await api(anon_http, fake.project_url("/batches"), token))[0] == 503
    fake.clear_faults()
    fake.add_fault(Fault(method="POST", path="/oauth2/*", status=500, phase="after", times=1))
    assert (await token_call(anon_http, fake))[0] == 500
    assert (await token_call(anon_http, fake))[0] == 200  # times=1: used up
    assert fake.token_requests == 5


async def test_service_plan_auth_unchanged(
    fake: FakeSinch, anon_http: aiohttp.ClientSession
) -> None:
    async with anon_http.get(fake.url("/batches"), headers=AUTH) as resp:
        assert resp.status == 200
    async with anon_http.get(fake.url("/batches"), headers={"Authorization": "Bearer x"}) as resp:
        assert (resp.status, resp.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert fake.token_requests == 0


async def test_project_client_passes_credentials(
    fake: FakeSinch, monkeypatch: pytest.MonkeyPatch
) -> None:
    class StubClient:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    stub = types.ModuleType("sinch_async")
    stub.SinchClient = StubClient  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sinch_async", stub)
    client = fake.project_client(max_connections=3, key_secret="override")
    assert client.kwargs == {
        "project_id": "test-project",
        "key_id": "test-key-id",
        "key_secret": "override",
        "base_url": fake.base_url,
        "auth_url": fake.auth_url,
        "numbers_base_url": fake.base_url,
        "max_connections": 3,
    }


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        FakeSinch(project_id="a/b")
    with pytest.raises(ValueError):
        FakeSinch(token_ttl=0)
    fake = FakeSinch(key_id="k", key_secret="s", token_ttl=5)
    fake.key_secret = "s2"
    assert (fake.key_id, fake.key_secret, fake.token_ttl) == ("k", "s2", 5.0)
