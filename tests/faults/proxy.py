"""A TCP proxy between aqueue and a database server that a test can cut and restore.

It stands in for the network: ``cut("reset")`` is a failover or a firewall
that rejects (connections drop, new ones are refused), ``cut("blackhole")``
a partition (connections stay open, nothing gets through, new ones hang) --
the nastier one, since only timeouts notice it -- and ``cut("half-open")``
a server or NAT that forgot the connections without telling (open ones hang
for good, new ones work). ``restore()`` lets new
connections through; connections that lived through a black hole are closed,
as TCP would after its retries. No server restart is needed, so it works on
any machine and targets one client alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Literal

Mode = Literal["ok", "reset", "blackhole", "half-open"]


class _Pair:
    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.blackholed = False

    def abort(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to ``target_host``:``target_port`` in a thread of its own."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "ok"
        self.port = 0
        self.connections = 0  # accepted since start
        self._pairs: set[_Pair] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._restored = asyncio.Event()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    def start(self) -> None:
        self._thread.start()

        async def serve() -> int:
            self._restored.set()
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            return int(self._server.sockets[0].getsockname()[1])

        self.port = int(self._call(serve()))  # type: ignore[call-overload]

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for pair in list(self._pairs):
                pair.abort()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._call(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self, mode: Literal["reset", "blackhole", "half-open"] = "reset") -> None:
        async def do() -> None:
            self.mode = mode
            self._restored.clear()
            for pair in list(self._pairs):
                if mode == "reset":
                    pair.abort()
                else:
                    pair.blackholed = True

        self._call(do())

    def restore(self) -> None:
        async def do() -> None:
            for pair in list(self._pairs):
                if pair.blackholed:
                    pair.abort()
            self.mode = "ok"
            self._restored.set()

        self._call(do())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        pair = _Pair(writer)
        self._pairs.add(pair)
        try:
            if self.mode == "reset":
                return
            if self.mode == "blackhole":
                await self._restored.wait()  # a SYN that never gets an answer
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return
            pair.server = up_writer
            await asyncio.gather(
                self._pump(reader, up_writer, pair),
                self._pump(up_reader, writer, pair),
                return_exceptions=True,
            )
        finally:
            self._pairs.discard(pair)
            pair.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if pair.blackholed:
                    continue  # swallowed by the partition
                writer.write(data)
                await writer.drain()
        finally:
            pair.abort()
