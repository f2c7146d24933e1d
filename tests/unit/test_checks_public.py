"""Each rule moved to ``_validation.py`` (issue 16, point 9), driven through the public API:
a good value goes out, a bad one raises the typed error before any request is sent
(FakeSinch records every request it receives; the Redis stores are built on a client
aimed at the discard port, so a check that failed to stop a call shows up as a connection
error, not the typed one).
"""

from __future__ import annotations

import base64
import inspect
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from sinch_async import (
    CallbackVerifier,
    MemoryNonceStore,
    MessageRateLimiter,
    SinchAccounts,
    SinchClient,
    SinchConfigError,
    SinchSettingError,
    SinchValidationError,
    TextBatchRequest,
    Timeouts,
)
from sinch_async._ledger import SqliteLedger
from sinch_async.testing import FakeSinch
from tests.support.fake_http import AUTH

ARABIC_THREE = "\u0663"
NOTHING: Any = None
NUMBER = "+12025550000"  # FakeSinch's first seeded active number
Call = Callable[[Any], Any]  # a client; Any: the table passes wrong types on purpose


async def _outcome(call: Call, client: SinchClient) -> Any:
    result = call(client)
    return await result if inspect.isawaitable(result) else result


def _numbers_requests(fake: FakeSinch) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith("/v1/")]


# --- the Numbers API ------------------------------------------------------------------------

SEARCH = {"region_code": "US", "number_type": "LOCAL"}

#: (id, call, the field the error names)
NUMBERS_REFUSED: list[tuple[str, Call, str]] = [
    ("list-search-without-pattern", lambda c: c.numbers.list(search_pattern="START"),
     "search_pattern"),
    ("list-empty-capability", lambda c: c.numbers.list(capabilities=["SMS", ""]), "capabilities"),
    ("list-region-not-text", lambda c: c.numbers.list(region_code=46), "region_code"),
    ("list-empty-pattern", lambda c: c.numbers.list(number_pattern=""), "number_pattern"),
    ("list-page-size", lambda c: c.numbers.list(page_size=1001), "page_size"),
    ("list-max-items", lambda c: c.numbers.list(max_items=-1), "max_items"),
    ("search-no-region", lambda c: c.numbers.search(region_code=None, number_type="LOCAL"),
     "region_code"),
    ("search-empty-type", lambda c: c.numbers.search(region_code="US", number_type=""),
     "number_type"),
    ("search-size-0", lambda c: c.numbers.search(**SEARCH, size=0), "size"),
    ("search-size-bool", lambda c: c.numbers.search(**SEARCH, size=True), "size"),
    ("search-size-text", lambda c: c.numbers.search(**SEARCH, size="3"), "size"),
    ("search-without-pattern", lambda c: c.numbers.search(**SEARCH, search_pattern="END"),
     "search_pattern"),
    ("search-pattern-not-text", lambda c: c.numbers.search(
        **SEARCH, number_pattern="1206", search_pattern=1), "search_pattern"),
    ("update-nothing", lambda c: c.numbers.update(NUMBER), "update"),
    ("update-campaign-without-plan", lambda c: c.numbers.update(NUMBER, sms_campaign_id="c"),
     "sms_campaign_id"),
    ("update-plan-not-text", lambda c: c.numbers.update(NUMBER, sms_service_plan_id=7),
     "sms_service_plan_id"),
    ("rent-campaign-without-plan", lambda c: c.numbers.rent(NUMBER, sms_campaign_id="c"),
     "sms_campaign_id"),
    # rent_any used to send these: a search_pattern without a pattern was dropped, a
    # missing region or type went out as null
    ("rent-any-without-pattern", lambda c: c.numbers.rent_any(**SEARCH, search_pattern="END"),
     "search_pattern"),
    ("rent-any-no-region", lambda c: c.numbers.rent_any(region_code=None, number_type="LOCAL"),
     "region_code"),
    ("rent-any-empty-capability", lambda c: c.numbers.rent_any(**SEARCH, capabilities=[""]),
     "capabilities"),
    ("regions-empty-type", lambda c: c.numbers.regions(types=[""]), "types"),
    ("get-unicode-digits", lambda c: c.numbers.get("+1202555000" + ARABIC_THREE), "phone_number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "field"),
    [(call, field) for _, call, field in NUMBERS_REFUSED],
    ids=[name for name, _, _ in NUMBERS_REFUSED],
)
async def test_numbers_refused_before_sending(call: Call, field: str) -> None:
    async with FakeSinch() as fake:
        fake.numbers.seed_active(1)
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            with pytest.raises(SinchValidationError) as err:
                await _outcome(call, client)
        assert err.value.field == field
        assert not _numbers_requests(fake)


async def test_numbers_good_values_go_out_normalised() -> None:
    async with FakeSinch() as fake:
        (number,) = fake.numbers.seed_active(1)
        fake.numbers.seed_available(3, start=12065550000)
        async with fake.project_client(numbers_base_url=fake.base_url) as client:
            pager = client.numbers.list(
                region_code="US",
                capabilities=("SMS",),
                number_pattern="+1202",
                search_pattern="start",
            )
            assert [n.phone_number async for n in pager] == [number]
            found = await client.numbers.search(
                **SEARCH,
                capabilities="SMS",
                number_pattern="206",
                search_pattern="contains",
                size=2,
            )
            assert len(found) == 2
            await client.numbers.update(number, sms_service_plan_id="plan", sms_campaign_id="c")
            await client.numbers.update(number, sms_service_plan_id="")  # unlinks the plan
            rented = await client.numbers.rent_any(
                **SEARCH, number_pattern="+1206", search_pattern="start"
            )
            assert rented.phone_number.startswith("+1206")
            assert await client.numbers.regions(types="LOCAL")
        requests = _numbers_requests(fake)
        listed = dict(requests[0].query)
        assert listed["numberPattern.searchPattern"] == "START"
        assert ("capability", "SMS") in requests[0].query
        searched = dict(requests[1].query)
        assert searched["numberPattern.searchPattern"] == "CONTAINS"
        assert searched["size"] == "2"
        linked = requests[2].json["smsConfiguration"]
        assert linked == {"servicePlanId": "plan", "campaignId": "c"}
        assert requests[3].json == {"smsConfiguration": {"servicePlanId": ""}}
        assert requests[4].json["numberPattern"] == {"pattern": "+1206", "searchPattern": "START"}


# --- limits: rates, bursts, concurrency ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"messages_per_second": 0}, "messages_per_second"),
        ({"messages_per_second": -5}, "messages_per_second"),
        ({"messages_per_second": math.inf}, "messages_per_second"),
        ({"messages_per_second": math.nan}, "messages_per_second"),
        ({"messages_per_second": True}, "messages_per_second"),
        ({"messages_per_second": "20"}, "messages_per_second"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 2.0}, "max_concurrency"),
    ],
)
async def test_client_limits_refused(options: dict[str, Any], words: str) -> None:
    async with FakeSinch() as fake:
        with pytest.raises(SinchConfigError, match=words):
            fake.client(**options)
        assert not fake.requests


