"""What a user's type checker sees: precise results, and misspelt options refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

GOOD = """
from sinch_async import (
    Batch, BinaryBatch, BinaryBatchUpdate, SendOutcome, SinchClient, SinchError, TextBatch,
    TextBatchRequest, TextBatchUpdate,
)
from sinch_async.testing import FakeSinch

async def typed(fake: FakeSinch, outcome: SendOutcome) -> None:
    client: SinchClient = fake.client(max_concurrency=5)
    a: TextBatch = await client.batches.send_text(to=["+46701234567"], body="x")
    b: TextBatch = await client.batches.send(TextBatchRequest(to=["+4670"], body="x"))
    c: TextBatch = await client.batches.update("x", TextBatchUpdate(body="y"))
    d: BinaryBatch = await client.batches.update("x", BinaryBatchUpdate(udh="00"))
    e: Batch = await client.batches.update("x", to_add=["+46701234567"])
    err: SinchError | None = outcome.error
    print(a.created_at, b, c, d, e, err, client.limits.pauses)

async def common_fields(client: SinchClient) -> None:
    # every member of Batch / Inbound (the unknown ones too) has these fields
    async for batch in client.batches.list():
        print(batch.id, batch.to, batch.from_, batch.client_reference, batch.created_at)
    async for inbound in client.inbounds.list():
        print(inbound.id, inbound.to, inbound.from_, inbound.client_reference)
        print(inbound.received_at, inbound.sent_at)
"""

BAD = """
from sinch_async import SinchClient
from sinch_async.testing import FakeSinch

def misspelt(fake: FakeSinch) -> None:
    fake.client(max_concurency=5)
    SinchClient.from_env(max_concurency=5)
"""


def _mypy(tmp_path: Path, name: str, source: str) -> tuple[int, str]:
    from mypy import api

    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    out, err, status = api.run(
        ["--strict", "--cache-dir", str(tmp_path / ".mypy_cache"), "--no-error-summary", str(path)]
    )
    return status, out + err


def test_results_are_precise_types(tmp_path: Path) -> None:
    status, output = _mypy(tmp_path, "good", GOOD)
    assert status == 0, output


def test_misspelt_options_fail_type_checking(tmp_path: Path) -> None:
    status, output = _mypy(tmp_path, "bad", BAD)
    assert status == 1
    assert output.count('Unexpected keyword argument "max_concurency"') == 2, output
