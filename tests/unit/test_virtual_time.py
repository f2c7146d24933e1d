"""``tests/support/virtual_time.py``: the event loop's clock made virtual (``virtual_time``).

The premise the converted tests rest on: the clock jumps only when the loop is idle, so
loopback I/O between in-loop peers always beats a timer, and timers fire in deadline order,
in no wall time; a thread (executor) holds the clock until it is done.
"""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
import pytest
from aiohttp import web

from tests.support.virtual_time import VirtualTime, VirtualTimeLimitError


async def test_sleeps_and_timeouts_pass_in_no_wall_time(virtual_time: VirtualTime) -> None:
    loop = asyncio.get_running_loop()
    started, wall = loop.time(), time.perf_counter()
    await asyncio.sleep(30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(60):
            await loop.create_future()  # never done
    assert loop.time() - started == pytest.approx(90)
    assert virtual_time.elapsed == pytest.approx(90)
    assert time.perf_counter() - wall < 1
    clock = virtual_time.clock
    assert clock is not None and clock.monotonic() == loop.time()
    before = clock.time()
    await clock.sleep(5)
    assert clock.time() - before == pytest.approx(5)


async def test_timers_fire_in_deadline_order(virtual_time: VirtualTime) -> None:
    order: list[str] = []

    async def after(delay: float, name: str) -> None:
        await asyncio.sleep(delay)
        order.append(name)

    await asyncio.gather(after(0.3, "c"), after(0.1, "a"), after(0.2, "b"), after(0.2, "b2"))
    assert order == ["a", "b", "b2", "c"]


async def test_loopback_io_beats_any_timer(virtual_time: VirtualTime) -> None:
    """Each round trip over loopback completes under a 1 ms timeout: the clock never
    jumps while a message is on its way between two peers of the loop."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(0.001):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(300):
            async with asyncio.timeout(0.001):
                writer.write(b"x" * (i * 97 % 70_000) + b"\n")
                assert len(await reader.readline()) == i * 97 % 70_000 + 1
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    assert virtual_time.jumps == 0 and virtual_time.elapsed == 0


@pytest.mark.parametrize(("answer_after", "timed_out"), [(0.2, False), (1.0, True)])
async def test_an_aiohttp_timeout_races_a_slow_answer_by_deadline(
    virtual_time: VirtualTime, answer_after: float, timed_out: bool
) -> None:
    """A server of the same loop answering after ``answer_after`` s against aiohttp's
    0.5 s total timeout: the earlier deadline wins, every time."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(answer_after)
        return web.Response(text="late" if answer_after > 0.5 else "in time")

    app = web.Application()
    app.router.add_get("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    started = virtual_time.time()
    try:
        timeout = aiohttp.ClientTimeout(total=0.5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if timed_out:
                with pytest.raises(asyncio.TimeoutError):
                    await session.get(f"http://127.0.0.1:{port}/")
            else:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    assert await response.text() == "in time"
            took = virtual_time.time() - started
    finally:
        await runner.cleanup()
    assert took == pytest.approx(min(answer_after, 0.5), abs=0.01)


async def test_a_thread_holds_the_clock(virtual_time: VirtualTime) -> None:
    """Work in an executor takes no virtual time: a 1 ms timeout around a thread that
    waits ~50 ms of real time does not fire (the loop waits for the thread instead)."""
    loop = asyncio.get_running_loop()
    done = threading.Event()
    timer = threading.Timer(0.05, done.set)
    timer.start()
    try:
        async with asyncio.timeout(0.001):
            assert await loop.run_in_executor(None, done.wait, 5)
    finally:
        timer.cancel()
    assert virtual_time.elapsed < 0.001


def test_a_hang_ends_at_the_limit_and_the_clock_never_goes_back() -> None:
    loop = asyncio.new_event_loop()
    try:
        virtual = VirtualTime(loop, limit=10).install()
        start = loop.time()
        with pytest.raises(TimeoutError):
            loop.run_until_complete(asyncio.wait_for(loop.create_future(), 4))
        assert loop.time() - start == virtual.elapsed == pytest.approx(4)  # timed out
        with pytest.raises(VirtualTimeLimitError):  # a wait that would go past 10 s
            loop.run_until_complete(asyncio.wait_for(loop.create_future(), 7))
        assert virtual.elapsed == pytest.approx(4)  # it stopped short of the limit...
        assert loop.time() >= start + virtual.elapsed  # ...and is back on real time
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


def test_it_patches_a_loop_once_and_undoes_it() -> None:
    loop = asyncio.new_event_loop()
    try:
        with VirtualTime(loop) as virtual:
            with pytest.raises(RuntimeError):
                VirtualTime(loop).install()
            assert loop.time() == virtual.time()
        assert "select" not in vars(loop._selector)  # type: ignore[attr-defined]
        assert "run_in_executor" not in vars(loop)
    finally:
        loop.close()
