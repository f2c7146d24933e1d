"""Wrote tests/data/pager_*.json and sync_checkpoint_* with the code of commit 514d968
(before issue 16's one pager), as a user's saved checkpoints of that release:

    git worktree add --detach /tmp/pager-old 514d968
    PYTHONPATH=/tmp/pager-old python tests/data/make_pager_checkpoints.py tests/data

Deterministic (seeded FakeSinch, fixed clock): two runs write identical files.
tests/client/test_pager_checkpoints.py resumes each under today's pager.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sinch_async.testing import FakeSinch

OUT = Path(sys.argv[1])
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=2)


def dump(name: str, data: Any) -> None:
    (OUT / name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


async def sms() -> None:
    async with FakeSinch(seed=16, now=lambda: NOW) as fake:
        fake.seed_batches(50, start=START, spacing=timedelta(seconds=7), client_reference="fixture")
        fake.seed_batches(5, start=START, client_reference="other")
        async with fake.client() as client:
            kw = dict(start_date=START - timedelta(minutes=1), client_reference="fixture")
            everything = [b.id async for b in client.batches.list(page_size=15, **kw)]
            assert len(everything) == 50
            pager = client.batches.list(page_size=15, **kw)
            first: list[str] = []
            async for b in pager:
                first.append(b.id)
                if len(first) == 22:
                    break
            dump("pager_checkpoint_sms_midpage.json", pager.checkpoint.to_dict())
            dump("pager_checkpoint_sms_midpage.rest.json", everything[22:])
            limited = client.batches.list(page_size=15, max_items=40, **kw)
            async for _page in limited.pages():
                break  # one page: 15 of the 40
            dump("pager_checkpoint_sms_max_items.json", limited.checkpoint.to_dict())
            dump("pager_checkpoint_sms_max_items.rest.json", everything[15:40])


async def numbers() -> None:
    async with FakeSinch(seed=16, now=lambda: NOW) as fake:
        fake.numbers.seed_active(250)
        fake.numbers.seed_active(7, start=447700900000, regionCode="GB", type="MOBILE")
        async with fake.project_client() as client:
            kw = dict(region_code="US", capabilities=["SMS"], page_size=40)
            pager = client.numbers.list(**kw)
            first: list[str] = []
            async for n in pager:
                first.append(n.phone_number)
                if len(first) == 95:
                    break
            dump("pager_checkpoint_numbers_token.json", pager.checkpoint.to_dict())
            rest = [n.phone_number async for n in client.numbers.list(resume=pager.checkpoint)]
            assert len(first) + len(rest) == 250 and not set(first) & set(rest)
            dump("pager_checkpoint_numbers_token.rest.json", rest)


async def sync_file() -> None:
    tmp = OUT / "_tmp_sync"
    tmp.mkdir(exist_ok=True)
    async with FakeSinch(seed=16, now=lambda: NOW) as fake:
        fake.seed_inbounds(40, start=START, spacing=timedelta(seconds=90))
        async with fake.client() as client:
            path = tmp / "inbounds.json"
            got: list[str] = []
            async with client.inbounds.sync(
                checkpoint=path,
                since=START - timedelta(minutes=1),
                until=NOW,
                chunk=timedelta(minutes=20),
                page_size=7,
            ) as sync:
                async for item in sync:
                    got.append(item.id)
                    if len(got) == 17:
                        await sync.commit()
                        break
            listed = client.inbounds.list(start_date=START - timedelta(minutes=1), page_size=100)
            everything = [m.id async for m in listed]
    for suffix in ("", ".alt"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            shutil.copy(src, OUT / f"sync_checkpoint_inbounds.json{suffix}")
    dump("sync_checkpoint_inbounds.rest.json", sorted(set(everything) - set(got)))
    shutil.rmtree(tmp)


async def main() -> None:
    await sms()
    await numbers()
    await sync_file()


asyncio.run(main())
