"""One pager, one page, one checkpoint (issue 16, point 4): the names of 0.1 still work and
are the same objects; the same names for the same things; ``_errors`` is a leaf."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

import sinch_async
from sinch_async import (
    AsyncPager,
    MessagesCheckpoint,
    Page,
    PagerCheckpoint,
    SinchClient,
    SinchValidationError,
)
from sinch_async._pagination import Pager, PagerItems, PagerPages
from sinch_async._wire import QueryValue
from sinch_async.numbers import TokenPage, TokenPager, TokenPagerCheckpoint
from sinch_async.resources.messages import MessagePage, MessagePager
from sinch_async.testing import FakeSinch


def test_the_names_of_0_1_are_the_one_pager() -> None:
    assert AsyncPager is Pager
    assert issubclass(TokenPager, Pager) and issubclass(MessagePager, Pager)
    assert TokenPagerCheckpoint is PagerCheckpoint
    assert issubclass(TokenPage, Page)
    page = TokenPage([1, 2], "next", 7)
    assert (page.items, page.next_page_token, page.count, page.page_size) == ([1, 2], "next", 7, 2)
    with pytest.deprecated_call():
        assert page.total_size == 7
    assert MessagePage(items=[], page=3).page == 3


async def test_same_names_for_the_same_things() -> None:
    async with FakeSinch() as fake:
        fake.seed_batches(12)
        fake.numbers.seed_active(12)
        async with fake.project_client() as client:
            sms = client.batches.list(page_size=5)
            numbers = client.numbers.list(page_size=5)
            assert type(numbers) is Pager and isinstance(sms, Pager)
            for pager in (sms, numbers):
                assert pager.count is None and pager.page_size == 5
                pages = [p async for p in pager.pages()]
                assert [len(p.items) for p in pages] == [5, 5, 2]
                assert [p.page for p in pages] == [0, 1, 2]
                assert {p.count for p in pages} == {12} and pager.count == 12
                assert pager.yielded == 12 and pager.checkpoint.done
            assert [p.next_page_token for p in pages][-1] == ""


def test_iterators_are_plain_objects_with_aclose() -> None:
    client = SinchClient("plan", "token", region="eu")
    pager = client.batches.list()
    items, pages = aiter(pager), pager.pages()
    assert isinstance(items, PagerItems) and isinstance(pages, PagerPages)
    assert callable(items.aclose) and callable(pages.aclose)


def test_validation() -> None:
    async def fetch(query: Mapping[str, QueryValue]) -> Page[int]:
        return Page(items=[], page=0, count=0, page_size=0)

    with pytest.raises(SinchValidationError, match="prefetch"):
        Pager(fetch, paging="token", resource="x", filters=(), page_size=5, prefetch=2)
    with pytest.raises(SinchValidationError, match="paging"):
        Pager(fetch, paging="cursor", resource="x", filters=(), page_size=5)  # type: ignore[arg-type]
    with pytest.raises(SinchValidationError, match="page_size"):
        Pager(fetch, resource="x", filters={}, page_size=101)
    Pager(fetch, paging="token", resource="x", filters=(), page_size=1000)
    with pytest.raises(SinchValidationError, match="max_items"):
        Pager(fetch, resource="x", filters={}, page_size=5, max_items=-1)
    with pytest.raises(SinchValidationError, match="not 'x'"):
        Pager(
            fetch,
            resource="x",
            filters={},
            page_size=5,
            resume=PagerCheckpoint(resource="y", filters=(), page_size=5),
        )


def test_the_merged_list_has_a_checkpoint_of_both_sides() -> None:
    client = SinchClient("plan", "token", region="eu")
    pager = client.messages.list()
    cp = pager.checkpoint
    assert isinstance(pager, Pager) and isinstance(cp, MessagesCheckpoint)
    assert isinstance(cp, PagerCheckpoint) and cp.resource == "messages"
    assert [(s.direction, s.pager.resource) for s in cp.sides] == [
        ("mt", "batches"),
        ("mo", "inbounds"),
    ]
    assert MessagesCheckpoint.from_dict(cp.to_dict()) == cp


def test_errors_module_imports_nothing_from_the_sdk() -> None:
    source = Path(sinch_async.__file__).with_name("_errors.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("sinch_async")
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("sinch_async") for a in node.names)
