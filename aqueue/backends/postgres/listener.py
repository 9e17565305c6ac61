"""PostgreSQL's LISTEN/NOTIFY: the Notifications capability."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from aqueue.backends.base import CancelHandler, DoneHandler, HandoverHandler, NewJobHandler
from aqueue.backends.postgres.core import PostgresCore
from aqueue.errors import DatabaseUnavailable

log = logging.getLogger("aqueue.backend")


class PostgresNotifications(PostgresCore):
    """:class:`~aqueue.backends.base.Notifications`: one listening connection
    per subscriber (a worker, a queue's result readers)."""

    async def listen(
        self,
        on_new: NewJobHandler,
        on_done: DoneHandler,
        on_cancel: CancelHandler | None = None,
        on_handover: HandoverHandler | None = None,
    ) -> PostgresListener | None:
        if not self.supports_notify:
            return None
        listener = PostgresListener(
            self._connect_args(self._listen_dsn),
            on_new,
            on_done,
            on_cancel,
            self._unavailable,
            on_handover,
        )
        await listener.start()
        return listener


class PostgresListener:
    """Holds one connection LISTENing on both channels, reconnecting with backoff.

    After a reconnect it reports "anything may have changed" (``on_new("*")``,
    ``on_done(None)``), since notifications sent meanwhile were lost.
    """

    def __init__(
        self,
        connect_args: dict[str, Any],
        on_new: NewJobHandler,
        on_done: DoneHandler,
        on_cancel: CancelHandler | None,
        unavailable: Callable[[BaseException], DatabaseUnavailable],
        on_handover: HandoverHandler | None = None,
    ) -> None:
        self._connect_args = connect_args
        self._on_new = on_new
        self._on_done = on_done
        self._on_cancel = on_cancel
        self._on_handover = on_handover
        self._unavailable = unavailable
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    def _notified(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        if channel == "aqueue_new":
            self._on_new(payload)
        elif channel == "aqueue_handover":
            if self._on_handover is not None:
                self._on_handover(payload)
        elif channel == "aqueue_cancel":
            if self._on_cancel is not None:
                self._on_cancel(payload)
        else:
            self._on_done(payload.split(",") if payload else None)

    async def _connect(self) -> tuple[asyncpg.Connection, asyncio.Event]:
        lost = asyncio.Event()
        conn = await asyncpg.connect(**self._connect_args)
        try:
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener("aqueue_new", self._notified)
            await conn.add_listener("aqueue_done", self._notified)
            if self._on_cancel is not None:
                await conn.add_listener("aqueue_cancel", self._notified)
            if self._on_handover is not None:
                await conn.add_listener("aqueue_handover", self._notified)
        except BaseException:
            # A connection that cannot LISTEN is of no use: never leak it.
            conn.terminate()
            raise
        self._conn = conn
        return conn, lost

    async def start(self) -> None:
        try:
            first = await self._connect()
        except Exception as exc:
            raise self._unavailable(exc) from None
        self._task = asyncio.create_task(self._keep(first), name="aqueue-listener")

    async def _keep(self, first: tuple[asyncpg.Connection, asyncio.Event]) -> None:
        conn, lost = first
        pause = 0.1
        while True:
            try:
                # A silent network drop never fires the termination listener, so
                # ping now and then.
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 15)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 10)
            except Exception as exc:
                log.warning("LISTEN connection failed: %s", self._unavailable(exc))
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)
            while True:
                await asyncio.sleep(pause)
                try:
                    conn, lost = await self._connect()
                    break
                except Exception as exc:
                    pause = min(10.0, pause * 2)
                    log.warning(
                        "cannot re-LISTEN, retrying in %.1fs: %s", pause, self._unavailable(exc)
                    )
            pause = 0.1
            log.info("LISTEN connection restored")
            self._on_new("*")
            self._on_done(None)

    async def close(self, timeout: float = 2.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=timeout)  # asyncpg drops it past that