async def test_client_limits_accepted() -> None:
    async with FakeSinch() as fake:
        async with fake.client(messages_per_second=50, max_concurrency=4) as client:
            await client.batches.send_text(to=["+46701234567"], body="x")
        assert len(fake.batches) == 1


def test_rate_limiter_rules() -> None:
    assert MessageRateLimiter(10).rate == 10.0
    MessageRateLimiter(10, burst=1)
    bads: tuple[Any, ...] = (0, math.inf, True, "10")
    for bad in bads:
        with pytest.raises(SinchConfigError, match="messages_per_second"):
            MessageRateLimiter(bad)
        with pytest.raises(SinchConfigError, match="burst"):
            MessageRateLimiter(10, burst=bad or -1)


# --- Redis stores: keys, rates, leases, seconds --------------------------------------------


@pytest.fixture
async def nowhere() -> Any:
    """A Redis client aimed at the discard port: any command it sends fails to connect."""
    redis_asyncio = pytest.importorskip("redis.asyncio", reason="pip install -e '.[redis]'")
    client = redis_asyncio.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.5)
    yield client
    await client.aclose()


def test_redis_limiter_rules(nowhere: Any) -> None:
    from sinch_async.redis import RedisGroupSizes, RedisRateLimiter, default_limiter_key

    limiter = RedisRateLimiter(nowhere, "k", 10, burst=2, timeout=None)
    assert (limiter.rate, limiter.burst) == (10.0, 2.0)
    refused: list[tuple[Callable[[], Any], str]] = [
        (lambda: RedisRateLimiter(nowhere, "k", 0), "messages_per_second"),
        (lambda: RedisRateLimiter(nowhere, "k", math.inf), "messages_per_second"),
        (lambda: RedisRateLimiter(nowhere, "k", 10, burst=0), "burst"),
        (lambda: RedisRateLimiter(nowhere, "", 10), "key"),
        (lambda: RedisRateLimiter(nowhere, NOTHING, 10), "key"),
        (lambda: RedisRateLimiter(nowhere, "k", 10, timeout=0), "timeout"),
        (lambda: RedisRateLimiter(nowhere, "k", 10, timeout=math.inf), "timeout"),
        (lambda: RedisGroupSizes(nowhere, ""), "key"),
        (lambda: RedisGroupSizes(nowhere, "k", ttl=0), "ttl"),
        (lambda: RedisGroupSizes(nowhere, "k", miss_ttl=-1), "miss_ttl"),
        (lambda: RedisGroupSizes(nowhere, "k", timeout=-1), "timeout"),
        (lambda: default_limiter_key("plan 1"), "owner_id"),
        (lambda: default_limiter_key("plan\u00a01"), "owner_id"),  # used to pass
        (lambda: default_limiter_key("plan", "\u77ed\u4fe1"), "api"),  # used to pass
        (lambda: default_limiter_key("plan", "sms" + ARABIC_THREE), "api"),  # used to pass
    ]
    for build, field in refused:
        with pytest.raises(SinchConfigError, match=rf"^{field} "):
            build()
    assert default_limiter_key("plan-1", "numbers") == "sinch-async:mps:numbers:plan-1"


