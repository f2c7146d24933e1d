"""Writing a sync to a JSON-lines file, with a progress bar and a clean stop on a signal."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._sync import Sync
from ._output import jsonable

__all__ = ["SyncResult", "checkpoint_for", "run_sync"]


def checkpoint_for(out: Path) -> Path:
    """The default checkpoint beside an output file: ``OUT.checkpoint.json``."""
    return out.with_name(out.name + ".checkpoint.json")


@attrs.frozen
class SyncResult:
    """How a run ended: ``written`` lines, and the signal that stopped it early, if any."""

    written: int
    signal: int | None = None
    aborted: bool = False  # a second signal: stopped mid-request, the last item may repeat

    @property
    def complete(self) -> bool:
        """True when the whole window was copied."""
        return self.signal is None

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal number (130 for Ctrl-C), as a shell reports it."""
        return 0 if self.signal is None else 128 + self.signal


class _StopOnSignal:
    """While entered: the first SIGINT/SIGTERM sets `signal` (stop when convenient),
    a second one cancels the current task (stop now; `aborted`).

    On exit the loop's handlers are removed, so a later Ctrl-C is an ordinary
    ``KeyboardInterrupt``. Where handlers cannot be installed (Windows, not the main
    thread) nothing is caught.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, console: Console, on_stop: Callable[[], None] | None = None) -> None:
        self.console = console
        #: called on the first signal (e.g. ``SendMany.stop``: a takeover wait ends)
        self.on_stop = on_stop
        self.signal: int | None = None
        self.aborted = False
        self._task: asyncio.Task[Any] | None = None
        self._installed: list[int] = []

    def __enter__(self) -> _StopOnSignal:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for signum in self.SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._installed.append(signum)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        if exc_type is asyncio.CancelledError and self.aborted and self._task is not None:
            self._task.uncancel()  # our own cancellation: handled, the run just ends
            return True
        return False

    def _on_signal(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
            self.console.print(
                "stopping after the current item (press Ctrl-C again to stop at once)",
                markup=False,
                highlight=False,
            )
            if self.on_stop is not None:
                self.on_stop()
        elif not self.aborted and self._task is not None:
            self.aborted = True
            self._task.cancel()


async def run_sync(
    sync: Sync[Any],
    out: Path,
    *,
    label: str,
    console: Console,
    quiet: bool = False,
    resumable: bool = True,
) -> SyncResult:
    """Append each synced item to ``out`` as one JSON line; progress goes to ``console``.

    A line is written (and flushed) right after its item is handed out. The first SIGINT
    or SIGTERM stops the run after the line in hand, committed first, so the file and the
    checkpoint agree and a rerun goes on with the next item. A second one stops at once,
    even mid-request (the last line's position is normally committed already; at worst a
    rerun writes that line again). ``resumable=False`` leaves the "run again" hint out.
    """
    loop = asyncio.get_running_loop()
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[pages]} pages"),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    written = 0
    finished = False
    started = loop.time()

    def show(task: TaskID, *, last: bool = False) -> None:
        done = sync.stats.already_done + written
        total = sync.stats.total
        progress.update(
            task,
            completed=done,
            # at the end the bar is full, whatever the estimate said
            total=max(total or 0, done) if last else total,
            pages=sync.stats.pages,
            rate=written / max(loop.time() - started, 1e-6),
        )

    try:
        with progress, out.open("a", encoding="utf-8") as fh:
            bar = progress.add_task(label, total=None, pages=0, rate=0.0)
            with _StopOnSignal(console) as stop:
                async for item in sync:
                    fh.write(json.dumps(jsonable(item)) + "\n")
                    fh.flush()
                    written += 1
                    if written % 250 == 0:
                        show(bar)
                    if stop.signal is not None:
                        await sync.commit()  # the line is written: a rerun must not repeat it
                        break
                else:
                    finished = True
            show(bar, last=True)  # pages and rate too: the last line is the one that stays
    finally:
        await sync.aclose()
    if finished or stop.signal is None:
        return SyncResult(written)
    resume = "; run the same command again to resume" if resumable else ""
    console.print(
        f"{'stopped' if stop.aborted else 'interrupted'} after {written} items{resume}",
        markup=False,
        highlight=False,
    )
    return SyncResult(written, signal=stop.signal, aborted=stop.aborted)
