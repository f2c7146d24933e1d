"""``batches.send_many``: many sends under the client's limits, one outcome per request."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import attrs

from ._errors import SendOutcomeUnknown, SinchConfigError, SinchError
from .models.batches import Batch, BatchRequest

__all__ = ["FanoutProgress", "SendMany", "SendOutcome"]

SendFn = Callable[[BatchRequest], Awaitable[Batch]]


@attrs.frozen
class SendOutcome:
    """What happened to one request: ``batch`` on success, else ``error``.

    ``index`` is the request's position in the input. ``error`` is a :class:`SinchError`
    (``SendOutcomeUnknown`` when Sinch may or may not have created the batch).
    """

    index: int
    request: BatchRequest
    batch: Batch | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def unknown(self) -> bool:
        """True when the batch may exist although the send failed."""
        return isinstance(self.error, SendOutcomeUnknown)


@attrs.define
class FanoutProgress:
    """Live counters of a ``send_many`` run (the same object is passed to ``on_progress``)."""

    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    #: outcomes that completed after the consumer stopped reading (counted, not yielded)
    unreported: int = 0

    @property
    def in_flight(self) -> int:
        return self.submitted - self.succeeded - self.failed

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


_END = object()


class SendMany:
    """Async iterator of :class:`SendOutcome`; also an async context manager.

    Reads requests lazily (a generator of millions is never materialised), keeps at most
    ``concurrency`` sends in flight and a bounded buffer of finished outcomes, and never
    stops on a failed send. Leaving early (``break`` inside ``async with``, ``aclose()``
    or cancellation) stops reading input, lets in-flight sends finish and counts their
    outcomes in ``progress.unreported``: none is lost from the accounting.
    """

    def __init__(
        self,
        send: SendFn,
        requests: Iterable[BatchRequest] | AsyncIterable[BatchRequest],
        *,
        concurrency: int,
        preserve_order: bool,
        auto_client_reference: bool,
        on_progress: Callable[[FanoutProgress], None] | None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise SinchConfigError("concurrency must be a positive integer")
        self._send = send
        self._source: Iterator[BatchRequest] | AsyncIterator[BatchRequest]
        if isinstance(requests, AsyncIterable):
            self._source = aiter(requests)
        else:
            self._source = iter(requests)
        self._concurrency = concurrency
        self._preserve_order = preserve_order
        self._auto_ref = auto_client_reference
        self._on_progress = on_progress
        self.progress = FanoutProgress()
        # Unbounded queue, bounded by _buffer: finished outcomes nobody has read yet.
        self._results: asyncio.Queue[Any] = asyncio.Queue()
        self._buffer = asyncio.Semaphore(concurrency * 2)
        self._window = asyncio.Semaphore(concurrency * 4) if preserve_order else None
        self._intake = asyncio.Lock()
        self._next_index = 0
        self._closing = False
        self._input_error: BaseException | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._pending: dict[int, SendOutcome] = {}
        self._next_out = 0
        self._finished_workers = 0

    # --- workers --------------------------------------------------------------------------

    async def _take(self) -> tuple[int, BatchRequest] | None:
        async with self._intake:
            if self._closing or self._input_error is not None:
                return None
            try:
                if isinstance(self._source, AsyncIterator):
                    request = await anext(self._source)
                else:
                    request = next(self._source)
            except (StopIteration, StopAsyncIteration):
                self._closing = True
                return None
            except Exception as exc:  # the caller's generator failed: stop, report it
                self._input_error = exc
                return None
            index = self._next_index
            self._next_index += 1
            self.progress.submitted += 1
            return index, request

    async def _worker(self) -> None:
        try:
            while True:
                if self._window is not None:
                    await self._window.acquire()
                taken = await self._take()
                if taken is None:
                    if self._window is not None:
                        self._window.release()
                    return
                index, request = taken
                outcome = await self._one(index, request)
                await self._buffer.acquire()
                self._results.put_nowait(outcome)
        finally:
            self._results.put_nowait(_END)

    async def _one(self, index: int, request: BatchRequest) -> SendOutcome:
        if self._auto_ref and getattr(request, "client_reference", None) is None:
            request = attrs.evolve(request, client_reference=f"sa-{uuid.uuid4().hex}")
        try:
            batch = await self._send(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = SendOutcome(index=index, request=request, error=exc)
            self.progress.failed += 1
            if isinstance(exc, SendOutcomeUnknown):
                self.progress.unknown += 1
        else:
            outcome = SendOutcome(index=index, request=request, batch=batch)
            self.progress.succeeded += 1
        if self._on_progress is not None:
            self._on_progress(self.progress)
        return outcome

    def _start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._worker(), name=f"sinch-send-many-{i}")
                for i in range(self._concurrency)
            ]

    # --- consumer -------------------------------------------------------------------------

    def __aiter__(self) -> SendMany:
        return self

    async def __anext__(self) -> SendOutcome:
        self._start()
        while True:
            if self._preserve_order and self._next_out in self._pending:
                return self._emit(self._pending.pop(self._next_out))
            if self._finished_workers == len(self._workers):
                if self._pending:  # pragma: no cover - indices are dense, cannot happen
                    raise SinchError("send_many lost track of an outcome")
                if self._input_error is not None:
                    error, self._input_error = self._input_error, None
                    raise error
                raise StopAsyncIteration
            item = await self._results.get()
            if item is _END:
                self._finished_workers += 1
                continue
            self._buffer.release()
            if not self._preserve_order:
                return self._emit(item)
            self._pending[item.index] = item

    def _emit(self, outcome: SendOutcome) -> SendOutcome:
        if self._window is not None:
            self._window.release()
            self._next_out += 1
        return outcome

    async def aclose(self) -> None:
        """Stop reading input, let in-flight sends finish, count what nobody read."""
        self._closing = True
        if self._window is not None:
            # wake workers waiting for the order window so they can see we are closing
            for _ in range(self._concurrency):
                self._window.release()
        while self._finished_workers < len(self._workers):
            item = await self._results.get()
            if item is _END:
                self._finished_workers += 1
            else:
                self._buffer.release()
                self.progress.unreported += 1
        self.progress.unreported += len(self._pending)
        self._pending.clear()

    async def __aenter__(self) -> SendMany:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            for task in self._workers:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            return
        await self.aclose()
