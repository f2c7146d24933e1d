"""``sinch-async fake-server``: FakeSinch as a real local server for programs that are not
tests, configured by the export lines it prints."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from sinch_async import SinchClient

EXPECTED = {
    "SINCH_BASE_URL",
    "SINCH_SERVICE_PLAN_ID",
    "SINCH_API_TOKEN",
    "SINCH_PROJECT_ID",
    "SINCH_KEY_ID",
    "SINCH_KEY_SECRET",
    "SINCH_AUTH_URL",
    "SINCH_NUMBERS_BASE_URL",
}


def read_exports(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines the server prints before serving."""
    assert proc.stdout is not None
    env: dict[str, str] = {}
    while set(env) != EXPECTED:
        line = proc.stdout.readline()
        assert line, f"fake-server ended early: {proc.stderr.read() if proc.stderr else ''}"
        words = shlex.split(line)
        assert words[0] == "export", line
        name, _, value = words[1].partition("=")
        env[name] = value
    return env


async def use_the_fake(env: dict[str, str]) -> None:
    """What a service reading the variables does: send, receive an inbound, list numbers."""
    async with SinchClient.from_env(env) as client:
        batch = await client.batches.send_text(to=["+46701234567"], body="hello")
        assert (await client.batches.get(batch.id)).id == batch.id
        # an inbound made to arrive from outside, as the server's message says
        async with aiohttp.ClientSession() as http:
            url = env["SINCH_BASE_URL"] + "/_admin/inbounds"
            body = {"from": "+46701234567", "to": "12345", "body": "Hi"}
            async with http.post(url, json=body) as response:
                assert response.status == 201
        inbounds = [i async for i in client.inbounds.list(to=["12345"])]
        assert [i.body for i in inbounds] == ["Hi"]
        # Numbers through the project keys (OAuth2 at SINCH_AUTH_URL)
        numbers = client.numbers.list(region_code="US", number_type="LOCAL")
        assert [n async for n in numbers] == []


@pytest.mark.process
@pytest.mark.realtime("a real server process, stopped with SIGINT")
def test_fake_server_serves_a_client_from_its_exports() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    exe = Path(sys.executable).with_name("sinch-async")
    proc = subprocess.Popen(
        [str(exe), "fake-server", "--seed", "1"],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run(use_the_fake(read_exports(proc)))
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        assert "/_admin/inbounds" in stderr and "Traceback" not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.process
@pytest.mark.realtime("a real server process, stopped with SIGTERM")
def test_fake_server_stops_cleanly_on_sigterm() -> None:
    exe = Path(sys.executable).with_name("sinch-async")
    proc = subprocess.Popen(
        [str(exe), "--json", "fake-server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert '"SINCH_BASE_URL"' in line and "/_admin/inbounds" in line
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
