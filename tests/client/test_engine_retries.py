"""One retry loop and one clock (issue 16, points 2, 3 and 8).

* one send makes at most ``RetryPolicy.max_send_posts`` (10) POSTs under the default
  policy, whatever mix of 429s, 5xx and connection resets the server answers (it was 16
  for three 429s then a 500: four resend rounds of four engine attempts);
* every wait runs on the client's clock: ``SinchClient(clock=FakeClock())`` takes a
  ``Retry-After`` of a minute in no wall time, and users' own retry code can sleep on the
  same ``FakeClock``;
* ``with_options`` views share the client's memory of the batches its sends returned;
* no module outside the engine (and ``sinch_async.testing``) builds an aiohttp request.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

import sinch_async
from sinch_async import (
    RateLimitError,
    RetryPolicy,
    SendOutcomeUnknown,
    SinchConfigError,
    SinchError,
)
from sinch_async.testing import FakeClock, FakeSinch, Fault

POST = {"method": "POST", "path": "/batches"}
RESET = {"drop": True}
TOO_MANY = {"status": 429}
TOO_MANY_LATER = {"status": 429, "headers": {"Retry-After": "2"}}
SERVER = {"status": 500}
UNAVAILABLE = {"status": 503}

ANSWERS = {
    "always-429": [TOO_MANY] * 60,
    "always-429-retry-after": [TOO_MANY_LATER] * 60,
    "always-500": [SERVER] * 60,
    "always-reset": [RESET] * 60,
    "3x429-then-500": [TOO_MANY, TOO_MANY, TOO_MANY, SERVER] * 15,
    "3x429-then-reset": [TOO_MANY, TOO_MANY, TOO_MANY, RESET] * 15,
    "429-500-alternating": [TOO_MANY, SERVER] * 30,
    "500-429-alternating": [SERVER, TOO_MANY] * 30,
    "reset-503-429": [RESET, UNAVAILABLE, TOO_MANY_LATER] * 20,
}


def _posts(fake: FakeSinch) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/batches"))


@pytest.mark.parametrize("answers", ANSWERS.values(), ids=ANSWERS.keys())
async def test_one_send_makes_at_most_ten_posts(answers: list[dict[str, object]]) -> None:
    clock = FakeClock()
    async with FakeSinch(seed=3) as fake:
        for answer in answers:  # in this order, each once
            fake.add_fault(Fault(**POST, times=1, **answer))  # type: ignore[arg-type]
        async with fake.client(clock=clock) as client:
            assert client.batches._session.retry_policy.max_send_posts == 10
            with pytest.raises(SinchError) as err:
                await client.batches.send_text(
                    to=["+46701234567"], body="bounded", client_reference="bounded-1"
                )
        assert isinstance(err.value, SendOutcomeUnknown | RateLimitError)
        assert not fake.batches  # nothing was created: each answer was a failure
        assert 1 <= _posts(fake) <= 10


async def test_the_post_budget_is_the_policys() -> None:
    clock = FakeClock()
    async with FakeSinch() as fake:
        fake.add_fault(Fault(**POST, status=429))  # type: ignore[arg-type]
        policy = RetryPolicy(max_attempts=8, max_send_posts=3)
        async with fake.client(clock=clock, retry=policy) as client:
            with pytest.raises(RateLimitError):
                await client.batches.send_text(to=["+46701234567"], body="x")
        assert _posts(fake) == 3
    with pytest.raises(SinchConfigError):
        RetryPolicy(max_send_posts=0)


async def test_retry_after_waits_on_the_clients_clock() -> None:
    clock = FakeClock()
    async with FakeSinch(now=clock) as fake:
        fake.add_fault(
            Fault(**POST, status=429, headers={"Retry-After": "60"}, times=1)  # type: ignore[arg-type]
        )
        started = time.monotonic()
        async with fake.client(clock=clock) as client:
            batch = await client.batches.send_text(to=["+46701234567"], body="later")
        assert batch.id in fake.batches
        assert clock.elapsed == pytest.approx(60)  # a minute waited, in virtual time
        assert time.monotonic() - started < 5


async def test_backoff_waits_and_the_users_own_retries_share_one_fake_clock() -> None:
    clock = FakeClock()
    async with FakeSinch() as fake:
        fake.add_fault(Fault(method="GET", path="/batches/*", status=503, times=3))
        policy = RetryPolicy(base_delay=1.0, factor=2.0)
        async with fake.client(clock=clock, retry=policy) as client:
            batch = await client.batches.send_text(to=["+46701234567"], body="x")
            got = await client.batches.get(batch.id)  # three 503s, then the batch
            assert got.id == batch.id
            waited = clock.elapsed
            assert 0 <= waited <= 1 + 2 + 4  # full jitter under base * factor**n
            await clock.sleep(10)  # the user's own retry logic, on the same clock
            assert clock.elapsed == pytest.approx(waited + 10)
        assert len(clock.sleeps) == 4  # three backoff waits and the user's


async def test_a_view_never_returns_a_batch_its_parent_returned() -> None:
    """Sinch's clock stands still (a FakeClock nobody advances), so the parent's batch
    looks created during the view's send: only the shared memory keeps reconciliation from
    handing it over as the view's."""
    clock = FakeClock()
    async with FakeSinch(now=clock) as fake, fake.client(clock=clock) as client:
        fields = {"to": ["+46701234567"], "body": "same", "client_reference": "ref-1"}
        first = await client.batches.send_text(**fields)  # type: ignore[arg-type]
        view = client.with_options(headers={"X-View": "1"})
        fake.add_fault(Fault(**POST, status=503, times=1))  # type: ignore[arg-type]
        second = await view.batches.send_text(**fields)  # type: ignore[arg-type]
        assert second.id != first.id
        assert set(fake.batches) == {first.id, second.id}
        fake.add_fault(Fault(**POST, status=503, times=1))  # type: ignore[arg-type]
        third = await client.batches.send_text(**fields)  # type: ignore[arg-type]
        assert third.id not in (first.id, second.id)  # the parent knows the view's too


def _aiohttp_requests(tree: ast.Module) -> list[int]:
    """Lines that call an aiohttp request method on something named like a session."""
    methods = {"request", "get", "post", "put", "patch", "delete", "head", "ws_connect"}
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in methods
        ):
            target = ast.unparse(node.func.value)
            if target.split(".")[-1].lstrip("_") in {"session", "http", "client_session"}:
                lines.append(node.lineno)
    return lines


def test_only_the_engine_builds_aiohttp_requests() -> None:
    root = Path(sinch_async.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative == "_session.py" or relative.startswith("testing/"):
            continue
        text = path.read_text()
        if "aiohttp" not in text:
            continue  # our own Session views (self._session.request) are not aiohttp's
        tree = ast.parse(text)
        offenders += [f"{relative}:{line}" for line in _aiohttp_requests(tree)]
    assert offenders == []


def test_one_module_holds_the_retry_loop() -> None:
    root = Path(sinch_async.__file__).parent
    users = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if "import backoff" in path.read_text() or "from backoff" in path.read_text()
    )
    assert users == ["_retry.py", "_session.py"]  # _session only for backoff's Details type
