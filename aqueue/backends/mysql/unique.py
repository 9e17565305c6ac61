"""MySQL/MariaDB: unique keys held for a period or past a job's end (the
Uniqueness capability)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import aiomysql

from aqueue.backends.mysql.core import SQL, MySQLCore, micros
from aqueue.backends.ports import UniqueSteps
from aqueue.records import NewJob


class _MySQLUnique:
    """The statements of one uniquely keyed enqueue, on one cursor."""

    def __init__(self, backend: MySQLCore, cur: aiomysql.Cursor) -> None:
        self._backend = backend
        self._cur = cur

    async def ensure_key(self, key: str) -> None:
        await self._cur.execute(SQL["ensure_key"], (key,))

    async def lock_key(self, key: str) -> tuple[str | None, float]:
        await self._cur.execute(SQL["lock_key"], (key,))
        row = await self._cur.fetchone()
        return (row[0], float(row[1]))

    async def job_status(self, job_id: str) -> str | None:
        await self._cur.execute(SQL["job_status"], (job_id,))
        row = await self._cur.fetchone()
        return None if row is None else str(row[0])

    async def record_key(self, key: str, job_id: str) -> None:
        await self._cur.execute(SQL["record_key"], (job_id, key))

    async def replace_job(self, job_id: str, job: NewJob) -> bool:
        run_at = job.run_at.astimezone(UTC).replace(tzinfo=None) if job.run_at else None
        changed = await self._cur.execute(
            SQL["replace_job"],
            (job.args, job.kwargs, -job.priority, run_at, micros(job.delay), job.meta, job_id),
        )
        return bool(changed)

    async def insert(self, job: NewJob) -> str:
        return (await self._backend.insert_jobs([job], connection=self._cur.connection))[0]

    async def insert_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        await self._cur.executemany(SQL["insert_tag"], list(tags))


class MySQLUnique(MySQLCore):
    """:class:`~aqueue.backends.base.Uniqueness`."""

    async def insert_unique(self, job: NewJob, steps: UniqueSteps) -> str:
        async def op(cur: aiomysql.Cursor) -> str:
            return await steps(_MySQLUnique(self, cur), job)

        return await self._run("insert", op, transaction=True)