async def test_redis_ledger_rules(nowhere: Any) -> None:
    from sinch_async.redis import RedisLedger

    RedisLedger(nowhere, lease=0.5, timeout=0.5)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"lease": 0}, "lease"),
        ({"lease": math.inf}, "lease"),  # used to overflow in int(lease * 1000)
        ({"lease": True}, "lease"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"prefix": ""}, "prefix"),
    ]
    for options, field in cases:
        with pytest.raises(SinchConfigError, match=rf"^{field} "):
            RedisLedger(nowhere, **options)
    ledger = RedisLedger(nowhere, timeout=0.5)
    for bad in (0, -1, math.inf):
        with pytest.raises(SinchConfigError, match=r"^seconds "):
            await ledger.expire("c", bad)  # refused before Redis is asked


async def test_redis_checkpoint_and_nonce_rules(nowhere: Any) -> None:
    from sinch_async.redis import RedisCheckpoint, RedisNonceStore

    assert RedisCheckpoint(nowhere, "k", lease=0.1, wait=0).lease == 0.1
    cases: list[tuple[dict[str, Any], str]] = [
        ({"lease": 0.09}, "lease"),
        ({"lease": math.nan}, "lease"),
        ({"wait": -1}, "wait"),
        ({"wait": math.inf}, "wait"),
    ]
    for options, field in cases:
        with pytest.raises(SinchValidationError) as err:
            RedisCheckpoint(nowhere, "k", **options)
        assert err.value.field == field
    with pytest.raises(SinchValidationError) as err:
        RedisCheckpoint(nowhere, "")
    assert err.value.field == "key"
    store = RedisNonceStore(nowhere)
    for bad in (math.inf, math.nan):
        with pytest.raises(ValueError, match="expires_at"):
            await store.add("nonce", bad)  # refused before Redis is asked


# --- send_many: request types and campaign ids ----------------------------------------------


async def test_send_many_refuses_what_is_not_a_request() -> None:
    good = TextBatchRequest(to=("+46701234567",), body="x")
    async with FakeSinch() as fake, fake.client() as client:
        not_a_request: Any = {"to": ["+46701234567"]}
        async with client.batches.send_many([good, not_a_request]) as run:
            outcomes = sorted([o async for o in run], key=lambda o: o.index)
        assert outcomes[0].ok
        error = outcomes[1].error
        assert isinstance(error, SinchValidationError) and error.field == "requests"
        assert "item 1 is a dict, not a TextBatchRequest" in str(error)
        assert len(fake.batches) == 1


@pytest.mark.parametrize("campaign", ["", "c" * 2028, 7])
async def test_campaign_id_refused_before_sending(campaign: Any, tmp_path: Any) -> None:
    good = TextBatchRequest(to=("+46701234567",), body="x")
    async with FakeSinch() as fake, fake.client() as client:
        with pytest.raises(SinchConfigError, match="campaign must be"):
            client.batches.send_many(
                [good], ledger=SqliteLedger(tmp_path / "l.db"), campaign=campaign
            )
        assert not fake.requests


