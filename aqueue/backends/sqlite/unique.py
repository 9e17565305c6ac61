"""SQLite: unique keys held for a period or past a job's end (the Uniqueness capability)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from aqueue.backends.ports import UniqueSteps
from aqueue.backends.sqlite.core import SQL, SQLiteCore, new_job_hints
from aqueue.records import NewJob


class _SQLiteUnique:
    """The statements of one uniquely keyed enqueue; SQLite's one writer is the lock."""

    def __init__(self, backend: SQLiteCore, conn: aiosqlite.Connection) -> None:
        self._backend = backend
        self._conn = conn

    async def ensure_key(self, key: str) -> None:
        await self._conn.execute(SQL["ensure_key"], {"key": key})

    async def lock_key(self, key: str) -> tuple[str | None, float]:
        rows = list(await self._conn.execute_fetchall(SQL["lock_key"], {"key": key}))
        return (rows[0][0], float(rows[0][1]))

    async def job_status(self, job_id: str) -> str | None:
        rows = list(await self._conn.execute_fetchall(SQL["job_status"], {"id": job_id}))
        return str(rows[0][0]) if rows else None

    async def record_key(self, key: str, job_id: str) -> None:
        await self._conn.execute(SQL["record_key"], {"key": key, "id": job_id})

    async def replace_job(self, job_id: str, job: NewJob) -> bool:
        params = {
            "id": job_id,
            "args": job.args,
            "kwargs": job.kwargs,
            "priority": job.priority,
            "run_at": job.run_at.timestamp() if job.run_at else None,
            "delay": job.delay,
            "meta": job.meta,
        }
        async with self._conn.execute(SQL["replace_job"], params) as cur:
            return cur.rowcount > 0

    async def insert(self, job: NewJob) -> str:
        return (await self._backend.insert_jobs([job], connection=self._conn))[0]

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        await self._conn.executemany(SQL["insert_tag"], list(tags))


class SQLiteUnique(SQLiteCore):
    """:class:`~aqueue.backends.base.Uniqueness`."""

    async def insert_unique(self, job: NewJob, steps: UniqueSteps) -> str:
        async def op(conn: aiosqlite.Connection) -> str:
            async with self._transaction(conn):
                return await steps(_SQLiteUnique(self, conn), job)

        job_id = await self._run("insert", op)
        self._wake.new(new_job_hints([job]))
        return job_id
