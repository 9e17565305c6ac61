"""MySQL/MariaDB: the statements limits and dependencies drive
(:mod:`aqueue.backends.ports`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiomysql

from aqueue.backends.common import claimed_jobs
from aqueue.backends.mysql.core import SQL, MySQLCore, MySQLReleaseSteps, marks, micros
from aqueue.backends.ports import DependencySteps, KeyOps, ReleaseAlgorithm
from aqueue.records import ClaimedJob, Edge, LimitedClaim, LimitedResult, NewJob, Related, TaskLimit


class _MySQLKeys:
    """A limited claim's statements on one cursor (see :mod:`aqueue.limits`)."""

    def __init__(
        self, cur: aiomysql.Cursor, worker: str, lease: float, queues: Sequence[str] | None
    ) -> None:
        self._cur, self._worker, self._lease = cur, worker, lease
        self._queues = list(queues) if queues else []
        self._in_queues = f"AND queue IN ({marks(len(self._queues))})" if self._queues else ""

    async def _rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        await self._cur.execute(sql, args)
        return list(await self._cur.fetchall())

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        if after is None:
            sql = SQL.render("limited_first_key", in_queues=self._in_queues)
            rows = await self._rows(sql, self._queues)
        else:
            sql = SQL.render("limited_next_key", in_queues=self._in_queues)
            rows = await self._rows(sql, [after[0], after[0], after[1], *self._queues])
        return (rows[0][0], rows[0][1]) if rows else None

    async def lock(self, task: str, key: str) -> bool:
        if await self._rows(SQL["limited_lock"], (task, key)):
            return True
        if await self._rows(SQL["limited_exists"], (task, key)):
            return False  # exists, so another worker holds it
        await self._cur.execute(SQL["limited_create"], (task, key))
        return True

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        starts = 0
        if limit.period is not None:
            period_us = micros(limit.period)
            await self._cur.execute(SQL["limited_prune"], (limit.task, key, period_us))
            starts = (await self._rows(SQL["limited_starts"], (limit.task, key, period_us)))[0][0]
        running = (await self._rows(SQL["limited_running"], (limit.task, key)))[0][0]
        return int(running), int(starts)

    async def claim(self, task: str, key: str, n: int) -> list[ClaimedJob]:
        sql = SQL.render("limited_select", in_queues=self._in_queues)
        rows = await self._rows(sql, [task, key, *self._queues, n])
        if rows:
            await self._cur.execute(
                SQL.render("mark_claimed", ids=marks(len(rows))),
                [self._worker, micros(self._lease), *(r[0] for r in rows)],
            )
        return claimed_jobs(rows)

    async def record_starts(self, task: str, key: str, n: int) -> None:
        await self._cur.executemany(SQL["limited_record_start"], [(task, key)] * n)


class _MySQLDeps:
    """Dependency statements on one cursor (see :mod:`aqueue.dependencies`)."""

    def __init__(self, cur: aiomysql.Cursor, release: ReleaseAlgorithm) -> None:
        self._cur = cur
        self._release = release

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        await self._cur.execute(SQL.render("lock_parents", ids=marks(len(ids))), list(ids))
        return {r[0]: r[1] for r in await self._cur.fetchall()}

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        await self._cur.executemany(
            SQL["insert_edge"], [(e.child, e.parent, int(e.run_on_failure)) for e in edges]
        )

    async def set_waiting(self, counts: dict[str, int]) -> None:
        await self._cur.executemany(SQL["set_waiting"], [(n, c) for c, n in counts.items()])

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        await self._cur.executemany(SQL["insert_tag"], list(tags))

    async def insert_batch(self, batch_id: str, callbacks: str, anchor: str) -> None:
        await self._cur.execute(SQL["insert_batch"], (batch_id, callbacks, anchor))

    async def lock_batch(self, batch_id: str) -> tuple[str, bool] | None:
        await self._cur.execute(SQL["lock_batch"], (batch_id,))
        row = await self._cur.fetchone()
        return None if row is None else (str(row[0]), bool(row[1]))

    async def release(self, parents: Sequence[str]) -> None:
        await self._release(MySQLReleaseSteps(self._cur), parents)


class MySQLFeatures(MySQLCore):
    """:class:`~aqueue.backends.base.Limits` and :class:`~aqueue.backends.base.Dependencies`."""

    async def limited_due(self, queues: Sequence[str] | None) -> bool:
        """Whether a job with a limit key is due (one read)."""

        async def probe(cur: aiomysql.Cursor) -> bool:
            return await _MySQLKeys(cur, "", 0.0, queues).next_key(None) is not None

        return await self._run("claim", probe)

    async def claim_limited(
        self,
        worker: str,
        queues: Sequence[str] | None,
        lease: float,
        request: LimitedClaim,
        room: int,
        steps: Callable[[KeyOps], Awaitable[LimitedResult]],
        withdraw_offer_at: int | None = None,
    ) -> LimitedResult:
        # Most claims find no limited job due: one read, no transaction.
        if not await self.limited_due(queues):
            return LimitedResult([], request.after)

        # No offers here (no hand-over without NOTIFY): nothing to withdraw.
        async def op(cur: aiomysql.Cursor) -> LimitedResult:
            return await steps(_MySQLKeys(cur, worker, lease, queues))

        return await self._run("claim", op, transaction=True)

    async def insert_dependent_jobs(
        self,
        jobs: Sequence[NewJob],
        related: Related,
        steps: DependencySteps,
        connection: Any = None,
    ) -> list[str]:
        async def op(cur: aiomysql.Cursor) -> list[str]:
            ids = await self.insert_jobs(jobs, connection=cur.connection)
            kept = {j.id for j, i in zip(jobs, ids, strict=True) if i == j.id}
            await steps(_MySQLDeps(cur, self._release), related.kept(kept))
            return ids

        return await self._run("insert", op, transaction=connection is None, connection=connection)

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        async def op(cur: aiomysql.Cursor) -> None:
            steps = MySQLReleaseSteps(cur)
            if parents is None:
                found = await steps.ended_edges(None)
                await self._release(steps, sorted({e.parent for e in found}))
            elif parents:
                await self._release(steps, parents)

        await self._run("update", op, transaction=True)

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        return [(r[0], bool(r[1])) for r in await self._fetch(SQL["job_parents"], (job_id,))]

    async def close_batch(self, batch_id: str) -> bool | None:
        async def op(cur: aiomysql.Cursor) -> bool | None:
            state = await _MySQLDeps(cur, self._release).lock_batch(batch_id)
            if state is None or state[1]:
                return None if state is None else False
            await cur.execute(SQL["close_batch"], (batch_id,))
            steps = MySQLReleaseSteps(cur)
            for callback in json.loads(state[0]).values():
                await steps.count_down(callback, 1)
            return True

        return await self._run("update", op, transaction=True)

    async def batch_state(self, batch_id: str) -> tuple[str, bool] | None:
        rows = await self._fetch(SQL["batch_state"], (batch_id,))
        return (str(rows[0][0]), rows[0][1] is not None) if rows else None

    async def job_children(self, job_id: str) -> list[str]:
        return [r[0] for r in await self._fetch(SQL["job_children"], (job_id,))]
