"""Exactly-once, resumable sync of inbounds or delivery reports over a pinned time window."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import sqlite3
import stat
import time
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

import attrs

from ._errors import (
    CheckpointInUseError,
    SinchPagingError,
    SinchValidationError,
    UndecodableItem,
)
from ._pagination import AsyncPager, OnUndecodable
from ._validation import (
    check_aware,
    check_choice,
    check_commit_every,
    check_count,
    check_lag,
    check_on_undecodable,
    check_seconds,
    check_timedelta,
)
from ._wire import format_datetime, parse_datetime

__all__ = [
    "CheckpointStore",
    "CommitMode",
    "JsonFileCheckpoint",
    "MemoryCheckpoint",
    "SqliteCheckpoint",
    "Sync",
    "SyncStats",
]

log = logging.getLogger("sinch_async")

T = TypeVar("T")
STATE_VERSION = 1
_MS = timedelta(milliseconds=1)


class CheckpointStore(Protocol):
    """Where a sync keeps its position: ``load()`` the last saved state, ``save()`` a new one.

    ``save`` must replace the state atomically (all or nothing). A store may also offer
    ``async acquire()`` / ``async release()``: the sync then holds it for its whole run, and
    ``acquire`` raises [`CheckpointInUseError`][] when another sync holds it. A store
    held under an expiring lease also offers ``async ensure_held()``, awaited before each
    item is handed out: it raises ([`CheckpointLeaseLost`][]) once the lease is gone,
    and the sync stops.
    """

    async def load(self) -> dict[str, Any] | None: ...

    async def save(self, state: dict[str, Any]) -> None: ...


def _open_nofollow(path: Path, flags: int) -> int:
    """Open ``path`` refusing a symlink at its last component (a planted link)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SinchValidationError(
                "checkpoint", f"{path} is a symbolic link; refusing to follow it"
            ) from exc
        if exc.errno == errno.EISDIR:
            raise SinchValidationError(
                "checkpoint", f"{path} is a directory: no checkpoint file"
            ) from exc
        raise


