"""SQLite: the flow of jobs per minute and queue (the Flow capability)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from aqueue.backends.common import flow_row
from aqueue.backends.sqlite.core import SQL, SQLiteCore
from aqueue.records import FlowRow


class SQLiteFlow(SQLiteCore):
    """:class:`~aqueue.backends.base.Flow`."""

    async def add_flow(self, rows: Sequence[FlowRow]) -> None:
        values = [
            {
                "minute": r.minute,
                "queue": r.queue,
                "succeeded": r.succeeded,
                "failed": r.failed,
                "retried": r.retried,
            }
            for r in rows
        ]
        await self._many("add_flow", values)

    async def set_depths(self, minute: int, depths: Sequence[tuple[str, int]]) -> None:
        values = [{"minute": minute, "queue": q, "depth": d} for q, d in depths]
        await self._many("set_depths", values)

    async def _many(self, name: str, values: list[dict[str, Any]]) -> None:
        if not values:
            return

        async def op(conn: aiosqlite.Connection) -> None:
            async with self._transaction(conn):
                await conn.executemany(SQL[name], values)

        await self._run("flow", op)

    async def prune_flow(self, before: int) -> None:
        await self._rowcount(SQL["prune_flow"], {"before": before})

    async def read_flow(self, since: int, queue: str | None) -> list[FlowRow]:
        if queue is None:
            rows = await self._fetchall(SQL["flow_of_all"], {"since": since})
        else:
            rows = await self._fetchall(SQL["flow_of_queue"], {"since": since, "queue": queue})
        return [flow_row(r) for r in rows]
