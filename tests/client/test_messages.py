"""``client.messages.list``: batches and inbounds merged newest first (issue #12)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sinch_async import (
    BadRequestError,
    MessagesCheckpoint,
    SinchClient,
    SinchValidationError,
    UndecodableItem,
)
from sinch_async._pagination import AsyncPager
from sinch_async._wire import QueryValue
from sinch_async.models.batches import TextBatch, UnknownBatch
from sinch_async.models.common import Page
from sinch_async.models.inbounds import MoText
from sinch_async.resources.messages import Message, MessagePager, _Side
from sinch_async.testing import FakeSinch, Fault

N = 500
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
SENDERS = ("+15550000001", "+15550000002")
OURS = ("+15550000001", "+15550000002")
FRIEND = "+46700000001"


@pytest.fixture
async def world(fake: FakeSinch, client: SinchClient) -> dict[str, Any]:
    """500 batches and 500 inbounds interleaved one second apart, with varied fields."""
    group = await client.groups.create(name="VIP", members=["+46700000009"])

    def batch_to(i: int) -> list[str]:
        if i % 7 == 0:
            return [group.id]
        if i % 3 == 0:
            return [f"+1555{i:07d}", FRIEND]
        return [f"+1555{i:07d}"]

    fake.seed_batches(
        N,
        start=START,
        spacing=timedelta(seconds=2),
        from_=lambda i: SENDERS[i % 2],
        to=batch_to,
    )
    fake.seed_inbounds(
        N,
        start=START + timedelta(seconds=1),
        spacing=timedelta(seconds=2),
        to=lambda i: OURS[i % 2],
        from_=lambda i: FRIEND if i % 4 == 0 else f"+1666{i:07d}",
    )
    batches = [b async for b in client.batches.list(page_size=100)]
    inbounds = [m async for m in client.inbounds.list(page_size=100)]
    assert len(batches) == len(inbounds) == N
    return {"group": group.id, "batches": batches, "inbounds": inbounds}


def _bare(number: str) -> str:
    return number.lstrip("+")


def expected(
    world: Mapping[str, Any],
    direction: str | None = None,
    to: list[str] | None = None,
    from_: list[str] | None = None,
) -> list[tuple[str, str]]:
    """Both sets, filtered by hand and sorted newest first (mt first on a tie)."""
    rows: list[tuple[datetime, int, str, str]] = []
    if direction in (None, "mt"):
        for b in world["batches"]:
            if from_ is not None and _bare(b.from_) not in {_bare(f) for f in from_}:
                continue
            if to is not None and not {_bare(t) for t in b.to} & {_bare(t) for t in to}:
                continue
            rows.append((b.created_at, 0, "mt", b.id))
    if direction in (None, "mo"):
        for m in world["inbounds"]:
            if from_ is not None and _bare(m.from_) not in {_bare(f) for f in from_}:
                continue
            if to is not None and _bare(m.to) not in {_bare(t) for t in to}:
                continue
            rows.append((m.received_at, 1, "mo", m.id))
    rows.sort(key=lambda r: (-r[0].timestamp(), r[1]))
    return [(r[2], r[3]) for r in rows]


def walked(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.direction, m.id) for m in messages]


COMBOS: list[dict[str, Any]] = [
    {},
    {"from_": [SENDERS[0]]},
    {"from_": [FRIEND]},
    {"to": [FRIEND]},
    {"to": [OURS[1]]},
    {"to": ["GROUP"]},
    {"to": ["GROUP", FRIEND]},
    {"to": [FRIEND, OURS[0]], "from_": [SENDERS[1], FRIEND]},
]


@pytest.mark.parametrize("direction", [None, "mt", "mo"])
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(c) or "all")
async def test_merged_walk_equals_sort_of_both_sets(
    client: SinchClient, world: dict[str, Any], direction: Any, combo: dict[str, Any]
) -> None:
    combo = {k: [world["group"] if v == "GROUP" else v for v in vs] for k, vs in combo.items()}
    want = expected(world, direction, **combo)
    pager = client.messages.list(direction=direction, page_size=37, prefetch=3, **combo)
    got = [m async for m in pager]
    assert walked(got) == want
    assert want or combo  # the unfiltered walks are not vacuous
    if not combo:
        assert len(want) == {None: 2 * N, "mt": N, "mo": N}[direction]
    for m in got:
        assert m.at == (m.record.created_at if m.direction == "mt" else m.record.received_at)
        assert m.id == m.record.id


async def test_group_id_matches_batches_sent_to_the_group(
    client: SinchClient, world: dict[str, Any]
) -> None:
    got = [m async for m in client.messages.list(to=[world["group"]], page_size=100)]
    assert got and all(m.direction == "mt" and m.to == (world["group"],) for m in got)
    assert len(got) == len(range(0, N, 7))


async def test_numbers_compare_with_or_without_plus(
    client: SinchClient, world: dict[str, Any]
) -> None:
    plus = [m async for m in client.messages.list(to=[FRIEND], from_=[FRIEND])]
    bare = [m async for m in client.messages.list(to=[_bare(FRIEND)], from_=[_bare(FRIEND)])]
    assert walked(plus) == walked(bare)


async def test_max_items_is_exact_and_pages(client: SinchClient, world: dict[str, Any]) -> None:
    want = expected(world)
    for max_items in (0, 1, 37, 100, 999, 1000, 5000):
        pager = client.messages.list(page_size=25, max_items=max_items, prefetch=2)
        got = [m async for m in pager]
        assert walked(got) == want[:max_items]
        assert pager.yielded == len(got)

    pages = [p async for p in client.messages.list(page_size=30, max_items=100).pages()]
    assert [len(p.items) for p in pages] == [30, 30, 30, 10]
    assert [p.page for p in pages] == [0, 1, 2, 3]
    assert [pair for p in pages for pair in walked(list(p.items))] == want[:100]


async def test_continues_after_break(client: SinchClient, world: dict[str, Any]) -> None:
    pager = client.messages.list(page_size=20)
    first: list[Message] = []
    async for m in pager:
        first.append(m)
        if len(first) == 45:
            break
    rest = [m async for m in pager]
    assert walked(first + rest) == expected(world)


async def test_dates_go_to_both_sides(client: SinchClient, world: dict[str, Any]) -> None:
    start, end = START + timedelta(seconds=100), START + timedelta(seconds=200)
    got = [m async for m in client.messages.list(start_date=start, end_date=end)]
    want = [
        pair for pair, at in zip(expected(world), _times(world), strict=True) if start <= at < end
    ]
    assert walked(got) == want and len(got) == 100


def _times(world: Mapping[str, Any]) -> list[datetime]:
    stamps = [b.created_at for b in world["batches"]] + [m.received_at for m in world["inbounds"]]
    return sorted(stamps, reverse=True)


@pytest.mark.parametrize("prefetch", [1, 4])
@pytest.mark.parametrize("n", [50, N])
async def test_memory_does_not_grow_with_items(
    fake: FakeSinch, client: SinchClient, prefetch: int, n: int
) -> None:
    """Structural: items fetched but not yet handed out stay under one page per side plus
    the pages each side prefetches, whatever the number of items."""
    fake.seed_batches(n, start=START, spacing=timedelta(seconds=2))
    fake.seed_inbounds(n, start=START + timedelta(seconds=1), spacing=timedelta(seconds=2))
    page_size = 10
    fetched = yielded = high = 0

    def counting(fetch: Any) -> Any:
        async def wrapper(query: Mapping[str, QueryValue]) -> Page[Any]:
            nonlocal fetched, high
            page = await fetch(query)
            fetched += len(page.items)
            high = max(high, fetched - yielded)
            return page

        return wrapper

    client.batches._fetch_page = counting(client.batches._fetch_page)  # type: ignore[method-assign]
    client.inbounds._fetch_page = counting(client.inbounds._fetch_page)  # type: ignore[method-assign]
    pager = client.messages.list(page_size=page_size, prefetch=prefetch)
    async for _ in pager:
        yielded += 1
        assert pager.held <= 2
        high = max(high, fetched - yielded)
    assert yielded == fetched == 2 * n
    assert high <= 2 * (1 + prefetch) * page_size


async def test_tie_mt_first_and_items_without_timestamp_keep_their_place() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def text_batch(i: str, at: datetime) -> TextBatch:
        return TextBatch(id=i, to=("+46700000001",), body="x", created_at=at)

    def inbound(i: str, at: datetime) -> MoText:
        return MoText(id=i, from_="+46700000001", to="+15550000000", received_at=at)

    batches: list[Any] = [
        text_batch("b3", t + timedelta(seconds=3)),
        UnknownBatch(type="mt_future", id="bx", raw={"to": ["+46700000001"]}),
        text_batch("b2", t + timedelta(seconds=2)),
        text_batch("b1", t + timedelta(seconds=1)),
    ]
    inbounds: list[Any] = [
        inbound("m4", t + timedelta(seconds=4)),
        inbound("m2", t + timedelta(seconds=2)),
        inbound("m0", t),
    ]

    def fetcher(items: list[Any]) -> Any:
        async def fetch(query: Mapping[str, QueryValue]) -> Page[Any]:
            page, size = int(str(query["page"])), int(str(query["page_size"]))
            chunk = items[page * size : (page + 1) * size]
            return Page(items=chunk, page=page, count=len(items), page_size=len(chunk))

        return fetch

    def side(direction: Any, items: list[Any], attr: str) -> _Side:
        pager: AsyncPager[Any] = AsyncPager(
            fetcher(items), resource=direction, filters={}, page_size=2
        )
        return _Side(direction, pager, lambda r: getattr(r, attr, None), lambda r: True)

    pager = MessagePager(
        [side("mt", batches, "created_at"), side("mo", inbounds, "received_at")],
        page_size=2,
        max_items=None,
    )
    got = [m async for m in pager]
    assert [m.id for m in got] == ["m4", "b3", "bx", "b2", "m2", "b1", "m0"]
    unknown = got[2]
    assert unknown.at is None and unknown.to == ("+46700000001",) and unknown.from_ is None


async def test_validation(client: SinchClient) -> None:
    with pytest.raises(SinchValidationError):
        client.messages.list(direction="both")  # type: ignore[arg-type]
    with pytest.raises(SinchValidationError):
        client.messages.list(max_items=-1)
    with pytest.raises(SinchValidationError):
        client.messages.list(page_size=0)
    with pytest.raises(SinchValidationError):
        client.messages.list(prefetch=0)
    with pytest.raises(SinchValidationError):
        client.messages.list(to=["not a number!"])
    with pytest.raises(SinchValidationError):
        client.messages.list(start_date=datetime(2026, 1, 1))  # naive


# --- issue 18: resumable, each message once, undecodable items, alphanumeric senders ----------


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_items_arriving_during_the_walk_come_neither_twice_nor_lost(
    fake: FakeSinch, client: SinchClient, world: dict[str, Any], prefetch: int
) -> None:
    """Inbounds arriving while the walk goes push what it handed out down a page: the
    next page starts with items it had already (before the fix, dozens came twice)."""
    want = expected(world)
    fetch = client.inbounds._fetch_page
    arrived: set[str] = set()

    async def arriving(query: Mapping[str, QueryValue]) -> Page[Any]:
        page = await fetch(query)
        for _ in range(7):  # after each page of inbounds, seven new ones
            arrived.add(fake.add_inbound(from_=FRIEND, to=OURS[0], body="new")["id"])
        return page

    client.inbounds._fetch_page = arriving  # type: ignore[method-assign]
    pager = client.messages.list(page_size=20, prefetch=prefetch)
    got = walked([m async for m in pager])
    assert len(got) == len(set(got))  # none twice
    assert got == want  # none lost, none of the newcomers (they are above the walk)
    assert pager.duplicates > 0 and not {i for _, i in got} & arrived


@pytest.mark.parametrize("by_pages", [False, True], ids=["items", "pages"])
async def test_a_broken_walk_resumes_from_its_checkpoint_with_each_message_once(
    fake: FakeSinch, client: SinchClient, world: dict[str, Any], by_pages: bool
) -> None:
    want = expected(world)
    pager = client.messages.list(page_size=25, prefetch=2)
    got: list[Message] = []
    with pytest.raises(BadRequestError) as err:
        if by_pages:
            async for page in pager.pages():
                got += page.items
                if len(got) >= 130:
                    fake.add_fault(Fault(method="GET", path="/inbounds", status=400, times=1))
        else:
            async for message in pager:
                got.append(message)
                if len(got) == 130:
                    fake.add_fault(Fault(method="GET", path="/inbounds", status=400, times=1))
    cp = err.value.checkpoint
    assert isinstance(cp, MessagesCheckpoint) and cp == pager.checkpoint
    assert cp.yielded == len(got) and {s.direction for s in cp.sides} == {"mt", "mo"}
    for _ in range(30):  # more arrive before the walk is resumed: pages shift again
        fake.add_inbound(from_=FRIEND, to=OURS[1], body="later")
    saved = json.loads(json.dumps(cp.to_dict()))  # stored and loaded
    rest = client.messages.list(resume=saved, prefetch=3)
    got += [m async for m in rest]
    assert walked(got) == want
    assert rest.yielded == len(want) and rest.checkpoint.done
    again = client.messages.list(resume=rest.checkpoint)
    assert [m async for m in again] == []


async def test_resume_keeps_the_filters_and_max_items(
    client: SinchClient, world: dict[str, Any]
) -> None:
    to, senders = [FRIEND, OURS[0]], [SENDERS[1], FRIEND]
    want = expected(world, "mo", to=to, from_=senders)[:40]
    pager = client.messages.list(direction="mo", page_size=7, max_items=40, to=to, from_=senders)
    first: list[Message] = []
    async for m in pager:
        first.append(m)
        if len(first) == 15:
            break
    cp = pager.checkpoint
    assert [s.direction for s in cp.sides] == ["mo"]
    rest = client.messages.list(resume=cp.to_dict(), direction="mt", to=["+1"])  # ignored
    assert walked(first + [m async for m in rest]) == want
    with pytest.raises(SinchValidationError, match="resume"):  # another list's checkpoint
        client.messages.list(resume=client.batches.list().checkpoint)  # type: ignore[arg-type]
    with pytest.raises(SinchValidationError, match="resume"):
        client.messages.list(resume={**cp.to_dict(), "sides": [{"direction": "up"}]})


async def test_an_undecodable_message_raises_at_itself_or_is_skipped(
    fake: FakeSinch, client: SinchClient, world: dict[str, Any]
) -> None:
    bad = world["inbounds"][N // 2].id
    fake.inbounds[bad]["received_at"] = "not a time"
    want = [pair for pair in expected(world) if pair != ("mo", bad)]

    pager = client.messages.list(page_size=30, prefetch=2)
    got: list[Message] = []
    with pytest.raises(UndecodableItem) as err:
        async for m in pager:
            got.append(m)
    assert walked(got) == want[: len(got)] and len(got) >= N - 2
    cp = err.value.checkpoint
    assert isinstance(cp, MessagesCheckpoint) and cp.yielded == len(got)
    with pytest.raises(UndecodableItem):  # resumed as it was: raises again, at once
        [m async for m in client.messages.list(resume=cp)]
    rest = client.messages.list(resume=cp, on_undecodable="skip")
    got += [m async for m in rest]
    assert walked(got) == want and rest.skipped == 1

    skipping = client.messages.list(page_size=30, on_undecodable="skip")
    assert walked([m async for m in skipping]) == want and skipping.skipped == 1
    by_pages = client.messages.list(page_size=30, on_undecodable="skip")
    assert [walked(list(p.items)) async for p in by_pages.pages()] != []
    assert by_pages.skipped == 1


async def test_alphanumeric_senders_filter_both_lists(fake: FakeSinch, client: SinchClient) -> None:
    """``from_`` takes every sender a send takes (issue 18, point 11): FakeSinch filters
    batches on ``from`` as given."""
    fake.seed_batches(
        12,
        start=START,
        spacing=timedelta(seconds=5),
        from_=lambda i: ("MyBrand", "+15550000001", "SHOP")[i % 3],
    )
    brand = [b["id"] for b in fake.batches.values() if b["from"] == "MyBrand"]
    assert len(brand) == 4
    listed = [b.id async for b in client.batches.list(from_=["MyBrand"])]
    assert sorted(listed) == sorted(brand)
    both = [b.id async for b in client.batches.list(from_=["MyBrand", "SHOP"])]
    assert len(both) == 8
    merged = [m async for m in client.messages.list(from_=["MyBrand"])]
    assert sorted(m.id for m in merged) == sorted(brand)
    assert {m.direction for m in merged} == {"mt"} and {m.from_ for m in merged} == {"MyBrand"}
    sent = await client.batches.send_text(to=["+46700000001"], body="hi", from_="Acme 2")
    assert [b.id async for b in client.batches.list(from_=["Acme 2"])] == [sent.id]
    for sender in ("+1", "\u0663\u0664\u0665", "Acme,Inc", ""):  # the send refuses them too
        with pytest.raises(SinchValidationError, match="from_"):
            client.messages.list(from_=[sender])
        with pytest.raises(SinchValidationError, match="from_"):
            await client.batches.send_text(to=["+46700000001"], body="hi", from_=sender)
