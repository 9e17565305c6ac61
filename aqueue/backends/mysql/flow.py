"""MySQL/MariaDB: the flow of jobs per minute and queue (the Flow capability)."""

from __future__ import annotations

from collections.abc import Sequence

import aiomysql

from aqueue.backends.common import flow_row
from aqueue.backends.mysql.core import SQL, MySQLCore
from aqueue.records import FlowRow


class MySQLFlow(MySQLCore):
    """:class:`~aqueue.backends.base.Flow`."""

    async def add_flow(self, rows: Sequence[FlowRow]) -> None:
        # One statement of many rows, sorted: workers adding to the same rows
        # lock them in one order.
        values = sorted((r.minute, r.queue, r.succeeded, r.failed, r.retried) for r in rows)
        await self._many("add_flow", values)

    async def set_depths(self, minute: int, depths: Sequence[tuple[str, int]]) -> None:
        await self._many("set_depths", sorted((minute, q, d) for q, d in depths))

    async def _many(self, name: str, values: Sequence[tuple[object, ...]]) -> None:
        if not values:
            return

        async def op(cur: aiomysql.Cursor) -> None:
            await cur.executemany(SQL[name], values)

        await self._run("flow", op)

    async def prune_flow(self, before: int) -> None:
        await self._rowcount(SQL["prune_flow"], (before,))

    async def read_flow(self, since: int, queue: str | None) -> list[FlowRow]:
        if queue is None:
            rows = await self._fetch(SQL["flow_of_all"], (since,))
        else:
            rows = await self._fetch(SQL["flow_of_queue"], (since, queue))
        return [flow_row(r) for r in rows]
