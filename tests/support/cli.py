"""Running the ``sinch-async`` command in tests: a FakeSinch served from its own thread (the
command runs its own event loop), the environment that points the command at it, and
``CliRunner`` helpers."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from typer.testing import CliRunner

from sinch_async.cli import app
from sinch_async.testing import FakeSinch

runner = CliRunner()


class ThreadedFake:
    """FakeSinch serving from its own event loop in a background thread.

    ``ThreadedFake(**fake_kwargs)`` builds ``FakeSinch(seed=5, **fake_kwargs)``; assigning
    ``server.fake`` before entering replaces it.
    """

    def __init__(self, **fake_kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeSinch(**{"seed": 5, **fake_kwargs})
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def __enter__(self) -> ThreadedFake:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def env(server: ThreadedFake) -> dict[str, str]:
    """The service-plan credentials and base URL of ``server`` as environment variables."""
    return {
        "SINCH_SERVICE_PLAN_ID": server.fake.service_plan_id,
        "SINCH_API_TOKEN": server.fake.api_token,
        "SINCH_BASE_URL": server.fake.base_url,
    }


def run(server: ThreadedFake, *args: str) -> Any:
    """``sinch-async ARGS`` against ``server`` (service-plan credentials)."""
    return runner.invoke(app, list(args), env=env(server))


def clean_env(**values: str) -> dict[str, str | None]:
    """Every SINCH_* variable of this process unset, then ``values`` set."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SINCH_")}
    env.update(values)
    return env


def project_env(server: ThreadedFake) -> dict[str, str | None]:
    """Only the project (OAuth2) credentials of ``server``, every other SINCH_* unset."""
    fake = server.fake
    return clean_env(
        SINCH_PROJECT_ID=fake.project_id,
        SINCH_KEY_ID=fake.key_id,
        SINCH_KEY_SECRET=fake.key_secret,
        SINCH_AUTH_URL=fake.auth_url,
        SINCH_BASE_URL=fake.base_url,
    )
