"""One item the SDK cannot decode never makes a whole walk unreadable (issue 18, point 6).

Every pager takes ``on_undecodable``: ``"raise"`` (the default) raises an
:class:`UndecodableItem` when the walk reaches the item, every item before it handed out
and ``err.checkpoint`` *at* it (resuming raises again; resuming with ``"skip"`` passes it);
``"skip"`` logs it at WARNING, counts it in ``pager.skipped`` and goes on. The syncs take
the option too (``sync.stats.skipped``; the commits go past the item).

FakeSinch serves what it stores: a test spoils one stored item in the middle of the walk
(a timestamp that is no timestamp, a list that is a string) after a healthy walk told it
the order of the keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sinch_async import (
    MemoryCheckpoint,
    Pager,
    PagerCheckpoint,
    SinchClient,
    SinchDecodeError,
    SinchValidationError,
    UndecodableItem,
)
from sinch_async.testing import FakeSinch, Fault

N = 25
PAGE = 10
BAD = 12  # the spoilt item's place in the walk: page 1, offset 2

Make = Callable[..., Pager[Any]]


def _key(kind: str, item: Any) -> str:
    if kind == "numbers":
        return str(item.phone_number)
    if kind == "delivery_reports":
        return f"{item.batch_id}/{item.recipient}"
    return str(item.id)


def _raw_key(kind: str, raw: dict[str, Any]) -> str:
    if kind == "numbers":
        return str(raw["phoneNumber"])
    if kind == "delivery_reports":
        return f"{raw['batch_id']}/{raw['recipient']}"
    return str(raw["id"])


def _seed(fake: FakeSinch, kind: str) -> None:
    if kind == "inbounds":
        fake.seed_inbounds(N)
    elif kind == "batches":
        fake.seed_batches(N)
    elif kind == "delivery_reports":
        fake.seed_delivery_reports(N)
    elif kind == "groups":
        for i in range(N):
            fake.add_group(name=f"group {i}")
    else:
        fake.numbers.seed_active(N)


def _spoil(fake: FakeSinch, kind: str, key: str) -> None:
    """Make the stored item ``key`` one the SDK cannot decode (FakeSinch still lists it
    in its place: it sorts on what it recorded when the item was stored)."""
    if kind == "inbounds":
        fake.inbounds[key]["received_at"] = "not a time"
    elif kind == "batches":
        fake.batches[key]["created_at"] = "not a time"
    elif kind == "delivery_reports":
        batch_id, recipient = key.split("/")
        (report,) = [r for r in fake.delivery_reports[batch_id] if r["recipient"] == recipient]
        report["at"] = "not a time"
    elif kind == "groups":
        fake.groups[key]["size"] = "many"
    else:
        fake.numbers.active[key]["capability"] = "SMS"


def _lister(sms: SinchClient, project: SinchClient, kind: str) -> Make:
    def make(**kwargs: Any) -> Pager[Any]:
        if kind == "numbers":
            return project.numbers.list(page_size=PAGE, **kwargs)
        resource = getattr(sms, kind)
        pager: Pager[Any] = resource.list(page_size=PAGE, **kwargs)
        return pager

    return make


KINDS = ["inbounds", "batches", "delivery_reports", "groups", "numbers"]


@pytest.fixture(params=KINDS)
async def spoilt(
    request: pytest.FixtureRequest, fake: FakeSinch, client: SinchClient
) -> AsyncIterator[tuple[str, Make, list[str], str]]:
    """(the kind, its list call, every key of a healthy walk, the key spoilt since)."""
    kind: str = request.param
    _seed(fake, kind)
    async with fake.project_client() as project:
        make = _lister(client, project, kind)
        keys = [_key(kind, item) async for item in make()]
        assert len(keys) == N
        _spoil(fake, kind, keys[BAD])
        yield kind, make, keys, keys[BAD]


async def _items(pager: Pager[Any], kind: str, by_pages: bool) -> list[str]:
    if by_pages:
        return [_key(kind, item) async for page in pager.pages() for item in page.items]
    return [_key(kind, item) async for item in pager]


async def _until_error(pager: Pager[Any], kind: str, by_pages: bool) -> tuple[list[str], Any]:
    got: list[str] = []
    with pytest.raises(UndecodableItem) as err:
        if by_pages:
            async for page in pager.pages():
                got += [_key(kind, item) for item in page.items]
        else:
            async for item in pager:
                got.append(_key(kind, item))
    return got, err.value


@pytest.mark.parametrize("by_pages", [False, True], ids=["items", "pages"])
async def test_raises_at_the_item_and_resumes_past_it_with_skip(
    spoilt: tuple[str, Make, list[str], str], by_pages: bool
) -> None:
    kind, make, keys, bad = spoilt
    got, error = await _until_error(make(), kind, by_pages)
    assert got == keys[:BAD]  # every item before it handed out
    assert isinstance(error, UndecodableItem) and isinstance(error, SinchDecodeError)
    assert error.index == BAD % PAGE
    assert _raw_key(kind, error.raw) == bad  # the item as received
    cp = error.checkpoint
    assert isinstance(cp, PagerCheckpoint)
    assert (cp.page, cp.offset, cp.yielded) == (BAD // PAGE, BAD % PAGE, BAD)

    # resuming with the default raises again, at once
    again, second = await _until_error(make(resume=cp), kind, by_pages)
    assert again == [] and second.checkpoint == cp

    # resuming with skip passes it (a stored checkpoint: through JSON)
    saved = json.loads(json.dumps(cp.to_dict()))
    rest = make(resume=saved, on_undecodable="skip")
    assert await _items(rest, kind, by_pages) == keys[BAD + 1 :]
    assert rest.skipped == 1 and rest.checkpoint.done and rest.yielded == N - 1


@pytest.mark.parametrize("by_pages", [False, True], ids=["items", "pages"])
async def test_skip_yields_every_other_item_once_and_counts_one(
    spoilt: tuple[str, Make, list[str], str], by_pages: bool, caplog: pytest.LogCaptureFixture
) -> None:
    kind, make, keys, bad = spoilt
    caplog.set_level(logging.WARNING, logger="sinch_async")
    pager = make(on_undecodable="skip")
    assert pager.on_undecodable == "skip" and pager.skipped == 0
    assert await _items(pager, kind, by_pages) == [k for k in keys if k != bad]
    assert pager.skipped == 1 and pager.yielded == N - 1 and pager.checkpoint.done
    (record,) = [
        r for r in caplog.records if getattr(r, "sinch_event", "") == "undecodable_skipped"
    ]
    assert record.levelno == logging.WARNING
    assert (record.sinch_page, record.sinch_index) == (BAD // PAGE, BAD % PAGE)  # type: ignore[attr-defined]
    if by_pages:  # the page around the item comes as one page, one item short
        sizes = [len(page.items) async for page in make(on_undecodable="skip").pages()]
        assert sizes == [PAGE, PAGE - 1, N - 2 * PAGE]


async def test_max_items_counts_items_handed_out_not_skipped(fake: FakeSinch) -> None:
    stored = fake.seed_inbounds(N)
    stored[N - 1 - 3]["received_at"] = "not a time"  # the 4th of the walk
    async with fake.client() as client:
        pager = client.inbounds.list(page_size=PAGE, max_items=5, on_undecodable="skip")
        got = [m.id async for m in pager]
    assert len(got) == 5 and stored[N - 1 - 3]["id"] not in got and pager.skipped == 1


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_prefetched_pages_with_undecodable_items(fake: FakeSinch, prefetch: int) -> None:
    """Several spoilt items, one a page's first, one its last, two in a row."""
    stored = fake.seed_batches(45)
    order = [b["id"] for b in reversed(stored)]
    spoilt = {order[i] for i in (0, 9, 10, 21, 22, 44)}
    for batch in stored:
        if batch["id"] in spoilt:
            batch["created_at"] = "not a time"
    want = [i for i in order if i not in spoilt]
    async with fake.client() as client:
        pager = client.batches.list(page_size=PAGE, prefetch=prefetch, on_undecodable="skip")
        assert [b.id async for b in pager] == want and pager.skipped == len(spoilt)
        pager = client.batches.list(page_size=PAGE, prefetch=prefetch, on_undecodable="skip")
        pages = [[b.id for b in page.items] async for page in pager.pages()]
        assert [i for page in pages for i in page] == want and pager.skipped == len(spoilt)
        assert [len(page) for page in pages] == [8, 9, 8, 10, 4]

        # raising: at once (the walk's first item), nothing handed out, the checkpoint at it
        pager = client.batches.list(page_size=PAGE, prefetch=prefetch)
        with pytest.raises(UndecodableItem) as err:
            [b async for b in pager]
        cp = err.value.checkpoint
        assert (cp.page, cp.offset, cp.yielded) == (0, 0, 0) and pager.checkpoint == cp


