"""PostgreSQL: unique keys held for a period or past a job's end (the Uniqueness capability)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from aqueue.backends.ports import UniqueSteps
from aqueue.backends.postgres.core import SQL, PostgresCore
from aqueue.records import NewJob


class _PostgresUnique:
    """The statements of one uniquely keyed enqueue, on one connection."""

    def __init__(self, backend: PostgresCore, conn: asyncpg.Connection) -> None:
        self._backend = backend
        self._conn = conn

    async def ensure_key(self, key: str) -> None:
        await self._conn.execute(SQL["ensure_key"], key)

    async def lock_key(self, key: str) -> tuple[str | None, float]:
        row = await self._conn.fetchrow(SQL["lock_key"], key)
        return (row[0], float(row[1]))

    async def job_status(self, job_id: str) -> str | None:
        value = await self._conn.fetchval(SQL["job_status"], job_id)
        return None if value is None else str(value)

    async def record_key(self, key: str, job_id: str) -> None:
        await self._conn.execute(SQL["record_key"], key, job_id)

    async def replace_job(self, job_id: str, job: NewJob) -> bool:
        rows = await self._conn.fetch(
            SQL["replace_job"],
            job_id,
            job.args,
            job.kwargs,
            job.priority,
            job.delay,
            job.run_at,
            job.meta,
        )
        return bool(rows)

    async def insert(self, job: NewJob) -> str:
        return (await self._backend.insert_jobs([job], connection=self._conn))[0]

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        await self._conn.execute(SQL["insert_tags"], [t[0] for t in tags], [t[1] for t in tags])


class PostgresUnique(PostgresCore):
    """:class:`~aqueue.backends.base.Uniqueness`."""

    async def insert_unique(self, job: NewJob, steps: UniqueSteps) -> str:
        async def op(conn: asyncpg.Connection) -> str:
            async with conn.transaction():
                return await steps(_PostgresUnique(self, conn), job)

        return await self._run("insert", op)