# --- FakeSinch: ASCII integers and the SDK's limits ----------------------------------------


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page_size=100", 200),
        ("page_size=101", 400),  # the SDK's MAX_PAGE_SIZE
        ("page_size=" + ARABIC_THREE, 400),  # int() reads it as 3
        ("page=%2B1", 400),
        ("number_of_recipients=1000", 200),
        ("number_of_recipients=1001", 400),  # the SDK's MAX_DRY_RUN_RECIPIENTS
    ],
)
async def test_fake_reads_ascii_integers_within_the_sdk_limits(query: str, status: int) -> None:
    path = "/batches/dry_run" if query.startswith("number_of") else "/batches"
    method = "POST" if path.endswith("dry_run") else "GET"
    body = {"to": ["+46701234567"], "body": "x"} if method == "POST" else None
    async with (
        FakeSinch() as fake,
        aiohttp.ClientSession(headers=AUTH) as http,
        http.request(method, fake.url(f"{path}?{query}"), json=body) as resp,
    ):
        assert resp.status == status, await resp.text()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("pageSize=1000", 200),
        ("pageSize=1001", 400),  # the SDK's MAX_NUMBERS_PAGE_SIZE
        ("pageSize=" + ARABIC_THREE, 400),
    ],
)
async def test_fake_numbers_page_size(query: str, status: int) -> None:
    async with FakeSinch() as fake, aiohttp.ClientSession() as http:
        form = {"grant_type": "client_credentials"}
        basic = base64.b64encode(f"{fake.key_id}:{fake.key_secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        async with http.post(fake.auth_url, data=form, headers=headers) as resp:
            token = (await resp.json())["access_token"]
        url = f"{fake.base_url}/v1/projects/{fake.project_id}/activeNumbers?{query}"
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == status, await resp.text()


def test_fake_seeds_only_numbers_the_sdk_can_address() -> None:
    fake = FakeSinch()
    with pytest.raises(ValueError, match=r"E\.164"):
        fake.numbers.seed_active(1, start=123)  # "+123": 3 digits
    with pytest.raises(ValueError, match=r"E\.164"):
        fake.numbers.seed_available(1, start=1234567890123456)  # 16 digits


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("code=401", 200),
        ("code=401,402", 200),
        ("code=" + ARABIC_THREE, 400),  # int() read it as 3
        ("code=%EF%BC%94%EF%BC%90%EF%BC%91", 400),  # full-width 401
        ("code=%2B401", 400),  # int() read "+401" as 401
        ("code=4_01", 400),  # and "4_01" too
    ],
)
async def test_fake_reads_delivery_codes_in_ascii(query: str, status: int) -> None:
    async with (
        FakeSinch() as fake,
        aiohttp.ClientSession(headers=AUTH) as http,
        http.get(fake.url(f"/delivery_reports?{query}")) as resp,
    ):
        assert resp.status == status, await resp.text()


# --- the environment and stored positions: ASCII numbers ----------------------------------

ENV = {"SINCH_SERVICE_PLAN_ID": "plan1", "SINCH_API_TOKEN": "tok1", "SINCH_REGION": "eu"}


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("MAX_CONCURRENCY", ARABIC_THREE),  # int() read it as 3
        ("MAX_CONCURRENCY", "\uff13"),  # full-width 3
        ("MAX_CONCURRENCY", "1_0"),
        ("MAX_CONCURRENCY", "+3"),
        ("MESSAGES_PER_SECOND", ARABIC_THREE),  # float() read it as 3.0
        ("MESSAGES_PER_SECOND", "\u0661.\u0665"),  # 1.5 in Arabic-Indic digits
        ("MESSAGES_PER_SECOND", "1_0"),
        ("MESSAGES_PER_SECOND", "nan"),
        ("MESSAGES_PER_SECOND", "infinity"),
    ],
)
def test_environment_numbers_are_ascii(key: str, text: str) -> None:
    with pytest.raises(SinchSettingError, match="ASCII digits") as err:
        SinchClient.from_env({**ENV, f"SINCH_{key}": text})
    assert err.value.key == key.lower()
    assert text not in str(err.value)  # the error names the variable, never the value