async def test_a_page_that_cannot_be_read_still_fails_whole(fake: FakeSinch) -> None:
    fake.seed_inbounds(N)
    fake.add_fault(Fault(method="GET", path="/inbounds", status=200, body=b"[1, 2]", times=1))
    async with fake.client() as client:
        pager = client.inbounds.list(page_size=PAGE, on_undecodable="skip")
        with pytest.raises(SinchDecodeError) as err:
            [m async for m in pager]
        assert not isinstance(err.value, UndecodableItem)
        assert err.value.checkpoint == pager.checkpoint and pager.checkpoint.yielded == 0


@pytest.mark.parametrize("value", ["ignore", None, "SKIP", "skip ", True])
async def test_the_option_is_checked(client: SinchClient, value: Any) -> None:
    for call in (
        lambda: client.batches.list(on_undecodable=value),
        lambda: client.inbounds.list(on_undecodable=value),
        lambda: client.groups.list(on_undecodable=value),
        lambda: client.delivery_reports.list(on_undecodable=value),
        lambda: client.messages.list(on_undecodable=value),
        lambda: client.inbounds.sync(on_undecodable=value),
        lambda: client.delivery_reports.sync(on_undecodable=value),
    ):
        with pytest.raises(SinchValidationError, match="on_undecodable"):
            call()


