"""Exactly-once, resumable sync of inbounds or delivery reports over a pinned time window."""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ._errors import SinchValidationError
from ._pagination import AsyncPager
from ._validation import check_aware
from ._wire import format_datetime, parse_datetime

__all__ = [
    "CheckpointStore",
    "JsonFileCheckpoint",
    "MemoryCheckpoint",
    "Sync",
    "SyncStats",
]

T = TypeVar("T")
STATE_VERSION = 1
_MS = timedelta(milliseconds=1)


class CheckpointStore(Protocol):
    """Where a sync keeps its position: ``load()`` the last saved state, ``save()`` a new one.

    ``save`` must replace the state atomically (all or nothing).
    """

    async def load(self) -> dict[str, Any] | None: ...

    async def save(self, state: dict[str, Any]) -> None: ...


class JsonFileCheckpoint:
    """A checkpoint in a small JSON file, crash-safe and cheap enough to write per item.

    Saves alternate between ``path`` and ``path.alt``; each holds a sequence number and a
    CRC of the state. ``load`` takes the newest intact one, so a write torn by a crash
    falls back to the state before it (whose item had not been handed out yet). One save
    is a single in-place write (about 10 us here) instead of a write-and-rename (300 us).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._alt = self.path.with_name(self.path.name + ".alt")
        self._seq: int | None = None

    def _read(self, path: Path) -> tuple[int, dict[str, Any]] | None:
        try:
            data = json.loads(path.read_bytes())
            state = data["state"]
            if zlib.crc32(_canonical(state)) != data["crc"]:
                return None
            return int(data["seq"]), state
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # torn or foreign: the other slot decides

    async def load(self) -> dict[str, Any] | None:
        slots = [got for p in (self.path, self._alt) if (got := self._read(p)) is not None]
        if not slots:
            if self.path.exists():
                raise SinchValidationError("checkpoint", f"{self.path} holds no valid checkpoint")
            self._seq = 0
            return None
        seq, state = max(slots, key=lambda slot: slot[0])
        self._seq = seq
        return state

    async def save(self, state: dict[str, Any]) -> None:
        # No await inside: a save cannot be interrupted by cancellation half-way.
        if self._seq is None:
            await self.load()
        assert self._seq is not None
        self._seq += 1
        body = _canonical(state)
        record = b'{"seq":%d,"crc":%d,"state":%s}' % (self._seq, zlib.crc32(body), body)
        target = self.path if self._seq % 2 else self._alt
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, record, 0)
            os.ftruncate(fd, len(record))
        finally:
            os.close(fd)


def _canonical(state: Mapping[str, Any]) -> bytes:
    return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()


class MemoryCheckpoint:
    """A checkpoint held in memory (for tests, or to embed in your own storage)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        return None if self.state is None else json.loads(json.dumps(self.state))

    async def save(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))
        self.saves += 1


@attrs.define
class SyncStats:
    """Progress of a sync: ``total`` is Sinch's count for the whole window at the start."""

    start: datetime | None = None
    end: datetime | None = None
    total: int | None = None
    items: int = 0
    pages: int = 0
    windows: int = 0
    windows_done: int = 0
    rewalks: int = 0
    skipped_duplicates: int = 0


ListFn = Callable[..., AsyncPager[Any]]