class _FileLock:
    """An exclusive ``flock`` on ``path`` (released by the kernel if the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise CheckpointInUseError(
                f"checkpoint {self.path} is in use by another sync (this or another process)"
            ) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class JsonFileCheckpoint:
    """A checkpoint in a small JSON file, crash-safe and cheap enough to write per item.

    Saves alternate between ``path`` and ``path.alt``; each holds a sequence number and a
    CRC of the state. ``load`` takes the newest intact one, so a write torn by a crash
    falls back to the state before it. A save is one in-place ``pwrite`` into the page
    cache (no blocking I/O on the loop), which survives the process being killed;
    ``durable=True`` also ``fdatasync``s each save (surviving power loss), in a worker
    thread so the event loop keeps running (``python -m benchmarks.sync`` measures both).

    A sync holds ``path.lock`` (an exclusive ``flock``) while it runs: a second sync on
    the same file gets [`CheckpointInUseError`][] at once. Symbolic links at any of the
    three file names are refused.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False) -> None:
        self.path = Path(path)
        self.durable = durable
        self._alt = self.path.with_name(self.path.name + ".alt")
        self._lock = _FileLock(self.path.with_name(self.path.name + ".lock"))
        self._seq: int | None = None
        self._fds: dict[Path, int] = {}
        self._executor: ThreadPoolExecutor | None = None

    def _read(self, path: Path) -> tuple[int, dict[str, Any]] | None:
        try:
            fd = _open_nofollow(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                kind = "a directory" if stat.S_ISDIR(info.st_mode) else "no regular file"
                raise SinchValidationError("checkpoint", f"{path} is {kind}: no checkpoint file")
            raw = os.read(fd, info.st_size or 1)
        finally:
            os.close(fd)
        try:
            data = json.loads(raw)
            state = data["state"]
            if zlib.crc32(_canonical(state)) != data["crc"]:
                return None
            return int(data["seq"]), state
        except (ValueError, KeyError, TypeError):
            return None  # torn or foreign: the other slot decides

    async def acquire(self) -> None:
        """Take the checkpoint's lock ([`CheckpointInUseError`][] if another sync has it)."""
        self._lock.acquire()

    async def release(self) -> None:
        """Drop the lock and the open files."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._lock.release()

    async def load(self) -> dict[str, Any] | None:
        slots = [got for p in (self.path, self._alt) if (got := self._read(p)) is not None]
        if not slots:
            if self.path.exists() and self.path.stat().st_size:
                raise SinchValidationError("checkpoint", f"{self.path} holds no valid checkpoint")
            self._seq = 0
            return None
        seq, state = max(slots, key=lambda slot: slot[0])
        self._seq = seq
        return state

    async def save(self, state: dict[str, Any]) -> None:
        if self._seq is None:
            await self.load()
        assert self._seq is not None
        self._seq += 1
        body = _canonical(state)
        record = b'{"seq":%d,"crc":%d,"state":%s}' % (self._seq, zlib.crc32(body), body)
        target = self.path if self._seq % 2 else self._alt
        if not self.durable:
            self._write(target, record)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sinch-checkpoint")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, target, record)

    def _write(self, target: Path, record: bytes) -> None:
        fd = self._fds.get(target)
        if fd is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = _open_nofollow(target, os.O_RDWR | os.O_CREAT)
            self._fds[target] = fd
        os.pwrite(fd, record, 0)
        os.ftruncate(fd, len(record))
        if self.durable:
            os.fdatasync(fd)


def _canonical(state: Mapping[str, Any]) -> bytes:
    return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()


class SqliteCheckpoint:
    """A checkpoint in a sqlite3 database: durable (sqlite's journal), and able to share a
    transaction with your own rows for exactly-once delivery.

    Give a path (the store opens its own connection; saves run in a worker thread) or your
    own ``sqlite3.Connection`` (saves run on your thread, as your other writes do). With
    ``sync(..., commit="manual")``, call [`write`][] with ``sync.position`` inside the
    transaction that stores the item: both commit together or neither does. ``name`` keys
    the row, so one database can hold many checkpoints. A sync holds ``<db>.<name>.lock``
    while it runs ([`CheckpointInUseError`][] for a second one).
    """

    TABLE = "sinch_async_checkpoints"

    def __init__(self, db: str | os.PathLike[str] | sqlite3.Connection, *, name: str = "sync"):
        if isinstance(db, sqlite3.Connection):
            self._conn = db
            self._own = False
            row = db.execute("PRAGMA database_list").fetchone()
            file = row[2] if row and row[2] else None
        else:
            file = os.fspath(db)
            self._conn = sqlite3.connect(file, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._own = True
        self.name = name
        self._lock = _FileLock(Path(f"{file}.{name}.lock")) if file else None
        self._executor: ThreadPoolExecutor | None = None
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.TABLE} (name TEXT PRIMARY KEY, state TEXT NOT NULL)"
        )
        if not self._own and not self._conn.in_transaction:
            self._conn.commit()

    def write(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` in the connection's current transaction (no commit)."""
        self._conn.execute(
            f"INSERT INTO {self.TABLE} (name, state) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET state = excluded.state",
            (self.name, _canonical(state).decode()),
        )

    def _save_now(self, state: dict[str, Any]) -> None:
        if self._own:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self.write(state)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        else:
            with self._conn:
                self.write(state)

    async def load(self) -> dict[str, Any] | None:
        row = self._conn.execute(
            f"SELECT state FROM {self.TABLE} WHERE name = ?", (self.name,)
        ).fetchone()
        if row is None:
            return None
        loaded: dict[str, Any] = json.loads(row[0])
        return loaded

    async def save(self, state: dict[str, Any]) -> None:
        if not self._own:
            self._save_now(state)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sinch-checkpoint")
        await asyncio.get_running_loop().run_in_executor(self._executor, self._save_now, state)

    async def acquire(self) -> None:
        """Take the checkpoint's lock ([`CheckpointInUseError`][] if another sync has it)."""
        if self._lock is not None:
            self._lock.acquire()

    async def release(self) -> None:
        """Drop the lock (the connection stays open; [`close`][] closes an owned one)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._lock is not None:
            self._lock.release()

    def close(self) -> None:
        """Close the connection if this store opened it."""
        if self._own:
            self._conn.close()


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
    """Progress of a sync.

    ``total`` is Sinch's count for the whole window when it was first walked (kept across
    resumes); ``already_done`` the items of this window handed out and committed by
    earlier runs; ``items`` those handed out by this run. ``already_done + items`` against
    ``total`` is the progress of the window.
    """

    start: datetime | None = None
    end: datetime | None = None
    total: int | None = None
    already_done: int = 0
    items: int = 0
    pages: int = 0
    windows: int = 0
    windows_done: int = 0
    rewalks: int = 0
    #: sub-windows whose ``count`` still moved after ``max_rewalks`` walks (finished anyway)
    rewalk_limit_hits: int = 0
    skipped_duplicates: int = 0
    commits: int = 0
    #: items passed because the SDK cannot decode them (``on_undecodable="skip"``; a
    #: sub-window walked again counts its own again)
    skipped: int = 0


class _Cursor:
    """The position after one item, kept cheap: the state dict is built only when it is
    committed or asked for (``Sync.position``)."""

    __slots__ = ("base", "delivered", "high", "n_ties", "tie_list", "when")

    def __init__(
        self,
        base: dict[str, Any],
        when: datetime | None,
        tie_list: list[str],
        n_ties: int,
        high: datetime,
        delivered: int,
    ) -> None:
        self.base = base
        self.when = when
        self.tie_list = tie_list  # shared and appended to: the first n_ties are this one's
        self.n_ties = n_ties
        self.high = high
        self.delivered = delivered

    def materialize(self) -> dict[str, Any]:
        cursor_end = (self.when or self.high - _MS) + _MS
        return {
            **self.base,
            "cursor": {
                "end": format_datetime(cursor_end),
                "ties": sorted(self.tie_list[: self.n_ties]),
            },
            "delivered": self.delivered,
        }


def _check_state(saved: object, kind: str) -> None:
    """Refuse a loaded state that is not one this sync wrote, whatever the store (an
    intact record, e.g. a JSON file with a valid checksum, may still hold anything):
    [`SinchValidationError`][] naming what is wrong, never a ``KeyError`` later."""
    if not isinstance(saved, dict):
        raise SinchValidationError(
            "checkpoint", f"checkpoint holds a JSON {type(saved).__name__}, not a sync state"
        )
    if saved.get("version") != STATE_VERSION or saved.get("kind") != kind:
        raise SinchValidationError(
            "checkpoint", f"checkpoint is not a {kind} sync (version {STATE_VERSION})"
        )

    def bad(what: str) -> SinchValidationError:
        return SinchValidationError("checkpoint", f"checkpoint of a {kind} sync: {what}")

    def when(value: object, key: str) -> None:
        try:
            if not isinstance(value, str):
                raise TypeError(type(value).__name__)
            parse_datetime(value)
        except (TypeError, ValueError):
            raise bad(f"{key} is not a timestamp: {value!r}") from None

    for key in ("start", "end", "done_until"):
        when(saved.get(key), key)
    if not isinstance(saved.get("filters"), dict):
        raise bad("filters is not an object")
    for key in ("delivered", "total"):
        value = saved.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad(f"{key} is not an integer: {value!r}")
    cursor = saved.get("cursor")
    if cursor is not None:
        if not isinstance(cursor, dict):
            raise bad("cursor is not an object")
        when(cursor.get("end"), "cursor.end")
        ties = cursor.get("ties")
        if not isinstance(ties, list) or not all(isinstance(t, str) for t in ties):
            raise bad("cursor.ties is not a list of ids")


ListFn = Callable[..., AsyncPager[Any]]
CommitMode = Literal["auto", "manual"]


class Sync(Generic[T]):
    """Async iterator over every item of a pinned window; resumable from a checkpoint.

    * The window ends at ``until``, else ``lag`` before the sync starts (``now``, the
      client's clock; ``lag`` leaves room for items Sinch indexes late: they fall in the
      next run's window), and starts at the last checkpoint's end, or ``since`` (default:
      24 h back) on the first run. A run that resumes an unfinished window keeps that
      window's end. ``lag`` is a non-negative `timedelta`; a non-zero ``lag``
      together with ``until`` is refused ([`SinchValidationError`][]: they contradict).
    * It is split into sub-windows of ``chunk``, walked oldest first; inside one, pages
      come newest first (``prefetch`` pages at a time) and items are de-duplicated by id.
    * When ``count`` changes during a sub-window's walk, the sub-window is walked again
      (at most ``max_rewalks`` times, then it is finished with a warning and counted in
      ``stats.rewalk_limit_hits``) and anything not yet seen is yielded.

    Delivery (``commit``):

    * ``"auto"`` (default), **at least once**: the position after an item is committed
      when you ask for the next one, so an item you were handling when the process died
      is handed out again, and none is lost. ``commit_every=N`` (or ``"page"``) and
      ``commit_interval=T`` seconds commit less often (a crash then repeats up to N items,
      a page, or T seconds' worth). [`commit`][] commits the item in hand at once
      (before a ``break``).
    * ``"manual"``, **exactly once**: the sync never saves; store [`position`][] in the
      same transaction as each item (or each batch of items; see
      [`SqliteCheckpoint`][]), and once more after the loop (the window is done).

    The store is held (locked) for the whole run when it supports it; a store held
    under a lease stops the sync with [`CheckpointLeaseLost`][] once the lease is lost.

    An item the SDK cannot decode stops the sync with [`UndecodableItem`][]
    (``on_undecodable="raise"``, the default; the checkpoint stays before it, so a rerun
    stops there again), or is passed (``"skip"``): logged at WARNING, counted in
    ``stats.skipped``, and the commits of the items after it go past it.
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
        commit: CommitMode = "auto",
        commit_every: int | Literal["page"] = 1,
        commit_interval: float | None = None,
        max_rewalks: int = 3,
        lag: timedelta = timedelta(0),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_undecodable: OnUndecodable = "raise",
    ) -> None:
        self._on_undecodable = check_on_undecodable(on_undecodable)
        check_aware(since, "since")
        check_aware(until, "until")
        check_timedelta(chunk, "chunk", positive=True)
        self._lag = check_lag(lag, until)
        check_choice(commit, "commit", ("auto", "manual"))
        check_commit_every(commit_every)
        check_seconds(commit_interval, "commit_interval", positive=True, optional=True)
        check_count(max_rewalks, "max_rewalks")
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
        self._commit = commit
        self._commit_every = commit_every
        self._commit_interval = commit_interval
        self._max_rewalks = max_rewalks
        self._now = now
        self.stats = SyncStats()
        self._gen: AsyncGenerator[T, None] | None = None
        self._position: dict[str, Any] | _Cursor | None = None
        self._committed: dict[str, Any] | _Cursor | None = None
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._held = False
        #: the store's ``ensure_held`` (looked up once, when the store is acquired)
        self._ensure_held: Callable[[], Awaitable[None]] | None = None

    @property
    def checkpoint(self) -> CheckpointStore:
        return self._store

    @property
    def position(self) -> dict[str, Any]:
        """The checkpoint state after the item last handed out (JSON-safe; a copy).

        Store it with the item (same transaction) for exactly-once delivery; a store whose
        ``load()`` returns it resumes right after that item. Available once the first item
        was handed out ([`SinchValidationError`][] before)."""
        if self._position is None:
            raise SinchValidationError("position", "no item has been handed out yet")
        return json.loads(json.dumps(self._materialized()))  # type: ignore[no-any-return]

    def _materialized(self) -> dict[str, Any]:
        pos = self._position
        assert pos is not None
        return pos.materialize() if isinstance(pos, _Cursor) else pos

    def __aiter__(self) -> Sync[T]:
        return self

    async def __anext__(self) -> T:
        if self._gen is None:
            self._gen = self._run()
        return await anext(self._gen)

    async def commit(self) -> None:
        """Commit the position after the item in hand now (auto mode; e.g. before a
        ``break``, so a rerun does not hand that item out again)."""
        if self._commit == "auto" and self._position is not None:
            await self._save(self._position)

    async def aclose(self) -> None:
        """Stop the walk and release the checkpoint (the item in hand stays uncommitted)."""
        try:
            if self._gen is not None:
                await self._gen.aclose()
        finally:
            await self._release()

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

    async def _acquire(self) -> None:
        acquire = getattr(self._store, "acquire", None)
        if callable(acquire):
            await acquire()
            self._held = True
            ensure = getattr(self._store, "ensure_held", None)
            self._ensure_held = ensure if callable(ensure) else None

    async def _release(self) -> None:
        release = getattr(self._store, "release", None)
        if self._held and callable(release):
            self._held = False
            await release()

    async def _initial_state(self) -> dict[str, Any]:
        saved = await self._store.load()
        filters = self._filters_json()
        if saved is not None:
            _check_state(saved, self._kind)
            if saved.get("filters") != filters:
                raise SinchValidationError(
                    "checkpoint", "checkpoint was written for other filters; use another file"
                )
            if parse_datetime(saved["done_until"]) < parse_datetime(saved["end"]):
                return saved  # an unfinished run: same pinned window
            start = parse_datetime(saved["end"])
        else:
            start = self._since or (self._now() - timedelta(hours=24))
        end = self._until or self._now() - self._lag
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
            "delivered": 0,
            "total": None,
        }

    async def _save(self, position: dict[str, Any] | _Cursor) -> None:
        """Commit ``position`` (built into the state dict only now). A cancellation that
        interrupts a save leaves the old or the new position, both correct: the consumer
        was done with the item either way."""
        if position is self._committed:
            return
        state = position.materialize() if isinstance(position, _Cursor) else position
        await self._store.save(state)
        self._committed = position
        self._uncommitted = 0
        if self._commit_interval is not None:
            self._last_commit = time.monotonic()
        self.stats.commits += 1

    async def _after_item(self, state: _Cursor, end_of_page: bool) -> None:
        """The consumer asked for the next item: it is done with the previous one."""
        if self._commit != "auto":
            return
        self._uncommitted += 1
        every = self._commit_every
        due = (
            (every == "page" and end_of_page)
            or (isinstance(every, int) and self._uncommitted >= every)
            or (
                self._commit_interval is not None
                and time.monotonic() - self._last_commit >= self._commit_interval
            )
        )
        if due:
            await self._save(state)

    # --- the walk -------------------------------------------------------------------------

    async def _run(self) -> AsyncGenerator[T, None]:
        await self._acquire()
        try:
            async for item in self._walk():
                if self._ensure_held is not None:  # a lost lease: hand out nothing more
                    await self._ensure_held()
                yield item
        finally:
            await self._release()

    async def _walk(self) -> AsyncGenerator[T, None]:
        state = await self._initial_state()
        self._position = state
        start = parse_datetime(state["start"])
        end = parse_datetime(state["end"])
        self.stats.start, self.stats.end = start, end
        self.stats.already_done = int(state.get("delivered") or 0)
        if end <= start:
            await self._save(state)
            return
        windows = -(-(end - start) // self._chunk)
        self.stats.windows = int(windows)
        done_until = parse_datetime(state["done_until"])
        self.stats.windows_done = int((done_until - start) // self._chunk)
        if state.get("total") is None:
            probe = self._list(
                start_date=start, end_date=end, page_size=1, max_items=1, **self._filters
            )
            # only the count is wanted: an undecodable item is for the walk to meet
            with suppress(UndecodableItem):
                async for _ in probe.pages():
                    break
            state = {**state, "total": probe.count}
            self._position = state
        self.stats.total = state["total"]
        while done_until < end:
            sub_end = min(done_until + self._chunk, end)
            began = (done_until, self.stats.items, self.stats.pages, self.stats.commits)
            async for item in self._walk_window(state, done_until, sub_end):
                yield item
            done_until = sub_end
            state = {
                **self._materialized(),
                "done_until": format_datetime(done_until),
                "cursor": None,
            }
            self._position = state
            if self._commit == "auto":
                await self._save(state)
            self.stats.windows_done += 1
            self._log_window(*began, sub_end)
        # manual: nothing is saved here; ``position`` now says the window is done, for the
        # consumer to store with its last items (saving it ourselves could get ahead of them)

    def _log_window(
        self, low: datetime, items: int, pages: int, commits: int, high: datetime
    ) -> None:
        """INFO at the end of a sub-window: what it took (``items`` etc.: the stats when
        it began)."""
        stats = self.stats
        log.info(
            "sync %s: window %s..%s done: %d items, %d pages, %d commits (window %d of %d)",
            self._kind,
            format_datetime(low),
            format_datetime(high),
            stats.items - items,
            stats.pages - pages,
            stats.commits - commits,
            stats.windows_done,
            stats.windows,
            extra={
                "sinch_event": "sync_window",
                "sinch_kind": self._kind,
                "sinch_window_start": format_datetime(low),
                "sinch_window_end": format_datetime(high),
                "sinch_items": stats.items - items,
                "sinch_pages": stats.pages - pages,
                "sinch_commits": stats.commits - commits,
            },
        )

    async def _walk_window(
        self, state: dict[str, Any], low: datetime, high: datetime
    ) -> AsyncGenerator[T, None]:
        cursor = state.get("cursor")
        upper = high
        ties: set[str] = set()
        tie_list: list[str] = []
        cursor_time: datetime | None = None
        if cursor is not None:
            upper = parse_datetime(cursor["end"])
            tie_list = list(cursor["ties"])
            ties = set(tie_list)
            cursor_time = upper - _MS
        delivered = int(state.get("delivered") or 0)
        seen: set[str] = set()
        walks = 0
        while True:
            walks += 1
            pager = self._list(
                start_date=low,
                end_date=upper,
                page_size=self._page_size,
                prefetch=self._prefetch,
                on_undecodable=self._on_undecodable,
                **self._filters,
            )
            first_count: int | None = None
            changed = False
            skipped = 0  # the pager's skips already in the stats
            try:
                async for page in pager.pages():
                    self.stats.skipped += pager.skipped - skipped
                    skipped = pager.skipped
                    self.stats.pages += 1
                    if first_count is None:
                        first_count = page.count
                    elif page.count != first_count:
                        changed = True
                    fresh: list[tuple[Any, str]] = []
                    for item in page.items:
                        item_id = self._key_of(item)
                        if item_id in seen or item_id in ties:
                            self.stats.skipped_duplicates += 1
                            continue
                        seen.add(item_id)
                        fresh.append((item, item_id))
                    for n, (item, item_id) in enumerate(fresh, 1):
                        when = self._time_of(item)
                        if when is not None and (cursor_time is None or when < cursor_time):
                            cursor_time, ties, tie_list = when, set(), []
                        ties.add(item_id)
                        tie_list.append(item_id)
                        delivered += 1
                        position = _Cursor(
                            state, cursor_time, tie_list, len(tie_list), high, delivered
                        )
                        self._position = position
                        self.stats.items += 1
                        yield item
                        await self._after_item(position, n == len(fresh))
            except SinchPagingError as exc:
                # The data moved so much that the listing broke its own count (or the
                # server misbehaves): walk again, within the same bound.
                if walks > self._max_rewalks:
                    raise
                log.info("sync %s: re-walking a sub-window after %s", self._kind, exc)
                changed = True
            finally:
                self.stats.skipped += pager.skipped - skipped
            if not changed:
                return
            if walks > self._max_rewalks:
                self.stats.rewalk_limit_hits += 1
                log.warning(
                    "sync %s: count of sub-window %s..%s still changing after %d walks; "
                    "finishing it (items arriving there now belong to a later run)",
                    self._kind,
                    format_datetime(low),
                    format_datetime(high),
                    walks,
                )
                return
            # Items arrived or left inside the window while we walked: walk it again and
            # yield whatever we have not seen (ids handed out before are skipped).
            self.stats.rewalks += 1
            upper = high