# --- the syncs --------------------------------------------------------------------------------


async def test_sync_skips_and_commits_past_the_item(fake: FakeSinch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stored = fake.seed_inbounds(
        300, start=now - timedelta(minutes=30), spacing=timedelta(seconds=3)
    )
    bad = stored[150]
    bad["received_at"] = "not a time"
    since = now - timedelta(hours=1)
    store = MemoryCheckpoint()
    async with fake.client() as client:
        sync = client.inbounds.sync(
            since=since, until=now, checkpoint=store, page_size=40, on_undecodable="skip"
        )
        got = [m.id async for m in sync]
        assert sorted(got) == sorted(i["id"] for i in stored if i is not bad)
        assert len(got) == len(set(got)) and sync.stats.skipped == 1
        assert store.state is not None and store.state["done_until"] == store.state["end"]

        # by default the sync stops at the item; the checkpoint stays before it
        store = MemoryCheckpoint()
        sync = client.inbounds.sync(since=since, until=now, checkpoint=store, page_size=40)
        first: list[str] = []
        with pytest.raises(UndecodableItem):
            async for m in sync:
                first.append(m.id)
        assert first and sync.stats.skipped == 0
        # a rerun with skip goes on from the checkpoint, past the item
        rerun = client.inbounds.sync(
            since=since, until=now, checkpoint=store, page_size=40, on_undecodable="skip"
        )
        rest = [m.id async for m in rerun]
        assert rerun.stats.skipped == 1
        assert set(first) | set(rest) == {i["id"] for i in stored if i is not bad}


async def test_delivery_report_sync_skips(fake: FakeSinch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stored = fake.seed_delivery_reports(60, start=now - timedelta(minutes=10))
    stored[30]["at"] = "not a time"
    async with fake.client() as client:
        sync = client.delivery_reports.sync(
            since=now - timedelta(hours=1), until=now, page_size=25, on_undecodable="skip"
        )
        got = [f"{r.batch_id}/{r.recipient}" async for r in sync]
    assert len(got) == len(set(got)) == 59 and sync.stats.skipped == 1
