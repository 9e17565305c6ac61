"""SQLite: the statements limits and dependencies drive (:mod:`aqueue.backends.ports`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiosqlite

from aqueue.backends.common import claimed_jobs
from aqueue.backends.ports import DependencySteps, KeyOps, ReleaseAlgorithm
from aqueue.backends.sqlite.core import SQL, SQLiteCore, SQLiteReleaseSteps, new_job_hints
from aqueue.records import ClaimedJob, Edge, LimitedClaim, LimitedResult, NewJob, Related, TaskLimit


class _SQLiteKeys:
    """A limited claim's statements in one write transaction (see :mod:`aqueue.limits`).

    SQLite's single writer already serialises claims: no key row is locked.
    """

    def __init__(
        self, conn: aiosqlite.Connection, worker: str, lease: float, queues: Sequence[str] | None
    ) -> None:
        self._conn, self._worker, self._lease = conn, worker, lease
        self._queues = json.dumps(list(queues)) if queues else None

    async def next_key(self, after: tuple[str, str] | None) -> tuple[str, str] | None:
        if after is None:
            rows = list(
                await self._conn.execute_fetchall(
                    SQL["limited_first_key"], {"queues": self._queues}
                )
            )
        else:
            rows = list(
                await self._conn.execute_fetchall(
                    SQL["limited_next_key"],
                    {"task": after[0], "key": after[1], "queues": self._queues},
                )
            )
        return (rows[0][0], rows[0][1]) if rows else None

    async def lock(self, task: str, key: str) -> bool:
        return True

    async def counts(self, limit: TaskLimit, key: str) -> tuple[int, int]:
        params = {"task": limit.task, "key": key, "period": limit.period}
        if limit.period is not None:
            await self._conn.execute(SQL["limited_prune"], params)
        rows = list(await self._conn.execute_fetchall(SQL["limited_counts"], params))
        return int(rows[0][0]), int(rows[0][1])

    async def claim(self, task: str, key: str, n: int) -> list[ClaimedJob]:
        return claimed_jobs(
            await self._conn.execute_fetchall(
                SQL["limited_claim"],
                {
                    "task": task,
                    "key": key,
                    "limit": n,
                    "worker": self._worker,
                    "lease": self._lease,
                    "queues": self._queues,
                },
            )
        )

    async def record_starts(self, task: str, key: str, n: int) -> None:
        await self._conn.executemany(SQL["limited_record_start"], [{"task": task, "key": key}] * n)


class _SQLiteDeps:
    """Dependency statements in the caller's transaction (see :mod:`aqueue.dependencies`).

    SQLite's one writer is the lock: a parent cannot end while these run.
    """

    def __init__(self, conn: aiosqlite.Connection, release: ReleaseAlgorithm) -> None:
        self._conn = conn
        self._release = release

    async def lock_parents(self, ids: Sequence[str]) -> dict[str, str]:
        rows = await self._conn.execute_fetchall(
            SQL["parent_statuses"], {"ids": json.dumps(list(ids))}
        )
        return {r[0]: r[1] for r in rows}

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        await self._conn.executemany(
            SQL["insert_edge"],
            [{"child": e.child, "parent": e.parent, "run": int(e.run_on_failure)} for e in edges],
        )

    async def set_waiting(self, counts: dict[str, int]) -> None:
        await self._conn.executemany(
            SQL["set_waiting"], [{"id": c, "n": n} for c, n in counts.items()]
        )

    async def release(self, parents: Sequence[str]) -> None:
        await self._release(SQLiteReleaseSteps(self._conn), parents)

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        await self._conn.executemany(SQL["insert_tag"], list(tags))

    async def insert_batch(self, batch_id: str, callbacks: str, anchor: str) -> None:
        params = {"id": batch_id, "callbacks": callbacks, "anchor": anchor}
        await self._conn.execute(SQL["insert_batch"], params)

    async def lock_batch(self, batch_id: str) -> tuple[str, bool] | None:
        rows = list(await self._conn.execute_fetchall(SQL["lock_batch"], {"id": batch_id}))
        return (str(rows[0][0]), bool(rows[0][1])) if rows else None


class SQLiteFeatures(SQLiteCore):
    """:class:`~aqueue.backends.base.Limits` and :class:`~aqueue.backends.base.Dependencies`."""

    async def limited_due(self, queues: Sequence[str] | None) -> bool:
        """Whether a job with a limit key is due: a read, no write lock (most
        claims find none)."""

        async def op(conn: aiosqlite.Connection) -> bool:
            return await _SQLiteKeys(conn, "", 0.0, queues).next_key(None) is not None

        return await self._run("claim", op)

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
        if not await self.limited_due(queues):
            return LimitedResult([], request.after)

        # No offers here (no hand-over without NOTIFY): nothing to withdraw.
        async def op(conn: aiosqlite.Connection) -> LimitedResult:
            async with self._transaction(conn):
                return await steps(_SQLiteKeys(conn, worker, lease, queues))

        return await self._run("claim", op)

    async def insert_dependent_jobs(
        self,
        jobs: Sequence[NewJob],
        related: Related,
        steps: DependencySteps,
        connection: Any = None,
    ) -> list[str]:
        async def write(conn: aiosqlite.Connection) -> list[str]:
            ids = await self.insert_jobs(jobs, connection=conn)
            kept = {j.id for j, i in zip(jobs, ids, strict=True) if i == j.id}
            await steps(_SQLiteDeps(conn, self._release), related.kept(kept))
            return ids

        if connection is not None:
            return await write(connection)

        async def op(conn: aiosqlite.Connection) -> list[str]:
            async with self._transaction(conn):
                return await write(conn)

        ids = await self._run("insert", op)
        self._wake.new(new_job_hints(jobs))
        return ids

    async def release_ended(self, parents: Sequence[str] | None = None) -> None:
        async def op(conn: aiosqlite.Connection) -> bool:
            steps = SQLiteReleaseSteps(conn)
            async with self._transaction(conn):
                if parents is None:
                    found = await steps.ended_edges(None)
                    return await self._release(steps, sorted({e.parent for e in found}))
                return bool(parents) and await self._release(steps, parents)

        if await self._run("update", op):
            self._wake.anything_new()

    async def job_parents(self, job_id: str) -> list[tuple[str, bool]]:
        rows = await self._fetchall(SQL["job_parents"], {"id": job_id})
        return [(r[0], bool(r[1])) for r in rows]

    async def close_batch(self, batch_id: str) -> bool | None:
        async def op(conn: aiosqlite.Connection) -> bool | None:
            async with self._transaction(conn):
                state = await _SQLiteDeps(conn, self._release).lock_batch(batch_id)
                if state is None or state[1]:
                    return None if state is None else False
                await conn.execute(SQL["close_batch"], {"id": batch_id})
                steps = SQLiteReleaseSteps(conn)
                for callback in json.loads(state[0]).values():
                    await steps.count_down(callback, 1)
                return True

        closed = await self._run("update", op)
        if closed:
            self._wake.anything_new()
        return closed

    async def batch_state(self, batch_id: str) -> tuple[str, bool] | None:
        rows = await self._fetchall(SQL["batch_state"], {"id": batch_id})
        return (str(rows[0][0]), rows[0][1] is not None) if rows else None

    async def job_children(self, job_id: str) -> list[str]:
        return [r[0] for r in await self._fetchall(SQL["job_children"], {"id": job_id})]
