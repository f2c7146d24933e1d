"""Saved checkpoints keep loading (issue 16, point 4): what 0.1 wrote resumes under the one
:class:`PagerCheckpoint`, and a checkpoint that is not one is a typed error (point 11).

``tests/data/pager_checkpoint_*.json`` and ``sync_checkpoint_inbounds.json*`` were written
by the code of 514d968 (before the one pager) with ``tests/data/make_pager_checkpoints.py``
over a seeded FakeSinch on a fixed clock; each ``*.rest.json`` holds what that code
yielded after the checkpoint. Each test rebuilds the same FakeSinch and resumes.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sinch_async import PagerCheckpoint, SinchClient, SinchValidationError
from sinch_async._sync import JsonFileCheckpoint
from sinch_async.numbers import TokenPagerCheckpoint
from sinch_async.testing import FakeSinch
from tests.support.paths import DATA

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=2)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture
async def sms() -> AsyncIterator[tuple[FakeSinch, SinchClient]]:
    async with FakeSinch(seed=16, now=lambda: NOW) as fake:
        fake.seed_batches(50, start=START, spacing=timedelta(seconds=7), client_reference="fixture")
        fake.seed_batches(5, start=START, client_reference="other")
        async with fake.client() as client:
            yield fake, client


@pytest.mark.parametrize("name", ["sms_midpage", "sms_max_items"])
@pytest.mark.parametrize("as_record", [False, True])
async def test_sms_checkpoint_of_0_1_resumes(
    sms: tuple[FakeSinch, SinchClient], name: str, as_record: bool
) -> None:
    _, client = sms
    saved = load(f"pager_checkpoint_{name}.json")
    assert "page_token" not in saved  # written before the one checkpoint type
    resume: Any = PagerCheckpoint.from_dict(saved) if as_record else saved
    pager = client.batches.list(resume=resume)
    rest = [b.id async for b in pager]
    assert rest == load(f"pager_checkpoint_{name}.rest.json")
    assert pager.checkpoint.yielded == saved["yielded"] + len(rest)
    assert pager.checkpoint.page_token is None


@pytest.mark.parametrize("as_record", [False, True])
async def test_token_checkpoint_of_0_1_resumes(as_record: bool) -> None:
    saved = load("pager_checkpoint_numbers_token.json")
    assert "page" not in saved  # TokenPagerCheckpoint.to_dict() of 0.1
    async with FakeSinch(seed=16, now=lambda: NOW) as fake:
        fake.numbers.seed_active(250)
        fake.numbers.seed_active(7, start=447700900000, regionCode="GB", type="MOBILE")
        async with fake.project_client() as client:
            # The fake's page tokens live in the fake: walk the same first 95 items again,
            # so that this (seeded) fake hands out the very token the file holds.
            again = client.numbers.list(region_code="US", capabilities=["SMS"], page_size=40)
            first = []
            async for number in again:
                first.append(number.phone_number)
                if len(first) == 95:
                    break
            assert again.checkpoint.page_token == saved["page_token"]
            resume: Any = TokenPagerCheckpoint.from_dict(saved) if as_record else saved
            pager = client.numbers.list(resume=resume)
            rest = [n.phone_number async for n in pager]
    assert rest == load("pager_checkpoint_numbers_token.rest.json")
    assert len(first) + len(rest) == 250 and not set(first) & set(rest)
    assert pager.checkpoint.done and pager.checkpoint.yielded == 250


def test_new_checkpoints_carry_every_field() -> None:
    sms = PagerCheckpoint.from_dict(load("pager_checkpoint_sms_midpage.json"))
    token = PagerCheckpoint.from_dict(load("pager_checkpoint_numbers_token.json"))
    assert TokenPagerCheckpoint is PagerCheckpoint
    assert (sms.page, sms.page_token, sms.offset) == (1, None, 7)
    assert (token.page, token.page_token, token.offset) == (0, "t1d3639a754d0a781", 15)
    for cp in (sms, token):
        data = cp.to_dict()
        # both kinds of 0.1 reader find what they index: "page" and "page_token"
        assert {"resource", "filters", "page_size", "page", "page_token", "offset"} <= set(data)
        assert PagerCheckpoint.from_dict(json.loads(json.dumps(data))) == cp


async def test_sync_file_of_0_1_resumes(tmp_path: Path) -> None:
    for suffix in ("", ".alt"):
        shutil.copy(DATA / f"sync_checkpoint_inbounds.json{suffix}", tmp_path)
    async with FakeSinch(seed=16, now=lambda: NOW) as fake:
        fake.seed_inbounds(40, start=START, spacing=timedelta(seconds=90))
        async with fake.client() as client:
            sync = client.inbounds.sync(
                checkpoint=tmp_path / "sync_checkpoint_inbounds.json",
                chunk=timedelta(minutes=20),
                page_size=7,
            )
            async with sync:
                rest = [m.id async for m in sync]
    assert sorted(rest) == load("sync_checkpoint_inbounds.rest.json")
    assert len(rest) == 23


# --- what is not a checkpoint: typed errors ----------------------------------------------

GOOD = {
    "resource": "batches",
    "filters": [["client_reference", "x"]],
    "page_size": 10,
    "page": 1,
    "offset": 2,
    "yielded": 12,
}


@pytest.mark.parametrize(
    "data",
    [
        [],
        "checkpoint",
        None,
        {},
        {**GOOD, "filters": "ab"},
        {**GOOD, "filters": ["ab"]},
        {**GOOD, "filters": [["a", "b", "c"]]},
        {**GOOD, "filters": [[1, "b"]]},
        {**GOOD, "page_size": "ten"},
        {**GOOD, "page_size": 0},
        {**GOOD, "page": -1},
        {**GOOD, "page": True},
        {**GOOD, "page": 1.5},
        {**GOOD, "resource": 7},
        {**GOOD, "page_token": 5},
        {**GOOD, "page_token": "a\nb"},
        {**GOOD, "done": "no"},
        {**GOOD, "max_items": [1]},
    ],
)
def test_not_a_checkpoint_is_a_validation_error(data: Any) -> None:
    with pytest.raises(SinchValidationError) as err:
        PagerCheckpoint.from_dict(data)
    assert err.value.field in ("resume", "page_size")


def test_a_token_checkpoint_does_not_resume_a_page_number_walk() -> None:
    client = SinchClient("plan", "token", region="eu")
    with pytest.raises(SinchValidationError, match="page token"):
        client.batches.list(resume={**GOOD, "page_token": "t1"})
    with pytest.raises(SinchValidationError, match="page_size"):
        client.batches.list(resume={**GOOD, "page_size": 500})  # fine for Numbers, not SMS


def _write_slot(path: Path, state: Any, seq: int = 1) -> None:
    body = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b'{"seq":%d,"crc":%d,"state":%s}' % (seq, zlib.crc32(body), body))


VALID_STATE = {
    "version": 1,
    "kind": "inbounds",
    "filters": {},
    "start": "2026-03-01T09:59:00Z",
    "end": "2026-03-01T12:00:00Z",
    "done_until": "2026-03-01T10:19:00Z",
    "cursor": {"end": "2026-03-01T10:33:00.001Z", "ties": ["01KJMFARV0RA1BJKS7AVN915CN"]},
    "delivered": 17,
    "total": 40,
}


@pytest.mark.parametrize(
    "state",
    [
        [1, 2, 3],
        "inbounds",
        7,
        {"version": 1, "kind": "inbounds"},
        {**VALID_STATE, "done_until": None},
        {**VALID_STATE, "end": "yesterday"},
        {**VALID_STATE, "start": 5},
        {**VALID_STATE, "filters": []},
        {**VALID_STATE, "cursor": []},
        {**VALID_STATE, "cursor": {"end": "2026-03-01T10:33:00Z"}},
        {**VALID_STATE, "cursor": {"end": "soon", "ties": []}},
        {**VALID_STATE, "cursor": {"end": "2026-03-01T10:33:00Z", "ties": [1]}},
        {**VALID_STATE, "delivered": "17"},
        {**VALID_STATE, "total": 4.5},
    ],
)
async def test_checksummed_file_of_the_wrong_shape_is_a_validation_error(
    tmp_path: Path, state: Any
) -> None:
    path = tmp_path / "inbounds.json"
    _write_slot(path, state)
    async with FakeSinch(now=lambda: NOW) as fake, fake.client() as client:
        sync = client.inbounds.sync(checkpoint=path)
        with pytest.raises(SinchValidationError) as err:
            async with sync:
                [m async for m in sync]
    assert err.value.field == "checkpoint"


async def test_the_valid_state_of_that_table_loads(tmp_path: Path) -> None:
    path = tmp_path / "inbounds.json"
    _write_slot(path, VALID_STATE)
    async with FakeSinch(now=lambda: NOW) as fake, fake.client() as client:
        sync = client.inbounds.sync(checkpoint=path)
        async with sync:
            assert [m async for m in sync] == []
        assert sync.stats.already_done == 17


async def test_checkpoint_path_that_is_a_directory_is_a_validation_error(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    with pytest.raises(SinchValidationError, match="is a directory") as err:
        await JsonFileCheckpoint(folder).load()
    assert err.value.field == "checkpoint"
    async with FakeSinch(now=lambda: NOW) as fake, fake.client() as client:
        sync = client.inbounds.sync(checkpoint=folder)
        with pytest.raises(SinchValidationError, match="is a directory"):
            async with sync:
                [m async for m in sync]
    (tmp_path / "other.json.alt").mkdir()  # the second slot a directory
    with pytest.raises(SinchValidationError, match="is a directory"):
        await JsonFileCheckpoint(tmp_path / "other.json").load()
    store = JsonFileCheckpoint(tmp_path / "late.json")
    await store.load()
    await store.save({"a": 1})  # slot 1: the path
    (tmp_path / "late.json.alt").mkdir()  # made a directory after the load
    with pytest.raises(SinchValidationError, match="is a directory"):
        await store.save({"a": 2})  # slot 2: path.alt
    await store.release()