class Sync(Generic[T]):
    """Async iterator over every item of a pinned window, each exactly once.

    * The window ends when the sync starts (``until``) and starts at the last
      checkpoint's end, or ``since`` (default: 24 h back) on the first run.
    * It is split into sub-windows of ``chunk``, walked oldest first; inside one, pages
      come newest first (``prefetch`` pages at a time) and items are de-duplicated by id.
    * When ``count`` changes during a sub-window's walk, the sub-window is walked again and
      anything not yet seen is yielded, so late arrivals inside the window are not missed.
    * Before an item is handed to you the checkpoint records it, as a time cursor plus the
      ids at that instant. A job killed at any point resumes after the last item handed
      out: nothing twice, nothing lost (handle each item before you next await, or make
      handling idempotent).
    """

    def __init__(
        self,
        *,
        kind: str,
        list_fn: ListFn,
        time_of: Callable[[Any], datetime | None],
        key_of: Callable[[Any], str],
        filters: Mapping[str, Any],
        checkpoint: CheckpointStore | None,
        since: datetime | None,
        until: datetime | None,
        chunk: timedelta,
        page_size: int,
        prefetch: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        check_aware(since, "since")
        check_aware(until, "until")
        if chunk <= timedelta(0):
            raise SinchValidationError("chunk", "must be a positive timedelta")
        self._kind = kind
        self._list = list_fn
        self._time_of = time_of
        self._key_of = key_of
        self._filters = {k: v for k, v in filters.items() if v is not None}
        self._store = checkpoint or MemoryCheckpoint()
        self._since = since
        self._until = until
        self._chunk = chunk
        self._page_size = page_size
        self._prefetch = prefetch
        self._now = now
        self.stats = SyncStats()
        self._gen: AsyncGenerator[T, None] | None = None

    @property
    def checkpoint(self) -> CheckpointStore:
        return self._store

    def __aiter__(self) -> Sync[T]:
        return self

    async def __anext__(self) -> T:
        if self._gen is None:
            self._gen = self._run()
        return await anext(self._gen)

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()

    async def __aenter__(self) -> Sync[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- state ----------------------------------------------------------------------------

    def _filters_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in sorted(self._filters.items()):
            out[key] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
        return out

    async def _initial_state(self) -> dict[str, Any]:
        saved = await self._store.load()
        filters = self._filters_json()
        if saved is not None:
            if saved.get("version") != STATE_VERSION or saved.get("kind") != self._kind:
                raise SinchValidationError(
                    "checkpoint", f"checkpoint is not a {self._kind} sync (version {STATE_VERSION})"
                )
            if saved.get("filters") != filters:
                raise SinchValidationError(
                    "checkpoint", "checkpoint was written for other filters; use another file"
                )
            if parse_datetime(saved["done_until"]) < parse_datetime(saved["end"]):
                return saved  # an unfinished run: same pinned window
            start = parse_datetime(saved["end"])
        else:
            start = self._since or (self._now() - timedelta(hours=24))
        end = self._until or self._now()
        if end <= start:
            end = start  # nothing new yet
        return {
            "version": STATE_VERSION,
            "kind": self._kind,
            "filters": filters,
            "start": format_datetime(start),
            "end": format_datetime(end),
            "done_until": format_datetime(start),
            "cursor": None,
        }

    async def _save(self, state: dict[str, Any], previous: dict[str, Any]) -> None:
        """Save ``state``; if cancelled meanwhile, finish and put ``previous`` back."""
        task = asyncio.ensure_future(self._store.save(state))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            await asyncio.shield(self._store.save(previous))
            raise

    # --- the walk -------------------------------------------------------------------------

    async def _run(self) -> AsyncGenerator[T, None]:
        state = await self._initial_state()
        start = parse_datetime(state["start"])
        end = parse_datetime(state["end"])
        self.stats.start, self.stats.end = start, end
        if end <= start:
            await self._store.save(state)
            return
        windows = -(-(end - start) // self._chunk)
        self.stats.windows = int(windows)
        done_until = parse_datetime(state["done_until"])
        self.stats.windows_done = int((done_until - start) // self._chunk)
        probe = self._list(
            start_date=done_until, end_date=end, page_size=1, max_items=1, **self._filters
        )
        async for _ in probe.pages():
            break
        self.stats.total = probe.count
        while done_until < end:
            sub_end = min(done_until + self._chunk, end)
            async for item in self._walk_window(state, done_until, sub_end):
                yield item
            done_until = sub_end
            previous = dict(state)
            state = {**state, "done_until": format_datetime(done_until), "cursor": None}
            await self._save(state, previous)
            self.stats.windows_done += 1

    async def _walk_window(
        self, state: dict[str, Any], low: datetime, high: datetime
    ) -> AsyncGenerator[T, None]:
        cursor = state.get("cursor")
        upper = high
        ties: set[str] = set()
        cursor_time: datetime | None = None
        if cursor is not None:
            upper = parse_datetime(cursor["end"])
            ties = set(cursor["ties"])
            cursor_time = upper - _MS
        seen: set[str] = set()
        while True:
            pager = self._list(
                start_date=low,
                end_date=upper,
                page_size=self._page_size,
                prefetch=self._prefetch,
                **self._filters,
            )
            first_count: int | None = None
            changed = False
            async for page in pager.pages():
                self.stats.pages += 1
                if first_count is None:
                    first_count = page.count
                elif page.count != first_count:
                    changed = True
                for item in page.items:
                    item_id = self._key_of(item)
                    if item_id in seen or item_id in ties:
                        self.stats.skipped_duplicates += 1
                        continue
                    when = self._time_of(item)
                    if when is not None and (cursor_time is None or when < cursor_time):
                        cursor_time, ties = when, set()
                    ties.add(item_id)
                    seen.add(item_id)
                    previous = state.copy()
                    cursor_end = (cursor_time or high - _MS) + _MS
                    state["cursor"] = {"end": format_datetime(cursor_end), "ties": sorted(ties)}
                    await self._save(state, previous)
                    self.stats.items += 1
                    yield item
            if not changed:
                return
            # Items arrived or left inside the window while we walked: walk it again and
            # yield whatever we have not seen (ids handed out before are skipped).
            self.stats.rewalks += 1
            upper = high