def test_environment_numbers_accepted() -> None:
    env = {**ENV, "SINCH_MAX_CONCURRENCY": "12", "SINCH_MESSAGES_PER_SECOND": "2.5"}
    client = SinchClient.from_env(env)
    assert client.limits.max_concurrency == 12
    assert isinstance(client.limits.rate_limiter, MessageRateLimiter)
    assert client.limits.rate_limiter.rate == 2.5
    assert SinchClient.from_env({**ENV, "SINCH_MESSAGES_PER_SECOND": "1e2"}).limits.rate_limiter


async def test_pager_checkpoint_positions_are_ascii() -> None:
    """A resume mapping's positions may be decimal strings (as some stores return
    numbers), in ASCII digits: ``int()`` read ``"٣"`` as 3."""
    async with FakeSinch() as fake, fake.client() as client:
        saved = client.batches.list(page_size=5).checkpoint.to_dict()
        same = {**saved, "page": "0", "offset": "0", "yielded": "0"}
        assert [b async for b in client.batches.list(page_size=5, resume=same)] == []
        for bad in (ARABIC_THREE, "\uff10", "+0", " 0", "0_0"):
            with pytest.raises(SinchValidationError) as err:
                client.batches.list(page_size=5, resume={**saved, "offset": bad})
            assert err.value.field == "resume"


# --- construction and call rules moved to _validation.py ----------------------------------


def test_client_and_registry_connections() -> None:
    for bad in (0, -1, True, 2.0, "10"):
        with pytest.raises(SinchConfigError, match=r"^max_connections must be a positive int"):
            SinchClient(service_plan_id="p", api_token="t", max_connections=bad)
        with pytest.raises(SinchConfigError, match=r"^max_connections must be a positive int"):
            SinchAccounts(max_connections=bad)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, True, "5"])
def test_timeouts(bad: Any) -> None:
    assert Timeouts(total=0.5, connect=None).total == 0.5
    for name in ("total", "connect", "read"):
        with pytest.raises(SinchConfigError, match=rf"^Timeouts\.{name} must be a positive"):
            Timeouts(**{name: bad})  # inf and "5" used to pass or raise a bare TypeError


async def test_callback_rules() -> None:
    refused: list[tuple[Callable[[], Any], str]] = [
        (lambda: CallbackVerifier(""), "secret"),
        (lambda: CallbackVerifier(NOTHING), "secret"),
        (lambda: CallbackVerifier("s", tolerance=math.inf), "tolerance"),
        (lambda: CallbackVerifier("s", tolerance=0), "tolerance"),
        (lambda: CallbackVerifier("s", max_nonces=0), "max_entries"),
        (lambda: CallbackVerifier("s", nonce_store=MemoryNonceStore(), max_nonces=5),
         "max_nonces"),
        (lambda: MemoryNonceStore(max_entries=0), "max_entries"),
    ]  # fmt: skip
    for build, field in refused:
        with pytest.raises(SinchConfigError, match=rf"^{field} "):
            build()
    store = MemoryNonceStore(clock=lambda: 0.0)
    for bad in (math.inf, math.nan, "10", True):  # the Redis store's rule
        with pytest.raises(SinchValidationError) as err:
            await store.add("n", bad)
        assert err.value.field == "expires_at"
    assert await store.add("n", 10) is True


def test_ledger_synchronous(tmp_path: Any) -> None:
    SqliteLedger(tmp_path / "l.db", synchronous="FULL")
    for bad in ("normal", "OFF", NOTHING):
        with pytest.raises(SinchConfigError, match=r"^synchronous must be 'NORMAL' or 'FULL'$"):
            SqliteLedger(tmp_path / "m.db", synchronous=bad)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"chunk": timedelta(0)}, "chunk"),
        ({"chunk": 3600}, "chunk"),  # used to raise a bare TypeError
        ({"commit": "AUTO"}, "commit"),
        ({"commit_every": 0}, "commit_every"),
        ({"commit_every": "pages"}, "commit_every"),
        ({"commit_interval": 0}, "commit_interval"),
        ({"commit_interval": math.inf}, "commit_interval"),  # used to pass: never commits
        ({"max_rewalks": -1}, "max_rewalks"),
        ({"max_rewalks": True}, "max_rewalks"),
    ],
)
async def test_sync_options(options: dict[str, Any], field: str) -> None:
    async with FakeSinch() as fake, fake.client() as client:
        for resource in (client.inbounds, client.delivery_reports):
            with pytest.raises(SinchValidationError) as err:
                resource.sync(**options)
            assert err.value.field == field
        good = client.inbounds.sync(commit_every="page", commit_interval=0.5, max_rewalks=0)
        await good.aclose()
        assert not fake.requests
