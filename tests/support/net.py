"""Loopback networking helpers."""

from __future__ import annotations

import asyncio
import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CountingProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target`` (``host:port``) that counts the
    connections clients open through it and those they closed (end of stream or reset
    from the client's side): what a server sees of a client's connection pool.

    ``async with CountingProxy(...) as proxy:`` serves at ``proxy.url`` (``http://...``);
    ``await proxy.wait_closed(n)`` waits until ``n`` were closed by their client (bound it
    with ``asyncio.timeout``); ``by_server`` counts those the server closed first.
    """

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self.opened = 0
        self.closed = 0
        self.by_server = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in list(self._pipes):  # the handlers then end on their own
            pipe.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def wait_closed(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.closed >= count)

    async def _count(self, *, opened: int = 0, closed: int = 0, by_server: int = 0) -> None:
        async with self._changed:
            self.opened += opened
            self.closed += closed
            self.by_server += by_server
            self._changed.notify_all()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        await self._count(opened=1)
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        forth = asyncio.create_task(_pipe(reader, up_writer))
        back = asyncio.create_task(_pipe(up_reader, writer))
        self._pipes |= {forth, back}
        try:
            await asyncio.wait({forth, back}, return_when=asyncio.FIRST_COMPLETED)
            if forth.done():  # the client closed its side
                await self._count(closed=1)
            else:
                await self._count(by_server=1)
        finally:
            for pipe in (forth, back):
                pipe.cancel()
            for w in (up_writer, writer):
                w.close()
            await asyncio.gather(forth, back, return_exceptions=True)
            self._pipes -= {forth, back}
            self._handlers.discard(task)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        return
