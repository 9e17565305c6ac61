"""PostgreSQL: the flow of jobs per minute and queue (the Flow capability)."""

from __future__ import annotations

from collections.abc import Sequence

from aqueue.backends.common import flow_row
from aqueue.backends.postgres.core import SQL, PostgresCore
from aqueue.records import FlowRow


class PostgresFlow(PostgresCore):
    """:class:`~aqueue.backends.base.Flow`."""

    async def add_flow(self, rows: Sequence[FlowRow]) -> None:
        ordered = sorted(rows, key=lambda r: (r.minute, r.queue))
        await self._execute(
            SQL["add_flow"],
            [r.minute for r in ordered],
            [r.queue for r in ordered],
            [r.succeeded for r in ordered],
            [r.failed for r in ordered],
            [r.retried for r in ordered],
        )

    async def set_depths(self, minute: int, depths: Sequence[tuple[str, int]]) -> None:
        ordered = sorted(depths)
        await self._execute(
            SQL["set_depths"], minute, [q for q, _ in ordered], [d for _, d in ordered]
        )

    async def prune_flow(self, before: int) -> None:
        await self._execute(SQL["prune_flow"], before)

    async def read_flow(self, since: int, queue: str | None) -> list[FlowRow]:
        if queue is None:
            rows = await self._fetch(SQL["flow_of_all"], since)
        else:
            rows = await self._fetch(SQL["flow_of_queue"], since, queue)
        return [flow_row(r) for r in rows]
